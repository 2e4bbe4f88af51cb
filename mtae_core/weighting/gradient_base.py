"""Shared machinery of the gradient-based strategies.

Each step the per-task gradients of the shared parameters are computed in one batched
backward pass (a Jacobian ``G``: (n_active, n_shared)); the strategy turns ``G`` into an
update direction ``d`` (written into the shared parameters' ``.grad``) and effective task
weights ``w`` (used for the task-specific parameters and charted). Most methods produce
``d = wᵀG`` and only need the Gram matrix ``G Gᵀ``: they implement ``weights_from_gram``
on a small float64 numpy array, so no per-parameter work happens on the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..models.base import ModelOutput, SharingScheme
from .base import Weighting, masked


def active_indices(active: torch.Tensor | None, n: int) -> list[int]:
    return list(range(n)) if active is None else active.nonzero().flatten().tolist()


def jacobian(outputs: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rows of d outputs_i / d params, flattened: (n_outputs, n_params), one batched pass."""
    k = outputs.numel()
    eye = torch.eye(k, device=outputs.device, dtype=outputs.dtype)
    if k == 1:
        grads = torch.autograd.grad(outputs, params, grad_outputs=eye[0].reshape(outputs.shape),
                                    retain_graph=True, allow_unused=True)
        grads = tuple(None if g is None else g.unsqueeze(0) for g in grads)
    else:
        grads = torch.autograd.grad(outputs, params, grad_outputs=eye, retain_graph=True,
                                    allow_unused=True, is_grads_batched=True)
    if len(params) == 1 and grads[0] is not None:  # one stacked tensor (replicas): no copy
        return grads[0].reshape(k, -1)
    return torch.cat([
        (torch.zeros(k, p.numel(), device=outputs.device) if g is None else g.reshape(k, -1))
        for g, p in zip(grads, params, strict=True)
    ], dim=1)


