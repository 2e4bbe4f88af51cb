"""Task relatedness before training: how much the tasks' labels say about each other, and
whether their gradients agree on a shared encoder at initialisation.

- label relatedness: Pearson and Spearman correlation between regression targets
  (scipy), normalised mutual information between class labels (scikit-learn, normalised
  by the smaller entropy), and the
  correlation ratio η between a class label and a regression target;
- gradient agreement: the cosine between the tasks' gradients on the shared encoder of a
  freshly initialised hard-shared model, averaged over a few batches and seeds; each
  task's (linear) head is first fitted to that encoder, since through an untouched random
  head every pair's cosine is about 0.

The idea the dashboard teaches: sharing tends to help related tasks and hurt unrelated
ones (Caruana 1997; Standley et al. 2020 measure where it holds and where it does not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.metrics import normalized_mutual_info_score

from ..config import ExperimentConfig
from ..data import MultiTaskData, datasets, load
from ..engine.metrics import task_loss
from ..weighting.diagnostics import task_gradient_cosine

STRONG, WEAK = 0.5, 0.2  # strength thresholds of the readings
MAX_ROWS = 20000  # label relatedness on a seeded sample of larger tables: enough to be stable


def correlation_ratio(classes: np.ndarray, values: np.ndarray) -> float:
    """η: the share of a regression target's spread explained by a class label, as a
    correlation in [0, 1] (sqrt of between-class over total sum of squares)."""
    frame = pd.DataFrame({"c": classes, "v": values.astype(np.float64)})
    total = float(((frame["v"] - frame["v"].mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    g = frame.groupby("c")["v"].agg(["mean", "size"])
    between = float((g["size"] * (g["mean"] - frame["v"].mean()) ** 2).sum())
    return float(np.sqrt(between / total))


def _present(y: np.ndarray, kind: str) -> np.ndarray:
    return (y >= 0) if kind == "classification" else ~np.isnan(y)


def label_relatedness(targets: Mapping[str, np.ndarray], kinds: Mapping[str, str]
                      ) -> dict[str, pd.DataFrame]:
    """Task × task matrices ("pearson", "spearman", "nmi", "correlation_ratio") over the
    rows where both tasks have a value, NaN where a measure does not apply, and
    "strength" in [0, 1]: |Pearson| between regressions, NMI between classes, η between
    a class and a regression; 1 on the diagonal. Missing: NaN or a class of -1."""
    names = [t for t in targets if kinds[t] in ("classification", "regression")]
    out = {k: pd.DataFrame(np.nan, index=names, columns=names)
           for k in ("pearson", "spearman", "nmi", "correlation_ratio", "strength")}
    for i, a in enumerate(names):
        out["strength"].loc[a, a] = 1.0
        for b in names[i + 1:]:
            ya, yb = np.asarray(targets[a]), np.asarray(targets[b])
            both = _present(ya, kinds[a]) & _present(yb, kinds[b])
            ya, yb = ya[both], yb[both]
            if len(ya) < 3:
                continue
            ka, kb = kinds[a], kinds[b]
            if ka == kb == "regression":
                if np.ptp(ya) == 0 or np.ptp(yb) == 0:
                    values = {"pearson": 0.0, "spearman": 0.0}
                else:
                    values = {"pearson": float(stats.pearsonr(ya, yb).statistic),
                              "spearman": float(stats.spearmanr(ya, yb).statistic)}
                strength = abs(values["pearson"])
            elif ka == kb == "classification":
                # normalised by the smaller entropy: a label that fixes another (digit →
                # parity) scores 1, as it should for "does knowing one help the other"
                values = {"nmi": float(normalized_mutual_info_score(ya, yb, average_method="min"))}
                strength = values["nmi"]
            else:
                cls, val = (ya, yb) if ka == "classification" else (yb, ya)
                values = {"correlation_ratio": correlation_ratio(cls, val)}
                strength = values["correlation_ratio"]
            values["strength"] = strength
            for k, v in values.items():
                out[k].loc[a, b] = out[k].loc[b, a] = v
    return out


HEAD_STEPS = 60  # steps fitting the heads to a fresh encoder before measuring


def _fit_heads(model: Any, data: MultiTaskData, rows: torch.Tensor) -> None:
    """Fit every task's head to the frozen, freshly initialised encoder (Adam, full batch
    of ``rows``). Without this, each gradient passes through a random head and points in
    a random direction: the cosine is about 0 for every pair, related or not (measured).
    The encoder is frozen, so its code is computed once and only the heads run."""
    model.eval()
    xb = data.train.x[rows]
    with torch.no_grad():
        z = model(xb).latents["shared"]  # (rows, latent): a plain autoencoder's code
    heads = model.heads
    params = [p for name in data.task_names for p in heads[name].parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(HEAD_STEPS):
        opt.zero_grad(set_to_none=True)
        torch.stack([task_loss(s, heads[s.name](z), xb if s.kind == "reconstruction"
                               else data.train.y[s.name][rows]) for s in data.tasks]).sum().backward()
        opt.step()


def gradient_cosine(cfg: ExperimentConfig, data: MultiTaskData | None = None,
                    seeds: Sequence[int] = (0, 1, 2), batches: int = 4,
                    batch_size: int = 256) -> pd.DataFrame:
    """Mean cosine between the tasks' gradients on the shared encoder of freshly
    initialised hard-shared models (one per seed, ``batches`` random training batches
    each), with linear task heads first fitted to that encoder (``_fit_heads``). Near 1:
    the tasks pull the encoder the same way; below 0: they conflict."""

    # a plain encoder, linear heads (a convex fit: identical tasks get identical heads)
    cfg = cfg.replace(model={"sharing": "hard", "autoencoder": "plain", "dropout": 0.0,
                             "head_hidden": 0, "batch_norm": False, "options": {}})
    data = data if data is not None else load(cfg.data)  # drawn by the data seed
    threads = torch.get_num_threads()
    # small models: one thread is faster, and on a busy machine several threads spinning
    # against other processes made this 30× slower (measured: 54 s against 1.6 s)
    torch.set_num_threads(1)
    try:
        return _gradient_cosine(cfg, data, seeds, batches, batch_size)
    finally:
        torch.set_num_threads(threads)


def _gradient_cosine(cfg: ExperimentConfig, data: MultiTaskData, seeds: Sequence[int],
                     batches: int, batch_size: int) -> pd.DataFrame:
    from ..engine.training import build

    names = data.task_names
    total = np.zeros((len(names), len(names)))
    n = 0
    size = min(batch_size, len(data.train))
    for seed in seeds:
        _, model = build(cfg.replace(seed=int(seed)), data)
        gen = torch.Generator().manual_seed(int(seed))
        _fit_heads(model, data, torch.randperm(len(data.train), generator=gen)[:2 * size])
        for _ in range(batches):
            idx = torch.randint(0, len(data.train), (size,), generator=gen)
            xb = data.train.x[idx]
            out = model(xb)
            losses = torch.stack([task_loss(s, out.outputs[s.name], xb if s.kind == "reconstruction"
                                            else data.train.y[s.name][idx]) for s in data.tasks])
            total += np.asarray(task_gradient_cosine(model, losses))
            n += 1
    return pd.DataFrame(total / max(n, 1), index=names, columns=names)


def _targets(data: MultiTaskData, seed: int) -> dict[str, np.ndarray]:
    """Every split's labels together, sampled down to ``MAX_ROWS`` rows."""
    out: dict[str, np.ndarray] = {}
    for spec in data.tasks:
        if spec.kind == "reconstruction":
            continue
        out[spec.name] = np.concatenate([s.y[spec.name].numpy() for s in (data.train, data.val,
                                                                           data.test)])
    n = len(next(iter(out.values()))) if out else 0
    if n > MAX_ROWS:
        keep = np.random.default_rng(seed).choice(n, MAX_ROWS, replace=False)
        out = {k: v[keep] for k, v in out.items()}
    return out


