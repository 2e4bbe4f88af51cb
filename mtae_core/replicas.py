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
import torch.nn.functional as F
from torch import nn
from torch.func import stack_module_state, vmap

from . import data as data_mod
from . import models
from .config import ConfigError, ExperimentConfig
from .data import MultiTaskData, Split, TaskSpec
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


@dataclass(frozen=True)
class _Slot:
    """One parameter: its name, shape and place in a row of ``_Stack.flat``, and the
    ``_parameters`` dict of the template's module that holds it."""

    name: str
    shape: tuple[int, ...]
    offset: int
    numel: int
    owner: dict[str, Any]
    attr: str  # its key in ``owner``


@dataclass
class _Stack:
    """The replicas' parameters stacked (K, ...) and what trains them."""

    template: nn.Module  # the architecture on the meta device, in training mode
    # every replica's parameters side by side, one row each: (K, n_params), one leaf.
    # One tensor instead of one per parameter: vmap and the optimizer handle one input
    flat: torch.Tensor
    layout: list[_Slot]  # where each parameter lies in a row, and where the template reads it
    buffers: list[tuple[dict[str, Any], str, torch.Tensor]]  # (owner, name, (K, ...) stacked)
    buffer_names: list[str]  # their full names, as the replicas' models name them
    opt: torch.optim.Optimizer
    lr_sched: torch.optim.lr_scheduler.LRScheduler | None
    penalised: list[_Slot]  # weight matrices (L1 / L2 penalties)
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
    template = copy.deepcopy(ms[0]).to("meta")
    template.train()
    layout, offset = [], 0
    for prefix, mod in template.named_modules():  # named_parameters' order
        for name, p in mod._parameters.items():
            if p is not None:
                full = f"{prefix}.{name}" if prefix else name
                layout.append(_Slot(full, tuple(p.shape), offset, p.numel(), mod._parameters,
                                    name))
                offset += p.numel()
    with torch.no_grad():
        rows = [torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in ms]
    flat = torch.stack(rows).requires_grad_(True)  # (K, n_params)
    _, stacked = stack_module_state(ms)  # type: ignore[arg-type]
    named = [(mod._buffers, name, f"{prefix}.{name}" if prefix else name)
             for prefix, mod in template.named_modules()
             for name, b in mod._buffers.items() if b is not None]
    buffers = [(owner, name, stacked[full]) for owner, name, full in named]
    strategy_params = [list(r.run.strategy.parameters()) for r in reps]
    cfg = reps[0].run.cfg
    # one optimizer over everything: its updates are element-wise, so replicas stay apart
    opt_params = [flat, *(p for ps in strategy_params for p in ps)]
    opt, lr_sched = build_optimizer(cfg.optimizer, opt_params, cfg.training.epochs)  # type: ignore[arg-type]
    penalised = [s for s in layout if len(s.shape) > 1]
    for r in reps:  # the replicas' bookkeeping reads the shared optimizer's learning rate
        r.run.opt, r.run.lr_sched = opt, None
    return _Stack(template, flat, layout, buffers, [full for _, _, full in named], opt, lr_sched,
                  penalised, strategy_params, test)


