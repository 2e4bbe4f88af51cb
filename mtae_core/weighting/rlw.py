"""Random Loss Weighting (Lin, Ye, Zhang & Tsang 2022, "Reasonable Effectiveness of
Random Weighting: A Litmus Test for Multi-Task Learning", TMLR)."""

from __future__ import annotations

import torch

from .base import Weighting
from .catalog import RLWEntry


class RLW(RLWEntry, Weighting):
    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(losses.shape, device=losses.device)  # global RNG: seeded with the run
        if active is not None:
            z = torch.where(active, z, torch.full_like(z, float("-inf")))
        w = torch.softmax(z, dim=0)
        self.last_weights.copy_(w)
        return (torch.where(w > 0, losses, torch.zeros_like(losses)) * w).sum()
