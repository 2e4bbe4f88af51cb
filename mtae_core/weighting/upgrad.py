"""UPGrad (Quinton & Rey 2024, "Jacobian Descent for Multi-Objective Optimization",
arXiv; the method of the TorchJD library)."""

from __future__ import annotations

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
