"""The replicas' parameters stacked side by side, and the parts of a batched step that act
on them (see ``mtae_core.engine.replicas``): losses, penalties and clipping per replica, copying a
replica back into its own model, the training-noise probe, and the gate statistics that
mixture-of-experts models gather in their forward pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import stack_module_state

from ..data import Split, TaskSpec
from .replica_noise import Draw, Feed, Probe
from .replica_optim import ReplicaOptimizers, per_replica
from .training import RunState, build_optimizer


class NotBatchable(Exception):
    """These seeds cannot train as one batched model; the message says why (plain words)."""


@dataclass(frozen=True)
class Slot:
    """One parameter: its name, shape and place in a row of ``Stack.flat``, and the
    ``_parameters`` dict of the template's module that holds it."""

    name: str
    shape: tuple[int, ...]
    offset: int
    numel: int
    owner: dict[str, Any]
    attr: str  # its key in ``owner``


@dataclass
class Stack:
    """The replicas' parameters stacked (K, ...) and what trains them."""

    template: nn.Module  # the architecture on the meta device, in training mode
    # every replica's parameters side by side, one row each: (K, n_params), one leaf.
    # One tensor instead of one per parameter: vmap and the optimizer handle one input
    flat: torch.Tensor
    layout: list[Slot]  # where each parameter lies in a row, and where the template reads it
    buffers: list[tuple[dict[str, Any], str, torch.Tensor]]  # (owner, name, (K, ...) stacked)
    buffer_names: list[str]  # their full names, as the replicas' models name them
    opt: Any  # a torch optimizer, or ``ReplicaOptimizers`` (per-replica lr / weight decay)
    lr_sched: Any  # its learning-rate schedule (``step()`` at an epoch's end), or None
    penalised: list[Slot]  # weight matrices (L1 / L2 penalties)
    strategy_params: list[list[nn.Parameter]]  # per replica
    test: Split  # the test split, on the training device
    draws: dict[int, list[Draw]] = field(default_factory=dict)  # batch size -> the forward's draws
    # per replica: its strategy draws random numbers (random loss weighting)
    strategy_draws: list[bool] = field(default_factory=list)
    # ``Weighting.combine_replicas``'s cache per (strategy class, replicas)
    combine_cache: dict[Any, dict[str, Any]] = field(default_factory=dict)
    feed: Feed = field(default_factory=Feed)
    # the forward pass as explicit batched matmuls, when the model is one that
    # ``explicit_plan`` knows (None: vmap over the template)
    plan: Plan | None = None
    # the columns of a row of ``flat`` that hold shared parameters, as [start, end) spans
    # (one span for the usual models: the shared encoder's parameters come first); None:
    # nothing is shared
    shared_cols: list[tuple[int, int]] | None = None
    task_grads: bool = False  # the strategy works on per-task gradients (``replica_grads``)



