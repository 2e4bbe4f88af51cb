"""Gradient-based weighting (PCGrad, MGDA, CAGrad, IMTL-G, Aligned-MTL, Nash-MTL, UPGrad,
GradVac, DB-MTL) for replicas trained as one batched model (``mtae_core.engine.replicas``).

A run alone needs its per-task gradients every step: T backward passes (one batched
``jacobian``). K replicas separately would need K × T. Each replica's losses reach only its
own row of ``Stack.flat``, so the gradient of ``Σ_k L_kt`` with respect to the stacked
parameters holds every replica's gradient of task t in its row: one batched Jacobian of
T (+1 for the auxiliary losses and penalties) outputs gives all of them, (T, K, P). Then
each replica's strategy aggregates its own rows as alone: the Gram matrices of all
replicas go to the host in one transfer, the weights come from the strategy class
(``GradientWeighting.weights_from_grams``: batched where the method allows, a loop over
replicas for the solvers), and the update of every replica is one einsum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..weighting.gradient_base import GradientWeighting, active_indices, jacobian

if TYPE_CHECKING:
    from .replica_noise import ReplicaRng
    from .replica_stack import Stack


def gradient_backward(strategies: list[GradientWeighting], rngs: list[ReplicaRng],
                      draws: list[bool], stack: Stack, alive: list[int],
                      losses: torch.Tensor, extra: torch.Tensor,
                      actives: list[torch.Tensor | None],
                      keep: dict[str, Any] | None = None) -> None:
    """Set ``stack.flat.grad`` for the alive replicas as each one's strategy sets its
    model's gradients alone (``GradientWeighting.backward``). losses: (K, T) with the graph;
    extra: (K,) auxiliary losses and penalties; actives: per alive replica, its schedule's
    mask or None."""
    k_all, n = losses.shape
    dev = losses.device
    sub = alive if len(alive) < k_all else None
    la = losses if sub is None else losses[sub]  # (A, T)
    ex = extra if sub is None else extra[sub]  # (A,)
    cols = stack.shared_cols
    if cols is None:  # nothing is shared (single-task): each replica's plain mean, as alone
        ws = []
        for s, active in zip(strategies, actives, strict=True):
            w = torch.ones(n, device=dev) if active is None else active.float()
            w = w / w.sum().clamp(min=1)
            s.last_weights.copy_(w)
            ws.append(w)
        mask = torch.stack([torch.ones(n, dtype=torch.bool, device=dev) if a is None else a
                            for a in actives])
        (torch.where(mask, la, torch.zeros_like(la)) * torch.stack(ws)).sum().add(ex.sum()).backward()
        return
    has_extra = extra.requires_grad
    if keep and "h" in keep and encoder_is_shared(stack):
        _hard_sharing_backward(strategies, rngs, draws, stack, alive, losses, extra, actives, keep)
        return
    outs = la.sum(0)  # (T,): row k of d outs_t / d flat is replica k's gradient of task t
    if has_extra:
        outs = torch.cat([outs, ex.sum().reshape(1)])
    J = jacobian(outs, [stack.flat]).view(len(outs), k_all, -1)  # (T [+1], K, P)
    if sub is not None:
        J = J[:, sub]  # (T [+1], A, P)
    Jt = J[:n]
    # (T, A, P_shared): a view when the shared columns are one span (the usual case)
    G = (Jt[:, :, cols[0][0]:cols[0][1]] if len(cols) == 1
         else torch.cat([Jt[:, :, a:b] for a, b in cols], dim=2))
    Gk = G.transpose(0, 1)  # (A, T, P_shared)
    det = la.detach()
    cls = type(strategies[0])
    own_direction = cls.direction is not GradientWeighting.direction
    if own_direction:  # DB-MTL: its own direction from G, per replica
        ds, ws = [], []
        for s, rng, d_, g, l_, active in zip(strategies, rngs, draws, Gk, det, actives, strict=True):
            idx = active_indices(active, n)
            s.active_idx = idx
            d, w = (rng.use(s.direction, g[idx], l_[idx]) if d_ else s.direction(g[idx], l_[idx]))
            full = torch.zeros(n, device=dev, dtype=w.dtype)
            full[idx] = w
            s.last_weights.copy_(full)
            hw = torch.zeros(n, device=dev, dtype=w.dtype)
            hw[idx] = s.head_weights(w, l_[idx]).detach()
            ds.append(d)
            ws.append(hw)
        hw_all = torch.stack(ws)  # (A, T)
        d_all = torch.stack(ds)  # (A, P_shared)
    else:
        grams = torch.bmm(Gk, Gk.transpose(1, 2)).double().cpu().numpy()  # one transfer: (A, T, T)
        host_losses = det.double().cpu().numpy()  # (A, T)
        idxs = [active_indices(act, n) for act in actives]
        w_np = cls.weights_from_grams(strategies, grams, host_losses, idxs,
                                      [rng if d_ else None for rng, d_ in zip(rngs, draws, strict=True)])
        w_all = torch.as_tensor(w_np, dtype=G.dtype, device=dev)  # (A, T): 0 for a task left out
        for s, w in zip(strategies, w_all, strict=True):
            s.last_weights.copy_(w)
        if cls.head_weights is GradientWeighting.head_weights:
            # d = wᵀG on the shared columns, and the same weights on the task-specific ones
            grad = torch.einsum("at,tap->ap", w_all, Jt)
            _finish(stack, grad, J[n] if has_extra else None, alive, k_all)
            return
        d_all = torch.einsum("at,atp->ap", w_all, Gk)
        hw_all = torch.stack([_head(s, w, l_, idx) for s, w, l_, idx
                              in zip(strategies, w_all, det, idxs, strict=True)])
    grad = torch.einsum("at,tap->ap", hw_all.to(Jt.dtype), Jt)  # task-specific parameters
    at = 0
    for a0, b0 in cols:  # the shared ones take the strategy's direction
        grad[:, a0:b0] = d_all[:, at:at + b0 - a0]
        at += b0 - a0
    _finish(stack, grad, J[n] if has_extra else None, alive, k_all)


def _head(s: GradientWeighting, w: torch.Tensor, losses: torch.Tensor, idx: list[int]) -> torch.Tensor:
    full = torch.zeros_like(w)
    full[idx] = s.head_weights(w[idx], losses[idx]).detach()
    return full


def _finish(stack: Stack, grad: torch.Tensor, extra_grad: torch.Tensor | None,
            alive: list[int], k_all: int) -> None:
    if extra_grad is not None:  # auxiliary losses and penalties reach every parameter as usual
        grad = grad + extra_grad
    if len(alive) < k_all:  # a frozen replica's row takes no gradient
        full = torch.zeros_like(stack.flat)
        full[alive] = grad
        grad = full
    stack.flat.grad = grad


def encoder_is_shared(stack: Stack) -> bool:
    """The plan's shared encoder holds exactly the shared parameters (hard sharing)."""
    plan, cols = stack.plan, stack.shared_cols
    if plan is None or cols is None or not plan.encoder_slots:
        return False
    spans = sorted((stack.layout[i].offset, stack.layout[i].offset + stack.layout[i].numel)
                   for i in plan.encoder_slots)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and merged[-1][1] == a:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [tuple(m) for m in merged] == list(cols)


