"""Tables of the Compare page: per-task test metrics of chosen runs, the best value per
column, and Δm against a single-task baseline on the same data and tasks."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from mtae_core.metrics import METRIC_DIRECTION, delta_m, task_deltas

SEP = " · "  # runs_table names metric columns "<task> · <metric>"
BASELINE = "single_task"
DELTA_M = "Δm vs single-task (%)"
BEST_STYLE = "background-color: rgba(33, 195, 84, 0.25); font-weight: 600"


def metric_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in runs.columns if SEP in c]


def higher_is_better(column: str) -> bool:
    metric = column.rsplit(SEP, 1)[-1]
    return METRIC_DIRECTION.get(metric, True)


def row_label(row: pd.Series) -> str:
    return f"#{row['id']} {row['name']}"


def comparison_table(runs: pd.DataFrame, all_runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows: runs; columns: their test metrics (plus Δm where a baseline exists)."""
    cols = [c for c in metric_columns(runs) if runs[c].notna().any()]
    table = runs.set_index(runs.apply(row_label, axis=1))[cols].copy()
    table.index.name = "run"
    dm = delta_m_column(runs, runs if all_runs is None else all_runs)
    if dm.notna().any():
        table[DELTA_M] = dm.to_numpy()
    return table


def _headline(row: pd.Series, cols: Sequence[str]) -> dict[str, float]:
    """One metric per task: accuracy for classification, mse otherwise."""
    out: dict[str, float] = {}
    tasks = dict.fromkeys(c.rsplit(SEP, 1)[0] for c in cols)
    for task in tasks:
        for metric in ("accuracy", "mse"):
            col = f"{task}{SEP}{metric}"
            if col in row and pd.notna(row[col]):
                out[col] = float(row[col])
                break
    return out


def find_baseline(row: pd.Series, candidates: pd.DataFrame) -> pd.Series | None:
    """The newest finished single-task run on the same data set and tasks, if any."""
    if row.get("sharing") == BASELINE or candidates.empty:
        return None
    same = candidates[(candidates["sharing"] == BASELINE) & (candidates["status"] == "done")
                      & (candidates["dataset"] == row["dataset"])
                      & (candidates["tasks"] == row["tasks"])]
    if same.empty:
        return None
    return same.sort_values("id").iloc[-1]


def _against_baseline(row: pd.Series, candidates: pd.DataFrame
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, bool]] | None:
    """(the run's headline metrics, its single-task baseline's, which way each points),
    keyed by metric column; None for a run not finished or without a baseline."""
    base = find_baseline(row, candidates)
    if base is None or row.get("status") != "done":
        return None
    cols = metric_columns(candidates)
    b = _headline(base, cols)
    return _headline(row, cols), b, {k: higher_is_better(k) for k in b}


def delta_m_column(runs: pd.DataFrame, candidates: pd.DataFrame) -> pd.Series:
    """Δm in percent of each run over its single-task baseline (NaN when there is none)."""
    values = []
    for _, row in runs.iterrows():
        pair = _against_baseline(row, candidates)
        values.append(delta_m(*pair) if pair else float("nan"))
    return pd.Series(values, index=runs.index, dtype=float)


def task_delta_frame(runs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Which tasks gain and which lose from training together: one row per (run, task)
    with the change (%) of the task's headline metric over the single-task baseline,
    positive = better. Runs without a baseline are left out."""
    rows = []
    for _, row in runs.iterrows():
        pair = _against_baseline(row, candidates)
        for col, delta in (task_deltas(*pair) if pair else {}).items():
            task, metric = col.rsplit(SEP, 1)
            rows.append((row_label(row), task, metric, delta))
    return pd.DataFrame(rows, columns=["run", "task", "metric", "delta"])


def style_best(table: pd.DataFrame) -> Styler:
    """Highlight the best value of each column (higher or lower, by metric)."""
    styler = table.style.format(precision=4, na_rep="–")
    for col in table.columns:
        if table[col].notna().sum() < 2:
            continue
        higher = True if col == DELTA_M else higher_is_better(col)
        styler = styler.highlight_max(subset=[col], props=BEST_STYLE) if higher \
            else styler.highlight_min(subset=[col], props=BEST_STYLE)
    return styler
