"""Autoencoder variants and sharing schemes, one registered class per module."""

from . import hard, plain, single_task  # noqa: F401  (register built-ins)
from .base import (
    Autoencoder,
    ModelOutput,
    ModelSpec,
    SharingScheme,
    autoencoders,
    build,
    n_params,
    sharing,
)

__all__ = [
    "Autoencoder",
    "ModelOutput",
    "ModelSpec",
    "SharingScheme",
    "autoencoders",
    "build",
    "n_params",
    "sharing",
]
