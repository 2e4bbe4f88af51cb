"""Curriculum weighting: tasks enter one by one, each weight ramping up (Bengio,
Louradour, Collobert & Weston 2009, "Curriculum Learning", ICML; here over tasks)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Weighting, masked
from .catalog import CurriculumEntry


class Curriculum(CurriculumEntry, Weighting):
    start: torch.Tensor  # (n_tasks,) buffer: the epoch each task enters

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
