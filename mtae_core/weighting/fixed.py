"""Fixed weighting: Σ λ_t L_t with λ chosen by hand (no paper)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Weighting, masked
from .catalog import FixedEntry


class Fixed(FixedEntry, Weighting):
    lam: torch.Tensor  # (n_tasks,) buffer

    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        lam = torch.tensor([options.weights.get(t, 1.0) for t in task_names])
        self.register_buffer("lam", lam)  # (n_tasks,)
        self.last_weights.copy_(lam)

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        return (masked(losses, active) * self.lam).sum()

    @classmethod
    def combine_replicas(cls, strategies: list[Weighting], losses: torch.Tensor,
                         cache: dict[str, Any]) -> torch.Tensor | None:
        # the λ of every replica, (K, n_tasks): constant, so stacked once
        lam = cache.get("lam")
        if lam is None:
            lam = cache["lam"] = torch.stack([s.lam for s in strategies])  # type: ignore[misc]
        return (losses * lam).sum(dim=1)
