"""UPGrad (Quinton & Rey 2024, "Jacobian Descent for Multi-Objective Optimization",
arXiv; the method of the TorchJD library)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .catalog import UPGradEntry
from .gradient_base import GradientWeighting


def dual_cone_weights(gram: np.ndarray, sweeps: int = 200, tol: float = 1e-12) -> np.ndarray:
    """Column i: w ≥ e_i minimising wᵀ(GGᵀ)w, so that Gᵀw is the projection of g_i onto the
    dual cone {v : Gv ≥ 0} (Quinton & Rey 2024, Proposition 1). Exact coordinate descent
    on the box-constrained QPs, all k solved together: (k, k)."""
    k = gram.shape[0]
    M = gram + np.eye(k) * 1e-12 * max(np.trace(gram), 1e-20)
    lb = np.eye(k)
    W = lb.copy()
    for _ in range(sweeps):
        change = 0.0
        for j in range(k):
            new = np.maximum(lb[j], W[j] - (M[j] @ W) / M[j, j])
            change = max(change, float(np.abs(new - W[j]).max()))
            W[j] = new
        if change < tol:
            break
    return W


class UPGrad(UPGradEntry, GradientWeighting):
    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        return dual_cone_weights(gram).mean(axis=1)

    @classmethod
    def weights_from_grams(cls, strategies: Sequence[Any], grams: np.ndarray,
                           losses: np.ndarray, idxs: Sequence[list[int]],
                           rngs: Sequence[Any]) -> np.ndarray:
        """``dual_cone_weights`` of K replicas at once (batched replicas): the same
        coordinate sweeps for all, until every one has converged."""
        k, n = losses.shape
        if any(len(idx) != n for idx in idxs):
            return super().weights_from_grams(strategies, grams, losses, idxs, rngs)
        tr = np.maximum(np.trace(grams, axis1=1, axis2=2), 1e-20)
        M = grams + np.eye(n)[None] * (1e-12 * tr)[:, None, None]
        lb = np.eye(n)
        W = np.broadcast_to(lb, (k, n, n)).copy()
        for _ in range(200):
            change = 0.0
            for j in range(n):
                step = np.einsum("ki,kij->kj", M[:, j, :], W) / M[:, j, j][:, None]
                new = np.maximum(lb[j][None], W[:, j] - step)
                change = max(change, float(np.abs(new - W[:, j]).max()))
                W[:, j] = new
            if change < 1e-12:
                break
        return W.mean(axis=2)
