from __future__ import annotations

import torch

from .base import Autoencoder
from .catalog import VariationalEntry


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, e^logvar) ‖ N(0, I)): summed over latent units, averaged over the batch,
    summed over any leading (task) axes. mean, logvar: (..., batch, latent)."""
    kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(dim=-1)  # (..., batch)
    return kl.mean(dim=-1).sum()


class Variational(VariationalEntry, Autoencoder):
    code_multiplier = 2  # the encoder emits (mean, log-variance)

    def bottleneck(
        self, code: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        mean, logvar = code.chunk(2, dim=-1)  # (..., batch, latent) each
        logvar = logvar.clamp(-20.0, 20.0)  # keeps exp() finite early in training
        # reparameterised sample in training; the mean at evaluation
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if self.training else mean
        return z, mean, {"kl": self.options.beta * gaussian_kl(mean, logvar)}
