"""Autoencoder variants and sharing schemes, one registered class per module."""

# registration order is the order the UI and `mtae list` show: variants, then schemes
# from least to most sharing machinery
from . import plain, denoising, sparse, variational, contractive  # noqa: F401, I001
from . import single_task, hard, soft, cross_stitch, mmoe, cgc, ple  # noqa: F401, I001
from .base import (
    Autoencoder,
    Block,
    Diagram,
    ModelOutput,
    ModelSpec,
    SharingScheme,
    autoencoders,
    build,
    count_parameters,
    n_params,
    sharing,
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
