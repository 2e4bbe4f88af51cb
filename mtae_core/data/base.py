"""Data-set registry and the tensors every data set becomes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

from ..registry import Entry, Options, Registry

if TYPE_CHECKING:  # torch is imported when tensors are made, not when the form lists data sets
    import torch


class DataSettings(Protocol):
    """What loading a data set reads of a config's ``data`` section (``config.DataConfig``
    has these): the registry never imports the config."""

    @property
    def dataset(self) -> str: ...
    @property
    def tasks(self) -> tuple[str, ...]: ...
    @property
    def options(self) -> dict[str, Any]: ...
    @property
    def val_fraction(self) -> float: ...
    @property
    def test_fraction(self) -> float: ...
    @property
    def scaling(self) -> str: ...
    @property
    def seed(self) -> int: ...


TaskKind = Literal["classification", "regression", "reconstruction"]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: TaskKind
    out_dim: int  # width of the model's output for this task
    n_classes: int | None = None
    description: str = ""

    @property
    def metric(self) -> str:
        """The headline metric of the task (the one Δm, "best" and verdicts use): ROC AUC
        for a binary task (accuracy hides an imbalanced one), accuracy for another
        classification task, else MSE (``engine.metric_names.HEADLINE_ORDER``)."""
        if self.kind == "classification":
            return "auc" if self.n_classes == 2 else "accuracy"
        return "mse"

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "classification"


@dataclass
class Split:
    x: torch.Tensor  # (n, input_dim) float32
    y: dict[str, torch.Tensor]  # per task: (n,) int64 labels, (n,) float32, or (n, input_dim)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        x = self.x.to(device)
        # reconstruction targets are the input itself: keep them the same tensor
        y = {t: (x if v is self.x else v.to(device)) for t, v in self.y.items()}
        return Split(x, y)


@dataclass
class MultiTaskData:
    train: Split
    val: Split
    test: Split
    tasks: list[TaskSpec]
    input_dim: int
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def to(self, device: torch.device | str) -> MultiTaskData:
        return replace(self, train=self.train.to(device), val=self.val.to(device),
                       test=self.test.to(device))


@dataclass
class RawData:
    """What a data set generates before splitting and scaling."""

    x: np.ndarray  # (n, d); NaN marks a missing input value (tables only)
    # supervised tasks only; reconstruction is implied. A missing target is NaN
    # (regression) or -1 (classification): load() drops those rows for the chosen tasks.
    # (tables compute a column's targets only when a task asks for it: Mapping)
    targets: Mapping[str, np.ndarray]
    specs: Mapping[str, TaskSpec]  # supervised tasks only
    extras: dict[str, Any] = field(default_factory=dict)
    # tables: the source column of each input column (a text column one-hot encoded
    # spans several); a chosen task named like a column is removed from the inputs
    columns: list[str] | None = None
    missing: Literal["drop", "impute"] = "impute"  # what load() does with missing inputs
    # a data set that comes with its own test split (Census-Income, Adult): True marks its
    # test rows; load() keeps them as the test split and carves validation from the rest
    test_rows: np.ndarray | None = None
    # a large data set (float32 inputs, maybe memory-mapped, no missing values): load()
    # scales one float32 copy in place instead of float64 copies (``_compact_scale``)
    compact: bool = False


class Dataset(Entry):
    """Base of every data set. Subclasses generate a ``RawData``; splitting, scaling and
    the reconstruction task are shared."""

    default_tasks: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[Options]]

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        raise NotImplementedError

    @classmethod
    def task_names(cls, options: Any) -> list[str]:
        return [*cls.supervised_tasks(options), "reconstruction"]

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        raise NotImplementedError

    @classmethod
    def n_samples(cls, options: Any) -> int:
        """How many samples ``generate`` makes; override when known without generating."""
        return len(cls.generate(options, 0).x)

    @classmethod
    def given_test_size(cls, options: Any) -> int | None:
        """The size of the test split the data set comes with (``RawData.test_rows``);
        None: the test split is drawn by the config's test share."""
        return None

    @classmethod
    def default_tasks_for(cls, options: Any) -> tuple[str, ...]:
        """The tasks a config gets when it names none (a data set whose options choose a
        task set overrides this)."""
        return cls.default_tasks


class DatasetSource(Protocol):
    """More data sets than the built-ins, by name: the users' tables of one store."""

    def names(self) -> list[str]: ...
    def dataset(self, name: str) -> type[Dataset] | None: ...


