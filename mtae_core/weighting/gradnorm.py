"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich 2018, "GradNorm: Gradient
Normalization for Adaptive Loss Balancing in Deep Multitask Networks", ICML)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.base import ModelOutput, SharingScheme
from .base import Weighting, masked
from .catalog import GradNormEntry
from .gradient_base import active_indices, jacobian


class GradNorm(GradNormEntry, Weighting):
    initial: torch.Tensor  # (n_tasks,) buffer: each task's first loss

    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        n = len(task_names)
        self.w = nn.Parameter(torch.ones(n))
        # L_t(0), recorded the first time each task trains; NaN until then
        self.register_buffer("initial", torch.full((n,), float("nan")))
        self.last_weights.fill_(1.0)

    @staticmethod
    def last_shared_weight(model: SharingScheme) -> nn.Parameter | None:
        """The weight matrix of the last shared layer (the paper's W)."""
        mats = [p for p in model.shared_parameters() if p.requires_grad and p.dim() > 1]
        return mats[-1] if mats else None

    def renormalise(self) -> None:
        """Σ w_t = n_tasks after every optimizer step (done lazily before the next use)."""
        with torch.no_grad():
            self.w.clamp_(min=1e-4)
            self.w.mul_(self.w.numel() / self.w.sum())

    def gradnorm_loss(self, w: torch.Tensor, norms: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
        """Σ_t |G_t − mean(G)·r_t^α| with G_t = w_t ‖∇_W L_t‖ and the target held constant.
        w, norms, ratios: (k,) over the tasks in this step; ratios = L̃_t / mean L̃."""
        G = w * norms
        target = (G.mean() * ratios.pow(self.options.alpha)).detach()
        return (G - target).abs().sum()

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        self.renormalise()
        return (masked(losses, active) * self.w).sum()

    def backward(self, losses: torch.Tensor, extra: torch.Tensor, model: SharingScheme,
                 active: torch.Tensor | None, out: ModelOutput) -> None:
        self.renormalise()
        n = losses.numel()
        idx = active_indices(active, n)
        W = self.last_shared_weight(model)
        if W is not None and len(idx) > 1:
            la = losses[idx]
            det = la.detach()
            with torch.no_grad():
                first = torch.isnan(self.initial[idx])
                self.initial[idx] = torch.where(first, det, self.initial[idx])
            norms = jacobian(la, [W]).norm(dim=1).detach()  # (k,) ‖∇_W L_t‖
            rate = det / self.initial[idx].clamp(min=1e-12)  # L̃_t = L_t / L_t(0)
            ratios = rate / rate.mean().clamp(min=1e-12)
            wk = self.w[idx]
            (gw,) = torch.autograd.grad(self.gradnorm_loss(wk, norms, ratios), self.w)
            self.w.grad = gw if self.w.grad is None else self.w.grad + gw
        self.last_weights.copy_(self.w.detach() if active is None
                                else torch.where(active, self.w.detach(), torch.zeros_like(self.w)))
        # the model trains on Σ w_t L_t with w held constant
        ((masked(losses, active) * self.w.detach()).sum() + extra).backward()
