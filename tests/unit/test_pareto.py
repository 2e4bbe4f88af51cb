"""The non-dominated front of two objectives (mtae_core.analysis.pareto), each with its
direction: hand-made cases and a brute-force check on points with many ties."""

from __future__ import annotations

import numpy as np
import pytest

from mtae_core.analysis import pareto_mask


def test_pareto_mask_both_higher_is_better() -> None:
    # (1, 5) and (5, 1) and (3, 3) trade off; (2, 2) is beaten by (3, 3); (3, 2) by (3, 3)
    a = [1, 5, 3, 2, 3]
    b = [5, 1, 3, 2, 2]
    assert pareto_mask(a, b).tolist() == [True, True, True, False, False]


def test_pareto_mask_follows_each_metrics_direction() -> None:
    # accuracy (higher better) against reconstruction MSE (lower better)
    acc = [0.9, 0.8, 0.95, 0.85]
    mse = [0.30, 0.10, 0.50, 0.40]
    # (0.85, 0.40) is beaten by (0.9, 0.30) on both; the rest trade off
    assert pareto_mask(acc, mse, True, False).tolist() == [True, True, True, False]
    # flipping the direction of MSE changes which points win
    assert pareto_mask(acc, mse, True, True).tolist() == [False, False, True, False]


def test_pareto_mask_ties_and_nan() -> None:
    # two identical points dominate neither each other; a NaN is never on the front
    assert pareto_mask([1, 1, np.nan], [2, 2, 9]).tolist() == [True, True, False]
    assert pareto_mask([], []).tolist() == []


def _dominated_by_any(pa: np.ndarray, pb: np.ndarray, i: int, ok: np.ndarray) -> bool:
    """The definition, point by point: another point at least as good on both and
    strictly better on one (both higher is better)."""
    others = ok.copy()
    others[i] = False
    return bool((others & (pa >= pa[i]) & (pb >= pb[i]) & ((pa > pa[i]) | (pb > pb[i]))).any())


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("higher_a", "higher_b"), [(True, True), (False, False), (True, False)])
def test_pareto_mask_is_the_definition(seed: int, higher_a: bool, higher_b: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, 40).astype(float)  # few values: many ties on each objective
    b = rng.integers(0, 6, 40).astype(float)
    a[rng.random(40) < 0.1] = np.nan
    b[rng.random(40) < 0.05] = np.inf
    pa, pb = a * (1 if higher_a else -1), b * (1 if higher_b else -1)
    ok = np.isfinite(pa) & np.isfinite(pb)
    expected = [bool(ok[i]) and not _dominated_by_any(pa, pb, i, ok) for i in range(40)]
    assert pareto_mask(a, b, higher_a, higher_b).tolist() == expected
