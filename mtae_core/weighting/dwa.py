"""Dynamic Weight Average (Liu, Johns & Davison 2019, "End-to-End Multi-Task Learning
with Attention", CVPR: the MTAN paper)."""

from __future__ import annotations

from typing import Any

import torch

from .base import Weighting, masked
from .catalog import DWAEntry


class DWA(DWAEntry, Weighting):
    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        self.history: list[torch.Tensor] = []  # the last two epochs' mean training losses
        self.last_weights.fill_(1.0)

    @staticmethod
    def formula(prev: torch.Tensor, prev2: torch.Tensor, temperature: float) -> torch.Tensor:
        """λ_t = n · exp(r_t / T) / Σ_i exp(r_i / T), r_t = L_t(e−1) / L_t(e−2)."""
        r = prev / prev2.clamp(min=1e-12)
        return prev.numel() * torch.softmax(r / temperature, dim=0)

    def on_epoch_end(self, epoch: int, train_losses: torch.Tensor) -> None:
        self.history = [*self.history[-1:], train_losses.detach().clone()]
        if len(self.history) == 2:  # the first two epochs keep λ = 1
            self.last_weights.copy_(self.formula(self.history[1], self.history[0],
                                                 self.options.temperature))

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        return (masked(losses, active) * self.last_weights).sum()
