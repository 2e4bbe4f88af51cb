"""K seeds of one config trained as one batched model ("replicas").

The models here are tiny, so a run's time is Python and kernel-launch overhead, not
arithmetic: K seeds trained side by side cost little more than one. Each replica's
parameters are stacked along a leading axis (``torch.func.stack_module_state``) and one
forward pass serves all of them (``vmap`` over ``functional_call``). Everything that makes
a seed a seed stays per replica, so each replica's curves, metrics and kept model equal
those of the same seed trained alone (``training.train``), to float tolerance:

- its own initialisation (built from its own seed) and batch order (indices (K, batch));
- its own optimizer state: torch's optimizers are element-wise, so one optimizer over the
  stacked parameters keeps replicas apart; gradient clipping takes a norm per replica;
- its own training noise, drawn from its own copy of the global generator in the single
  run's order (``replica_noise``);
- its own weighting strategy, schedule, divergence check, early stopping and sink. A
  replica that diverges or stops early is frozen (its model kept as it was) and reported
  alone; the others train on.

Loss-based strategies combine a replica's losses as they would alone. Strategies that
work on each step's per-task gradients (MGDA, PCGrad, GradNorm, ...) and the contractive
autoencoder (which differentiates through the input inside the forward pass) cannot be
batched: ``batch_reason`` says why, and the caller trains those seeds as separate runs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from . import data as data_mod
from . import models
from .config import ConfigError, ExperimentConfig
from .data import MultiTaskData, Split
from .metrics import task_loss
from .preflight import preflight
from .replica_noise import Draw, Feed, Probe, ReplicaRng, stack_draws
from .training import (
    NullSink,
    Sink,
    Status,
    TrainResult,
    _bookkeeping,
    _diverged,
    _diverged_rows,
    _EarlyStopping,
    _Epoch,
    _epoch_losses,
    _Poll,
    _Run,
    _setup,
    build,
    build_optimizer,
    describe_device,
    resolve_device,
    test_report,
)
from .weighting import Weighting, weightings


class NotBatchable(Exception):
    """These seeds cannot train as one batched model; the message says why (plain words)."""


def batch_reason(cfg: ExperimentConfig) -> str | None:
    """Why the seeds of ``cfg`` must train as separate runs, or None when they can train
    together. (Random calls the trainer does not know are found later, by a probe of the
    built model: ``train_replicas`` then raises ``NotBatchable`` before training.)"""
    w_cls = weightings.get(cfg.weighting.strategy)
    if w_cls.needs_task_grads or w_cls.backward is not Weighting.backward:
        return (f"the weighting '{cfg.weighting.strategy}' works on each seed's per-task "
                "gradients every step")
    if models.autoencoders.get(cfg.model.autoencoder).needs_input_grad:
        return (f"the {cfg.model.autoencoder} autoencoder differentiates through its input "
                "inside the forward pass")
    if cfg.training.device == "mps":
        return "batched seeds are not supported on Apple MPS"
    return None


def group_key(cfg: ExperimentConfig) -> str:
    """Runs with the same key differ only in their seed (and name): they can train as
    replicas of one batched model."""
    from .baselines import run_key

    return run_key(cfg.model_copy(update={"seed": 0, "name": "seeds"}))


@dataclass
class _Replica:
    """One seed: its run parts (``training._Run``: its own model, strategy, schedule, batch
    generator), its sink, bookkeeping and how it ended."""

    run: _Run
    sink: Sink
    rng: ReplicaRng
    early: _EarlyStopping
    history: list[dict[str, Any]] = field(default_factory=list)
    good: tuple[torch.Tensor, int] | None = None  # (sums, steps) at the last finite poll
    epochs_run: int = 0
    result: TrainResult | None = None  # set when the replica ends (frozen)


@dataclass
class _Stack:
    """The replicas' parameters stacked (K, ...) and what trains them."""

    template: nn.Module  # the architecture on the meta device, in training mode
    params: dict[str, torch.Tensor]  # name -> (K, ...) leaves
    buffers: dict[str, torch.Tensor]
    opt: torch.optim.Optimizer
    lr_sched: torch.optim.lr_scheduler.LRScheduler | None
    penalised: list[str]  # weight matrices (L1 / L2 penalties)
    strategy_params: list[list[nn.Parameter]]  # per replica
    test: Split  # the test split, on the training device
    draws: dict[int, list[Draw]] = field(default_factory=dict)  # batch size -> the forward's draws
    strategy_draws: bool = True  # the strategy draws random numbers (random loss weighting)
    feed: Feed = field(default_factory=Feed)


