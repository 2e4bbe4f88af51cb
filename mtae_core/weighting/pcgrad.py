"""PCGrad (Yu, Kumar, Gupta, Levine, Hausman & Finn 2020, "Gradient Surgery for
Multi-Task Learning", NeurIPS)."""

from __future__ import annotations

import numpy as np
import torch

from .catalog import PCGradEntry
from .gradient_base import GradientWeighting


class PCGrad(PCGradEntry, GradientWeighting):
    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        return self.surgery(gram).sum(axis=0)  # d = Σ_i g'_i

    @staticmethod
    def surgery(gram: np.ndarray) -> np.ndarray:
        """C (k, k) with the projected gradients g'_i = C[i] @ G."""
        k = gram.shape[0]
        # row i of C holds g'_i = C[i] @ G, so every dot product comes from the Gram matrix
        C = np.eye(k)
        for i in range(k):
            for j in torch.randperm(k).tolist():  # random order, as in the paper
                if j == i or gram[j, j] <= 0:
                    continue
                dot = C[i] @ gram[:, j]  # g'_i · g_j
                if dot < 0:
                    C[i, j] -= dot / gram[j, j]
        return C
