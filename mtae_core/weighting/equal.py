"""Equal weighting: the mean of the task losses (the baseline; no paper)."""

from __future__ import annotations

import torch

from .base import Weighting, masked
from .catalog import EqualEntry


class Equal(EqualEntry, Weighting):
    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        if active is None:
            self.last_weights.fill_(1.0 / losses.numel())
            return losses.mean()
        w = active.float() / active.sum().clamp(min=1)
        self.last_weights.copy_(w)
        return (masked(losses, active) * w).sum()
