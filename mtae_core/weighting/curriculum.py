from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from ..registry import Options
from .base import Weighting, masked, weightings


class CurriculumOptions(Options):
    order: list[str] = Field(
        default_factory=list,
        description="tasks in the order they enter; empty = the data set's order",
    )
    start_epochs: list[int] = Field(
        default_factory=list,
        description="epoch (from 0) at which each task of `order` enters; empty = every `spacing` epochs",
    )
    spacing: int = Field(2, ge=0, le=10000, description="epochs between entries when start_epochs is empty")
    ramp_epochs: int = Field(
        2, ge=0, le=10000, description="epochs over which a new task's weight rises linearly to 1; 0 = at once",
    )


@weightings.register("curriculum")
class Curriculum(Weighting):
    """Curriculum (Bengio et al. 2009, applied to tasks): tasks enter in a chosen order at chosen epochs, each weight ramping up linearly."""

    Options = CurriculumOptions
    start: torch.Tensor  # (n_tasks,) buffer: the epoch each task enters

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        o: CurriculumOptions = options
        for name in o.order:
            if name not in tasks:
                raise ValueError(f"order: {name!r} is not one of the chosen tasks ({', '.join(tasks)})")
        if len(set(o.order)) != len(o.order):
            raise ValueError("order: a task is listed twice")
        if o.start_epochs:
            if len(o.start_epochs) != len(o.order):
                raise ValueError("start_epochs: give one epoch per task of `order` "
                                 f"({len(o.order)}), or none")
            if any(e < 0 for e in o.start_epochs):
                raise ValueError("start_epochs: epochs must be ≥ 0")
        if min(cls.starts(o, tasks).values()) > 0:
            raise ValueError("start_epochs: the first task must enter at epoch 0")

    @staticmethod
    def starts(o: CurriculumOptions, tasks: list[str]) -> dict[str, int]:
        """Entry epoch of every task; tasks left out of `order` are there from the start."""
        out = dict.fromkeys(tasks, 0)
        order = o.order or list(tasks)
        for k, name in enumerate(order):
            out[name] = o.start_epochs[k] if o.start_epochs else k * o.spacing
        return out

    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        s = self.starts(options, task_names)
        self.register_buffer("start", torch.tensor([float(s[t]) for t in task_names]))
        self.set_epoch(0)

    def weights_at(self, epoch: int) -> torch.Tensor:
        """(n_tasks,) weights at ``epoch``: 0 before entry, then (e - start + 1) / ramp, capped at 1."""
        since = epoch - self.start + 1  # epochs a task has been in, counting this one
        ramp = max(self.options.ramp_epochs, 1)
        return (since / ramp).clamp(0.0, 1.0)

    def set_epoch(self, epoch: int) -> None:
        self.last_weights.copy_(self.weights_at(epoch))

    def on_epoch_end(self, epoch: int, train_losses: torch.Tensor) -> None:
        self.set_epoch(epoch + 1)

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        return (masked(losses, active) * self.last_weights).sum()
