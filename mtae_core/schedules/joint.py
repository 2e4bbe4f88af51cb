from __future__ import annotations

import torch

from ..registry import NoOptions
from .base import Schedule, schedules


@schedules.register("joint")
class Joint(Schedule):
    """Joint training: every task in every step."""

    Options = NoOptions

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        return None
