from __future__ import annotations

import torch

from .base import Autoencoder
from .catalog import DenoisingEntry


class Denoising(DenoisingEntry, Autoencoder):
    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        # schemes call this in training only; targets stay the clean batch
        o = self.options
        if o.noise == "gaussian":
            return x + o.std * torch.randn_like(x) if o.std > 0 else x
        keep = torch.rand_like(x) >= o.ratio  # (batch, input) True = kept
        return x * keep
