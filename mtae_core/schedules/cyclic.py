from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from ..registry import Options
from ._order import check_order, resolve_order
from .base import Schedule, schedules

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


class CyclicOptions(Options):
    order: list[str] = Field(default_factory=list, description="visiting order; tasks left out follow in the data set's order")


@schedules.register("cyclic")
class Cyclic(Schedule):
    """Cyclic (round-robin) training: each step trains one task, the tasks taking turns in order."""

    Options = CyclicOptions

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        check_order(options.order, tasks)

    def __init__(self, task_names: list[str], options: Any, steps_per_epoch: int,
                 epochs: int, device: torch.device | str = "cpu") -> None:
        super().__init__(task_names, options, steps_per_epoch, epochs, device)
        self.order = resolve_order(options.order, self.task_names)

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        t = epoch * self.steps_per_epoch + step  # global step: the turn carries over epochs
        return self.mask((self.order[t % len(self.order)],))
