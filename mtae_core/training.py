"""The training loop. Pure: it talks to the world only through ``sink`` and ``should_stop``.

Speed: the data set lives as tensors on the training device and batches are gathered by
index; per-step losses are accumulated on the device, and the host synchronises only
when a poll is due (a few times a second) or an epoch ends.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from torch import nn

from . import data as data_mod
from . import models
from .config import ExperimentConfig, OptimizerConfig
from .data import MultiTaskData, Split
from .metrics import task_loss, task_metrics
from .models import SharingScheme
from .schedules import schedules
from .weighting import weightings
from .weighting.diagnostics import epoch_grad_cosine

Status = Literal["done", "cancelled", "diverged"]
Row = tuple[str, str, str, float]  # (split, task, metric, value)


class Sink(Protocol):
    def started(self, info: dict[str, Any]) -> None: ...
    def epoch(self, epoch: int, rows: list[Row], extras: dict[str, Any]) -> None: ...
    def progress(self, fraction: float) -> None: ...


class NullSink:
    def started(self, info: dict[str, Any]) -> None:
        pass

    def epoch(self, epoch: int, rows: list[Row], extras: dict[str, Any]) -> None:
        pass

    def progress(self, fraction: float) -> None:
        pass


@dataclass
class TrainResult:
    status: Status
    reason: str | None
    epochs_run: int
    test_metrics: dict[str, dict[str, float]]
    seconds: float
    device: str
    model: SharingScheme
    history: list[dict[str, Any]] = field(default_factory=list)


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA when present, then Apple MPS, then CPU — unless the config names one."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the config asks for CUDA, but no CUDA GPU is available here")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("the config asks for Apple MPS, but it is not available here")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def build_optimizer(
    cfg: OptimizerConfig, params: list[nn.Parameter], epochs: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    opt: torch.optim.Optimizer
    # small models take many cheap steps: the fused kernels (one call for all parameters)
    # cut the optimizer's per-step cost several times over the per-tensor loop
    fast: dict[str, Any] = {"fused": True} if params and params[0].device.type in (
        "cpu", "cuda", "mps") else {}
    if cfg.kind == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                              weight_decay=cfg.weight_decay, **fast)
    elif cfg.kind == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fast)
    elif cfg.kind == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fast)
    else:  # RMSprop has no fused kernel
        opt = torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                                  weight_decay=cfg.weight_decay, foreach=True)
    sched: torch.optim.lr_scheduler.LRScheduler | None = None
    if cfg.lr_schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    elif cfg.lr_schedule == "exponential":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.gamma)
    elif cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    return opt, sched


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor | None:
    """L1 / L2 penalties on the weight matrices (not biases or norm scales)."""
    if not l1 and not l2:
        return None
    ws = [p for p in model.parameters() if p.dim() > 1]
    total = torch.zeros((), device=ws[0].device)
    if l1:
        total = total + l1 * sum(w.abs().sum() for w in ws)
    if l2:
        total = total + l2 * sum(w.pow(2).sum() for w in ws)
    return total


def build(cfg: ExperimentConfig, data: MultiTaskData | None = None) -> tuple[MultiTaskData, SharingScheme]:
    """The data and (seeded) model of a config, on the CPU."""
    if data is None:
        data = data_mod.load(cfg.data, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = models.build(cfg.model, data.tasks, data.input_dim)
    return data, model


@torch.no_grad()
def evaluate(model: SharingScheme, split: Split, specs: list[Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """Per-task losses (n_tasks,) on a split, and the model output, in eval mode."""
    was = model.training
    model.eval()
    out = model(split.x)
    losses = torch.stack([task_loss(s, out.outputs[s.name], split.y[s.name]) for s in specs])
    model.train(was)
    return losses, {"out": out}


class _Poll:
    """True a few times a second: when the host may synchronise without slowing steps."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.next = time.monotonic() + every

    def due(self) -> bool:
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.every
            return True
        return False


