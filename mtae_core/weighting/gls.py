"""Geometric Loss Strategy (Chennupati, Sistu, Yogamani & Rawashdeh 2019, "MultiNet++:
Multi-Stream Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning",
CVPR Workshops)."""

from __future__ import annotations

import torch

from .base import Weighting
from .catalog import GLSEntry


class GLS(GLSEntry, Weighting):
    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        logs = torch.log(losses.clamp(min=1e-12))
        if active is None:
            k = torch.tensor(float(losses.numel()), device=losses.device)
        else:
            logs = torch.where(active, logs, torch.zeros_like(logs))
            k = active.sum().clamp(min=1).float()
        total = torch.exp(logs.sum() / k)
        # effective weights d total / d L_t = total / (k · L_t), for the charts
        w = total.detach() / (k * losses.detach().clamp(min=1e-12))
        self.last_weights.copy_(w if active is None else torch.where(active, w, torch.zeros_like(w)))
        return total
