"""Data-set registry and the tensors every data set becomes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch

from ..registry import Entry, Options, Registry

if TYPE_CHECKING:
    from ..config import DataConfig

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
        """The headline metric of the task."""
        return "accuracy" if self.kind == "classification" else "mse"

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

    x: np.ndarray  # (n, d)
    targets: dict[str, np.ndarray]  # supervised tasks only; reconstruction is implied
    specs: dict[str, TaskSpec]  # supervised tasks only
    extras: dict[str, Any] = field(default_factory=dict)


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


datasets: Registry[type[Dataset]] = Registry("data set")


def split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, validation, test) sample counts of ``n`` samples split by the shares."""
    n_test, n_val = int(round(n * test)), int(round(n * val))
    return n - n_test - n_val, n_val, n_test


def _split_indices(n: int, val: float, test: float, seed: int) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(seed).permutation(n)
    _, n_val, n_test = split_sizes(n, val, test)
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def data_sizes(cfg: DataConfig) -> dict[str, int]:
    """Samples per split (``train``, ``val``, ``test``) and in all (``total``), without
    generating the data where the data set knows its size: cheap enough for a form."""
    ds = datasets.get(cfg.dataset)
    n = ds.n_samples(ds.Options.model_validate(cfg.options))
    n_train, n_val, n_test = split_sizes(n, cfg.val_fraction, cfg.test_fraction)
    return {"total": n, "train": n_train, "val": n_val, "test": n_test}


def load(cfg: DataConfig, seed: int | None = None) -> MultiTaskData:
    """Build the data set of ``cfg``: generate, split, scale (fitted on train), select tasks.

    The data seed ``cfg.seed`` draws the data and the split (the run's seed does not);
    ``seed`` overrides it, for a caller that wants another draw of the same settings."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    seed = cfg.seed if seed is None else seed
    ds = datasets.get(cfg.dataset)
    raw = ds.generate(ds.Options.model_validate(cfg.options), seed)
    idx = _split_indices(len(raw.x), cfg.val_fraction, cfg.test_fraction, seed)
    x = raw.x.astype(np.float64)
    if cfg.scaling != "none":
        scaler = StandardScaler() if cfg.scaling == "standard" else MinMaxScaler()
        scaler.fit(x[idx[0]])
        x = scaler.transform(x)
    specs: list[TaskSpec] = []
    ys: dict[str, np.ndarray] = {}
    for name in cfg.tasks:
        if name == "reconstruction":
            specs.append(TaskSpec(name, "reconstruction", x.shape[1],
                                  description="rebuild the (scaled) input from the latent code"))
            continue
        spec = raw.specs[name]
        y = raw.targets[name]
        if spec.kind == "regression":
            # standardise targets on train statistics so task losses are on one scale
            mu, sd = y[idx[0]].mean(), y[idx[0]].std() or 1.0
            y = (y - mu) / sd
        specs.append(spec)
        ys[name] = y

    def make(ix: np.ndarray) -> Split:
        xs = torch.as_tensor(x[ix], dtype=torch.float32)
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
                         extras={**raw.extras, "split_indices": idx})
