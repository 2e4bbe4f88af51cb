"""Per-task metrics (scikit-learn) and the multi-task improvement over baselines (Δm)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score

from ..data.base import TaskSpec

# metric name -> higher is better
METRIC_DIRECTION: dict[str, bool] = {
    "accuracy": True, "macro_f1": True, "recall": True, "r2": True, "mse": False, "loss": False,
}


def task_loss(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of one task: cross-entropy or mean squared error."""
    if spec.kind == "classification":
        return F.cross_entropy(out, y)
    if spec.kind == "regression":
        return F.mse_loss(out.squeeze(-1), y)
    return F.mse_loss(out, y)


def task_metrics(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test metrics of one task from model outputs and targets."""
    o = out.detach().float().cpu().numpy()
    t = y.detach().cpu().numpy()
    if spec.kind == "classification":
        pred = o.argmax(axis=1)
        return {
            "accuracy": float(accuracy_score(t, pred)),
            "macro_f1": float(f1_score(t, pred, average="macro", zero_division=0)),
            "recall": float(
                np.mean([np.mean(pred[t == c] == c) for c in np.unique(t)])
            ),  # macro recall = balanced accuracy
        }
    if spec.kind == "regression":
        o = o.reshape(-1)
        return {"mse": float(mean_squared_error(t, o)), "r2": float(r2_score(t, o))}
    return {"mse": float(mean_squared_error(t.reshape(len(t), -1), o.reshape(len(o), -1)))}


def task_deltas(
    mtl: Mapping[str, float], baseline: Mapping[str, float], higher_is_better: Mapping[str, bool]
) -> dict[str, float]:
    """Relative improvement of each metric over the single-task baseline, in percent;
    positive = better, whichever way the metric points (the terms of Δm)."""
    out = {}
    for key, b in baseline.items():
        if key not in mtl or b == 0:
            continue
        sign = 1.0 if higher_is_better[key] else -1.0
        out[key] = 100.0 * sign * (mtl[key] - b) / abs(b)
    return out


def delta_m(
    mtl: Mapping[str, float], baseline: Mapping[str, float], higher_is_better: Mapping[str, bool]
) -> float:
    """Δm (Maninis et al. 2019): mean relative improvement over the single-task baseline,
    in percent; each term's sign flips for metrics where lower is better."""
    terms = list(task_deltas(mtl, baseline, higher_is_better).values())
    return float(np.mean(terms)) if terms else float("nan")


def headline(specs: Sequence[TaskSpec]) -> dict[str, str]:
    return {s.name: s.metric for s in specs}
