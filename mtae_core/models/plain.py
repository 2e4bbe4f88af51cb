from __future__ import annotations

from ..registry import NoOptions
from .base import Autoencoder, autoencoders


@autoencoders.register("plain")
class Plain(Autoencoder):
    """Plain autoencoder: the latent code is the encoder's output, nothing added."""

    Options = NoOptions
