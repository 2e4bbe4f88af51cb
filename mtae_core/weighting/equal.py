"""Equal weighting: the mean of the task losses (the baseline; no paper)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Weighting, masked
from .catalog import EqualEntry


class Equal(EqualEntry, Weighting):
    _masked_last = False  # the last step left a task out (last_weights are not 1/n)

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        if active is None:
            self.last_weights.fill_(1.0 / losses.numel())
            self._masked_last = False
            return losses.mean()
        w = active.float() / active.sum().clamp(min=1)
        self.last_weights.copy_(w)
        self._masked_last = True
        return (masked(losses, active) * w).sum()

    @classmethod
    def combine_replicas(cls, strategies: list[Weighting], losses: torch.Tensor,
                         cache: dict[str, Any]) -> torch.Tensor | None:
        for s in strategies:  # (1/n already, unless the last step left a task out)
            if getattr(s, "_masked_last", False):
                s.last_weights.fill_(1.0 / losses.shape[1])
                setattr(s, "_masked_last", False)  # noqa: B010
        return losses.mean(dim=1)