def train_replicas(
    cfgs: Sequence[ExperimentConfig],
    data: MultiTaskData | None = None,
    sinks: Sequence[Sink] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 0.2,
    on_result: Callable[[int, TrainResult], None] | None = None,
    stop_replica: Callable[[int], bool] | None = None,
) -> list[TrainResult]:
    """Train configs that differ only in their seed as one batched model; one result per
    config, in order, each as ``training.train`` would return it for that config alone.
    ``on_result(k, result)`` hears of a replica as soon as it ends (diverged, stopped
    early, or the end). ``should_stop`` cancels them all; ``stop_replica(k)`` only replica
    ``k`` (its run was cancelled). Raises ``NotBatchable`` (before anything is written to a sink) when
    the configs cannot train together."""
    t0 = time.perf_counter()
    cfgs = list(cfgs)
    sinks = list(sinks) if sinks is not None else [NullSink() for _ in cfgs]
    _check_group(cfgs)
    try:
        preflight(cfgs[0], data)
    except ConfigError as e:  # the same config: every replica fails the same way
        reason = "; ".join(e.messages)
        return [TrainResult("failed", reason, 0, {}, time.perf_counter() - t0,
                            cfg.training.device, None) for cfg in cfgs]
    device = resolve_device(cfgs[0].training.device)
    if data is None:
        data = data_mod.load(cfgs[0].data)
    reps = []
    for cfg, sink in zip(cfgs, sinks, strict=True):
        _, model = build(cfg, data)  # seeds the global generator with the replica's seed
        run = _setup(cfg, data, model, device)
        reps.append(_Replica(run, sink, ReplicaRng(device), _EarlyStopping(cfg.training.early_stopping)))
    stack = _stack(reps, device, data.test.to(device))
    _probe(stack, reps[0].run, reps[0].run.bs)
    stack.strategy_draws = _strategy_draws(reps[0].run)
    k = len(reps)
    for r in reps:
        m = r.run.model
        r.sink.started({"device": describe_device(device), "n_params": models.n_params(m),
                        "n_shared_params": models.n_params(m, m.shared_parameters()),
                        "tasks": r.run.names, "seeds_path": "together", "seeds_together": k})
    stops = _Stops(should_stop or (lambda: False), stop_replica or (lambda k: False))
    _loop(reps, stack, stops, _Poll(poll_seconds), t0, on_result)
    return [r.result for r in reps if r.result is not None]


def _check_group(cfgs: list[ExperimentConfig]) -> None:
    if not cfgs:
        raise ValueError("train_replicas needs at least one config")
    keys = {group_key(c) for c in cfgs}
    if len(keys) > 1:
        raise ValueError("replicas must differ only in their seed")
    reason = batch_reason(cfgs[0])
    if reason is not None:
        raise NotBatchable(reason)


def _stack(reps: list[_Replica], device: torch.device, test: Split) -> _Stack:
    ms = [r.run.model for r in reps]
    params, buffers = stack_module_state(ms)  # type: ignore[arg-type]
    template = copy.deepcopy(ms[0]).to("meta")
    template.train()
    strategy_params = [list(r.run.strategy.parameters()) for r in reps]
    cfg = reps[0].run.cfg
    # one optimizer over everything: its updates are element-wise, so replicas stay apart
    opt_params = list(params.values()) + [p for ps in strategy_params for p in ps]
    opt, lr_sched = build_optimizer(cfg.optimizer, opt_params, cfg.training.epochs)  # type: ignore[arg-type]
    penalised = [n for n, p in ms[0].named_parameters() if p.dim() > 1]
    for r in reps:  # the replicas' bookkeeping reads the shared optimizer's learning rate
        r.run.opt, r.run.lr_sched = opt, None
    return _Stack(template, params, buffers, opt, lr_sched, penalised, strategy_params, test)


