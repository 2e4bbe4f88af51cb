"""Measured transfer: how much each task gained from sharing, from the store's finished
runs, against matched single-task baselines only (the Data page's "did relatedness
predict transfer?", next to the relatedness measured before training)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .comparison import TASK_DELTA_COLUMNS, baselines_of, task_delta_frame

if TYPE_CHECKING:
    from ..store.runs import RunStore


def measured_gains(store: RunStore, dataset: str) -> pd.DataFrame:
    """Each finished sharing run on ``dataset`` against its matched single-task baseline:
    one row per (run, task) with the change (%) of the task's headline metric (columns
    run_id, run, task, metric, delta). Runs whose baseline is not matched are left out."""
    runs = store.runs_table()
    if runs.empty:
        return pd.DataFrame(columns=TASK_DELTA_COLUMNS)
    configs = {r.id: r.config for r in store.runs()}
    mine = runs[runs["dataset"] == dataset]
    # only runs with a matched baseline (same data, budget, optimizer, seeds): a gain
    # against a baseline trained otherwise would not measure transfer
    matched = [int(row["id"]) for row, base in baselines_of(mine, runs, configs)
               if base is not None and base.matched]
    return task_delta_frame(mine[mine["id"].isin(matched)], runs, configs)
