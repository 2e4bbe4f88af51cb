"""IMTL-G, the gradient-balance half of IMTL (Liu, Li, Kuang, Xue, Chen, Yang, Liao &
Zhang 2021, "Towards Impartial Multi-task Learning", ICLR)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .catalog import IMTLGEntry
from .gradient_base import GradientWeighting


class IMTLG(IMTLGEntry, GradientWeighting):
    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        k = gram.shape[0]
        if k == 1:
            return np.ones(1)
        norms = np.sqrt(np.maximum(np.diag(gram), 1e-20))
        gu = gram / norms[None, :]  # gu[i, j] = g_i · u_j
        # D rows: g_1 − g_i; U rows: u_1 − u_j (i, j = 2..k)
        DU = (gu[0, 0] - gu[0, 1:][None, :] - gu[1:, 0][:, None] + gu[1:, 1:])  # (k−1, k−1)
        gU = gu[0, 0] - gu[0, 1:]  # g_1 Uᵀ: (k−1,)
        # α_{2:k} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2:k}
        a = np.linalg.lstsq(DU.T, gU, rcond=None)[0]
        return np.concatenate([[1.0 - a.sum()], a])

    @classmethod
    def weights_from_grams(cls, strategies: Sequence[Any], grams: np.ndarray,
                           losses: np.ndarray, idxs: Sequence[list[int]],
                           rngs: Sequence[Any]) -> np.ndarray:
        """K replicas' systems solved at once (batched replicas); one by one when a task
        was left out or a system is near singular (where lstsq's choice matters)."""
        k, n = losses.shape
        if n == 1 or any(len(idx) != n for idx in idxs):
            return super().weights_from_grams(strategies, grams, losses, idxs, rngs)
        norms = np.sqrt(np.maximum(np.diagonal(grams, axis1=1, axis2=2), 1e-20))  # (K, n)
        gu = grams / norms[:, None, :]
        DU = (gu[:, :1, :1] - gu[:, :1, 1:] - gu[:, 1:, :1] + gu[:, 1:, 1:])  # (K, n−1, n−1)
        gU = gu[:, 0, :1] - gu[:, 0, 1:]  # (K, n−1)
        if not np.all(np.linalg.cond(DU) < 1e8):
            return super().weights_from_grams(strategies, grams, losses, idxs, rngs)
        a = np.linalg.solve(np.swapaxes(DU, 1, 2), gU[..., None])[..., 0]
        return np.concatenate([1.0 - a.sum(axis=1, keepdims=True), a], axis=1)
