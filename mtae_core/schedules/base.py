"""Task schedules: which task(s) each training step trains."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..registry import Entry, Registry

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


class Schedule(Entry):
    """Base of every schedule. ``active`` returns a (n_tasks,) bool mask, or None for all."""

    def __init__(self, task_names: list[str], options: Any, steps_per_epoch: int,
                 epochs: int, device: torch.device | str = "cpu") -> None:
        self.task_names = list(task_names)
        self.options = options
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.device = device
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        """Cross-checks against the chosen tasks; raise ValueError with a plain message."""

    def mask(self, indices: tuple[int, ...]) -> torch.Tensor:
        """A cached bool mask with ``indices`` set (built once per pattern, no per-step copy)."""
        m = self._masks.get(indices)
        if m is None:
            import torch

            m = torch.zeros(len(self.task_names), dtype=torch.bool)
            m[list(indices)] = True
            m = self._masks[indices] = m.to(self.device)
        return m

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        raise NotImplementedError

    def feedback(self, losses: torch.Tensor) -> None:
        """Per-step task losses (n_tasks,), detached, for adaptive schedules."""


schedules: Registry[type[Schedule]] = Registry("schedule")
