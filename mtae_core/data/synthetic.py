from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..registry import Options
from .base import Dataset, RawData, TaskSpec, datasets


class SyntheticOptions(Options):
    correlation: float = Field(0.5, ge=-1.0, le=1.0, title="Task correlation p", description="p: cosine between the tasks' linear weights")
    n: int = Field(12000, ge=100, le=200000, title="Samples n", description="number of samples")
    d: int = Field(100, ge=2, le=2000, title="Input dimension d", description="input dimension")
    c: float = Field(1.0, gt=0.0, le=100.0, title="Weight scale c", description="scale of the weight vectors")
    m: int = Field(10, ge=0, le=100, title="Sine terms m", description="number of sine terms")
    noise_var: float = Field(0.01, ge=0.0, le=10.0, title="Label noise variance", description="variance of the label noise")


@datasets.register("synthetic_correlated")
class SyntheticCorrelated(Dataset):
    """Two regression tasks with a chosen correlation (Ma et al. 2018, MMoE, section 3.2)."""

    Options = SyntheticOptions
    default_tasks = ("task1", "task2")

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["task1", "task2"]

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return int(options.n)

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        """``seed`` (the data seed) draws the task functions (weights, sine terms) and the
        samples; the same seed gives the same data."""
        o: SyntheticOptions = options
        rng = np.random.default_rng(seed)
        # two orthonormal unit vectors u1, u2 in R^d (QR of a Gaussian matrix)
        q, _ = np.linalg.qr(rng.standard_normal((o.d, 2)))
        u1, u2 = q[:, 0], q[:, 1]
        p = o.correlation
        w1 = o.c * u1
        w2 = o.c * (p * u1 + np.sqrt(1.0 - p * p) * u2)
        x = rng.standard_normal((o.n, o.d))
        alpha = rng.standard_normal(o.m)
        beta = rng.standard_normal(o.m)
        targets, linear = {}, {}
        for name, w in (("task1", w1), ("task2", w2)):
            lin = x @ w  # (n,)
            sines = np.sin(np.outer(lin, alpha) + beta).sum(axis=1) if o.m else 0.0
            noise = rng.normal(0.0, np.sqrt(o.noise_var), o.n)
            targets[name] = (lin + sines + noise).astype(np.float32)
            linear[name] = lin
        return RawData(
            x=x.astype(np.float32),
            targets=targets,
            specs={
                "task1": TaskSpec("task1", "regression", 1, description="y1 = w1·x + sines + noise"),
                "task2": TaskSpec("task2", "regression", 1, description="y2 = w2·x + sines + noise"),
            },
            extras={"linear_parts": linear, "weights": (w1, w2)},
        )
