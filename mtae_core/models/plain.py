from __future__ import annotations

from .base import Autoencoder
from .catalog import PlainEntry


class Plain(PlainEntry, Autoencoder):
    pass  # the base's identity corrupt() and bottleneck()
