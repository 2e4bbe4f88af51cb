"""Task schedules (registry ``schedules``)."""

from . import joint  # noqa: F401  (register built-ins)
from .base import Schedule, schedules

__all__ = ["Schedule", "schedules"]
