from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import TaskSpec, datasets
from .tabular import Table, TableDataset, TableOptions, sklearn_table


class IrisOptions(TableOptions):
    columns = ("sepal_length", "sepal_width", "petal_length", "petal_width")


@lru_cache(maxsize=1)
def _table() -> Table:
    from sklearn.datasets import load_iris

    bunch = load_iris()  # ships with scikit-learn: no download
    y = bunch.target.astype(np.int64)
    return Table(sklearn_table(bunch), {
        "species": (y, TaskSpec("species", "classification", 3, 3, "setosa, versicolor or virginica")),
    }, classes={"species": [str(n) for n in bunch.target_names]})


@datasets.register("iris")
class Iris(TableDataset):
    """Iris (scikit-learn; 150 flowers × 4 measurements): species (3 classes) and petal width as a regression task."""

    Options = IrisOptions
    default_tasks = ("species", "petal_width", "reconstruction")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return ["species"]

    @classmethod
    def table(cls, options: Any) -> Table:
        return _table()
