"""MGDA and MGDA-UB (Sener & Koltun 2018, "Multi-Task Learning as Multi-Objective
Optimization", NeurIPS; after Désidéri's multiple-gradient descent, 2012)."""

from __future__ import annotations

import numpy as np

from .catalog import MGDAEntry
from .gradient_base import UpperBoundWeighting


def min_norm(gram: np.ndarray, iters: int = 250, tol: float = 1e-9) -> np.ndarray:
    """argmin over the simplex of ‖Σ α_i g_i‖² from the Gram matrix (Frank-Wolfe with exact
    line search, started from the best pair, as in Sener & Koltun's Algorithm 2)."""
    k = gram.shape[0]
    if k == 1:
        return np.ones(1)
    if 2 < k <= 6:
        exact = _min_norm_exact(gram)
        if exact is not None:
            return exact

    def pair(a: float, b: float, c: float) -> float:
        # min over γ in [0, 1] of ‖γ u + (1−γ) v‖² with a = u·u, b = u·v, c = v·v
        den = a - 2 * b + c
        return 1.0 if den <= 0 else float(np.clip((c - b) / den, 0.0, 1.0))

    best, alpha = np.inf, np.full(k, 1.0 / k)
    for i in range(k):
        for j in range(i + 1, k):
            g = pair(gram[i, i], gram[i, j], gram[j, j])
            val = g * g * gram[i, i] + 2 * g * (1 - g) * gram[i, j] + (1 - g) ** 2 * gram[j, j]
            if val < best:
                best, alpha = val, np.zeros(k)
                alpha[i], alpha[j] = g, 1 - g
    if k == 2:
        return alpha
    for _ in range(iters):
        grad = gram @ alpha
        t = int(np.argmin(grad))
        # line search between the current point v = Σα g and the vertex g_t
        a = gram[t, t]
        b = float(grad[t])
        c = float(alpha @ grad)
        g = pair(a, b, c)
        new = (1 - g) * alpha
        new[t] += g
        if np.abs(new - alpha).sum() < tol:
            alpha = new
            break
        alpha = new
    return alpha


def _min_norm_exact(gram: np.ndarray) -> np.ndarray | None:
    """The exact minimiser for a few tasks: try supports S from the smallest, solve the
    equality-constrained QP on S (KKT: 2M_S α = μ1, 1ᵀα = 1) and keep the first point that
    is feasible (α ≥ 0) and optimal ((Mα)_i ≥ αᵀMα off S). Convexity makes it global."""
    from itertools import combinations

    k = gram.shape[0]
    for size in range(1, k + 1):
        for S in combinations(range(k), size):
            idx = list(S)
            A = np.zeros((size + 1, size + 1))
            A[:size, :size] = 2 * gram[np.ix_(idx, idx)]
            A[:size, size] = -1.0
            A[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            try:
                sol = np.linalg.solve(A, rhs)[:size]
            except np.linalg.LinAlgError:  # collinear gradients: any least-squares point
                sol = np.linalg.lstsq(A, rhs, rcond=None)[0][:size]
            if sol.min() < -1e-12:
                continue
            alpha = np.zeros(k)
            alpha[idx] = np.clip(sol, 0.0, None)
            alpha /= alpha.sum()
            grad = gram @ alpha
            val = float(alpha @ grad)
            if (grad >= val - 1e-9 * max(1.0, abs(val))).all():
                return alpha
    return None


class MGDA(MGDAEntry, UpperBoundWeighting):
    def scales(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        norms = np.sqrt(np.maximum(np.diag(gram), 1e-20))
        mode = self.options.normalization
        if mode == "l2":
            return 1.0 / norms
        if mode == "loss":
            return 1.0 / np.maximum(losses, 1e-12)
        if mode == "loss+":
            return 1.0 / (np.maximum(losses, 1e-12) * norms)
        return np.ones_like(losses)

    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        s = self.scales(gram, losses)
        alpha = min_norm(gram * np.outer(s, s))
        return alpha * s  # weights on the raw gradients
