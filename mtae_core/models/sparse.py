from __future__ import annotations

import torch

from .base import Autoencoder
from .catalog import SparseEntry


def kl_sparsity(code: torch.Tensor, rho: float) -> torch.Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j = mean over the batch of sigmoid(code_j); summed over
    units and any leading (task / expert) axes. code: (..., batch, latent)."""
    rho_hat = torch.sigmoid(code).mean(dim=-2).clamp(1e-6, 1 - 1e-6)  # (..., latent)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


class Sparse(SparseEntry, Autoencoder):
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
