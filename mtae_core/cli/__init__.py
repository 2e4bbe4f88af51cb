"""The command line, ``mtae …``: runs, configs and data sets (``commands``), studies
(``study``) and lessons (``lesson``)."""

from .commands import main

__all__ = ["main"]
