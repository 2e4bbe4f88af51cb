"""Joint schedule: every task in every step (no paper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import NoOptions
from .base import Schedule, schedules

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


@schedules.register("joint")
class Joint(Schedule):
    """Joint training: every task in every step."""

    Options = NoOptions

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        return None
