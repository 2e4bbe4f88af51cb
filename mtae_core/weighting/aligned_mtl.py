"""Aligned-MTL (Senushkin, Patakin, Kuznetsov & Konushin 2023, "Independent Component
Alignment for Multi-Task Learning", CVPR)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

    @classmethod
    def weights_from_grams(cls, strategies: Sequence[Any], grams: np.ndarray,
                           losses: np.ndarray, idxs: Sequence[list[int]],
                           rngs: Sequence[Any]) -> np.ndarray:
        """``alignment`` of K replicas at once (batched replicas): one batched eigh."""
        k, n = losses.shape
        if any(len(idx) != n for idx in idxs):
            return super().weights_from_grams(strategies, grams, losses, idxs, rngs)
        lam, U = np.linalg.eigh(grams)  # (K, n), (K, n, n)
        tol = lam.max(axis=1, keepdims=True) * n * np.finfo(np.float32).eps
        keep = lam > tol
        safe = np.where(keep, lam, 1.0)
        lam_min = np.where(keep, lam, np.inf).min(axis=1)  # (K,): inf where nothing is kept
        scale = np.where(np.isfinite(lam_min), np.sqrt(np.where(np.isfinite(lam_min), lam_min, 0.0)), 0.0)
        inv = np.where(keep, 1.0 / np.sqrt(safe), 0.0)  # (K, n)
        B = scale[:, None, None] * (U * inv[:, None, :]) @ np.swapaxes(U, 1, 2)
        return B.sum(axis=1)