def _probe(stack: _Stack, run: _Run, batch: int) -> list[Draw]:
    """The random draws of one training forward pass at this batch size (cached)."""
    if batch in stack.draws:
        return stack.draws[batch]
    x = torch.empty(batch, run.train.x.shape[1], device="meta")
    probe = Probe()
    with probe:
        stack.template(x)
    _reset_side_state(stack.template)
    if probe.unknown:
        raise NotBatchable(f"the model draws random numbers in a way batched seeds cannot "
                           f"reproduce ({', '.join(sorted(set(probe.unknown)))})")
    stack.draws[batch] = probe.draws
    return probe.draws


def _strategy_draws(run: _Run) -> bool:
    """Whether the strategy's ``combine`` draws random numbers (tried on a copy, which
    is then dropped: some strategies change their state as they combine)."""
    strategy = copy.deepcopy(run.strategy)
    probe = Probe()
    with probe, torch.no_grad():
        strategy.combine(torch.ones(len(run.names), device=run.device), None)
    return bool(probe.unknown or probe.draws)


# ---- side state of a forward pass (mixture-of-experts gate statistics) --------------------
# Expert models sum their gate weights over an epoch's forward passes for the gate charts.
# Under vmap those sums would be batched tensors left on the template: instead each step's
# gate means come out of vmap and are summed per replica, then handed to each replica's
# model at the epoch's end, exactly as its own forward passes would have summed them.


def _reset_side_state(m: nn.Module) -> None:
    if hasattr(m, "_gate_sums"):
        setattr(m, "_gate_sums", [])  # noqa: B010  (another module's attribute, by duck typing)
        setattr(m, "_gate_count", 0)  # noqa: B010
        setattr(m, "last_gates", [])  # noqa: B010


def _take_side_state(m: nn.Module) -> Any:
    sums = getattr(m, "_gate_sums", None) or []  # vmap's outputs hold tensors only
    _reset_side_state(m)
    return sums


def _add_side_state(acc: Any, new: Any) -> Any:
    if not new:
        return acc
    if acc is None:
        return new
    return [{k: a[k] + n[k] for k in n} for a, n in zip(acc, new, strict=True)]


def _give_side_state(m: nn.Module, acc: Any, k: int, steps: int) -> None:
    if acc is not None and hasattr(m, "_gate_sums"):
        setattr(m, "_gate_sums", [{name: v[k] for name, v in level.items()} for level in acc])  # noqa: B010
        setattr(m, "_gate_count", steps)  # noqa: B010


# ---- the loop ------------------------------------------------------------------------------


@dataclass
class _Stops:
    every: Callable[[], bool]  # stop them all (the user, or the app went away)
    one: Callable[[int], bool]  # stop replica k (its run was cancelled)


@dataclass
class _EpochState:
    sums: torch.Tensor  # (K, n_tasks) summed step losses
    aux_sums: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> (K,)
    side: Any = None  # summed gate means, (K, ...) leaves
    steps_done: int = 0


def _loop(reps: list[_Replica], stack: _Stack, stops: _Stops, poll: _Poll,
          t0: float, on_result: Callable[[int, TrainResult], None] | None) -> None:
    run0 = reps[0].run
    epochs, steps = run0.cfg.training.epochs, run0.steps
    total_steps = steps * epochs

    def end(i: int, status: Status, reason: str | None, **diverged: Any) -> None:
        result = _finish(reps[i], stack, i, status, reason, t0, diverged)
        if on_result is not None:
            on_result(i, result)

    for epoch in range(epochs):
        alive = [i for i, r in enumerate(reps) if r.result is None]
        if not alive:
            break
        st = _EpochState(torch.zeros(len(reps), len(run0.names), device=run0.device))
        perms = torch.stack([torch.randperm(run0.n, generator=r.run.gen) for r in reps]).to(run0.device)
        cancelled = False
        for r in reps:
            r.good = None  # what this epoch had at its last finite poll
        for step in range(steps):
            idx = perms[:, step * run0.bs:(step + 1) * run0.bs if step < steps - 1 else run0.n]
            _step(reps, stack, alive, epoch, step, idx, st)
            if not poll.due():
                continue
            bad = _bad_tasks(st.sums, run0.names)
            for i in list(alive):
                task = bad[i]
                if task is not None:
                    _freeze_diverged(reps[i], epoch, st, i, task)
                    alive.remove(i)
                    end(i, "diverged", _diverged(task, epoch, step),
                        diverged_epoch=epoch, diverged_task=task)
                else:
                    reps[i].good = (st.sums[i].clone(), step + 1)
            if stops.every():
                cancelled = True
                break
            for i in [i for i in alive if stops.one(i)]:
                alive.remove(i)
                end(i, "cancelled", "cancelled by the user")
            for i in alive:
                reps[i].sink.progress((epoch * steps + step + 1) / total_steps)
        if cancelled:
            for i in alive:
                end(i, "cancelled", "cancelled by the user")
            break
        if stack.lr_sched is not None:  # where a run alone steps it: in its bookkeeping
            stack.lr_sched.step()
        for i in alive:
            _end_epoch(reps[i], stack, i, epoch, st, end)
        # the stop checks after an epoch, as a run alone makes them
        for i, r in enumerate(reps):
            if r.result is None and (stops.every() or stops.one(i)):
                end(i, "cancelled", "cancelled by the user")
    for i, r in enumerate(reps):
        if r.result is None:
            end(i, "done", None)


