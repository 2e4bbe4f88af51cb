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

from ..config import ConfigError, ExperimentConfig, OptimizerConfig
from ..data import MultiTaskData, Split, TaskSpec
from ..data import base as data_mod
from ..models import SharingScheme
from ..models import base as models
from ..schedules import schedules
from ..weighting import weightings
from .grad_cosine import epoch_grad_cosine
from .metrics import majority_classes, task_loss, task_metrics
from .preflight import mps_available, preflight

Status = Literal["done", "cancelled", "diverged", "failed"]
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
    epochs_run: int  # epochs finished (a diverged epoch is not one)
    test_metrics: dict[str, dict[str, float]]
    seconds: float
    device: str
    model: SharingScheme | None  # None when the run failed before a model was built
    history: list[dict[str, Any]] = field(default_factory=list)
    # validation metrics of the model the run keeps (same shape as test_metrics)
    val_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    kept_epoch: int | None = None  # the epoch (0-based) whose model the metrics describe
    diverged_epoch: int | None = None  # the epoch (0-based) in which the loss diverged
    diverged_task: str | None = None

    @property
    def info(self) -> dict[str, Any]:
        """What a run's stored ``info`` gains when it ends (only the keys that are set)."""
        keys = ("kept_epoch", "diverged_epoch", "diverged_task")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA when present, then Apple MPS, then CPU — unless the config names one."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("this machine has no CUDA GPU; choose device auto or cpu")
    if name == "mps" and not mps_available():
        raise RuntimeError("this machine has no Apple MPS GPU; choose device auto or cpu")
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
    return opt, build_schedule(cfg, opt, epochs)


def build_schedule(cfg: OptimizerConfig, opt: torch.optim.Optimizer,
                   epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The config's learning-rate schedule over ``opt`` (None: a constant rate)."""
    sched: torch.optim.lr_scheduler.LRScheduler | None = None
    if cfg.lr_schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    elif cfg.lr_schedule == "exponential":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.gamma)
    elif cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    return sched


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
        data = data_mod.load(cfg.data)  # drawn by the data seed, not the run's
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


class Poll:
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


# ---- the loop in named parts: setup, one step, one epoch, bookkeeping, stop checks --------


@dataclass
class RunState:
    """Everything a run trains with, built once by ``setup_run``."""

    cfg: ExperimentConfig
    device: torch.device
    model: SharingScheme
    specs: list[TaskSpec]
    names: list[str]
    train: Split
    val: Split
    strategy: Any
    schedule: Any
    opt: torch.optim.Optimizer
    lr_sched: torch.optim.lr_scheduler.LRScheduler | None
    params: list[nn.Parameter]
    gen: torch.Generator
    n: int  # training samples
    bs: int  # batch size
    steps: int  # steps per epoch


