"""The metrics papers report (issue 22): ROC AUC and average precision of binary tasks,
balanced accuracy by that name, each classification task's majority-class baseline, and
AUC as the headline metric a binary task's Δm, "best" and verdicts use. Hand-computed."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.data import TaskSpec
from mtae_core.engine.metric_names import headline_of, metric_label
from mtae_core.engine.metrics import majority_classes, task_metrics
from mtae_core.engine.training import train

BINARY = TaskSpec("income", "classification", 2, 2)


def _logits(p1: list[float]) -> torch.Tensor:
    """Outputs whose softmax gives class 1 the probability ``p1``."""
    p = torch.tensor(p1, dtype=torch.float64)
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], dim=1)


def test_auc_and_average_precision_by_hand():
    y = torch.tensor([0, 0, 1, 1])
    m = task_metrics(BINARY, _logits([0.1, 0.4, 0.35, 0.8]), y)
    # positive-negative pairs ranked right: (.35 > .1), (.8 > .1), (.8 > .4); not .35 < .4
    assert m["auc"] == pytest.approx(3 / 4)
    # ranked by score: pos (.8), neg (.4), pos (.35), neg: precision 1/1 and 2/3 at the two
    # positives, each half of the recall
    assert m["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    # predicted (p > .5): 0, 0, 0, 1: class 0 all right, class 1 half
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["balanced_accuracy"] == pytest.approx((1 + 1 / 2) / 2)
    assert "recall" not in m  # named for what it is


def test_balanced_accuracy_differs_from_accuracy_on_an_imbalanced_task():
    y = torch.tensor([0] * 9 + [1])
    m = task_metrics(BINARY, _logits([0.2] * 10), y)  # always "0"
    assert m["accuracy"] == pytest.approx(0.9) and m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(0.5)  # one score for all: no ranking at all


def test_majority_baseline_by_hand():
    train_y = {"income": torch.tensor([0, 0, 0, 1, 1])}
    assert majority_classes([BINARY], train_y) == {"income": 0}
    # "always guessing ≤50K": 15 of 16 test people earn ≤50K
    y = torch.tensor([0] * 15 + [1])
    m = task_metrics(BINARY, _logits([0.3] * 16), y, majority=0)
    assert m["majority_accuracy"] == pytest.approx(15 / 16)
    # a tie goes to the lower class; regression tasks have none
    tie = {"income": torch.tensor([1, 0]), "r": torch.tensor([0.5, 1.0])}
    assert majority_classes([BINARY, TaskSpec("r", "regression", 1)], tie) == {"income": 0}


def test_multiclass_has_no_auc_and_a_one_class_split_leaves_it_out():
    three = TaskSpec("digit", "classification", 3, 3)
    m = task_metrics(three, torch.eye(3)[[0, 1, 2, 2]], torch.tensor([0, 1, 2, 1]))
    assert "auc" not in m and m["accuracy"] == pytest.approx(3 / 4)
    one = task_metrics(BINARY, _logits([0.2, 0.7]), torch.tensor([1, 1]))
    assert "auc" not in one and "average_precision" not in one  # undefined, not NaN


def test_the_headline_of_a_binary_task_is_auc():
    assert BINARY.metric == "auc"
    assert TaskSpec("digit", "classification", 10, 10).metric == "accuracy"
    assert TaskSpec("mass", "regression", 1).metric == "mse"
    assert metric_label("auc") == "ROC AUC"
    # older runs stored macro recall as "recall": it reads as what it is
    assert metric_label("recall") == metric_label("balanced_accuracy") == "balanced accuracy"


def test_headline_of_stored_runs_uses_what_every_run_has():
    new = {"accuracy": 0.9, "auc": 0.8}
    old = {"accuracy": 0.85}  # stored before AUC was measured
    assert headline_of([new, new]) == "auc"
    assert headline_of([new, old]) == "accuracy"  # both sides compared on one metric
    assert headline_of([{"mse": 1.0}]) == "mse"
    assert headline_of([]) is None


def test_a_run_stores_auc_ap_and_the_majority_baseline():
    cfg = ExperimentConfig().replace(
        data={"dataset": "breast_cancer", "tasks": ["diagnosis", "reconstruction"]},
        training={"epochs": 2, "batch_size": 64, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
    r = train(cfg)
    assert r.status == "done", r.reason
    for report in (r.test_metrics, r.val_metrics):
        m = report["diagnosis"]
        assert {"auc", "average_precision", "balanced_accuracy", "majority_accuracy"} <= set(m)
        assert 0.5 < m["majority_accuracy"] < 0.75  # about 63% of the tumours are benign
        assert 0.0 <= m["auc"] <= 1.0
    assert "majority_accuracy" not in r.test_metrics["reconstruction"]


def test_compare_delta_m_uses_auc_and_falls_back_to_what_both_runs_have():
    from ui.compare.tables import delta_m_column

    def row(i: int, sharing: str, **metrics: float) -> dict:
        return {"id": i, "name": f"r{i}", "status": "done", "sharing": sharing,
                "dataset": "census_income", "tasks": "income",
                **{f"income · {k}": v for k, v in metrics.items()}}

    base = row(1, "single_task", accuracy=0.95, auc=0.80)
    mtl = row(2, "hard", accuracy=0.95, auc=0.88)  # same accuracy, better ranking
    runs = pd.DataFrame([base, mtl])
    dm = delta_m_column(runs, runs)
    assert dm.iloc[1] == pytest.approx(100 * (0.88 - 0.80) / 0.80)  # AUC, not accuracy
    old_base = row(3, "single_task", accuracy=0.90)  # an older run: accuracy only
    runs = pd.DataFrame([old_base, mtl])
    dm = delta_m_column(runs, runs)
    assert dm.iloc[1] == pytest.approx(100 * (0.95 - 0.90) / 0.90)
    assert math.isnan(dm.iloc[0])
