"""Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla 2018, "Multi-Task Learning
Using Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Weighting
from .catalog import UncertaintyEntry


class Uncertainty(UncertaintyEntry, Weighting):
    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        # s_t = log σ_t²: the optimum of L/(2e^s) + s/2 is s = log L
        self.log_var = nn.Parameter(torch.full((len(task_names),), float(options.init_log_var)))

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        w = 0.5 * torch.exp(-self.log_var)  # (n_tasks,)
        terms = w * losses + 0.5 * self.log_var
        if active is not None:
            terms = torch.where(active, terms, torch.zeros_like(terms))
            w = torch.where(active, w, torch.zeros_like(w))
        self.last_weights.copy_(w.detach())
        return terms.sum()

    def epoch_extras(self) -> dict[str, Any]:
        return {"log_var": dict(zip(self.task_names, self.log_var.detach().tolist(), strict=True))}
