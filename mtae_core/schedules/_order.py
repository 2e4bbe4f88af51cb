"""Task-order options shared by the schedules that visit tasks one after another."""

from __future__ import annotations


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
