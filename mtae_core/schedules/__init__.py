"""Task schedules (registry ``schedules``): joint, sequential, cyclic, adaptive."""

# isort: off
from . import joint, sequential, cyclic, adaptive  # noqa: F401  (register built-ins, UI order)
# isort: on
from .base import Schedule, schedules

__all__ = ["Schedule", "schedules"]
