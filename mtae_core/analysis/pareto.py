"""Pareto fronts of two objectives: the non-dominated points, each objective with its
own direction (the Studies page's trade-off view, the method arena's Pareto set)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_mask(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                higher_a: bool = True, higher_b: bool = True) -> np.ndarray:
    """Which points are not dominated: no other point is at least as good on both
    objectives and strictly better on one (``higher_*``: which way each is better).
    Points with a NaN or an infinity are never on the front; equal points are all on it
    or all off it. O(n log n): one sort and a running maximum."""
    pa = np.asarray(a, dtype=float) * (1.0 if higher_a else -1.0)  # both: higher is better
    pb = np.asarray(b, dtype=float) * (1.0 if higher_b else -1.0)
    if pa.shape != pb.shape or pa.ndim != 1:
        raise ValueError(f"two objectives of one point each: got shapes {pa.shape}, {pb.shape}")
    out = np.zeros(len(pa), dtype=bool)
    ok = np.flatnonzero(np.isfinite(pa) & np.isfinite(pb))
    if not len(ok):
        return out
    order = ok[np.lexsort((-pb[ok], -pa[ok]))]  # best a first, ties: best b first
    sa, sb = pa[order], pb[order]
    new = np.r_[True, sa[1:] != sa[:-1]]  # where a group of equal a starts
    group = np.cumsum(new) - 1  # (m,) each sorted point's group
    group_best = sb[new]  # (groups,) the best b of each group: its first point
    # the best b among the groups strictly better on a
    before = np.r_[-np.inf, np.maximum.accumulate(group_best)[:-1]]
    # on the front: the best b of its group, and better on b than any point better on a
    on = (sb == group_best[group]) & (group_best[group] > before[group])
    out[order[on]] = True
    return out
