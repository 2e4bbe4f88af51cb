"""FAMO (Liu, Feng, Stone & Liu 2023, "FAMO: Fast Adaptive Multitask Optimization",
NeurIPS)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Weighting
from .catalog import FAMOEntry


class FAMO(FAMOEntry, Weighting):
    xi: torch.Tensor  # (n_tasks,) buffers: logits and their Adam moments
    m: torch.Tensor
    v: torch.Tensor

    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        n = len(task_names)
        # ξ is updated by FAMO's own Adam step, not the model's optimizer: a buffer
        self.register_buffer("xi", torch.zeros(n))
        self.register_buffer("m", torch.zeros(n))
        self.register_buffer("v", torch.zeros(n))
        self.t = 0
        self.prev: torch.Tensor | None = None  # previous step's losses (n,)
        self.prev_active: torch.Tensor | None = None

    @staticmethod
    def xi_gradient(xi: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """J_softmax(ξ)ᵀ δ: the gradient FAMO descends, δ_t = log L_t(before) − log L_t(after)."""
        z = torch.softmax(xi, dim=0)
        return z * (delta - (z * delta).sum())

    def update(self, delta: torch.Tensor) -> None:
        """One Adam step on ξ (Kingma & Ba defaults, L2 weight decay γ as in the paper)."""
        g = self.xi_gradient(self.xi, delta) + self.options.decay * self.xi
        self.t += 1
        b1, b2 = 0.9, 0.999
        self.m.mul_(b1).add_((1 - b1) * g)
        self.v.mul_(b2).add_((1 - b2) * g * g)
        mh = self.m / (1 - b1 ** self.t)
        vh = self.v / (1 - b2 ** self.t)
        self.xi.sub_(self.options.lr * mh / (vh.sqrt() + 1e-8))

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        det = losses.detach().clamp(min=1e-8)
        if self.prev is not None:
            # the paper re-evaluates the same batch after the step; we use the next
            # step's batch instead, which needs no extra forward pass
            delta = torch.log(self.prev) - torch.log(det)
            if active is not None or self.prev_active is not None:
                both = torch.ones_like(det, dtype=torch.bool)
                for a in (active, self.prev_active):
                    if a is not None:
                        both = both & a
                delta = torch.where(both, delta, torch.zeros_like(delta))
            self.update(delta)
        self.prev, self.prev_active = det, active
        logits = self.xi if active is None else torch.where(
            active, self.xi, torch.full_like(self.xi, float("-inf")))
        z = torch.softmax(logits, dim=0)  # (n_tasks,)
        c = (z / det).sum()
        # Σ z_t log L_t / c: the gradient is Σ (z_t / (c L_t)) ∇L_t, weights summing to 1
        w = z / (c * det)
        self.last_weights.copy_(w)
        logs = torch.log(losses.clamp(min=1e-8))
        logs = logs if active is None else torch.where(active, logs, torch.zeros_like(logs))
        return (z / c * logs).sum()

    def epoch_extras(self) -> dict[str, Any]:
        return {"famo_logits": dict(zip(self.task_names, self.xi.tolist(), strict=True))}