def _probe(stack: _Stack, run: _Run, batch: int) -> list[Draw]:
    """The random draws of one training forward pass at this batch size (cached). Made on
    a copy of replica 0's model (its batch-norm statistics untouched) with the generator
    state put back, so nothing a replica sees changes."""
    if batch in stack.draws:
        return stack.draws[batch]
    model = copy.deepcopy(run.model).train()
    probe = Probe()
    devices = [run.device] if run.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad(), probe:
        model(run.train.x[:batch])
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

    layout, buffers = stack.layout, stack.buffers
    sizes = [slot.numel for slot in layout]

    n_bufs, names = len(buffers), run0.names
    aux_names: list[str] = []  # the model's auxiliary losses, in its order (seen in the call)

    def forward(*leaves: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # flat tuples in and out: vmap's pytree handling is a Python cost on every step
        flat, x = leaves[0], leaves[1]
        bufs, eps = leaves[2:2 + n_bufs], leaves[2 + n_bufs:]
        # the replica's parameters as views of its row, put where the template reads them
        # (what functional_call does, without its per-call lookups)
        for slot, v in zip(layout, torch.split(flat, sizes), strict=True):
            slot.owner[slot.attr] = v.view(slot.shape)
        for (owner, name, _), b in zip(buffers, bufs, strict=True):
            owner[name] = b  # batch norm updates its statistics in place: into the stack
        feed.queue = list(eps)
        if eps:
            with feed:
                out = template(x)
        else:
            out = template(x)
        aux_names[:] = list(out.aux_losses)
        side = _take_side_state(template)
        side_leaves = [v for level in side for v in level.values()]
        side_keys[:] = [list(level) for level in side]
        return (*(out.outputs[n] for n in names), *out.aux_losses.values(), *side_leaves)

    side_keys: list[list[str]] = []
    res = vmap(forward, randomness="error")(stack.flat, xb, *(b for _, _, b in buffers), *noise)
    outputs = dict(zip(names, res[:len(names)], strict=True))
    aux = dict(zip(aux_names, res[len(names):len(names) + len(aux_names)], strict=True))
    rest = iter(res[len(names) + len(aux_names):])
    side = [{key: next(rest) for key in keys} for keys in side_keys]
    # the task losses outside vmap, where cross-entropy has its fused kernel (under vmap it
    # runs as a Python decomposition): (K, n_tasks)
    losses = torch.stack([_batched_loss(s, outputs[s.name], xb if s.kind == "reconstruction"
                                        else ys[s.name]) for s in specs], dim=1)
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


def _batched_loss(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``metrics.task_loss`` of every replica at once: out (K, batch, ...) → (K,). The same
    losses, each the mean over its replica's batch (the equivalence tests hold them equal)."""
    k = out.shape[0]
    if spec.kind == "classification":
        per = F.cross_entropy(out.flatten(0, 1), y.flatten(0, 1), reduction="none")
    elif spec.kind == "regression":
        per = F.mse_loss(out.squeeze(-1), y, reduction="none")
    else:
        per = F.mse_loss(out, y, reduction="none")
    return per.reshape(k, -1).mean(dim=1)


def _penalty(stack: _Stack, l1: float, l2: float) -> torch.Tensor | None:
    """Per replica L1 / L2 penalty on the weight matrices: (K,)."""
    if not l1 and not l2:
        return None
    ws = [stack.flat[:, s.offset:s.offset + s.numel] for s in stack.penalised]  # (K, numel) each
    total = torch.zeros(ws[0].shape[0], device=ws[0].device)
    if l1:
        total = total + l1 * sum(w.abs().sum(1) for w in ws)
    if l2:
        total = total + l2 * sum(w.pow(2).sum(1) for w in ws)
    return total


def _clip(stack: _Stack, max_norm: float) -> None:
    """``clip_grad_norm_`` per replica: each replica's gradients (its slice of every
    stacked parameter and its strategy's parameters) scaled by its own total norm."""
    grads = [stack.flat.grad] if stack.flat.grad is not None else []  # (K, n_params)
    k = len(stack.strategy_params)
    norms = [g.norm(dim=1) for g in grads]  # each (K,)
    own = [[p.grad for p in ps if p.grad is not None] for ps in stack.strategy_params]
    if any(own):
        norms.append(torch.stack([
            torch.linalg.vector_norm(torch.stack([g.norm() for g in gs])) if gs
            else torch.zeros((), device=stack.flat.device) for gs in own]))
    total = torch.linalg.vector_norm(torch.stack(norms, dim=1), dim=1)  # (K,)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(k, 1))
    for i, gs in enumerate(own):
        for g in gs:
            g.mul_(coef[i])


def _load(rep: _Replica, stack: _Stack, k: int) -> None:
    """Copy replica ``k``'s slice of the stacked state into its own model."""
    with torch.no_grad():
        params = dict(rep.run.model.named_parameters())
        for slot in stack.layout:
            params[slot.name].copy_(stack.flat[k, slot.offset:slot.offset + slot.numel].view(slot.shape))
        own = dict(rep.run.model.named_buffers())
        for (_, _, b), full in zip(stack.buffers, stack.buffer_names, strict=True):
            own[full].copy_(b[k])


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