def _bad_tasks(sums: torch.Tensor, names: list[str]) -> list[str | None]:
    """Per replica, the first task whose summed loss is NaN or infinite (one host sync)."""
    finite = torch.isfinite(sums).tolist()
    return [next((names[j] for j, ok in enumerate(row) if not ok), None) for row in finite]


def _step(reps: list[_Replica], stack: _Stack, alive: list[int], epoch: int, step: int,
          idx: torch.Tensor, st: _EpochState) -> None:
    """One optimiser step of every replica on its batch; idx: (K, batch)."""
    run0 = reps[0].run
    tr, specs, cfg = run0.train, run0.specs, run0.cfg
    xb = tr.x[idx]  # (K, batch, input)
    ys = {s.name: tr.y[s.name][idx] for s in specs if s.kind != "reconstruction"}
    draws = _probe(stack, run0, idx.shape[1])
    noise = stack_draws([r.rng for r in reps], draws) if draws else []
    template, feed = stack.template, stack.feed

    def forward(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor,
                y: dict[str, torch.Tensor], eps: list[torch.Tensor]) -> Any:
        feed.queue = list(eps)
        if eps:
            with feed:
                out = functional_call(template, (p, b), (x,))
        else:
            out = functional_call(template, (p, b), (x,))
        losses = torch.stack([task_loss(s, out.outputs[s.name], x if s.kind == "reconstruction"
                                        else y[s.name]) for s in specs])  # (n_tasks,)
        return losses, out.aux_losses, _take_side_state(template)

    losses, aux, side = vmap(forward, randomness="error")(stack.params, stack.buffers, xb, ys, noise)
    # losses: (K, n_tasks); aux: name -> (K,)
    extra = torch.zeros(len(reps), device=run0.device)
    for name, v in aux.items():  # the single run's order: aux losses, then the penalty
        extra = extra + v
        st.aux_sums[name] = st.aux_sums.get(name, 0) + v.detach()
    pen = _penalty(stack, cfg.optimizer.l1, cfg.optimizer.l2)
    if pen is not None:
        extra = extra + pen
    st.side = _add_side_state(st.side, side)
    st.steps_done += 1
    stack.opt.zero_grad(set_to_none=True)
    total = torch.zeros((), device=run0.device)
    actives = []
    for i in alive:
        r = reps[i]
        active = r.run.schedule.active(epoch, step)
        actives.append(active)
        # a strategy that draws does so from the replica's own generator state
        combined = (r.rng.use(r.run.strategy.combine, losses[i], active) if stack.strategy_draws
                    else r.run.strategy.combine(losses[i], active))
        total = total + combined + extra[i]
    total.backward()
    if cfg.optimizer.clip_norm:
        _clip(stack, cfg.optimizer.clip_norm)
    stack.opt.step()
    detached = losses.detach()
    for i in alive:
        reps[i].run.schedule.feedback(detached[i])
    st.sums += detached


def _penalty(stack: _Stack, l1: float, l2: float) -> torch.Tensor | None:
    """Per replica L1 / L2 penalty on the weight matrices: (K,)."""
    if not l1 and not l2:
        return None
    ws = [stack.params[n] for n in stack.penalised]
    total = torch.zeros(ws[0].shape[0], device=ws[0].device)
    if l1:
        total = total + l1 * sum(w.abs().flatten(1).sum(1) for w in ws)
    if l2:
        total = total + l2 * sum(w.pow(2).flatten(1).sum(1) for w in ws)
    return total


