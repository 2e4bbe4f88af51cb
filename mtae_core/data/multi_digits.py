from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..registry import Options
from .base import Dataset, RawData, TaskSpec, datasets


class MultiDigitsOptions(Options):
    n: int = Field(4000, ge=100, le=50000, title="Pairs n", description="number of two-digit images")


@datasets.register("multi_digits")
class MultiDigits(Dataset):
    """Two 8×8 digits side by side (16×8 = 128 inputs, pairs drawn with the seed from scikit-learn's digits, as MultiMNIST is from MNIST: Sener & Koltun 2018): left, right, sum_parity."""

    Options = MultiDigitsOptions
    default_tasks = ("left", "right", "sum_parity", "reconstruction")

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["left", "right", "sum_parity"]

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return int(options.n)

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        from sklearn.datasets import load_digits

        o: MultiDigitsOptions = options
        bunch = load_digits()  # ships with scikit-learn: no download
        images = bunch.images.astype(np.float32)  # (1797, 8, 8)
        rng = np.random.default_rng(seed)
        # pairs are split afterwards, so one image may appear in a training pair and a
        # test pair (each pair, not each image, is new to the model): fine for a demo
        left, right = rng.integers(0, len(images), (2, o.n))
        # (n, 8, 16): the left digit's 8 columns, then the right digit's
        x = np.concatenate([images[left], images[right]], axis=2).reshape(o.n, -1)
        yl, yr = bunch.target[left].astype(np.int64), bunch.target[right].astype(np.int64)
        return RawData(
            x=x,
            targets={"left": yl, "right": yr, "sum_parity": (yl + yr) % 2},
            specs={
                "left": TaskSpec("left", "classification", 10, 10, "the left digit, 0-9"),
                "right": TaskSpec("right", "classification", 10, 10, "the right digit, 0-9"),
                "sum_parity": TaskSpec("sum_parity", "classification", 2, 2,
                                       "whether left + right is odd or even"),
            },
        )
