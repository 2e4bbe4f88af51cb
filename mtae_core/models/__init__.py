"""Autoencoder variants and sharing schemes, one module per entry.

``catalog`` registers them (names, summaries, options: no torch, so the Train form
needs none); each entry's ``nn.Module`` is imported when the registry's ``get`` first
asks for it, and the building blocks below when first used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import autoencoders, sharing

if TYPE_CHECKING:
    from .base import (
        Autoencoder,
        Block,
        Diagram,
        ModelOutput,
        ModelSpec,
        SharingScheme,
        build,
        count_parameters,
        n_params,
    )

__all__ = [
    "Autoencoder",
    "Block",
    "Diagram",
    "ModelOutput",
    "ModelSpec",
    "SharingScheme",
    "autoencoders",
    "build",
    "count_parameters",
    "n_params",
    "sharing",
]


def __getattr__(name: str) -> Any:
    # the torch-backed names load on first use (PEP 562): importing the registries is cheap
    if name in __all__:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
