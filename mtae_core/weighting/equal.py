from __future__ import annotations

import torch

from ..registry import NoOptions
from .base import Weighting, masked, weightings


@weightings.register("equal")
class Equal(Weighting):
    """Equal weighting: the mean of the task losses."""

    Options = NoOptions

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        if active is None:
            self.last_weights.fill_(1.0 / losses.numel())
            return losses.mean()
        w = active.float() / active.sum().clamp(min=1)
        self.last_weights.copy_(w)
        return (masked(losses, active) * w).sum()