def reading(a: str, b: str, strength: float | None, cosine: float | None) -> str:
    """One line a class can read: how related two tasks are, and what that predicts."""
    if strength is not None and not np.isnan(strength):
        if strength >= STRONG:
            return (f"{a} and {b} are strongly related ({strength:.2f}): sharing is likely "
                    "to help")
        if strength >= WEAK:
            return f"{a} and {b} are somewhat related ({strength:.2f}): sharing may help a little"
        return (f"{a} and {b} are barely related ({strength:.2f}): sharing may not help, "
                "and may hurt")
    if cosine is None or np.isnan(cosine):
        return f"{a} and {b}: no measure applies"
    if cosine >= WEAK:
        return (f"{a} and {b} pull the shared encoder the same way (gradient cosine "
                f"{cosine:.2f}): sharing is likely to help")
    if cosine <= -0.1:
        return (f"{a} and {b} pull the shared encoder in opposite ways (gradient cosine "
                f"{cosine:.2f}): sharing may hurt one of them")
    return (f"{a} and {b} barely interact on the shared encoder (gradient cosine "
            f"{cosine:.2f}): sharing may not matter much")


def readings(strength: pd.DataFrame, cosine: pd.DataFrame) -> list[str]:
    """One line per pair of tasks, the most related pairs first."""
    names = list(cosine.index)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            s = float(strength.loc[a, b]) if a in strength.index and b in strength.index else None
            c = float(cosine.loc[a, b])
            key = s if s is not None and not np.isnan(s) else c
            pairs.append((-key, reading(a, b, s, c)))
    return [line for _, line in sorted(pairs)]


