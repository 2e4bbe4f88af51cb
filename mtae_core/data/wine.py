from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import TaskSpec, datasets
from .tabular import Table, TableDataset, TableOptions, sklearn_table


class WineOptions(TableOptions):
    columns = ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
               "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
               "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline")


@lru_cache(maxsize=1)
def _table() -> Table:
    from sklearn.datasets import load_wine

    bunch = load_wine()  # ships with scikit-learn: no download
    y = bunch.target.astype(np.int64)
    return Table(sklearn_table(bunch), {
        "cultivar": (y, TaskSpec("cultivar", "classification", 3, 3,
                                 "which of 3 cultivars the wine comes from")),
    }, classes={"cultivar": [str(n) for n in bunch.target_names]})


@datasets.register("wine")
class Wine(TableDataset):
    """Wine (scikit-learn; 178 wines × 13 measurements): cultivar (3 classes), and any measurement (alcohol, colour intensity…) as a regression task."""

    Options = WineOptions
    default_tasks = ("cultivar", "alcohol", "color_intensity", "reconstruction")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return ["cultivar"]

    @classmethod
    def table(cls, options: Any) -> Table:
        return _table()
