"""The replicas' parameters stacked side by side, and the parts of a batched step that act
on them (see ``mtae_core.replicas``): losses, penalties and clipping per replica, copying a
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

from .data import Split, TaskSpec
from .replica_noise import Draw, Feed, Probe
from .training import _Run, build_optimizer


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
    opt: torch.optim.Optimizer
    lr_sched: torch.optim.lr_scheduler.LRScheduler | None
    penalised: list[Slot]  # weight matrices (L1 / L2 penalties)
    strategy_params: list[list[nn.Parameter]]  # per replica
    test: Split  # the test split, on the training device
    draws: dict[int, list[Draw]] = field(default_factory=dict)  # batch size -> the forward's draws
    strategy_draws: bool = True  # the strategy draws random numbers (random loss weighting)
    feed: Feed = field(default_factory=Feed)



def make_stack(runs: list[_Run], test: Split) -> Stack:
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
    # one optimizer over everything: its updates are element-wise, so replicas stay apart
    opt_params = [flat, *(p for ps in strategy_params for p in ps)]
    opt, lr_sched = build_optimizer(cfg.optimizer, opt_params, cfg.training.epochs)  # type: ignore[arg-type]
    penalised = [s for s in layout if len(s.shape) > 1]
    return Stack(template, flat, layout, buffers, [full for _, _, full in named], opt, lr_sched,
                  penalised, strategy_params, test)


def probe_draws(stack: Stack, run: _Run, batch: int) -> list[Draw]:
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


def strategy_draws(run: _Run) -> bool:
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