def _clip(stack: _Stack, max_norm: float) -> None:
    """``clip_grad_norm_`` per replica: each replica's gradients (its slice of every
    stacked parameter and its strategy's parameters) scaled by its own total norm."""
    grads = [p.grad for p in stack.params.values() if p.grad is not None]
    k = len(stack.strategy_params)
    norms = [g.flatten(1).norm(dim=1) for g in grads]  # each (K,)
    own = [[p.grad for p in ps if p.grad is not None] for ps in stack.strategy_params]
    if any(own):
        norms.append(torch.stack([
            torch.linalg.vector_norm(torch.stack([g.norm() for g in gs])) if gs
            else torch.zeros((), device=norms[0].device) for gs in own]))
    total = torch.linalg.vector_norm(torch.stack(norms, dim=1), dim=1)  # (K,)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(k, *([1] * (g.dim() - 1))))
    for i, gs in enumerate(own):
        for g in gs:
            g.mul_(coef[i])


def _load(rep: _Replica, stack: _Stack, k: int) -> None:
    """Copy replica ``k``'s slice of the stacked state into its own model."""
    with torch.no_grad():
        for name, p in rep.run.model.named_parameters():
            p.copy_(stack.params[name][k])
        for name, b in rep.run.model.named_buffers():
            if name in stack.buffers:
                b.copy_(stack.buffers[name][k])


def _replica_epoch(st: _EpochState, k: int) -> _Epoch:
    return _Epoch(st.sums[k].clone(), {n: v[k] for n, v in st.aux_sums.items()})


def _freeze_diverged(rep: _Replica, epoch: int, st: _EpochState, k: int, task: str) -> None:
    """Record what the diverged epoch had before it diverged, as ``training.train`` does."""
    ep = _replica_epoch(st, k)
    ep.good = rep.good
    rows = _diverged_rows(rep.run, ep)
    if rows:
        extras = {"diverged": True, "diverged_epoch": epoch, "diverged_task": task}
        rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
        rep.sink.epoch(epoch, rows, extras)


def _end_epoch(rep: _Replica, stack: _Stack, k: int, epoch: int, st: _EpochState,
               end: Callable[..., None]) -> None:
    """A finished epoch of replica ``k``: its own model evaluated and bookkept as alone."""
    run = rep.run
    _load(rep, stack, k)
    _give_side_state(run.model, st.side, k, st.steps_done)
    ep = _replica_epoch(st, k)
    ep.good = rep.good
    losses = _epoch_losses(run, ep, epoch)
    if losses is None:  # diverged after the last poll, or on validation
        rows = _diverged_rows(run, ep)
        diverged = {"diverged_epoch": epoch, "diverged_task": ep.task}
        if rows:
            extras = {"diverged": True, **diverged}
            rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
            rep.sink.epoch(epoch, rows, extras)
        end(k, "diverged", ep.reason, **diverged)
        return
    train_losses, val_losses = losses
    rows, extras = _bookkeeping(run, epoch, train_losses, val_losses, ep.aux_sums)
    rep.epochs_run = epoch + 1
    rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
    rep.sink.epoch(epoch, rows, extras)
    rep.sink.progress(rep.epochs_run / run.cfg.training.epochs)
    reason = rep.early.should_stop(run.model, epoch, val_losses)
    if reason is not None:
        end(k, "done", reason)


def _finish(rep: _Replica, stack: _Stack, k: int, status: Status, reason: str | None,
            t0: float, diverged: dict[str, Any]) -> TrainResult:
    """Freeze replica ``k`` and build its result, as ``training.train`` ends a run."""
    run = rep.run
    if status != "diverged":
        _load(rep, stack, k)
    best_epoch = rep.early.restore(run.model)
    result = TrainResult(status, reason, rep.epochs_run, {}, 0.0, describe_device(run.device),
                         run.model, rep.history, **diverged)
    if status == "done":
        result.test_metrics = test_report(run.model, stack.test, run.specs)
        result.val_metrics = test_report(run.model, run.val, run.specs)
        result.kept_epoch = best_epoch if best_epoch is not None else rep.epochs_run - 1
    run.model.cpu()
    result.seconds = time.perf_counter() - t0
    rep.result = result
    return result
