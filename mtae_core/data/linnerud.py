from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .base import TaskSpec, datasets
from .tabular import Table, TableDataset, TableOptions

_TARGETS = {"weight": "body weight (lb)", "waist": "waist (in)", "pulse": "pulse (beats/min)"}


class LinnerudOptions(TableOptions):
    columns = ("chins", "situps", "jumps")


@lru_cache(maxsize=1)
def _table() -> Table:
    import pandas as pd
    from sklearn.datasets import load_linnerud

    bunch = load_linnerud()  # ships with scikit-learn: no download
    frame = pd.DataFrame(np.asarray(bunch.data, dtype=np.float64),
                         columns=list(LinnerudOptions.columns))
    ys = np.asarray(bunch.target, dtype=np.float64)  # (20, 3): weight, waist, pulse
    return Table(frame, {
        name: (ys[:, i], TaskSpec(name, "regression", 1, None, desc))
        for i, (name, desc) in enumerate(_TARGETS.items())
    })


@datasets.register("linnerud")
class Linnerud(TableDataset):
    """Linnerud (scikit-learn): weight, waist and pulse (regression) from chin-ups, sit-ups and jumps. Only 20 samples: a toy, expect noisy results."""

    Options = LinnerudOptions
    default_tasks = ("weight", "waist", "pulse")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return list(_TARGETS)

    @classmethod
    def table(cls, options: Any) -> Table:
        return _table()
