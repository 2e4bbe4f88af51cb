from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import TaskSpec, datasets
from .tabular import Table, TableDataset, TableOptions


class DiabetesOptions(TableOptions):
    columns = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


_DESCRIPTIONS = {"bmi": "body mass index", "bp": "average blood pressure",
                 "sex": "sex (two values)", "age": "age in years"}


@lru_cache(maxsize=1)
def _table() -> Table:
    import pandas as pd
    from sklearn.datasets import load_diabetes

    # unscaled: sex keeps its two values (1, 2), so it is offered as a classification task
    bunch = load_diabetes(scaled=False)  # ships with scikit-learn: no download
    frame = pd.DataFrame(bunch.data.astype(np.float64), columns=list(DiabetesOptions.columns))
    y = bunch.target.astype(np.float64)
    return Table(frame, {
        "progression": (y, TaskSpec("progression", "regression", 1, None,
                                    "disease progression one year after baseline")),
    }, descriptions=_DESCRIPTIONS)


@datasets.register("diabetes")
class Diabetes(TableDataset):
    """Diabetes (scikit-learn; 442 patients × 10 measurements): progression (regression), and any measurement (bmi, bp…) as a task."""

    Options = DiabetesOptions
    default_tasks = ("progression", "bmi", "bp", "reconstruction")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return ["progression"]

    @classmethod
    def table(cls, options: Any) -> Table:
        return _table()
