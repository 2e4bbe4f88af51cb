from __future__ import annotations

import torch
from pydantic import Field

from ..registry import Options
from .base import Autoencoder, autoencoders


class VariationalOptions(Options):
    # The task losses are means over features while the KL sums over latent units, so
    # beta = 1 would let the KL drown the tasks (posterior collapse: chance accuracy on
    # digits). The plain VAE's balance is beta ≈ 1 / input features (Higgins et al.'s
    # normalised β); 0.02 suits the built-in data sets.
    beta: float = Field(0.02, ge=0.0, le=100.0,
                        description="weight of the KL term (β-VAE, Higgins et al. 2017); "
                        "about 1/number of input features matches the plain VAE, larger "
                        "pulls codes towards N(0, I) and can erase what the tasks need")


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, e^logvar) ‖ N(0, I)): summed over latent units, averaged over the batch,
    summed over any leading (task) axes. mean, logvar: (..., batch, latent)."""
    kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(dim=-1)  # (..., batch)
    return kl.mean(dim=-1).sum()


@autoencoders.register("variational")
class Variational(Autoencoder):
    """Variational autoencoder (Kingma & Welling 2014; β-VAE, Higgins et al. 2017)."""

    Options = VariationalOptions
    code_multiplier = 2  # the encoder emits (mean, log-variance)

    def bottleneck(
        self, code: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        mean, logvar = code.chunk(2, dim=-1)  # (..., batch, latent) each
        logvar = logvar.clamp(-20.0, 20.0)  # keeps exp() finite early in training
        # reparameterised sample in training; the mean at evaluation
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if self.training else mean
        return z, mean, {"kl": self.options.beta * gaussian_kl(mean, logvar)}