class DatasetRegistry(Registry[type[Dataset]]):
    """The built-in data sets plus the users' tables of the sources the store side hands
    it (``use_source``; ``mtae_core.store.tables``): a config names either the same way,
    and the Train form, which lists ``names()``, offers both. ``builtin_names()`` is the
    fixed part, for tests parametrised at collection time. Sources list their tables from
    memory: looking a name up never reads a store."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self._source: DatasetSource | None = None

    def use_source(self, source: DatasetSource | None) -> DatasetSource | None:
        """Take users' tables from ``source`` (one store's at a time; None: none), and give
        back the one used before."""
        previous, self._source = self._source, source
        return previous

    @property
    def source(self) -> DatasetSource | None:
        return self._source

    def _user(self, name: object) -> type[Dataset] | None:
        if self._source is None or not isinstance(name, str):
            return None
        return self._source.dataset(name)

    def builtin_names(self) -> list[str]:
        return list(self._entries)

    def names(self) -> list[str]:
        stored = self._source.names() if self._source is not None else []
        return [*self._entries, *stored]

    def get(self, name: str) -> type[Dataset]:
        if name in self._entries:
            return self._entries[name]  # type: ignore[no-any-return]
        cls = self._user(name)
        if cls is None:
            raise KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        return cls

    def spec(self, name: str) -> type[Dataset]:
        return self.get(name)  # data sets need no torch: their classes are light already

    def __contains__(self, name: object) -> bool:
        return name in self._entries or self._user(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, type[Dataset]]]:
        return [(n, self.get(n)) for n in self.names()]

    def describe(self) -> list[tuple[str, str]]:
        return [(n, c.summary()) for n, c in self.items()]


datasets = DatasetRegistry("data set")


def split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, validation, test) sample counts of ``n`` samples split by the shares."""
    n_test, n_val = int(round(n * test)), int(round(n * val))
    return n - n_test - n_val, n_val, n_test


def _split_indices(n: int, val: float, test: float, seed: int) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(seed).permutation(n)
    _, n_val, n_test = split_sizes(n, val, test)
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def given_split_sizes(n: int, n_test: int, val: float) -> tuple[int, int, int]:
    """(train, validation, test) of ``n`` rows of which ``n_test`` are the given test
    split: validation is the share ``val`` of the other rows."""
    n_rest = n - n_test
    n_val = int(round(n_rest * val))
    return n_rest - n_val, n_val, n_test


def _given_split(test_rows: np.ndarray, val: float, seed: int) -> tuple[np.ndarray, ...]:
    """The data set's own test rows kept as the test split; validation drawn (seeded) from
    its training rows, the share ``val`` of them."""
    rest = np.flatnonzero(~test_rows)
    perm = np.random.default_rng(seed).permutation(rest)
    _, n_val, _ = given_split_sizes(len(test_rows), int(test_rows.sum()), val)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val]), np.flatnonzero(test_rows)


def data_sizes(cfg: DataSettings) -> dict[str, int]:
    """Samples per split (``train``, ``val``, ``test``) and in all (``total``), without
    generating the data where the data set knows its size: cheap enough for a form."""
    ds = datasets.get(cfg.dataset)
    options = ds.Options.model_validate(cfg.options)
    n = ds.n_samples(options)
    given = ds.given_test_size(options)
    n_train, n_val, n_test = (split_sizes(n, cfg.val_fraction, cfg.test_fraction) if given is None
                              else given_split_sizes(n, given, cfg.val_fraction))
    return {"total": n, "train": n_train, "val": n_val, "test": n_test}


def load(cfg: DataSettings, seed: int | None = None) -> MultiTaskData:
    """Build the data set of ``cfg``: generate, drop the inputs that became tasks and the
    rows whose chosen targets are missing, split, impute and scale (fitted on the
    training split only), select tasks.

    The data seed ``cfg.seed`` draws the data and the split (the run's seed does not);
    ``seed`` overrides it, for a caller that wants another draw of the same settings."""
    import torch

    seed = cfg.seed if seed is None else seed
    ds = datasets.get(cfg.dataset)
    raw = ds.generate(ds.Options.model_validate(cfg.options), seed)
    x, targets, kept = _select(raw, cfg.tasks)
    if raw.compact and np.may_share_memory(x, raw.x):  # a float32 copy of ours, scaled in place
        x = np.array(x, dtype=np.float32)
    if raw.test_rows is None:
        idx = _split_indices(len(x), cfg.val_fraction, cfg.test_fraction, seed)
    else:  # the data set's own test split (the config's test share does not apply)
        idx = _given_split(np.asarray(raw.test_rows, dtype=bool)[kept], cfg.val_fraction, seed)
    x = (_compact_scale(x, idx[0], cfg.scaling) if raw.compact
         else _impute_and_scale(x, idx[0], cfg.scaling))
    specs: list[TaskSpec] = []
    ys: dict[str, np.ndarray] = {}
    for name in cfg.tasks:
        if name == "reconstruction":
            specs.append(TaskSpec(name, "reconstruction", x.shape[1],
                                  description="rebuild the (scaled) input from the latent code"))
            continue
        spec = raw.specs[name]
        y = targets[name]
        if spec.kind == "regression":
            # standardise targets on train statistics so task losses are on one scale
            mu, sd = y[idx[0]].mean(), y[idx[0]].std() or 1.0
            y = (y - mu) / sd
        specs.append(spec)
        ys[name] = y

    def make(ix: np.ndarray) -> Split:
        xs = (torch.from_numpy(x).index_select(0, torch.from_numpy(ix)) if raw.compact
              else torch.as_tensor(x[ix], dtype=torch.float32))
        y: dict[str, torch.Tensor] = {}
        for s in specs:
            if s.kind == "reconstruction":
                y[s.name] = xs
            elif s.kind == "classification":
                y[s.name] = torch.as_tensor(ys[s.name][ix], dtype=torch.long)
            else:
                y[s.name] = torch.as_tensor(ys[s.name][ix], dtype=torch.float32)
        return Split(xs, y)

    return MultiTaskData(make(idx[0]), make(idx[1]), make(idx[2]), specs, x.shape[1],
                         extras={**raw.extras, "split_indices": idx, "rows_kept": kept})


