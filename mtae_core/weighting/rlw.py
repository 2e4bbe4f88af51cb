from __future__ import annotations

import torch

from ..registry import NoOptions
from .base import Weighting, weightings


@weightings.register("rlw")
class RLW(Weighting):
    """Random Loss Weighting (Lin et al. 2022, Reasonable Effectiveness of Random Weighting): each step λ = softmax(z), z ~ N(0, I)."""

    Options = NoOptions

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(losses.shape, device=losses.device)  # global RNG: seeded with the run
        if active is not None:
            z = torch.where(active, z, torch.full_like(z, float("-inf")))
        w = torch.softmax(z, dim=0)
        self.last_weights.copy_(w)
        return (torch.where(w > 0, losses, torch.zeros_like(losses)) * w).sum()
