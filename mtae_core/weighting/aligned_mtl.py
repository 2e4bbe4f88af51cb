"""Aligned-MTL (Senushkin, Patakin, Kuznetsov & Konushin 2023, "Independent Component
Alignment for Multi-Task Learning", CVPR)."""

from __future__ import annotations

import numpy as np

from .catalog import AlignedMTLEntry
from .gradient_base import UpperBoundWeighting


def alignment(gram: np.ndarray) -> np.ndarray:
    """B with BG = σ_min U Vᵀ (G = U Σ Vᵀ): the task gradients made orthogonal with
    equal norms σ_min, from the eigen-decomposition GGᵀ = U Λ Uᵀ."""
    lam, U = np.linalg.eigh(gram)
    tol = lam.max() * gram.shape[0] * np.finfo(np.float32).eps
    keep = lam > tol
    if not keep.any():
        return np.zeros_like(gram)
    lam, U = lam[keep], U[:, keep]
    return np.sqrt(lam.min()) * (U / np.sqrt(lam)) @ U.T


class AlignedMTL(AlignedMTLEntry, UpperBoundWeighting):
    def weights_from_gram(self, gram: np.ndarray, losses: np.ndarray) -> np.ndarray:
        # d = Σ_i (BG)_i with unit task weights ⇒ weights = Bᵀ 1
        return alignment(gram).sum(axis=0)
