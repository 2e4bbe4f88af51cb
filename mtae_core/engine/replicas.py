"""K runs trained as one batched model ("replicas"): the seeds of a config, and the cells
of a sweep whose settings are data per replica (fixed λ, a loss-based strategy and its
numeric options; see ``group_key``).

The models here are small: much of a step is per-op overhead, paid once for K replicas
trained side by side (on the CPU each further replica still costs about a third of a run's
step in matmul and elementwise arithmetic; see the README's seeds benchmark). Each replica's
parameters are stacked along a leading axis (``torch.func.stack_module_state``) and one
forward pass serves all of them: for hard sharing, the single-task baselines and MMoE
(plain autoencoder, MLPs) one ``baddbmm`` per layer over the stacked weights
(``replica_stack.explicit_forward``), for every other model ``vmap`` over the template
(vmap's per-op cost is as large as a small model's whole step). Everything that makes
a seed a seed stays per replica, so each replica's curves, metrics and kept model equal
those of the same seed trained alone (``training.train``), to float tolerance:

- its own initialisation (built from its own seed) and batch order (indices (K, batch));
- its own optimizer state: torch's optimizers are element-wise, so one optimizer over the
  stacked parameters keeps replicas apart; gradient clipping takes a norm per replica;
- its own training noise, drawn from its own copy of the global generator in the single
  run's order (``replica_noise``);
- its own weighting strategy (its class, options and state: a fixed-λ grid's points
  differ only here), schedule, divergence check, early stopping and sink. A
  replica that diverges or stops early is frozen (its model kept as it was) and reported
  alone; the others train on.

Loss-based strategies combine a replica's losses as they would alone. Gradient methods
(PCGrad, MGDA, CAGrad, ...) get every replica's per-task gradients from one batched Jacobian
over the stacked parameters and aggregate each replica's own (``replica_grads``). GradNorm
(its own step on its weights), the upper-bound variants (gradients of the shared
representation) and the contractive autoencoder (which differentiates through the input
inside the forward pass) cannot be batched: ``batch_reason`` says why, and the caller
trains those seeds as separate runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.func import vmap

from ..config import ConfigError, ExperimentConfig
from ..data import MultiTaskData
from ..data import base as data_mod
from ..models import base as models
from ..weighting import Weighting, weightings
from ..weighting.gradient_base import GradientWeighting, UpperBoundWeighting
from .metrics import majority_classes
from .preflight import preflight
from .replica_grads import gradient_backward
from .replica_noise import ReplicaRng, stack_draws
from .replica_optim import KINDS, ReplicaLR, ReplicaOptimizers
from .replica_stack import (
    NotBatchable,
    Stack,
    add_side_state,
    batched_loss,
    clip,
    explicit_forward,
    give_side_state,
    grad_cosines,
    load_replica,
    make_stack,
    penalty,
    probe_draws,
    split_losses,
    strategy_draws,
    take_side_state,
)
from .training import (
    EarlyStopping,
    EpochState,
    NullSink,
    Poll,
    RunState,
    Sink,
    Status,
    TrainResult,
    bookkeeping,
    build,
    describe_device,
    diverged_message,
    diverged_rows,
    epoch_losses,
    resolve_device,
    setup_run,
    test_report,
)

__all__ = ["NotBatchable", "batch_reason", "group_key", "train_replicas"]


def batch_reason(cfg: ExperimentConfig) -> str | None:
    """Why the seeds of ``cfg`` must train as separate runs, or None when they can train
    together. (Random calls the trainer does not know are found later, by a probe of the
    built model: ``train_replicas`` then raises ``NotBatchable`` before training.)"""
    w_cls = weightings.get(cfg.weighting.strategy)
    if w_cls.backward is not Weighting.backward and not _task_grads_batch(cfg, w_cls):
        if cfg.weighting.options.get("upper_bound"):
            return (f"the weighting '{cfg.weighting.strategy}' with its upper bound works on "
                    "each seed's shared representation every step")
        return (f"the weighting '{cfg.weighting.strategy}' works on each seed's per-task "
                "gradients every step")
    if models.autoencoders.get(cfg.model.autoencoder).needs_input_grad:
        return (f"the {cfg.model.autoencoder} autoencoder differentiates through its input "
                "inside the forward pass")
    if cfg.training.device == "mps":
        return "batched seeds are not supported on Apple MPS"
    return None


def _task_grads_batch(cfg: ExperimentConfig, w_cls: type[Weighting]) -> bool:
    """A gradient method whose step ``replica_grads`` computes for all replicas at once:
    the per-task gradients of the shared parameters (not of the shared representation,
    MGDA-UB's and Aligned-MTL-UB's upper bound; not GradNorm's own step)."""
    if not issubclass(w_cls, GradientWeighting):
        return False
    if w_cls.backward is GradientWeighting.backward:
        return True
    return w_cls.backward is UpperBoundWeighting.backward and not cfg.weighting.options.get("upper_bound")


# what stands for a loss-based strategy in a group key: its name and options are data
# per replica (each replica combines its own losses with its own strategy object)
LOSS_BASED = "<loss-based>"


def group_key(cfg: ExperimentConfig) -> str:
    """Runs with the same key may train as replicas of one batched model: they differ only
    in their seed (and name) and in settings that are data per replica: a loss-based
    strategy and its options (fixed λ, a temperature, ...), the options of a gradient
    method (the method itself stays in the key), and the learning rate and weight decay
    of Adam, AdamW and SGD (``replica_optim``)."""
    import hashlib
    import json

    d = cfg.to_dict()
    d.pop("name", None)
    d["seed"] = 0
    if cfg.optimizer.kind in KINDS:  # per-replica learning rate and weight decay
        d["optimizer"].update(lr=None, weight_decay=None)
    d["weighting"] = {"strategy": LOSS_BASED if loss_based(cfg) else cfg.weighting.strategy}
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def loss_based(cfg: ExperimentConfig) -> bool:
    """The strategy combines the task losses into one scalar (no per-task gradients)."""
    w_cls = weightings.get(cfg.weighting.strategy)
    return not w_cls.needs_task_grads and w_cls.backward is Weighting.backward


@dataclass
class _Replica:
    """One seed: its run parts (``training.RunState``: its own model, strategy, schedule, batch
    generator), its sink, bookkeeping and how it ended."""

    run: RunState
    sink: Sink
    rng: ReplicaRng
    early: EarlyStopping
    history: list[dict[str, Any]] = field(default_factory=list)
    good: tuple[torch.Tensor, int] | None = None  # (sums, steps) at the last finite poll
    epochs_run: int = 0
    result: TrainResult | None = None  # set when the replica ends (frozen)


def train_replicas(
    cfgs: Sequence[ExperimentConfig],
    data: MultiTaskData | None = None,
    sinks: Sequence[Sink] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 0.2,
    on_result: Callable[[int, TrainResult], None] | None = None,
    stop_replica: Callable[[int], bool] | None = None,
) -> list[TrainResult]:
    """Train configs of one ``group_key`` (their seed, and loss-based weighting settings,
    may differ) as one batched model; one result per
    config, in order, each as ``training.train`` would return it for that config alone.
    ``on_result(k, result)`` hears of a replica as soon as it ends (diverged, stopped
    early, failed its preflight, or the end). ``should_stop`` cancels them all;
    ``stop_replica(k)`` only replica ``k`` (its run was cancelled). Raises ``NotBatchable``
    (before anything is written to a sink) when the configs cannot train together."""
    t0 = time.perf_counter()
    cfgs = list(cfgs)
    sinks = list(sinks) if sinks is not None else [NullSink() for _ in cfgs]
    _check_group(cfgs)
    try:
        preflight(cfgs[0], data)
    except ConfigError as e:  # the same config: every replica fails the same way
        reason = "; ".join(e.messages)
        failed = [TrainResult("failed", reason, 0, {}, time.perf_counter() - t0,
                              cfg.training.device, None) for cfg in cfgs]
        for k, result in enumerate(failed):
            if on_result is not None:
                on_result(k, result)
        return failed
    device = resolve_device(cfgs[0].training.device)
    if data is None:
        data = data_mod.load(cfgs[0].data)
    reps = []
    for cfg, sink in zip(cfgs, sinks, strict=True):
        _, model = build(cfg, data)  # seeds the global generator with the replica's seed
        run = setup_run(cfg, data, model, device)
        reps.append(_Replica(run, sink, ReplicaRng(device), EarlyStopping(cfg.training.early_stopping)))
    stack = make_stack([r.run for r in reps], data.test.to(device))
    for k, r in enumerate(reps):  # the replicas' bookkeeping reads the shared optimizer's lr
        r.run.opt = ReplicaLR(stack.opt, k) if isinstance(stack.opt, ReplicaOptimizers) else stack.opt  # type: ignore[assignment]
        r.run.lr_sched = None
    probe_draws(stack, reps[0].run, reps[0].run.bs)
    # replicas may differ in their strategy: each one is probed
    stack.strategy_draws = [strategy_draws(r.run) for r in reps]
    k = len(reps)
    cells = len({_cell_key(c) for c in cfgs})
    for r in reps:
        m = r.run.model
        # how it trained, for the Studies page: with k runs as one batched model, of
        # ``cells`` different settings (the rest of them seeds)
        r.sink.started({"device": describe_device(device), "n_params": models.n_params(m),
                        "n_shared_params": models.n_params(m, m.shared_parameters()),
                        "tasks": r.run.names, "seeds_path": "together", "seeds_together": k,
                        "cells_together": cells})
    stops = _Stops(should_stop or (lambda: False), stop_replica or (lambda k: False))
    _loop(reps, stack, stops, Poll(poll_seconds), t0, on_result)
    return [r.result for r in reps if r.result is not None]


def _cell_key(cfg: ExperimentConfig) -> str:
    from ..config import run_key

    return run_key(cfg.model_copy(update={"seed": 0}))


def _check_group(cfgs: list[ExperimentConfig]) -> None:
    if not cfgs:
        raise ValueError("train_replicas needs at least one config")
    keys = {group_key(c) for c in cfgs}
    if len(keys) > 1:
        raise ValueError("replicas must differ only in their seed and in per-replica "
                         "weighting settings (see group_key)")
    for cfg in cfgs:
        reason = batch_reason(cfg)
        if reason is not None:
            raise NotBatchable(reason)


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


def _loop(reps: list[_Replica], stack: Stack, stops: _Stops, poll: Poll,
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
                    end(i, "diverged", diverged_message(task, epoch, step),
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
        # explicit-plan models: every replica's validation losses and gradient cosines in
        # one pass each
        pre = None
        if stack.plan is not None and alive:
            # a model without a shared encoder has no cosines (as alone)
            pre = (split_losses(stack, run0.val, run0.specs),
                   grad_cosines(stack, run0.train, run0.specs, run0.bs)
                   if stack.plan.shared else None)
        for i in alive:
            _end_epoch(reps[i], stack, i, epoch, st, end,
                       (pre[0][i], pre[1][i] if pre[1] is not None else None)
                       if pre is not None else None)
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


def _step(reps: list[_Replica], stack: Stack, alive: list[int], epoch: int, step: int,
          idx: torch.Tensor, st: _EpochState) -> None:
    """One optimiser step of every replica on its batch; idx: (K, batch)."""
    run0 = reps[0].run
    tr, specs, cfg = run0.train, run0.specs, run0.cfg
    xb = tr.x[idx]  # (K, batch, input)
    ys = {s.name: tr.y[s.name][idx] for s in specs if s.kind != "reconstruction"}
    draws = probe_draws(stack, run0, idx.shape[1])
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
        side = take_side_state(template)
        side_leaves = [v for level in side for v in level.values()]
        side_keys[:] = [list(level) for level in side]
        return (*(out.outputs[n] for n in names), *out.aux_losses.values(), *side_leaves)

    side_keys: list[list[str]] = []
    keep: dict[str, Any] | None = None  # what the explicit forward keeps for a gradient method
    if stack.plan is not None and not noise:  # batched matmuls, no vmap
        keep = {"names": names} if stack.task_grads else None
        outputs, side = explicit_forward(stack.plan, stack.flat, xb, names, keep=keep)
        aux: dict[str, torch.Tensor] = {}
    else:
        res = vmap(forward, randomness="error")(stack.flat, xb, *(b for _, _, b in buffers), *noise)
        outputs = dict(zip(names, res[:len(names)], strict=True))
        aux = dict(zip(aux_names, res[len(names):len(names) + len(aux_names)], strict=True))
        rest = iter(res[len(names) + len(aux_names):])
        side = [{key: next(rest) for key in keys} for keys in side_keys]
    # the task losses outside vmap, where cross-entropy has its fused kernel (under vmap it
    # runs as a Python decomposition): (K, n_tasks)
    losses = torch.stack([batched_loss(s, outputs[s.name], xb if s.kind == "reconstruction"
                                        else ys[s.name]) for s in specs], dim=1)
    # losses: (K, n_tasks); aux: name -> (K,)
    extra = torch.zeros(len(reps), device=run0.device)
    for name, v in aux.items():  # the single run's order: aux losses, then the penalty
        extra = extra + v
        st.aux_sums[name] = st.aux_sums.get(name, 0) + v.detach()
    pen = penalty(stack, cfg.optimizer.l1, cfg.optimizer.l2)
    if pen is not None:
        extra = extra + pen
    st.side = add_side_state(st.side, side)
    st.steps_done += 1
    stack.opt.zero_grad(set_to_none=True)
    if stack.task_grads:  # per-task gradients of every replica at once, then each one's method
        gradient_backward([reps[i].run.strategy for i in alive], [reps[i].rng for i in alive],
                          [stack.strategy_draws[i] for i in alive], stack, alive, losses, extra,
                          [reps[i].run.schedule.active(epoch, step) for i in alive], keep)
    else:
        combined = _combine(reps, stack, alive, losses, epoch, step)  # (n_alive,)
        (combined + (extra if len(alive) == len(reps) else extra[alive])).sum().backward()
    if cfg.optimizer.clip_norm:
        clip(stack, cfg.optimizer.clip_norm)
    stack.opt.step()
    detached = losses.detach()
    for i in alive:
        reps[i].run.schedule.feedback(detached[i])
    st.sums += detached


def _combine(reps: list[_Replica], stack: Stack, alive: list[int], losses: torch.Tensor,
             epoch: int, step: int) -> torch.Tensor:
    """Every alive replica's combined loss, (n_alive,): each as its own strategy combines
    it alone. Replicas whose strategy class combines K at once (``combine_replicas``: fixed
    λ, equal) and whose schedule trains every task this step go in one call per class."""
    out: list[torch.Tensor | None] = [None] * len(alive)
    by_class: dict[type[Weighting], list[int]] = {}
    for j, i in enumerate(alive):
        r = reps[i]
        active = r.run.schedule.active(epoch, step)
        if active is None and not stack.strategy_draws[i]:
            by_class.setdefault(type(r.run.strategy), []).append(j)
            continue
        # a strategy that draws does so from the replica's own generator state
        out[j] = (r.rng.use(r.run.strategy.combine, losses[i], active) if stack.strategy_draws[i]
                  else r.run.strategy.combine(losses[i], active)).reshape(1)
    pieces: list[tuple[list[int], torch.Tensor]] = []
    for cls, js in by_class.items():
        ids = tuple(alive[j] for j in js)
        cache = stack.combine_cache.setdefault((cls, ids), {})
        rows = losses if len(ids) == len(reps) else losses[list(ids)]
        got = cls.combine_replicas([reps[i].run.strategy for i in ids], rows, cache)
        if got is None:
            for j in js:
                out[j] = reps[alive[j]].run.strategy.combine(losses[alive[j]], None).reshape(1)
        else:
            pieces.append((js, got))
    if len(pieces) == 1 and len(pieces[0][0]) == len(alive):
        return pieces[0][1]  # the common case: one class, every replica
    for js, got in pieces:
        for n, j in enumerate(js):
            out[j] = got[n:n + 1]
    return torch.cat([o for o in out if o is not None])


def _replica_epoch(st: _EpochState, k: int) -> EpochState:
    return EpochState(st.sums[k].clone(), {n: v[k] for n, v in st.aux_sums.items()})


def _freeze_diverged(rep: _Replica, epoch: int, st: _EpochState, k: int, task: str) -> None:
    """Record what the diverged epoch had before it diverged, as ``training.train`` does."""
    ep = _replica_epoch(st, k)
    ep.good = rep.good
    rows = diverged_rows(rep.run, ep)
    if rows:
        extras = {"diverged": True, "diverged_epoch": epoch, "diverged_task": task}
        rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
        rep.sink.epoch(epoch, rows, extras)


def _end_epoch(rep: _Replica, stack: Stack, k: int, epoch: int, st: _EpochState,
               end: Callable[..., None],
               pre: tuple[torch.Tensor, list[list[float]] | None] | None) -> None:
    """A finished epoch of replica ``k``: its own model evaluated and bookkept as alone.
    ``pre``: its validation losses and gradient cosines, computed for all replicas at once
    (then its model is loaded only when early stopping may keep it)."""
    run = rep.run
    if pre is None or rep.early.patience:
        load_replica(rep.run.model, stack, k)
    give_side_state(run.model, st.side, k, st.steps_done)
    ep = _replica_epoch(st, k)
    ep.good = rep.good
    losses = epoch_losses(run, ep, epoch, None if pre is None else pre[0])
    if losses is None:  # diverged after the last poll, or on validation
        rows = diverged_rows(run, ep)
        diverged = {"diverged_epoch": epoch, "diverged_task": ep.task}
        if rows:
            extras = {"diverged": True, **diverged}
            rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
            rep.sink.epoch(epoch, rows, extras)
        end(k, "diverged", ep.reason, **diverged)
        return
    train_losses, val_losses = losses
    # (the learning-rate schedule is the stack's, stepped by the loop: run.lr_sched is None)
    rows, extras = bookkeeping(run, epoch, train_losses, val_losses, ep.aux_sums,
                                "compute" if pre is None else pre[1])
    rep.epochs_run = epoch + 1
    rep.history.append({"epoch": epoch, "rows": rows, "extras": extras})
    rep.sink.epoch(epoch, rows, extras)
    rep.sink.progress(rep.epochs_run / run.cfg.training.epochs)
    reason = rep.early.should_stop(run.model, epoch, val_losses)
    if reason is not None:
        end(k, "done", reason)


def _finish(rep: _Replica, stack: Stack, k: int, status: Status, reason: str | None,
            t0: float, diverged: dict[str, Any]) -> TrainResult:
    """Freeze replica ``k`` and build its result, as ``training.train`` ends a run."""
    run = rep.run
    if status != "diverged":
        load_replica(rep.run.model, stack, k)
    best_epoch = rep.early.restore(run.model)
    result = TrainResult(status, reason, rep.epochs_run, {}, 0.0, describe_device(run.device),
                         run.model, rep.history, **diverged)
    if status == "done":
        majority = majority_classes(run.specs, run.train.y)
        result.test_metrics = test_report(run.model, stack.test, run.specs, majority)
        result.val_metrics = test_report(run.model, run.val, run.specs, majority)
        result.kept_epoch = best_epoch if best_epoch is not None else rep.epochs_run - 1
    run.model.cpu()
    result.seconds = time.perf_counter() - t0
    rep.result = result
    return result