class GradientWeighting(Weighting):
    """Base of the strategies that need per-task gradients of the shared parameters."""

    needs_task_grads: ClassVar[bool] = True
    active_idx: list[int]  # tasks of the current step's rows of G (set by backward)

    # ---- the maths, overridable -------------------------------------------------------
    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        """gram: (k, k) float64 = G Gᵀ; losses: (k,) → weights w (k,), with d = wᵀG."""
        raise NotImplementedError

    def direction(self, G: torch.Tensor, losses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G: (k, P) task gradients; losses: (k,) → (update direction d (P,), weights (k,)).
        The default is d = wᵀG with w from the Gram matrix (one small host transfer)."""
        gram = (G @ G.T).double().cpu().numpy()
        w_np = self.weights_from_gram(gram, losses.detach().double().cpu().numpy())
        w = torch.as_tensor(w_np, dtype=G.dtype, device=G.device)
        return w @ G, w

    @classmethod
    def weights_from_grams(cls, strategies: Sequence[GradientWeighting], grams: np.ndarray,
                           losses: np.ndarray, idxs: Sequence[list[int]],
                           rngs: Sequence[Any]) -> np.ndarray:
        """``weights_from_gram`` of K replicas' strategies of this class (batched replicas,
        ``mtae_core.engine.replica_grads``): grams (K, T, T) float64, losses (K, T), each
        replica's active tasks, and per replica None or the generator it draws from
        (``rng.use(fn, *args)``) → weights (K, T), 0 for a task left out. This default
        solves them one by one; a method whose maths batch overrides it."""
        k, n = losses.shape
        out = np.zeros((k, n))
        for i, (s, idx, rng) in enumerate(zip(strategies, idxs, rngs, strict=True)):
            if not idx:
                continue
            s.active_idx = idx
            full = len(idx) == n
            args = (grams[i] if full else grams[i][np.ix_(idx, idx)],
                    losses[i] if full else losses[i][idx])
            out[i, idx] = (rng.use(s.weights_from_gram, *args) if rng is not None
                           else s.weights_from_gram(*args))
        return out

    def head_weights(self, w: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """Weights of the task losses for the task-specific parameters (default: ``w``)."""
        return w

    # ---- the step ---------------------------------------------------------------------
    def jacobian_outputs(self, losses: torch.Tensor) -> torch.Tensor:
        return losses

    def _params(self, model: SharingScheme) -> tuple[list[torch.Tensor], int, list[tuple[int, int]]]:
        """The model's trainable parameters, shared ones first; how many are shared; each
        one's (offset, numel) in a row of the Jacobian. Built once per model (a step's
        Python cost matters at these sizes)."""
        cached = getattr(self, "_layout", None)
        if cached is not None and cached[0] is model:
            return cached[1], cached[2], cached[3]
        shared = [p for p in model.shared_parameters() if p.requires_grad]
        ids = {id(p) for p in shared}
        params: list[torch.Tensor] = [*shared, *(p for p in model.parameters()
                                                 if p.requires_grad and id(p) not in ids)]
        spans, off = [], 0
        for p in params:
            spans.append((off, p.numel()))
            off += p.numel()
        object.__setattr__(self, "_layout", (model, params, len(shared), spans))
        return params, len(shared), spans

    def backward(self, losses: torch.Tensor, extra: torch.Tensor, model: SharingScheme,
                 active: torch.Tensor | None, out: ModelOutput) -> None:
        n = losses.numel()
        params, n_shared, spans = self._params(model)
        if not n_shared:
            # nothing is shared (single-task): no conflict to resolve, plain mean
            w = torch.ones(n, device=losses.device) if active is None else active.float()
            w = w / w.sum().clamp(min=1)
            self.last_weights.copy_(w)
            ((masked(losses, active) * w).sum() + extra).backward()
            return
        idx = active_indices(active, n)
        if not idx:
            return
        self.active_idx = idx  # which tasks the rows of G are, for stateful strategies
        la = losses[idx] if len(idx) < n else losses  # (k,)
        has_extra = extra.requires_grad
        rows = torch.cat([la, extra.reshape(1)]) if has_extra else la
        # one batched backward for every parameter: the rows of the shared ones are G, and
        # the task-specific ones' gradients come from the same pass (no second backward)
        J = jacobian(rows, params)  # (k [+1], P), shared columns first
        p_shared = spans[n_shared - 1][0] + spans[n_shared - 1][1]
        G = J[: len(idx), :p_shared]  # (k, P_shared), a view
        det = la.detach()
        d, w = self.direction(G, det)
        full = torch.zeros(n, device=losses.device, dtype=w.dtype)
        full[idx] = w
        self.last_weights.copy_(full)
        hw = self.head_weights(w, det).detach()
        grad = hw.to(J.dtype) @ J[: len(idx)]  # (P,): the task-specific columns
        grad[:p_shared] = d
        if has_extra:  # auxiliary losses and penalties reach every parameter as usual
            grad += J[-1]
        for p, (off, numel) in zip(params, spans, strict=True):
            g = grad[off:off + numel].view_as(p)  # views of one buffer: no copies
            p.grad = g if p.grad is None else p.grad + g


class UpperBoundWeighting(GradientWeighting):
    """Base of the gradient strategies with an ``upper_bound`` option (MGDA-UB, Sener &
    Koltun 2018, section 3.3; Aligned-MTL-UB): with it set, the gradients with respect to
    the shared representation stand in for those of the shared parameters (a Jacobian of
    batch × repr columns instead of one per shared parameter), and the weights found from
    them drive one ordinary weighted backward pass."""

    def backward(self, losses: torch.Tensor, extra: torch.Tensor, model: SharingScheme,
                 active: torch.Tensor | None, out: ModelOutput) -> None:
        if self.options.upper_bound and model.shared_parameters() and \
                self.upper_bound_backward(losses, extra, active, out):
            return
        super().backward(losses, extra, model, active, out)

    def upper_bound_backward(self, losses: torch.Tensor, extra: torch.Tensor,
                             active: torch.Tensor | None, out: ModelOutput) -> bool:
        """The upper-bound step; False when the model has no shared representation with a
        graph (the caller then takes the exact route)."""
        z = out.shared_repr
        if z is None or not z.requires_grad:
            return False
        n = losses.numel()
        idx = active_indices(active, n)
        if not idx:
            return True
        self.active_idx = idx
        la = losses[idx] if len(idx) < n else losses
        G = jacobian(la, [z])  # (k, batch * repr)
        _, w = self.direction(G, la.detach())
        full = torch.zeros(n, device=losses.device, dtype=w.dtype)
        full[idx] = w
        self.last_weights.copy_(full)
        ((w.detach() * la).sum() + extra).backward()
        return True