def _frame_json(df: pd.DataFrame) -> dict[str, Any]:
    return {"tasks": list(df.index),
            "values": [[None if np.isnan(v) else round(float(v), 4) for v in row]
                       for row in df.to_numpy()]}


def dataset_report(dataset: str, tasks: Sequence[str] | None = None,
                   options: Mapping[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Rows, inputs, tasks (kinds, class counts) and relatedness of a data set's tasks, as
    JSON-ready data (``mtae data show --json``). Cached by the validated config, whose
    options hold a stored table's content hash."""
    data: dict[str, Any] = {"dataset": dataset, "options": dict(options or {})}
    if tasks:  # left out: the data set's default tasks
        data["tasks"] = list(tasks)
    cfg = ExperimentConfig.parse({"seed": seed, "data": data})
    return json.loads(_report(cfg.data.model_dump_json(), seed))  # type: ignore[no-any-return]


@lru_cache(maxsize=2)
def _loaded(data_json: str) -> MultiTaskData:
    return load(ExperimentConfig.parse({"data": json.loads(data_json)}).data)


def loaded(data_cfg: Any) -> MultiTaskData:
    """``load`` of a validated ``DataConfig``, the last two kept (the Data page reads the
    labels of the data set whose relatedness it just measured). Do not modify it."""
    return _loaded(data_cfg.model_dump_json())


@lru_cache(maxsize=16)
def _report(data_json: str, seed: int) -> str:
    cfg = ExperimentConfig.parse({"seed": seed, "data": json.loads(data_json)})
    data = _loaded(data_json)
    ds = datasets.get(cfg.data.dataset)
    targets = _targets(data, seed)
    kinds = {s.name: s.kind for s in data.tasks}
    labels = label_relatedness(targets, kinds)
    cosine = gradient_cosine(cfg, data)
    classes = data.extras.get("classes", {})
    task_rows = []
    for s in data.tasks:
        row: dict[str, Any] = {"name": s.name, "kind": s.kind, "description": s.description}
        if s.kind == "classification":
            counts = np.bincount(targets[s.name][targets[s.name] >= 0], minlength=s.n_classes or 0)
            names = classes.get(s.name) or [str(i) for i in range(len(counts))]
            row["class_counts"] = {str(names[i]): int(c) for i, c in enumerate(counts)}
        task_rows.append(row)
    raw_columns = getattr(ds.Options, "columns", ())
    inputs = [c for c in raw_columns if c not in cfg.data.tasks] or [f"x{i}" for i in range(data.input_dim)]
    rows = len(data.train) + len(data.val) + len(data.test)
    report = {
        "dataset": cfg.data.dataset, "summary": ds.summary(), "rows": rows,
        "input_dim": data.input_dim, "inputs": inputs, "tasks": task_rows,
        "options": cfg.data.options,
        "relatedness": {k: _frame_json(v) for k, v in labels.items()},
        "gradient_cosine": _frame_json(cosine),
        "readings": readings(labels["strength"], cosine),
    }
    return json.dumps(report)