def train(
    cfg: ExperimentConfig,
    data: MultiTaskData | None = None,
    model: SharingScheme | None = None,
    sink: Sink | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 0.2,
) -> TrainResult:
    """Train ``cfg`` and return the result; ``sink`` receives epochs as they finish."""
    sink = sink or NullSink()
    t0 = time.perf_counter()
    device = resolve_device(cfg.training.device)
    if data is None or model is None:
        data, model = build(cfg, data)
    specs = data.tasks
    names = [s.name for s in specs]
    n_tasks = len(specs)
    train_split = data.train.to(device)
    val_split = data.val.to(device)
    model.to(device)
    strategy = weightings.get(cfg.weighting.strategy)(
        names, weightings.get(cfg.weighting.strategy).Options.model_validate(cfg.weighting.options)
    ).to(device)
    n = len(train_split)
    bs = min(cfg.training.batch_size, n)
    steps = max(1, n // bs)  # the last batch takes the remainder: no tiny batches
    sched_cls = schedules.get(cfg.schedule.kind)
    schedule = sched_cls(names, sched_cls.Options.model_validate(cfg.schedule.options), steps,
                         cfg.training.epochs, device)
    params = list(model.parameters()) + list(strategy.parameters())
    opt, lr_sched = build_optimizer(cfg.optimizer, params, cfg.training.epochs)
    gen = torch.Generator().manual_seed(cfg.seed)
    sink.started({
        "device": describe_device(device),
        "n_params": models.n_params(model),
        "n_shared_params": models.n_params(model, model.shared_parameters()),
        "tasks": names,
    })
    poll = _Poll(poll_seconds)
    stop = should_stop or (lambda: False)
    status: Status = "done"
    reason: str | None = None
    history: list[dict[str, Any]] = []
    # (val loss, epoch, state) for early stopping
    best: tuple[float, int, dict[str, Any] | None] = (math.inf, -1, None)
    epochs_run = 0
    total_steps = steps * cfg.training.epochs

    def non_finite(t: torch.Tensor) -> str | None:
        bad = (~torch.isfinite(t)).nonzero().flatten().tolist()
        return names[bad[0]] if bad else None

    for epoch in range(cfg.training.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        sums = torch.zeros(n_tasks, device=device)  # (n_tasks,) summed step losses
        aux_sums: dict[str, torch.Tensor] = {}
        for step in range(steps):
            idx = perm[step * bs:(step + 1) * bs if step < steps - 1 else n]
            xb = train_split.x[idx]
            out = model(xb)
            losses = torch.stack([
                task_loss(s, out.outputs[s.name], xb if s.kind == "reconstruction"
                          else train_split.y[s.name][idx])
                for s in specs
            ])  # (n_tasks,)
            extra = torch.zeros((), device=device)
            for k, v in out.aux_losses.items():
                extra = extra + v
                aux_sums[k] = aux_sums.get(k, 0) + v.detach()
            pen = weight_penalty(model, cfg.optimizer.l1, cfg.optimizer.l2)
            if pen is not None:
                extra = extra + pen
            active = schedule.active(epoch, step)
            opt.zero_grad(set_to_none=True)
            strategy.backward(losses, extra, model, active, out)
            if cfg.optimizer.clip_norm:
                nn.utils.clip_grad_norm_(params, cfg.optimizer.clip_norm)
            opt.step()
            detached = losses.detach()
            schedule.feedback(detached)
            sums += detached
            if poll.due():
                bad = non_finite(sums)
                if bad is not None:
                    status, reason = "diverged", _diverged(bad, epoch, step)
                    break
                if stop():
                    status, reason = "cancelled", "cancelled by the user"
                    break
                sink.progress((epoch * steps + step + 1) / total_steps)
        if status != "done":
            break
        train_losses = sums / steps
        val_losses, _ = evaluate(model, val_split, specs)
        bad = non_finite(torch.cat([train_losses, val_losses]))
        if bad is not None:
            status, reason = "diverged", _diverged(bad, epoch, None)
            break
        strategy.on_epoch_end(epoch, train_losses)
        if lr_sched is not None:
            lr_sched.step()
        epochs_run = epoch + 1
        rows = _epoch_rows(names, train_losses, val_losses, aux_sums, steps)
        extras: dict[str, Any] = {"weights": dict(zip(names, strategy.epoch_weights(), strict=True)),
                                  "lr": opt.param_groups[0]["lr"]}
        extras.update(strategy.epoch_extras())
        extras.update(model.epoch_extras())
        cosine = epoch_grad_cosine(model, train_split, specs, bs)  # task order = names
        if cosine is not None:
            extras["grad_cosine"] = cosine
        history.append({"epoch": epoch, "rows": rows, "extras": extras})
        sink.epoch(epoch, rows, extras)
        sink.progress(epochs_run / cfg.training.epochs)
        if cfg.training.early_stopping:
            v = float(val_losses.mean())
            if v < best[0]:
                best = (v, epoch, copy.deepcopy(model.state_dict()))
            elif epoch - best[1] >= cfg.training.early_stopping:
                reason = f"early stopping: no better validation loss for {cfg.training.early_stopping} epochs"
                break
        if stop():
            status, reason = "cancelled", "cancelled by the user"
            break
    if best[2] is not None:
        model.load_state_dict(best[2])
    test_metrics: dict[str, dict[str, float]] = {}
    if status == "done":
        test_metrics = test_report(model, data.test.to(device), specs)
    return TrainResult(status, reason, epochs_run, test_metrics, time.perf_counter() - t0,
                       describe_device(device), model.cpu(), history)


def test_report(model: SharingScheme, split: Split, specs: list[Any]) -> dict[str, dict[str, float]]:
    losses, extra = evaluate(model, split, specs)
    out = extra["out"]
    report = {}
    for i, s in enumerate(specs):
        m = task_metrics(s, out.outputs[s.name], split.y[s.name])
        m["loss"] = float(losses[i])
        report[s.name] = m
    return report


def _epoch_rows(names: list[str], train_losses: torch.Tensor, val_losses: torch.Tensor,
                aux_sums: dict[str, torch.Tensor], steps: int) -> list[Row]:
    tr, va = train_losses.tolist(), val_losses.tolist()  # one sync each per epoch
    rows: list[Row] = []
    for i, name in enumerate(names):
        rows.append(("train", name, "loss", tr[i]))
        rows.append(("val", name, "loss", va[i]))
    for k, v in aux_sums.items():
        rows.append(("train", f"aux:{k}", "loss", float(v) / steps))
    return rows


def _diverged(task: str, epoch: int, step: int | None) -> str:
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    return (f"the loss of task '{task}' became NaN or infinite at {where}; "
            "try a lower learning rate, gradient clipping, or check the data for missing values")
