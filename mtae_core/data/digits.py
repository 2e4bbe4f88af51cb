from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import NoOptions
from .base import Dataset, RawData, TaskSpec, datasets


@datasets.register("digits")
class Digits(Dataset):
    """scikit-learn's 8x8 handwritten digits (1,797 images): digit, parity, reconstruction."""

    Options = NoOptions
    default_tasks = ("digit", "parity", "reconstruction")
    N_SAMPLES = 1797  # the size of scikit-learn's copy (a test checks it against the data)

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return cls.N_SAMPLES

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["digit", "parity"]

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        """The same images for every seed: the data seed moves only the split."""
        from sklearn.datasets import load_digits

        bunch = load_digits()  # ships with scikit-learn: no download
        y = bunch.target.astype(np.int64)
        return RawData(
            x=bunch.data.astype(np.float32),
            targets={"digit": y, "parity": y % 2},
            specs={
                "digit": TaskSpec("digit", "classification", 10, 10, "which digit, 0-9"),
                "parity": TaskSpec("parity", "classification", 2, 2, "odd or even"),
            },
        )
