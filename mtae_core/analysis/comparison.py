"""Which single-task run a comparison uses, and Δm against it.

The rule, one place for the Compare page, the Data page, the CLI and a notebook: a
multi-task run is compared with a finished ``single_task`` run on the same data set and
tasks — the newest *matched* one (``baselines.is_matched_baseline``: same everything but
what a single-task network must differ in) when there is one, else the newest, with the
settings it differs in said. Runs come as rows of ``RunStore.runs_table`` (metric columns
``"<task> · <metric>"``), their configs as a mapping from run id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..config import ExperimentConfig
from ..engine.metric_names import headline_of
from ..engine.metrics import METRIC_DIRECTION, delta_m, task_deltas
from .baselines import BASELINE, differences, is_matched_baseline

SEP = " · "  # RunStore.runs_table names metric columns "<task> · <metric>"

Configs = Mapping[int, ExperimentConfig]


@dataclass(frozen=True)
class Baseline:
    """The single-task run a run's Δm is computed against."""

    id: int
    name: str
    matched: bool  # differs in nothing but what a single-task baseline must differ in
    differs: tuple[str, ...]  # dotted config paths it differs in (besides those)


def metric_columns(runs: pd.DataFrame) -> list[str]:
    """The metric columns of a runs table (``"<task> · <metric>"``)."""
    return [c for c in runs.columns if SEP in c]


def higher_is_better(column: str) -> bool:
    """Which way a metric column points (unknown metrics: higher is better)."""
    metric = column.rsplit(SEP, 1)[-1]
    return METRIC_DIRECTION.get(metric, True)


def row_label(row: pd.Series) -> str:
    """A run as a table row names it: ``"#3 digits · hard · equal"``."""
    return f"#{row['id']} {row['name']}"


def headline_metrics(row: pd.Series, cols: Sequence[str], other: pd.Series | None = None
                     ) -> dict[str, float]:
    """One metric per task of ``row``, keyed by metric column: the engine's headline
    (``headline_of``: ROC AUC for a binary task, accuracy for another classification task,
    else MSE), the one ``row`` and ``other`` (its baseline, if given) both have, so a run
    stored before a metric existed is still compared on a metric both runs report."""
    out: dict[str, float] = {}
    tasks = dict.fromkeys(c.rsplit(SEP, 1)[0] for c in cols)
    rows = [row] if other is None else [row, other]
    for task in tasks:
        keys = [{c.rsplit(SEP, 1)[1] for c in cols if c.rsplit(SEP, 1)[0] == task
                 and c in r and pd.notna(r[c])} for r in rows]
        metric = headline_of(keys) if all(keys) else None
        if metric is not None and metric in keys[0]:
            out[f"{task}{SEP}{metric}"] = float(row[f"{task}{SEP}{metric}"])
    return out


def find_baseline(row: pd.Series, candidates: pd.DataFrame,
                  configs: Configs | None = None) -> Baseline | None:
    """The single-task run to compare ``row`` with: among finished ``single_task`` runs on
    the same data set and tasks, the newest matched one (``is_matched_baseline``), else
    the newest, with the settings it differs in. None when there is none (or ``row`` is
    a baseline itself). Without ``configs`` (or without ``row`` 's config) nothing can be
    matched: the newest, its differences unknown."""
    if row.get("sharing") == BASELINE or candidates.empty:
        return None
    same = candidates[(candidates["sharing"] == BASELINE) & (candidates["status"] == "done")
                      & (candidates["dataset"] == row["dataset"])
                      & (candidates["tasks"] == row["tasks"])].sort_values("id")
    if same.empty:
        return None
    cfg = configs.get(int(row["id"])) if configs is not None else None
    if configs is None or cfg is None:
        newest = same.iloc[-1]
        return Baseline(int(newest["id"]), str(newest["name"]), False, ())
    found = [(int(b["id"]), str(b["name"]), configs[int(b["id"])])
             for _, b in same.iterrows() if int(b["id"]) in configs]
    if not found:
        return None
    matched = [f for f in found if is_matched_baseline(f[2], cfg)]
    run_id, name, base = (matched or found)[-1]
    return Baseline(run_id, name, bool(matched),
                    tuple(differences(base, cfg, ignore_baseline_free=True)))


def _against_baseline(row: pd.Series, candidates: pd.DataFrame, configs: Configs | None
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, bool]] | None:
    """(the run's headline metrics, its single-task baseline's, which way each points),
    keyed by metric column; None for a run not finished or without a baseline."""
    base = find_baseline(row, candidates, configs)
    if base is None or row.get("status") != "done":
        return None
    cols = metric_columns(candidates)
    base_row = candidates[candidates["id"] == base.id].iloc[0]
    b = headline_metrics(base_row, cols, row)
    return headline_metrics(row, cols, base_row), b, {k: higher_is_better(k) for k in b}


def delta_m_column(runs: pd.DataFrame, candidates: pd.DataFrame,
                   configs: Configs | None = None) -> pd.Series:
    """Δm in percent of each run of ``runs`` over its single-task baseline among
    ``candidates`` (NaN when there is none), indexed as ``runs``."""
    values = []
    for _, row in runs.iterrows():
        pair = _against_baseline(row, candidates, configs)
        values.append(delta_m(*pair) if pair else float("nan"))
    return pd.Series(values, index=runs.index, dtype=float)


TASK_DELTA_COLUMNS = ["run_id", "run", "task", "metric", "delta"]


def task_delta_frame(runs: pd.DataFrame, candidates: pd.DataFrame,
                     configs: Configs | None = None) -> pd.DataFrame:
    """Which tasks gain and which lose from training together: one row per (run, task)
    with the change (%) of the task's headline metric over the single-task baseline,
    positive = better. Runs without a baseline are left out."""
    rows = []
    for _, row in runs.iterrows():
        pair = _against_baseline(row, candidates, configs)
        for col, delta in (task_deltas(*pair) if pair else {}).items():
            task, metric = col.rsplit(SEP, 1)
            rows.append((int(row["id"]), row_label(row), task, metric, delta))
    return pd.DataFrame(rows, columns=TASK_DELTA_COLUMNS)


def baselines_of(runs: pd.DataFrame, candidates: pd.DataFrame, configs: Configs
                 ) -> list[tuple[pd.Series, Baseline | None]]:
    """Each finished multi-task run of ``runs`` with the baseline its Δm uses (or None)."""
    return [(row, find_baseline(row, candidates, configs)) for _, row in runs.iterrows()
            if row.get("status") == "done" and row.get("sharing") != BASELINE]
