"""Tables as multi-task data sets: any column may become a task instead of an input.

A table data set (wine, iris, a user's CSV…) is a frame of feature columns plus its own
targets. Every feature column is also offered as a task: numeric columns with a few
whole-number values become classification tasks, other numeric columns regression
tasks, text columns classification tasks; the ``kinds`` option overrides the kind.
``load`` removes a column chosen as a task from the inputs. Text input columns are
one-hot encoded; missing values stay NaN here and are dropped or imputed in ``load``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import fail
from ..registry import Options
from .base import Dataset, RawData, TaskSpec

ColumnKind = Literal["classification", "regression"]
MAX_CLASSES = 10  # a numeric column with at most this many whole-number values is a class label


def infer_kind(col: pd.Series) -> ColumnKind:
    """Numeric → regression, unless it holds few distinct whole numbers; text → classes."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return "classification"
    s = col.dropna().to_numpy(dtype=np.float64)
    if len(s) and np.all(np.isfinite(s)) and np.all(np.mod(s, 1) == 0) \
            and len(np.unique(s)) <= MAX_CLASSES:
        return "classification"
    return "regression"


def column_target(name: str, col: pd.Series, kind: ColumnKind,
                  description: str = "") -> tuple[np.ndarray, TaskSpec, list[str]]:
    """A column as a task's targets: class indices (-1 = missing) with the class names,
    or floats (NaN = missing)."""
    if kind == "classification":
        codes, uniques = pd.factorize(col, sort=True)  # missing values get -1
        k = len(uniques)
        spec = TaskSpec(name, "classification", k, k, description or f"the class of {name}")
        return codes.astype(np.int64), spec, [str(u) for u in uniques]
    if not pd.api.types.is_numeric_dtype(col):
        raise ValueError(f"column {name!r} holds text, so it can only be a classification task")
    y = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return y, TaskSpec(name, "regression", 1, None, description or f"the value of {name}"), []


def encode_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(n, d) float inputs (NaN = missing) and the source column of each input column.
    A text column becomes one 0/1 column per value (all NaN where it is missing)."""
    parts: list[np.ndarray] = []
    sources: list[str] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(col.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
            sources.append(str(name))
            continue
        codes, uniques = pd.factorize(col, sort=True)
        onehot = np.zeros((len(col), len(uniques)), dtype=np.float64)
        present = codes >= 0
        onehot[np.flatnonzero(present), codes[present]] = 1.0
        onehot[~present] = np.nan
        parts.append(onehot)
        sources.extend([str(name)] * len(uniques))
    x = np.hstack(parts) if parts else np.zeros((len(frame), 0))
    return x, sources


class TableOptions(Options):
    """Options of every table data set; ``columns`` (set per data set) are the feature
    columns a ``kinds`` entry may name."""

    columns: ClassVar[tuple[str, ...]] = ()
    kinds: dict[str, ColumnKind] = Field(
        default_factory=dict, title="Column task kinds",
        description='a column chosen as a task is by default a classification task when it '
                    f'holds text or at most {MAX_CLASSES} whole numbers, else a regression '
                    'task; override here, e.g. {"magnesium": "classification"}')


@dataclass
class Table:
    """A table data set before encoding: feature columns and its own targets."""

    frame: pd.DataFrame  # feature columns (each may become a task)
    targets: dict[str, tuple[np.ndarray, TaskSpec]] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)  # class names per task
    descriptions: dict[str, str] = field(default_factory=dict)  # per feature column


class TableDataset(Dataset):
    """Base of the table data sets: subclasses return a ``Table``; every feature
    column is offered as a task as well as the table's own targets."""

    Options: ClassVar[type[TableOptions]] = TableOptions  # type: ignore[assignment]
    missing_policy: ClassVar[Literal["drop", "impute"]] = "impute"

    @classmethod
    def table(cls, options: Any) -> Table:
        raise NotImplementedError

    @classmethod
    def native_tasks(cls) -> list[str]:
        raise NotImplementedError

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        cls.check_options(options)
        return [*cls.native_tasks(), *cls.Options.columns]

    @classmethod
    def check_options(cls, options: Any) -> None:
        """What the options model alone cannot check, in the config's plain words (the
        config calls ``task_names`` right after validating the options)."""
        columns = cls.Options.columns
        for col in getattr(options, "kinds", {}) or {}:
            if col not in columns:
                raise fail("data.options.kinds", f"no column {col!r} in {cls.name}; its "
                           f"columns: {', '.join(columns)}", label="Column task kinds")

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return len(cls.table(options).frame)

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        t = cls.table(options)
        x, sources = encode_inputs(t.frame)
        columns = _ColumnTasks(t, getattr(options, "kinds", {}) or {})
        missing = getattr(options, "missing", cls.missing_policy)
        return RawData(x=x, targets=columns.targets, specs=columns.specs, columns=sources,
                       missing=missing, extras={"classes": columns.classes})


class _ColumnTasks:
    """The table's own targets, and each feature column as a task, computed when first
    asked for (a wide table has many columns; a config chooses a few)."""

    def __init__(self, table: Table, kinds: Mapping[str, ColumnKind]) -> None:
        self.table, self.kinds = table, kinds  # kinds: the options' overrides
        self.columns = [str(c) for c in table.frame.columns]
        self.targets = _Lazy(self, 0)
        self.specs = _Lazy(self, 1)
        self.classes = _LazyClasses(self)
        self._done: dict[str, tuple[np.ndarray, TaskSpec, list[str]]] = {}

    def names(self) -> list[str]:
        return [*self.table.targets, *self.columns]

    def get(self, name: str) -> tuple[np.ndarray, TaskSpec, list[str]]:
        if name not in self._done:
            if name in self.table.targets:
                y, spec = self.table.targets[name]
                self._done[name] = (y, spec, self.table.classes.get(name, []))
            elif name in self.columns:
                col = self.table.frame[name]
                # inferred only for a column a task asks for: a wide table has many
                kind = self.kinds.get(name) or infer_kind(col)
                self._done[name] = column_target(name, col, kind,
                                                 self.table.descriptions.get(name, ""))
            else:
                raise KeyError(name)
        return self._done[name]


class _Lazy(Mapping[str, Any]):
    def __init__(self, cols: _ColumnTasks, part: int) -> None:
        self.cols, self.part = cols, part

    def __getitem__(self, name: str) -> Any:
        return self.cols.get(name)[self.part]

    def __iter__(self) -> Iterator[str]:
        return iter(self.cols.names())

    def __len__(self) -> int:
        return len(self.cols.names())


class _LazyClasses(Mapping[str, list[str]]):
    """Class names of the classification tasks (a column's, once computed)."""

    def __init__(self, cols: _ColumnTasks) -> None:
        self.cols = cols

    def __getitem__(self, name: str) -> list[str]:
        names = self.cols.get(name)[2]
        if not names:
            raise KeyError(name)
        return names

    def __iter__(self) -> Iterator[str]:
        return iter(n for n in self.cols.names() if self.cols.get(n)[2])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def get(self, name: str, default: Any = None) -> Any:  # no need to compute the others
        try:
            return self[name]
        except KeyError:
            return default


def sklearn_table(bunch: Any, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """A scikit-learn bunch's features as a frame with snake_case column names."""
    names = [rename.get(n, n) if rename else n for n in map(str, bunch.feature_names)]
    names = [n.strip().replace(" (cm)", "").replace(" ", "_").lower() for n in names]
    return pd.DataFrame(np.asarray(bunch.data, dtype=np.float64), columns=names)
