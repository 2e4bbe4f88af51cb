from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import TaskSpec, datasets
from .tabular import Table, TableDataset, TableOptions, sklearn_table

_MEASURES = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
             "concavity", "concave_points", "symmetry", "fractal_dimension")


class BreastCancerOptions(TableOptions):
    # scikit-learn's order: the 10 means, their standard errors, their worst values
    columns = tuple(f"{p}_{m}" if p != "error" else f"{m}_error"
                    for p in ("mean", "error", "worst") for m in _MEASURES)


@lru_cache(maxsize=1)
def _table() -> Table:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()  # ships with scikit-learn: no download
    frame = sklearn_table(bunch)
    frame.columns = list(BreastCancerOptions.columns)
    # scikit-learn codes malignant as 0 and benign as 1
    y = bunch.target.astype(np.int64)
    return Table(frame, {
        "diagnosis": (y, TaskSpec("diagnosis", "classification", 2, 2,
                                  "malignant (0) or benign (1) tumour")),
    }, classes={"diagnosis": [str(n) for n in bunch.target_names]})


@datasets.register("breast_cancer")
class BreastCancer(TableDataset):
    """Breast cancer Wisconsin (scikit-learn; 569 tumours × 30 cell measurements): diagnosis (2 classes), and any measurement (mean radius…) as a regression task."""

    Options = BreastCancerOptions
    default_tasks = ("diagnosis", "mean_radius", "reconstruction")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return ["diagnosis"]

    @classmethod
    def table(cls, options: Any) -> Table:
        return _table()
