"""The baseline a comparison uses and Δm against it (mtae_core.analysis.comparison), and
the gains measured on a data set (mtae_core.analysis.gains), on a store of runs with
hand-written test metrics (nothing is trained; ``store``: tests/conftest.py)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from mtae_core.analysis import (
    Baseline,
    baselines_of,
    delta_m_column,
    find_baseline,
    headline_metrics,
    higher_is_better,
    measured_gains,
    metric_columns,
    task_delta_frame,
)
from mtae_core.analysis.baselines import baseline_config
from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import RunStore

HARD = ExperimentConfig().replace(name="hard")  # digits: digit, parity, reconstruction
# the single-task run's test metrics, and the shared run's: +12.5 % on digit's accuracy,
# ±0 on parity's, +10 % on reconstruction's mse (lower is better); macro F1 is no headline
BASE_METRICS = {"digit": {"accuracy": 0.8, "macro_f1": 0.1},
                "parity": {"accuracy": 0.8}, "reconstruction": {"mse": 0.10}}
HARD_METRICS = {"digit": {"accuracy": 0.9, "macro_f1": 0.9},
                "parity": {"accuracy": 0.8}, "reconstruction": {"mse": 0.09}}
HARD_DELTA_M = (12.5 + 0.0 + 10.0) / 3


def _done(store: RunStore, cfg: ExperimentConfig, metrics: dict[str, Any]) -> int:
    run_id = store.create_run(cfg)
    store.finish(run_id, "done", test_metrics=metrics)
    return run_id


def _tables(store: RunStore) -> tuple[pd.DataFrame, dict[int, ExperimentConfig]]:
    return store.runs_table(), {r.id: r.config for r in store.runs()}


def _row(runs: pd.DataFrame, run_id: int) -> pd.Series:
    return runs[runs["id"] == run_id].iloc[0]


def test_the_newest_matched_baseline_is_used_before_a_newer_unmatched_one(store):
    hard = _done(store, HARD, HARD_METRICS)
    old_match = _done(store, baseline_config(HARD), BASE_METRICS)
    match = _done(store, baseline_config(HARD), BASE_METRICS)
    _done(store, baseline_config(HARD.replace(training={"epochs": 3})), BASE_METRICS)
    runs, configs = _tables(store)
    base = find_baseline(_row(runs, hard), runs, configs)
    assert base == Baseline(match, baseline_config(HARD).name, True, ())
    assert base.id != old_match


def test_without_a_matched_one_the_newest_is_used_and_what_differs_is_said(store):
    hard = _done(store, HARD, HARD_METRICS)
    _done(store, baseline_config(HARD.replace(training={"epochs": 3})), BASE_METRICS)
    newest = _done(store, baseline_config(HARD.replace(seed=5)), BASE_METRICS)
    runs, configs = _tables(store)
    base = find_baseline(_row(runs, hard), runs, configs)
    assert base is not None and (base.id, base.matched, base.differs) == (newest, False, ("seed",))
    # without configs nothing can be matched: the newest, its differences unknown
    assert find_baseline(_row(runs, hard), runs) == Baseline(newest, base.name, False, ())


def test_no_baseline_for_a_baseline_other_data_or_an_unfinished_one(store):
    hard = _done(store, HARD, HARD_METRICS)
    single = _done(store, baseline_config(HARD), BASE_METRICS)
    two_tasks = _done(store, HARD.replace(data={"tasks": ["digit", "parity"]}), HARD_METRICS)
    queued = store.create_run(baseline_config(HARD.replace(seed=1)))
    hard_seed_1 = _done(store, HARD.replace(seed=1), HARD_METRICS)
    runs, configs = _tables(store)
    assert find_baseline(_row(runs, single), runs, configs) is None  # itself a baseline
    assert find_baseline(_row(runs, two_tasks), runs, configs) is None  # other tasks
    # the queued matched baseline does not count: the finished one of seed 0 is used
    base = find_baseline(_row(runs, hard_seed_1), runs, configs)
    assert base is not None and base.id == single and base.id != queued and not base.matched
    assert find_baseline(_row(runs, hard), runs.iloc[0:0], configs) is None  # no candidates


def test_delta_m_is_the_mean_headline_change_over_the_baseline(store):
    hard = _done(store, HARD, HARD_METRICS)
    single = _done(store, baseline_config(HARD), BASE_METRICS)
    other = _done(store, HARD.replace(data={"tasks": ["digit", "parity"]}), HARD_METRICS)
    runs, configs = _tables(store)
    dm = delta_m_column(runs, runs, configs)
    assert list(dm.index) == list(runs.index)
    by_id = dict(zip(runs["id"], dm, strict=True))
    assert by_id[hard] == pytest.approx(HARD_DELTA_M)
    assert math.isnan(by_id[single]) and math.isnan(by_id[other])  # no baseline for these


def test_task_deltas_one_row_per_run_and_task(store):
    hard = _done(store, HARD, HARD_METRICS)
    _done(store, baseline_config(HARD), BASE_METRICS)
    runs, configs = _tables(store)
    frame = task_delta_frame(runs, runs, configs)
    assert list(frame.columns) == ["run_id", "run", "task", "metric", "delta"]
    got = {(r.task, r.metric): r.delta for r in frame.itertuples()}
    assert got == pytest.approx({("digit", "accuracy"): 12.5, ("parity", "accuracy"): 0.0,
                                 ("reconstruction", "mse"): 10.0})
    assert set(frame["run_id"]) == {hard} and set(frame["run"]) == {f"#{hard} hard"}


def test_headlines_and_directions_of_metric_columns(store):
    _done(store, HARD, HARD_METRICS)
    runs, _ = _tables(store)
    cols = metric_columns(runs)
    assert "digit · macro_f1" in cols and "name" not in cols
    assert headline_metrics(runs.iloc[0], cols) == {
        "digit · accuracy": 0.9, "parity · accuracy": 0.8, "reconstruction · mse": 0.09}
    assert higher_is_better("digit · accuracy") and not higher_is_better("reconstruction · mse")


def test_baselines_of_lists_finished_multi_task_runs_only(store):
    hard = _done(store, HARD, HARD_METRICS)
    _done(store, baseline_config(HARD), BASE_METRICS)
    store.create_run(HARD.replace(seed=2))  # queued
    runs, configs = _tables(store)
    notes = baselines_of(runs, runs, configs)
    assert [(int(row["id"]), base is not None and base.matched) for row, base in notes] == [
        (hard, True)]


def test_measured_gains_use_matched_baselines_only(store):
    assert measured_gains(store, "digits").empty  # an empty store
    hard = _done(store, HARD, HARD_METRICS)
    _done(store, baseline_config(HARD), BASE_METRICS)
    # trained with another budget than any single-task run: its gain is left out
    _done(store, HARD.replace(training={"epochs": 3}), HARD_METRICS)
    gains = measured_gains(store, "digits")
    assert set(gains["run_id"]) == {hard} and len(gains) == 3
    assert measured_gains(store, "synthetic_correlated").empty
