"""Nash-MTL (Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya 2022,
"Multi-Task Learning as a Bargaining Game", ICML)."""

from __future__ import annotations

import numpy as np

from .catalog import NashMTLEntry
from .gradient_base import GradientWeighting


def nash_weights(gram: np.ndarray, iters: int = 50, tol: float = 1e-9,
                 start: np.ndarray | None = None) -> np.ndarray:
    """α > 0 with (GGᵀα)_i = 1/α_i: the minimiser of the convex ½αᵀMα − Σ log α_i
    (its stationarity condition), found by damped Newton steps that keep α > 0.
    ``start``: a previous solution (consecutive steps' Gram matrices differ little, so
    Newton then needs a few steps instead of dozens)."""
    k = gram.shape[0]
    M = gram + np.eye(k) * 1e-10 * max(np.trace(gram), 1e-20)  # tiny ridge: rank-deficient G

    def f(a: np.ndarray) -> float:
        return float(0.5 * a @ M @ a - np.log(a).sum())

    alpha = 1.0 / np.sqrt(np.maximum(np.diag(M), 1e-20))  # exact when the gradients are orthogonal
    if start is not None and start.shape == (k,) and np.all(start > 0) and np.all(np.isfinite(start)):
        alpha = min((alpha, start), key=f)  # the previous α, unless it fits worse now
    for _ in range(iters):
        grad = M @ alpha - 1.0 / alpha
        # at the solution α_i (Mα)_i = 1: stop on that, free of the gradients' scale
        if np.abs(alpha * grad).max() < tol:
            break
        H = M + np.diag(1.0 / alpha**2)
        step = np.linalg.solve(H, grad)
        t, fa = 1.0, f(alpha)
        while t > 1e-8:
            cand = alpha - t * step
            if np.all(cand > 0) and f(cand) <= fa - 1e-4 * t * (grad @ step):
                break
            t *= 0.5
        alpha = alpha - t * step
    return alpha


class NashMTL(NashMTLEntry, GradientWeighting):
    _alpha: np.ndarray | None = None  # the last step's solution: the next one starts there

    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        self._alpha = nash_weights(gram, start=self._alpha)
        return self._alpha
