"""Users' tables (CSV files) kept in the run store, seen as data sets by name."""

from __future__ import annotations

from .base import Dataset


def stored_names() -> list[str]:
    return []


def lookup(name: str) -> type[Dataset] | None:
    return None
