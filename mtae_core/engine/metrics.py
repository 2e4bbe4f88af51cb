"""Per-task metrics (scikit-learn) and the multi-task improvement over baselines (Δm)."""


from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from ..data.base import TaskSpec
from .metric_names import (  # light names, re-exported: the pages read them without torch
    HEADLINE_ORDER,
    METRIC_DIRECTION,
    METRIC_LABELS,
    headline_of,
    metric_label,
)

__all__ = ["HEADLINE_ORDER", "METRIC_DIRECTION", "METRIC_LABELS", "delta_m", "headline",
           "headline_of", "majority_classes", "metric_label", "task_deltas", "task_loss",
           "task_metrics"]

def majority_classes(specs: Sequence[TaskSpec], y: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The most common class of each classification task in ``y`` (the training split's
    targets; a tie goes to the lower class)."""
    return {s.name: int(torch.bincount(y[s.name].cpu(), minlength=s.n_classes or 0).argmax())
            for s in specs if s.kind == "classification" and len(y[s.name])}


def task_loss(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of one task: cross-entropy or mean squared error."""
    if spec.kind == "classification":
        return F.cross_entropy(out, y)
    if spec.kind == "regression":
        return F.mse_loss(out.squeeze(-1), y)
    return F.mse_loss(out, y)


def task_metrics(spec: TaskSpec, out: torch.Tensor, y: torch.Tensor,
                 majority: int | None = None) -> dict[str, float]:
    """Test metrics of one task from model outputs and targets. A binary task also gets
    ROC AUC and average precision of the positive class (class 1), the measures papers
    report for imbalanced tasks (left out when the targets hold one class: undefined);
    ``majority``, the training split's most common class, adds the accuracy of always
    guessing it."""
    o = out.detach().float().cpu().numpy()
    t = y.detach().cpu().numpy()
    if spec.kind == "classification":
        pred = o.argmax(axis=1)
        m = {
            "accuracy": float(accuracy_score(t, pred)),
            "macro_f1": float(f1_score(t, pred, average="macro", zero_division=0)),
            # macro recall over the classes present
            "balanced_accuracy": float(
                np.mean([np.mean(pred[t == c] == c) for c in np.unique(t)])
            ),
        }
        if spec.n_classes == 2 and len(np.unique(t)) == 2:
            # the positive class's probability; AUC and AP only need its ranking
            score = torch.softmax(torch.as_tensor(o, dtype=torch.float64), dim=1)[:, 1].numpy()
            m["auc"] = float(roc_auc_score(t, score))
            m["average_precision"] = float(average_precision_score(t, score))
        if majority is not None:
            m["majority_accuracy"] = float(np.mean(t == majority))
        return m
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
