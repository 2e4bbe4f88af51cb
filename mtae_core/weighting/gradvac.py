"""Gradient Vaccine (Wang, Tsvetkov, Firat & Cao 2021, "Gradient Vaccine: Investigating
and Improving Multi-task Optimization in Massively Multilingual Models", ICLR)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .catalog import GradVacEntry
from .gradient_base import GradientWeighting


class GradVac(GradVacEntry, GradientWeighting):
    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        n = len(task_names)
        self.target = np.zeros((n, n))  # φ̂_ij, the EMA of observed cosines
        self.active_idx = list(range(n))

    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        return self.surgery(gram).sum(axis=0)  # d = Σ_i g'_i

    def surgery(self, gram: np.ndarray) -> np.ndarray:
        """C (k, k) with the vaccinated gradients g'_i = C[i] @ G; updates the targets."""
        k = gram.shape[0]
        idx = self.active_idx if len(self.active_idx) == k else list(range(k))
        beta = self.options.beta
        C = np.eye(k)
        norm = np.sqrt(np.maximum(np.diag(gram), 0.0))
        for i in range(k):
            for j in torch.randperm(k).tolist():
                if j == i or norm[j] == 0:
                    continue
                ni = np.sqrt(max(C[i] @ gram @ C[i], 0.0))
                if ni == 0:
                    continue
                phi = float(C[i] @ gram[:, j]) / (ni * norm[j])
                a, b = idx[i], idx[j]
                tgt = self.target[a, b]
                if phi < tgt:
                    # g'_i += ‖g'_i‖ (φ̂ √(1−φ²) − φ √(1−φ̂²)) / (‖g_j‖ √(1−φ̂²)) g_j
                    s = np.sqrt(max(1 - tgt * tgt, 1e-12))
                    C[i, j] += ni * (tgt * np.sqrt(max(1 - phi * phi, 0.0)) - phi * s) / (norm[j] * s)
                self.target[a, b] = (1 - beta) * tgt + beta * phi
        return C