def _weights(strategies: list[GradientWeighting], rngs: list[ReplicaRng], draws: list[bool],
             G: torch.Tensor, det: torch.Tensor, actives: list[torch.Tensor | None]
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Each replica's weights (A, T), its direction on the shared columns (A, P_shared) when
    its method makes its own (else None: d = wᵀG), and its head weights (A, T)."""
    n = det.shape[1]
    dev = det.device
    cls = type(strategies[0])
    Gk = G.transpose(0, 1)  # (A, T, P_shared)
    if cls.direction is not GradientWeighting.direction:  # DB-MTL
        ds, ws, hws = [], [], []
        for s, rng, d_, g, l_, active in zip(strategies, rngs, draws, Gk, det, actives, strict=True):
            idx = active_indices(active, n)
            s.active_idx = idx
            d, w = rng.use(s.direction, g[idx], l_[idx]) if d_ else s.direction(g[idx], l_[idx])
            full = torch.zeros(n, device=dev, dtype=w.dtype)
            full[idx] = w
            s.last_weights.copy_(full)
            ws.append(full)
            hws.append(_head(s, full, l_, idx))
            ds.append(d)
        return torch.stack(ws), torch.stack(ds), torch.stack(hws)
    grams = torch.bmm(Gk, Gk.transpose(1, 2)).double().cpu().numpy()  # one transfer: (A, T, T)
    idxs = [active_indices(act, n) for act in actives]
    w_np = cls.weights_from_grams(strategies, grams, det.double().cpu().numpy(), idxs,
                                  [rng if d_ else None for rng, d_ in zip(rngs, draws, strict=True)])
    w_all = torch.as_tensor(w_np, dtype=G.dtype, device=dev)  # (A, T): 0 for a task left out
    for s, w in zip(strategies, w_all, strict=True):
        s.last_weights.copy_(w)
    if cls.head_weights is GradientWeighting.head_weights:
        return w_all, None, w_all
    return w_all, None, torch.stack([_head(s, w, l_, idx) for s, w, l_, idx
                                     in zip(strategies, w_all, det, idxs, strict=True)])


def encoder_task_grads(stack: Stack, losses: torch.Tensor, keep: dict[str, Any],
                       heads: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every replica's per-task gradients of the shared encoder's parameters, (T, K,
    P_shared) in the layout's order, from a forward made with ``explicit_forward(keep=...)``:
    one plain backward through the heads to their inputs, then one batched over the tasks
    through the encoder. ``heads``: also the heads' parameters' gradients from that first
    pass ((K, P), the heads' columns filled; each head's from its own task alone)."""
    plan = stack.plan
    assert plan is not None
    n, k_all = losses.shape[1], losses.shape[0]
    h, hs, views = keep["h"], keep["hs"], keep["views"]
    enc_views = [views[i] for i in plan.encoder_slots]
    got = torch.autograd.grad(losses.sum(), [stack.flat, *hs] if heads else hs)
    flat_heads = got[0] if heads else None
    gh = got[1:] if heads else got  # T × (K, B, d)
    enc = torch.autograd.grad(h, enc_views, grad_outputs=torch.stack(gh), is_grads_batched=True)
    order = sorted(range(len(enc_views)), key=lambda j: stack.layout[plan.encoder_slots[j]].offset)
    return torch.cat([enc[j].reshape(n, k_all, -1) for j in order], dim=2), flat_heads


def _hard_sharing_backward(strategies: list[GradientWeighting], rngs: list[ReplicaRng],
                           draws: list[bool], stack: Stack, alive: list[int],
                           losses: torch.Tensor, extra: torch.Tensor,
                           actives: list[torch.Tensor | None], keep: dict[str, Any]) -> None:
    """Hard sharing, where each head reads its own detached copy of the encoder's output
    (``explicit_forward(keep=...)``): one plain backward gives every head's gradients (a
    head's parameters reach only its own task's loss) and each task's gradient with
    respect to the encoder's output; one backward batched over the tasks through the
    encoder alone gives the per-task gradients of the shared parameters. The same numbers
    as the full Jacobian, without pushing T rows (all but one zero) through every head."""
    plan = stack.plan
    assert plan is not None
    k_all, n = losses.shape
    # the heads: their parameters' gradients (unweighted; each head only its own task's)
    # and dL_t / dh_t, in one plain backward
    G, flat_heads = encoder_task_grads(stack, losses, keep, heads=True)
    assert flat_heads is not None
    sub = alive if len(alive) < k_all else None
    if sub is not None:
        G, flat_heads = G[:, sub], flat_heads[sub]
    det = (losses if sub is None else losses[sub]).detach()
    w, d, hw = _weights(strategies, rngs, draws, G, det, actives)
    if d is None:
        d = torch.einsum("at,tap->ap", w.to(G.dtype), G)  # d = wᵀG per replica
    grad = torch.empty_like(flat_heads)
    (a0, b0), = stack.shared_cols or [(0, 0)]
    grad[:, a0:b0] = d
    for t, name in enumerate(keep.get("names", [])):  # each head's columns: its task's weight
        for i in plan.head_slots[name]:
            slot = stack.layout[i]
            cols = slice(slot.offset, slot.offset + slot.numel)
            grad[:, cols] = flat_heads[:, cols] * hw[:, t:t + 1].to(flat_heads.dtype)
    if extra.requires_grad:  # penalties reach every parameter as usual
        ex = extra if sub is None else extra[sub]
        (g_extra,) = torch.autograd.grad(ex.sum(), [stack.flat])
        grad += g_extra if sub is None else g_extra[sub]
    _finish(stack, grad, None, alive, k_all)
