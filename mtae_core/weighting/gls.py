from __future__ import annotations

import torch

from ..registry import NoOptions
from .base import Weighting, weightings


@weightings.register("gls")
class GLS(Weighting):
    """Geometric Loss Strategy (Chennupati et al. 2019, MultiNet++): the geometric mean (Π L_t)^(1/n) of the task losses."""

    Options = NoOptions

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        logs = torch.log(losses.clamp(min=1e-12))
        if active is None:
            k = torch.tensor(float(losses.numel()), device=losses.device)
        else:
            logs = torch.where(active, logs, torch.zeros_like(logs))
            k = active.sum().clamp(min=1).float()
        total = torch.exp(logs.sum() / k)
        # effective weights d total / d L_t = total / (k · L_t), for the charts
        w = total.detach() / (k * losses.detach().clamp(min=1e-12))
        self.last_weights.copy_(w if active is None else torch.where(active, w, torch.zeros_like(w)))
        return total
