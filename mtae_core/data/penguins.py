"""Palmer penguins (Horst, Hill & Gorman 2020; data by Gorman, Williams & Fraser 2014):
344 penguins of three species on three islands of the Palmer Archipelago, as the
``palmerpenguins`` package ships them (CC0). ``make data`` fetches the file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .base import TaskSpec, datasets
from .files import FileDataset
from .tabular import Table, TableDataset, TableOptions

FILE = "penguins.csv"


class PenguinsOptions(TableOptions):
    columns = ("island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
               "body_mass_g", "sex", "year")


@lru_cache(maxsize=2)
def _table(path: Path, mtime: int) -> Table:
    frame = pd.read_csv(path)  # "NA" marks a missing value: pandas reads it as missing
    species, names = pd.factorize(frame.pop("species"), sort=True)
    k = len(names)
    return Table(frame[list(PenguinsOptions.columns)], {
        "species": (species.astype(np.int64),
                    TaskSpec("species", "classification", k, k, "Adelie, Chinstrap or Gentoo")),
    }, classes={"species": [str(n) for n in names]},
        descriptions={"sex": "female or male (11 penguins unknown)",
                      "body_mass_g": "body mass in grams"})


@datasets.register("penguins")
class Penguins(FileDataset, TableDataset):
    """Palmer penguins (344 penguins × 7 columns, CC0): species (3 classes), sex, body mass, and any other column as a task."""

    Options = PenguinsOptions
    folder, files = "penguins", (FILE,)
    default_tasks = ("species", "sex", "body_mass_g", "reconstruction")

    @classmethod
    def native_tasks(cls) -> list[str]:
        return ["species"]

    @classmethod
    def table(cls, options: Any) -> Table:
        path = cls.file(FILE)
        return _table(path, path.stat().st_mtime_ns)

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return len(cls.table(options).frame)
