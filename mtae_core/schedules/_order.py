"""What the schedules that visit tasks one after another share: the ``order`` option,
its check against the chosen tasks, and the resolved visiting order (``OrderedSchedule``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from .base import Schedule

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


def order_field() -> Any:
    """The ``order`` option's field, declared in each Options model where its form puts it
    (a shared Options base would move it first in the schema and the form)."""
    return Field(default_factory=list,
                 description="visiting order; tasks left out follow in the data set's order")


def check_order(order: list[str], tasks: list[str]) -> None:
    for name in order:
        if name not in tasks:
            raise ValueError(f"order: {name!r} is not one of the chosen tasks ({', '.join(tasks)})")
    if len(set(order)) != len(order):
        raise ValueError("order: a task is listed twice")


def resolve_order(order: list[str], tasks: list[str]) -> list[int]:
    """Indices of the tasks in visiting order: those listed first, then the rest as given."""
    names = list(order) + [t for t in tasks if t not in order]
    return [tasks.index(t) for t in names]


class OrderedSchedule(Schedule):
    """Base of the schedules whose options have an ``order``: checks it and resolves it."""

    order: list[int]  # task indices in visiting order

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        check_order(options.order, tasks)

    def __init__(self, task_names: list[str], options: Any, steps_per_epoch: int,
                 epochs: int, device: torch.device | str = "cpu") -> None:
        super().__init__(task_names, options, steps_per_epoch, epochs, device)
        self.order = resolve_order(options.order, self.task_names)