def _select(raw: RawData, tasks: tuple[str, ...]) -> tuple[np.ndarray, Mapping[str, np.ndarray], np.ndarray]:
    """Inputs without the columns chosen as tasks, and the rows that have every chosen
    target (and, with the "drop" policy, every input). Returns (x, targets, kept rows)."""
    x = raw.x
    if raw.columns is not None:
        keep_cols = np.array([c not in tasks for c in raw.columns], dtype=bool)
        if not keep_cols.any():
            raise ValueError("every column of the table is a task: keep at least one column "
                             "as an input")
        # np.asarray: a memory-mapped array's own indexing is several times slower
        x = np.asarray(x).take(np.flatnonzero(keep_cols), axis=1) if raw.compact \
            else x[:, keep_cols]
    rows = np.ones(len(x), dtype=bool)
    for name in tasks:
        if name in raw.targets:
            y = raw.targets[name]
            rows &= (y >= 0) if raw.specs[name].kind == "classification" else ~np.isnan(y)
    if raw.missing == "drop" and np.issubdtype(x.dtype, np.floating):
        rows &= ~np.isnan(x).any(axis=1)
    if rows.sum() < 3:
        raise ValueError(f"only {int(rows.sum())} row(s) have every chosen task's value"
                         + (" and every input" if raw.missing == "drop" else "")
                         + ": at least 3 are needed to split into train, validation and test")
    kept = np.flatnonzero(rows)
    if rows.all():
        return x, raw.targets, kept
    return x[rows], {t: raw.targets[t][rows] for t in tasks if t in raw.targets}, kept


def _impute_and_scale(x: np.ndarray, train: np.ndarray, scaling: str) -> np.ndarray:
    """Fill missing inputs with the training split's column means, then scale with
    statistics of the training split only."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    x = x.astype(np.float64)
    if np.isnan(x).any():
        x = SimpleImputer(strategy="mean", keep_empty_features=True).fit(x[train]).transform(x)
    if scaling != "none":
        scaler = StandardScaler() if scaling == "standard" else MinMaxScaler()
        x = scaler.fit(x[train]).transform(x)
    return x


def _compact_scale(x: np.ndarray, train: np.ndarray, scaling: str, chunk: int = 8192
                   ) -> np.ndarray:
    """``_impute_and_scale`` for a large float32 array of ours without missing values:
    statistics of the training rows in float64, a chunk of rows at a time (two passes:
    mean, then squared deviations), then ``x`` scaled in place. Matches scikit-learn's
    scalers (a constant column is left unscaled) to float32 precision."""
    if scaling == "none":
        return x
    n, d = len(train), x.shape[1]
    parts = [train[i:i + chunk] for i in range(0, n, chunk)]
    if scaling == "standard":
        total = np.zeros(d)
        for p in parts:
            total += x[p].sum(axis=0, dtype=np.float64)
        shift = total / max(n, 1)
        sq = np.zeros(d)
        for p in parts:
            c = x[p].astype(np.float64) - shift
            sq += np.einsum("ij,ij->j", c, c)
        scale = np.sqrt(sq / max(n, 1))
    else:  # minmax, to [0, 1]
        lo, hi = np.full(d, np.inf), np.full(d, -np.inf)
        for p in parts:
            lo, hi = np.minimum(lo, x[p].min(axis=0)), np.maximum(hi, x[p].max(axis=0))
        shift, scale = lo, hi - lo
    scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(shift), 1.0)] = 1.0
    for i in range(0, len(x), chunk):  # in place, a chunk at a time: no second copy
        block = x[i:i + chunk]
        block -= shift.astype(np.float32)
        block /= scale.astype(np.float32)
    return x
