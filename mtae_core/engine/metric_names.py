"""The metrics' names, directions and words, and which one is a task's headline: light
(no torch), for the pages and the summaries."""

from __future__ import annotations

from collections.abc import Collection, Iterable

# the headline metrics, most specific first: a binary task's is ROC AUC (accuracy hides an
# imbalanced task: always guessing "≤50K" scores 94% on Census-Income), another
# classification task's accuracy, the rest's mean squared error (``TaskSpec.metric``)
HEADLINE_ORDER = ("auc", "accuracy", "mse")

# metric name -> higher is better. "recall": what runs stored before "balanced_accuracy"
# (the same number, macro recall); "majority_accuracy": the accuracy of always guessing
# the training split's most common class, the floor a classifier must beat
METRIC_DIRECTION: dict[str, bool] = {
    "accuracy": True, "balanced_accuracy": True, "macro_f1": True, "recall": True,
    "auc": True, "average_precision": True, "majority_accuracy": True,
    "r2": True, "mse": False, "loss": False,
}
# the words a reader sees for a stored metric key
METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
    "recall": "balanced accuracy", "macro_f1": "macro F1", "auc": "ROC AUC",
    "average_precision": "average precision", "majority_accuracy": "majority-class accuracy",
    "r2": "R²", "mse": "MSE", "loss": "loss",
}


def metric_label(key: str) -> str:
    """The plain name of a stored metric key ("auc" → "ROC AUC")."""
    return METRIC_LABELS.get(key, key.replace("_", " "))


def headline_of(keys: Iterable[Collection[str]]) -> str | None:
    """The headline metric of a task from the metric keys its runs stored (one collection
    per run): the first of ``HEADLINE_ORDER`` every run has, else the first any run has
    (runs stored before AUC was measured have accuracy only: a comparison then uses the
    metric both sides have). None: no run stored one."""
    runs = [set(k) for k in keys]
    for pool in (set.intersection(*runs) if runs else set(), set().union(*runs)):
        for m in HEADLINE_ORDER:
            if m in pool:
                return m
    return None


