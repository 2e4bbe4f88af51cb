from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from ..registry import Options
from .base import Weighting, masked, weightings


class FixedOptions(Options):
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="λ per task (≥ 0); a task left out gets 1.0",
    )


@weightings.register("fixed")
class Fixed(Weighting):
    """Fixed weights: Σ λ_t L_t with a slider per task."""

    Options = FixedOptions
    lam: torch.Tensor  # (n_tasks,) buffer

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        for name, w in options.weights.items():
            if name not in tasks:
                raise ValueError(f"weights: {name!r} is not one of the chosen tasks ({', '.join(tasks)})")
            if not w >= 0 or w != w or w == float("inf"):
                raise ValueError(f"weights.{name}: must be a finite number ≥ 0 (got {w})")
        if all(options.weights.get(t, 1.0) == 0 for t in tasks):
            raise ValueError("weights: at least one task needs a weight above 0")

    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        lam = torch.tensor([options.weights.get(t, 1.0) for t in task_names])
        self.register_buffer("lam", lam)  # (n_tasks,)
        self.last_weights.copy_(lam)

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        return (masked(losses, active) * self.lam).sum()
