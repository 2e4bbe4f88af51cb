from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..registry import Options
from .base import Autoencoder, autoencoders


class DenoisingOptions(Options):
    noise: Literal["gaussian", "masking"] = Field(
        "gaussian", description="gaussian: add N(0, std²) noise; masking: zero a random share of inputs")
    std: float = Field(0.3, ge=0.0, le=5.0, description="standard deviation of the Gaussian noise")
    ratio: float = Field(0.2, ge=0.0, lt=1.0, description="share of input features masked to zero")


@autoencoders.register("denoising")
class Denoising(Autoencoder):
    """Denoising autoencoder (Vincent et al. 2008): encode a corrupted input, rebuild the clean one."""

    Options = DenoisingOptions

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        # schemes call this in training only; targets stay the clean batch
        o = self.options
        if o.noise == "gaussian":
            return x + o.std * torch.randn_like(x) if o.std > 0 else x
        keep = torch.rand_like(x) >= o.ratio  # (batch, input) True = kept
        return x * keep
