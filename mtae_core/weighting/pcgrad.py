"""PCGrad (Yu, Kumar, Gupta, Levine, Hausman & Finn 2020, "Gradient Surgery for
Multi-Task Learning", NeurIPS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

    @classmethod
    def weights_from_grams(cls, strategies: Sequence[Any], grams: np.ndarray,
                           losses: np.ndarray, idxs: Sequence[list[int]],
                           rngs: Sequence[Any]) -> np.ndarray:
        """The surgery of K replicas at once (batched replicas): each replica's random
        orders drawn from its own generator, as alone, then every projection for all."""
        k, n = losses.shape
        if any(len(idx) != n for idx in idxs):  # a schedule left a task out: one by one
            return super().weights_from_grams(strategies, grams, losses, idxs, rngs)

        def orders() -> list[list[int]]:
            return [torch.randperm(n).tolist() for _ in range(n)]

        perms = np.array([rng.use(orders) if rng is not None else orders() for rng in rngs])
        rows = np.arange(k)
        C = np.broadcast_to(np.eye(n), (k, n, n)).copy()
        diag = np.diagonal(grams, axis1=1, axis2=2)  # (K, n)
        for i in range(n):
            for p in range(n):
                j = perms[:, i, p]  # (K,)
                gjj = diag[rows, j]
                dot = np.einsum("kt,kt->k", C[:, i, :], grams[rows, :, j])  # g'_i · g_j
                hit = (j != i) & (gjj > 0) & (dot < 0)
                C[rows[hit], i, j[hit]] -= dot[hit] / gjj[hit]
        return C.sum(axis=1)
