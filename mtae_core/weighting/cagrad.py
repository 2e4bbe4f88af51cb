"""CAGrad (Liu, Liu, Jin, Stone & Liu 2021, "Conflict-Averse Gradient Descent for
Multi-task Learning", NeurIPS)."""

from __future__ import annotations

import numpy as np

from .catalog import CAGradEntry
from .gradient_base import GradientWeighting


class CAGrad(CAGradEntry, GradientWeighting):
    _w_prev: np.ndarray | None = None  # the last step's dual solution, where the next starts

    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        k = gram.shape[0]
        c = self.options.c
        mean_w = np.full(k, 1.0 / k)
        g0_sq = float(mean_w @ gram @ mean_w)  # ‖g₀‖²
        sqrt_phi = c * np.sqrt(max(g0_sq, 0.0))
        if sqrt_phi == 0.0 or k == 1:
            return mean_w
        b = gram @ mean_w  # g_i · g₀
        # dual: min over the simplex of F(w) = g_wᵀg₀ + √φ ‖g_w‖
        def f(w: np.ndarray) -> float:
            return float(w @ b + sqrt_phi * np.sqrt(max(w @ gram @ w, 1e-20)))

        def jac(w: np.ndarray) -> np.ndarray:
            return b + sqrt_phi * (gram @ w) / np.sqrt(max(w @ gram @ w, 1e-20))

        # start from the last step's solution: consecutive steps' problems differ little
        prev = self._w_prev
        x0 = prev if prev is not None and prev.shape == (k,) else mean_w
        # imported here: scipy.optimize costs the Train form's first paint about 0.5 s
        from scipy.optimize import minimize

        res = minimize(f, x0, jac=jac, method="SLSQP", bounds=[(0.0, 1.0)] * k,
                       constraints={"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                    "jac": lambda w: np.ones_like(w)},
                       options={"maxiter": 50, "ftol": 1e-10})
        w = np.clip(res.x, 0.0, None)
        self._w_prev = w / max(w.sum(), 1e-12)
        gw_norm = np.sqrt(max(w @ gram @ w, 1e-20))
        # d = g₀ + √φ g_w / ‖g_w‖
        weights = mean_w + (sqrt_phi / gw_norm) * w
        return weights / (1.0 + c * c) if self.options.rescale else weights
