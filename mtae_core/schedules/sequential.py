"""Sequential schedule: one task after another, a chosen number of epochs each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ..registry import Options
from ._order import OrderedSchedule, order_field
from .base import schedules

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


class SequentialOptions(Options):
    epochs_per_task: int = Field(5, ge=1, le=10000, description="epochs spent on each task before the next")
    order: list[str] = order_field()
    after: Literal["joint", "last", "repeat"] = Field(
        "joint", description="once every task had its turn: train all jointly, stay on the last, or start over",
    )


@schedules.register("sequential")
class Sequential(OrderedSchedule):
    """Sequential training: one task after another, a chosen number of epochs each (watch earlier tasks being forgotten)."""

    Options = SequentialOptions

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        k = epoch // self.options.epochs_per_task
        if k >= len(self.order):
            if self.options.after == "joint":
                return None
            k = len(self.order) - 1 if self.options.after == "last" else k % len(self.order)
        return self.mask((self.order[k],))
