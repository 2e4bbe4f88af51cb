"""Cyclic (round-robin) schedule: one task per step, the tasks taking turns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import Options
from ._order import OrderedSchedule, order_field
from .base import schedules

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


class CyclicOptions(Options):
    order: list[str] = order_field()


@schedules.register("cyclic")
class Cyclic(OrderedSchedule):
    """Cyclic (round-robin) training: each step trains one task, the tasks taking turns in order."""

    Options = CyclicOptions

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        t = epoch * self.steps_per_epoch + step  # global step: the turn carries over epochs
        return self.mask((self.order[t % len(self.order)],))