def setup_run(cfg: ExperimentConfig, data: MultiTaskData, model: SharingScheme,
           device: torch.device) -> RunState:
    specs = data.tasks
    names = [s.name for s in specs]
    model.to(device)
    w_cls = weightings.get(cfg.weighting.strategy)
    strategy = w_cls(names, w_cls.Options.model_validate(cfg.weighting.options)).to(device)
    train_split = data.train.to(device)
    n = len(train_split)
    bs = min(cfg.training.batch_size, n)
    # the last batch takes the remainder, so no batch is smaller than the batch size
    # (a batch of one would break batch normalisation)
    steps = max(1, n // bs)
    s_cls = schedules.get(cfg.schedule.kind)
    schedule = s_cls(names, s_cls.Options.model_validate(cfg.schedule.options), steps,
                     cfg.training.epochs, device)
    params = list(model.parameters()) + list(strategy.parameters())
    opt, lr_sched = build_optimizer(cfg.optimizer, params, cfg.training.epochs)
    # the run's seed orders the batches; the data seed made the data
    gen = torch.Generator().manual_seed(cfg.seed)
    return RunState(cfg, device, model, specs, names, train_split, data.val.to(device), strategy,
                schedule, opt, lr_sched, params, gen, n, bs, steps)


def _step(run: RunState, epoch: int, step: int, idx: torch.Tensor,
          aux_sums: dict[str, torch.Tensor]) -> torch.Tensor:
    """One optimiser step on the batch ``idx``; returns the detached task losses (n_tasks,)."""
    cfg, model, tr = run.cfg, run.model, run.train
    xb = tr.x[idx]
    out = model(xb)
    losses = torch.stack([
        task_loss(s, out.outputs[s.name], xb if s.kind == "reconstruction" else tr.y[s.name][idx])
        for s in run.specs
    ])  # (n_tasks,)
    extra = torch.zeros((), device=run.device)
    for k, v in out.aux_losses.items():
        extra = extra + v
        aux_sums[k] = aux_sums.get(k, 0) + v.detach()
    pen = weight_penalty(model, cfg.optimizer.l1, cfg.optimizer.l2)
    if pen is not None:
        extra = extra + pen
    active = run.schedule.active(epoch, step)
    run.opt.zero_grad(set_to_none=True)
    run.strategy.backward(losses, extra, model, active, out)
    if cfg.optimizer.clip_norm:
        nn.utils.clip_grad_norm_(run.params, cfg.optimizer.clip_norm)
    run.opt.step()
    detached = losses.detach()
    run.schedule.feedback(detached)
    return detached


@dataclass
class EpochState:
    """How an epoch's steps went."""

    sums: torch.Tensor  # (n_tasks,) summed step losses
    aux_sums: dict[str, torch.Tensor]
    status: Status = "done"
    reason: str | None = None
    task: str | None = None  # the task whose loss diverged
    good: tuple[torch.Tensor, int] | None = None  # (sums, steps) at the last finite poll
    val: torch.Tensor | None = None  # (n_tasks,) validation losses, when they diverged


def _train_epoch(run: RunState, epoch: int, poll: Poll, stop: Callable[[], bool],
                 progress: Callable[[float], None], total_steps: int) -> EpochState:
    """The epoch's steps. Between polls nothing synchronises with the host."""
    model, n, bs, steps = run.model, run.n, run.bs, run.steps
    model.train()
    perm = torch.randperm(n, generator=run.gen).to(run.device)
    ep = EpochState(torch.zeros(len(run.names), device=run.device), {})
    for step in range(steps):
        idx = perm[step * bs:(step + 1) * bs if step < steps - 1 else n]
        ep.sums += _step(run, epoch, step, idx, ep.aux_sums)
        if poll.due():
            bad = _non_finite(ep.sums, run.names)
            if bad is not None:
                ep.status, ep.task = "diverged", bad
                ep.reason = diverged_message(bad, epoch, step)
                return ep
            ep.good = (ep.sums.clone(), step + 1)  # what the epoch had before any divergence
            if stop():
                ep.status, ep.reason = "cancelled", "cancelled by the user"
                return ep
            progress((epoch * steps + step + 1) / total_steps)
    return ep


def bookkeeping(run: RunState, epoch: int, train_losses: torch.Tensor, val_losses: torch.Tensor,
                 aux_sums: dict[str, torch.Tensor],
                 cosine: list[list[float]] | None | Literal["compute"] = "compute",
                 ) -> tuple[list[Row], dict[str, Any]]:
    """The epoch's rows and extras (weights, learning rate, what the model mixed, gradient
    cosines), after the strategy and the learning-rate schedule have seen the epoch.
    ``cosine``: the gradient cosines when already computed (batched seeds: for every
    replica at once)."""
    run.strategy.on_epoch_end(epoch, train_losses)
    if run.lr_sched is not None:
        run.lr_sched.step()
    rows = _epoch_rows(run.names, train_losses, val_losses, aux_sums, run.steps)
    extras: dict[str, Any] = {"weights": dict(zip(run.names, run.strategy.epoch_weights(), strict=True)),
                              "lr": run.opt.param_groups[0]["lr"]}
    extras.update(run.strategy.epoch_extras())
    extras.update(run.model.epoch_extras())
    if cosine == "compute":
        cosine = epoch_grad_cosine(run.model, run.train, run.specs, run.bs)  # task order = names
    if cosine is not None:
        extras["grad_cosine"] = cosine
    return rows, extras


class EarlyStopping:
    """Keeps the best-validation state; says when patience has run out."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best: tuple[float, int, dict[str, Any] | None] = (math.inf, -1, None)

    def should_stop(self, model: nn.Module, epoch: int, val_losses: torch.Tensor) -> str | None:
        if not self.patience:
            return None
        v = float(val_losses.mean())
        if v < self.best[0]:
            self.best = (v, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - self.best[1] >= self.patience:
            return f"early stopping: no better validation loss for {self.patience} epochs"
        return None

    def restore(self, model: nn.Module) -> int | None:
        """Load the best state, if one was kept; its epoch."""
        if self.best[2] is None:
            return None
        model.load_state_dict(self.best[2])
        return self.best[1]


def diverged_rows(run: RunState, ep: EpochState) -> list[Row]:
    """What the diverged epoch had before it diverged: the mean train losses of its steps
    up to the last finite poll (the whole epoch when only the validation loss diverged,
    with the validation losses, non-finite ones stored as missing)."""
    if ep.good is None:
        return []
    sums, k = ep.good
    if ep.val is not None:
        return _epoch_rows(run.names, sums / k, ep.val, {}, run.steps)
    return [("train", name, "loss", v) for name, v in zip(run.names, (sums / k).tolist(), strict=True)]


def train(
    cfg: ExperimentConfig,
    data: MultiTaskData | None = None,
    model: SharingScheme | None = None,
    sink: Sink | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 0.2,
) -> TrainResult:
    """Train ``cfg`` and return the result; ``sink`` receives epochs as they finish.

    A setting this machine or data cannot run (no CUDA GPU, a batch larger than the
    training set, an empty split) ends the run ``failed`` with the plain reason
    before anything trains (``preflight``)."""
    sink = sink or NullSink()
    t0 = time.perf_counter()
    try:
        preflight(cfg, data)
    except ConfigError as e:
        return TrainResult("failed", "; ".join(e.messages), 0, {}, time.perf_counter() - t0,
                           cfg.training.device, model)
    device = resolve_device(cfg.training.device)
    if data is None or model is None:
        data, model = build(cfg, data)
    run = setup_run(cfg, data, model, device)
    sink.started({
        "device": describe_device(device),
        "n_params": models.n_params(model),
        "n_shared_params": models.n_params(model, model.shared_parameters()),
        "tasks": run.names,
    })
    poll = Poll(poll_seconds)
    stop = should_stop or (lambda: False)
    status: Status = "done"
    reason: str | None = None
    history: list[dict[str, Any]] = []
    early = EarlyStopping(cfg.training.early_stopping)
    epochs_run, epochs = 0, cfg.training.epochs
    diverged: dict[str, Any] = {}
    for epoch in range(epochs):
        ep = _train_epoch(run, epoch, poll, stop, sink.progress, run.steps * epochs)
        losses = epoch_losses(run, ep, epoch) if ep.status == "done" else None
        if ep.status == "diverged":
            status, reason = ep.status, ep.reason
            diverged = {"diverged_epoch": epoch, "diverged_task": ep.task}
            rows = diverged_rows(run, ep)
            if rows:  # keep what the epoch had before it diverged
                extras = {"diverged": True, **diverged}
                history.append({"epoch": epoch, "rows": rows, "extras": extras})
                sink.epoch(epoch, rows, extras)
            break
        if ep.status == "cancelled" or losses is None:
            status, reason = "cancelled", ep.reason
            break
        train_losses, val_losses = losses
        rows, extras = bookkeeping(run, epoch, train_losses, val_losses, ep.aux_sums)
        epochs_run = epoch + 1
        history.append({"epoch": epoch, "rows": rows, "extras": extras})
        sink.epoch(epoch, rows, extras)
        sink.progress(epochs_run / epochs)
        # the stop checks: patience on validation, then the user
        early_reason = early.should_stop(model, epoch, val_losses)
        if early_reason is not None:
            reason = early_reason
            break
        if stop():
            status, reason = "cancelled", "cancelled by the user"
            break
    best_epoch = early.restore(model)
    result = TrainResult(status, reason, epochs_run, {}, 0.0, describe_device(device), model,
                         history, **diverged)
    if status == "done":
        # both from the model the run keeps: the last epoch, or the best on validation
        majority = majority_classes(run.specs, run.train.y)
        result.test_metrics = test_report(model, data.test.to(device), run.specs, majority)
        result.val_metrics = test_report(model, run.val, run.specs, majority)
        result.kept_epoch = best_epoch if best_epoch is not None else epochs_run - 1
    model.cpu()
    result.seconds = time.perf_counter() - t0
    return result


def epoch_losses(run: RunState, ep: EpochState, epoch: int, val_losses: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The finished epoch's mean train losses and its validation losses, (n_tasks,) each;
    None, with ``ep`` marked diverged, when either is not finite. ``val_losses``: when
    already computed (batched seeds: for every replica at once)."""
    train_losses = ep.sums / run.steps
    if val_losses is None:
        val_losses, _ = evaluate(run.model, run.val, run.specs)
    bad = _non_finite(train_losses, run.names)
    if bad is not None:  # the steps diverged after the last poll
        ep.status, ep.task, ep.reason = "diverged", bad, diverged_message(bad, epoch, None)
        return None
    bad = _non_finite(val_losses, run.names)
    if bad is not None:
        ep.status, ep.task = "diverged", bad
        ep.reason = diverged_message(bad, epoch, None, "validation")
        ep.good = (ep.sums, run.steps)  # the whole epoch trained with finite losses
        ep.val = val_losses
        return None
    return train_losses, val_losses


def _non_finite(losses: torch.Tensor, names: list[str]) -> str | None:
    """The first task whose loss in ``losses`` (n_tasks,) is NaN or infinite."""
    bad = (~torch.isfinite(losses)).nonzero().flatten().tolist()
    return names[bad[0]] if bad else None


def test_report(model: SharingScheme, split: Split, specs: list[Any],
                majority: dict[str, int] | None = None) -> dict[str, dict[str, float]]:
    """Each task's metrics on ``split`` (``majority``: the training split's most common
    class per classification task, for the majority-class baseline)."""
    losses, extra = evaluate(model, split, specs)
    out = extra["out"]
    report = {}
    for i, s in enumerate(specs):
        m = task_metrics(s, out.outputs[s.name], split.y[s.name], (majority or {}).get(s.name))
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


def diverged_message(task: str, epoch: int, step: int | None, split: str = "") -> str:
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    loss = f"{split} loss" if split else "loss"  # unnamed: the training loss
    return (f"the {loss} of task '{task}' became NaN or infinite at {where}; "
            "try a lower learning rate, gradient clipping, or check the data for missing values")