def make_stack(runs: list[RunState], test: Split) -> Stack:
    """The replicas' models stacked, and one optimizer over them and their strategies."""
    ms = [r.model for r in runs]
    template = copy.deepcopy(ms[0]).to("meta")
    template.train()
    layout, offset = [], 0
    for prefix, mod in template.named_modules():  # named_parameters' order
        for name, p in mod._parameters.items():
            if p is not None:
                full = f"{prefix}.{name}" if prefix else name
                layout.append(Slot(full, tuple(p.shape), offset, p.numel(), mod._parameters,
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
    strategy_params = [list(r.strategy.parameters()) for r in runs]
    cfg = runs[0].cfg
    opt: Any
    lr_sched: Any
    if per_replica([r.cfg.optimizer for r in runs]):  # a learning-rate / weight-decay sweep
        opt = ReplicaOptimizers(flat, strategy_params, [r.cfg.optimizer for r in runs],
                                cfg.training.epochs)
        lr_sched = opt.schedule
    else:
        # one optimizer over everything: its updates are element-wise, so replicas stay apart
        opt_params = [flat, *(p for ps in strategy_params for p in ps)]
        opt, lr_sched = build_optimizer(cfg.optimizer, opt_params, cfg.training.epochs)  # type: ignore[arg-type]
    penalised = [s for s in layout if len(s.shape) > 1]
    shared_ids = {id(p) for p in template.shared_parameters()}  # type: ignore[operator]
    spans: list[list[int]] = []  # the shared parameters' columns, as merged [start, end)
    for s in layout:
        if id(s.owner[s.attr]) in shared_ids:
            if spans and spans[-1][1] == s.offset:
                spans[-1][1] = s.offset + s.numel
            else:
                spans.append([s.offset, s.offset + s.numel])
    return Stack(template, flat, layout, buffers, [full for _, _, full in named], opt, lr_sched,
                  penalised, strategy_params, test, plan=explicit_plan(template, layout),
                  shared_cols=[(a, b) for a, b in spans] or None,
                  task_grads=bool(getattr(runs[0].strategy, "needs_task_grads", False)))


# ---- the forward pass without vmap ---------------------------------------------------------
# vmap runs each op of the model through functorch's batching rules: at these sizes that
# costs about as much per step as a single run's whole forward and backward (profiled in
# the README). For hard sharing (any depth), the single-task baselines and MMoE, with a
# plain autoencoder and MLPs of linear layers and activations, the forward pass is written
# out as what vmap computes: one batched matmul per layer over the replicas' stacked weights.

# one MLP layer: a linear layer (indices of its weight and bias slots; the bias None when it
# has none), a layer of per-task networks (``BatchedLinear``: "tasks", weight, bias), or an
# activation
Layer = tuple[int, int | None] | tuple[str, int, int] | nn.Module


@dataclass(frozen=True)
class Plan:
    sizes: list[int]  # the slots' sizes in a row of ``Stack.flat`` (one split per step)
    shapes: list[tuple[int, ...]]
    encoder: list[Layer] | None  # the shared encoder, if any: (K, batch, ·)
    encoders: list[Layer] | None  # the per-task encoders, if any: (K, n_tasks, batch, ·)
    heads: dict[str, list[Layer]]
    shared: list[int]  # the slots of the model's shared parameters (gradient cosines)
    # the slots of the shared encoder's layers and of each head's (``replica_grads``)
    encoder_slots: list[int] = field(default_factory=list)
    head_slots: dict[str, list[int]] = field(default_factory=dict)
    # MMoE: its experts (K, n_experts, batch, ·) and the tasks' gate layer
    experts: list[Layer] | None = None
    gate: Layer | None = None


def explicit_plan(template: nn.Module, layout: list[Slot]) -> Plan | None:
    """The model's forward pass as lists of batched layers, or None when it does more than
    ``HardSharing.forward`` / ``SingleTask.forward`` with a plain autoencoder and MLPs of
    linear layers and elementwise activations (no dropout, batch norm or noise)."""
    from ..models.base import ACTIVATIONS, BatchedLinear
    from ..models.hard import HardSharing
    from ..models.mmoe import MMoE
    from ..models.plain import Plain
    from ..models.single_task import SingleTask

    if type(template) not in (HardSharing, SingleTask, MMoE) or type(template.ae) is not Plain:
        return None
    index = {slot.name: i for i, slot in enumerate(layout)}
    acts = tuple(ACTIVATIONS.values())

    def layers(prefix: str, seq: nn.Module | None) -> list[Layer] | None:
        if type(seq) is not nn.Sequential:
            return None
        out: list[Layer] = []
        for name, mod in seq.named_children():
            if type(mod) is nn.Linear:
                out.append((index[f"{prefix}.{name}.weight"], index.get(f"{prefix}.{name}.bias")))
            elif type(mod) is BatchedLinear:
                out.append(("tasks", index[f"{prefix}.{name}.weight"], index[f"{prefix}.{name}.bias"]))
            elif type(mod) in acts:
                out.append(mod)  # holds no tensors: runs on the stacked activations as is
            else:
                return None
        return out

    head_dict = template.heads
    assert isinstance(head_dict, nn.ModuleDict)
    heads = {name: layers(f"heads.{name}", h) for name, h in head_dict.items()}
    if any(h is None for h in heads.values()):
        return None
    shared_ids = {id(p) for p in template.shared_parameters()}  # type: ignore[operator]
    shared = [i for i, slot in enumerate(layout) if id(slot.owner[slot.attr]) in shared_ids]
    base = ([s.numel for s in layout], [s.shape for s in layout])
    kept = {n: h for n, h in heads.items() if h is not None}
    if isinstance(template, MMoE):  # one level of shared experts, no task-specific ones
        experts = layers("shared_experts.0", template.shared_experts[0])
        gate = template.task_gates[0]
        if (experts is None or len(template.chunks) != 1 or template.specific_experts is not None
                or type(gate) is not BatchedLinear):
            return None
        return Plan(*base, None, None, kept, shared, experts=experts,
                    gate=("tasks", index["task_gates.0.weight"], index["task_gates.0.bias"]))
    encoder = getattr(template, "encoder", None)
    encoders = getattr(template, "encoders", None)
    enc = layers("encoder", encoder) if encoder is not None else None
    encs = layers("encoders", encoders) if encoders is not None else None
    if ((encoder is not None and enc is None) or (encoders is not None and encs is None)
            or (enc is None and encs is None)):
        return None
    return Plan(*base, enc, encs, kept, shared, _slots(enc or []),
                {n: _slots(h) for n, h in kept.items()})


def _slots(layers: list[Layer]) -> list[int]:
    out: list[int] = []
    for layer in layers:
        if isinstance(layer, nn.Module):
            continue
        out.extend(i for i in layer[-2:] if isinstance(i, int))
    return sorted(out)


def explicit_forward(plan: Plan, flat: torch.Tensor, x: torch.Tensor, names: list[str],
                     keep: dict[str, Any] | None = None
                     ) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Every replica's task outputs, (K, batch, out) each, from x: (K, batch, input); and
    the step's side state (MMoE's gate means over the batch, as ``take_side_state``).
    ``keep``: for a gradient method on hard sharing (a shared encoder, then the heads), the
    heads read their own detached copy of the encoder's output, and ``keep`` gets the
    encoder's output ``h``, the heads' inputs ``hs`` and the parameter views ``views``:
    ``replica_grads`` then needs one plain backward for the heads and one batched over the
    tasks for the encoder, instead of a batched one through everything."""
    k = flat.shape[0]
    # one split, so the backward writes the row's gradient in one copy (slices would each
    # add a zero-filled (K, n_params) gradient)
    views = torch.split(flat, plan.sizes, dim=1)

    def run(layers: list[Layer], h: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            if isinstance(layer, nn.Module):
                h = layer(h)
            elif len(layer) == 3:  # per-task networks: h (K, n_tasks, batch, in)
                _, tw, tb = layer
                n, d_in, d_out = plan.shapes[tw]  # one baddbmm over K × n_tasks networks
                w = views[tw].reshape(k * n, d_in, d_out)
                h = torch.baddbmm(views[tb].reshape(k * n, 1, d_out),
                                  h.reshape(k * n, -1, d_in), w).view(k, n, -1, d_out)
            else:
                w_i, b_i = layer
                w = views[w_i].view(k, *plan.shapes[w_i]).transpose(1, 2)  # (K, in, out)
                if b_i is None:
                    h = torch.bmm(h, w)
                else:
                    h = torch.baddbmm(views[b_i].view(k, 1, -1), h, w)
        return h

    n = len(names)
    side: list[dict[str, torch.Tensor]] = []
    if plan.experts is not None and plan.gate is not None:  # MMoE (``GatedExperts.forward``)
        n_e = plan.shapes[plan.gate[1]][-1]  # type: ignore[index]
        experts = run(plan.experts, x.unsqueeze(1).expand(k, n_e, *x.shape[1:]))
        g = torch.softmax(run([plan.gate], x.unsqueeze(1).expand(k, n, *x.shape[1:])), dim=-1)
        codes = torch.einsum("ktbe,kebd->ktbd", g, experts)  # every task mixes every expert
        side = [{"tasks": g.detach().mean(dim=-2)}]  # (K, n_tasks, n_experts)
    else:
        h = run(plan.encoder, x) if plan.encoder is not None else x  # (K, batch, width)
        if plan.encoders is None:  # the plain autoencoder's z is its code, read by every head
            if keep is not None and plan.encoder is not None:
                hs = [h.detach().requires_grad_(True) for _ in names]
                keep.update(h=h, hs=hs, views=views)
                return {name: run(plan.heads[name], hi) for name, hi in zip(names, hs, strict=True)}, side
            return {name: run(plan.heads[name], h) for name in names}, side
        codes = run(plan.encoders, h.unsqueeze(1).expand(k, n, *h.shape[1:]))  # (K, n, batch, code)
    return {name: run(plan.heads[name], codes[:, i]) for i, name in enumerate(names)}, side


def grad_cosines(stack: Stack, split: Split, specs: list[TaskSpec],
                 batch: int) -> list[list[list[float]]]:
    """``grad_cosine.epoch_grad_cosine`` of every replica in one pass (explicit-plan models,
    which have no dropout, noise or batch norm, so training mode is evaluation mode): the
    cosines of the task gradients on the shared encoder, on the first ``batch`` rows of
    ``split``; (K, n_tasks, n_tasks) as nested lists. Each replica's losses reach only its
    own row of ``Stack.flat``, so one backward per task gives every replica's gradient."""
    from ..weighting.gradient_base import jacobian
    from .replica_grads import encoder_is_shared, encoder_task_grads

    assert stack.plan is not None and stack.plan.shared
    k, n = stack.flat.shape
    x = split.x[:batch].unsqueeze(0).expand(k, -1, -1)
    # hard sharing: through the heads once, then the encoder batched over the tasks
    keep: dict[str, Any] | None = {} if encoder_is_shared(stack) else None
    out, _ = explicit_forward(stack.plan, stack.flat, x, [s.name for s in specs], keep=keep)
    losses = torch.stack([
        batched_loss(s, out[s.name], x if s.kind == "reconstruction"
                     else split.y[s.name][:batch].unsqueeze(0).expand(k, *split.y[s.name][:batch].shape))
        for s in specs], dim=1)  # (K, n_tasks)
    if keep:
        shared = encoder_task_grads(stack, losses, keep, heads=False)[0].transpose(0, 1)
    else:
        grads = jacobian(losses.sum(0), [stack.flat]).view(len(specs), k, n)
        shared = torch.cat([grads[:, :, stack.layout[i].offset:stack.layout[i].offset
                                  + stack.layout[i].numel] for i in stack.plan.shared],
                           dim=2).transpose(0, 1)  # (K, T, P)
    unit = shared / shared.norm(dim=2, keepdim=True).clamp(min=1e-12)
    return (unit @ unit.transpose(1, 2)).clamp(-1.0, 1.0).tolist()


def probe_draws(stack: Stack, run: RunState, batch: int) -> list[Draw]:
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


def strategy_draws(run: RunState) -> bool:
    """Whether the strategy's ``combine`` draws random numbers (tried on a copy, which
    is then dropped: some strategies change their state as they combine)."""
    strategy = copy.deepcopy(run.strategy)
    probe = Probe()
    n = len(run.names)
    if getattr(strategy, "needs_task_grads", False):  # its step on made-up gradients
        g = torch.linspace(-1.0, 1.0, n * 5, device=run.device).reshape(n, 5).cos()
        with probe, torch.no_grad():
            strategy.active_idx = list(range(n))
            strategy.direction(g, torch.ones(n, device=run.device))
        return bool(probe.unknown or probe.draws)
    with probe, torch.no_grad():
        strategy.combine(torch.ones(n, device=run.device), None)
    return bool(probe.unknown or probe.draws)


# ---- side state of a forward pass (mixture-of-experts gate statistics) --------------------
# Expert models sum their gate weights over an epoch's forward passes for the gate charts.
# Under vmap those sums would be batched tensors left on the template: instead each step's
# gate means come out of vmap and are summed per replica, then handed to each replica's
# model at the epoch's end, exactly as its own forward passes would have summed them.


def reset_side_state(m: nn.Module) -> None:
    if hasattr(m, "_gate_sums"):
        setattr(m, "_gate_sums", [])  # noqa: B010  (another module's attribute, by duck typing)
        setattr(m, "_gate_count", 0)  # noqa: B010
        setattr(m, "last_gates", [])  # noqa: B010


def take_side_state(m: nn.Module) -> Any:
    sums = getattr(m, "_gate_sums", None) or []  # vmap's outputs hold tensors only
    reset_side_state(m)
    return sums


def add_side_state(acc: Any, new: Any) -> Any:
    if not new:
        return acc
    if acc is None:
        return new
    return [{k: a[k] + n[k] for k in n} for a, n in zip(acc, new, strict=True)]


def give_side_state(m: nn.Module, acc: Any, k: int, steps: int) -> None:
    if acc is not None and hasattr(m, "_gate_sums"):
        setattr(m, "_gate_sums", [{name: v[k] for name, v in level.items()} for level in acc])  # noqa: B010
        setattr(m, "_gate_count", steps)  # noqa: B010



def batched_loss(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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


def penalty(stack: Stack, l1: float, l2: float) -> torch.Tensor | None:
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


def clip(stack: Stack, max_norm: float) -> None:
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


def load_replica(model: nn.Module, stack: Stack, k: int) -> None:
    """Copy replica ``k``'s slice of the stacked state into its own model."""
    with torch.no_grad():
        params = dict(model.named_parameters())
        for slot in stack.layout:
            params[slot.name].copy_(stack.flat[k, slot.offset:slot.offset + slot.numel].view(slot.shape))
        own = dict(model.named_buffers())
        for (_, _, b), full in zip(stack.buffers, stack.buffer_names, strict=True):
            own[full].copy_(b[k])


@torch.no_grad()
def split_losses(stack: Stack, split: Split, specs: list[TaskSpec]) -> torch.Tensor:
    """``training.evaluate``'s losses of every replica on ``split`` in one pass
    (explicit-plan models, whose evaluation mode is their training mode): (K, n_tasks)."""
    assert stack.plan is not None
    k = stack.flat.shape[0]
    x = split.x.unsqueeze(0).expand(k, -1, -1)
    out, _ = explicit_forward(stack.plan, stack.flat, x, [s.name for s in specs])
    return torch.stack([batched_loss(s, out[s.name], split.y[s.name].unsqueeze(0).expand(
        k, *split.y[s.name].shape)) for s in specs], dim=1)
