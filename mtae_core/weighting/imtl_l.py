"""IMTL-L, the loss-balance half of IMTL (Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang
2021, "Towards Impartial Multi-task Learning", ICLR)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Weighting
from .catalog import IMTLLEntry


class IMTLL(IMTLLEntry, Weighting):
    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        # d/ds (e^s L - s) = e^s L - 1 = 0  ⇒  e^s = 1 / L: every scaled loss becomes 1
        self.scale = nn.Parameter(torch.zeros(len(task_names)))

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        w = torch.exp(self.scale)
        terms = w * losses - self.scale
        if active is not None:
            terms = torch.where(active, terms, torch.zeros_like(terms))
            w = torch.where(active, w, torch.zeros_like(w))
        self.last_weights.copy_(w.detach())
        return terms.sum()
