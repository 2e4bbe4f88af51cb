from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..registry import Options
from .base import Autoencoder, autoencoders


class SparseOptions(Options):
    penalty: Literal["l1", "kl"] = Field(
        "l1", description="l1: mean absolute latent activation; kl: KL(rho ‖ mean sigmoid activation)")
    weight: float = Field(1e-3, ge=0.0, le=10.0, description="weight of the L1 penalty")
    rho: float = Field(0.05, gt=0.0, lt=1.0, description="target mean activation (kl)")
    beta: float = Field(1e-2, ge=0.0, le=10.0, description="weight of the KL sparsity penalty")


def kl_sparsity(code: torch.Tensor, rho: float) -> torch.Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j = mean over the batch of sigmoid(code_j); summed over
    units and any leading (task / expert) axes. code: (..., batch, latent)."""
    rho_hat = torch.sigmoid(code).mean(dim=-2).clamp(1e-6, 1 - 1e-6)  # (..., latent)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


@autoencoders.register("sparse")
class Sparse(Autoencoder):
    """Sparse autoencoder (Ng 2011): an L1 or KL sparsity penalty on the latent activations."""

    Options = SparseOptions

    def bottleneck(
        self, code: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        o = self.options
        if o.penalty == "l1":
            # per network: mean over the batch of Σ_j |z_j|; summed over networks
            pen = o.weight * code.abs().sum(dim=-1).mean(dim=-1).sum()
        else:
            pen = o.beta * kl_sparsity(code, o.rho)
        return code, code, {"sparsity": pen}
