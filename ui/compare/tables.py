"""Tables of the Compare page: per-task test metrics of chosen runs, the run best on
validation per column, and Δm against a single-task baseline. Which baseline and the Δm
itself are the engine's (``mtae_core.analysis.comparison``: a matched one when there is
one, else the newest on the same data and tasks, with what differs said); this module
lays them out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from mtae_core.analysis.comparison import (  # (names other ui modules read from here too)
    SEP,
    Configs,
    delta_m_column,
    higher_is_better,
    metric_columns,
    row_label,
)

__all__ = ["BEST_STYLE", "DELTA_M", "SEP", "Configs", "comparison_table", "curve_rows",
           "distinguishing_names", "flatten", "higher_is_better", "metric_columns",
           "row_label", "style_best", "validation_table"]

DELTA_M = "Δm vs single-task (%)"
BEST_STYLE = "background-color: rgba(33, 195, 84, 0.25); font-weight: 600"


def curve_rows(metrics: pd.DataFrame, labels: Mapping[int, str], task: str,
               split: str) -> pd.DataFrame:
    """The numbers of one loss chart (``charts.compare_curves``): run, epoch (from 1), loss."""
    if metrics.empty:
        return pd.DataFrame(columns=["run_id", "run", "epoch", "loss"])
    d = metrics[(metrics["metric"] == "loss") & (metrics["task"] == task)
                & (metrics["split"] == split) & metrics["run_id"].isin(list(labels))]
    d = d.sort_values(["run_id", "epoch"])
    return pd.DataFrame({"run_id": d["run_id"], "run": d["run_id"].map(labels),
                         "epoch": d["epoch"] + 1, "loss": d["value"]})


def comparison_table(runs: pd.DataFrame, all_runs: pd.DataFrame | None = None,
                     configs: Configs | None = None) -> pd.DataFrame:
    """Rows: runs; columns: their test metrics (plus Δm where a baseline exists)."""
    cols = [c for c in metric_columns(runs) if runs[c].notna().any()]
    table = runs.set_index(runs.apply(row_label, axis=1))[cols].copy()
    table.index.name = "run"
    dm = delta_m_column(runs, runs if all_runs is None else all_runs, configs)
    if dm.notna().any():
        table[DELTA_M] = dm.to_numpy()
    return table


def validation_table(table: pd.DataFrame, runs: pd.DataFrame,
                     val_metrics: Mapping[int, Mapping[str, Mapping[str, float]]]
                     ) -> pd.DataFrame | None:
    """``table`` 's shape filled with each run's validation metrics (``Run.val_metrics``,
    ``{task: {metric: value}}``); None when no chosen run recorded any."""
    if not any(val_metrics.get(int(i)) for i in runs["id"]):
        return None
    out = pd.DataFrame(index=table.index, columns=table.columns, dtype=float)
    for label, run_id in zip(table.index, runs["id"], strict=True):
        for col in table.columns:
            if SEP not in col:
                continue
            task, metric = col.rsplit(SEP, 1)
            value = (val_metrics.get(int(run_id)) or {}).get(task, {}).get(metric)
            out.loc[label, col] = float("nan") if value is None else float(value)
    return out


def style_best(table: pd.DataFrame, validation: pd.DataFrame | None = None) -> Styler:
    """Highlight per column the run that is best on *validation* (``validation_table``):
    picking the best test value would be selection on the test set. Without validation
    metrics nothing is highlighted. Δm is a test figure: never highlighted."""
    styler = table.style.format(precision=4, na_rep="–")
    if validation is None:
        return styler
    for col in table.columns:
        if col not in validation.columns or validation[col].notna().sum() < 2:
            continue
        val = validation[col].astype(float)
        best = val.idxmax() if higher_is_better(col) else val.idxmin()
        styler = styler.apply(
            lambda s, best=best: [BEST_STYLE if i == best else "" for i in s.index],
            subset=[col])
    return styler


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """A config dict as dotted path → value (lists as tuples; empty objects left out)."""
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tuple(d) if isinstance(d, list) else d}


# the settings that tell runs apart first; values only for the choices, "label value" else
_FIRST = ["model.sharing", "weighting.strategy", "model.autoencoder", "schedule.kind",
          "data.dataset", "data.tasks"]
_SHORT = {"training.epochs": "epochs", "optimizer.lr": "lr", "model.latent_dim": "latent",
          "model.hidden": "hidden", "training.batch_size": "batch", "optimizer.kind": "",
          "data.options.correlation": "p"}
MAX_PARTS = 4


def _part(path: str, value: Any) -> str:
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    if path in _FIRST or _SHORT.get(path) == "":
        return str(value).replace("_", " ")
    label = _SHORT.get(path, path.rsplit(".", 1)[-1].replace("_", " "))
    return f"{label} {value}"


def distinguishing_names(configs: Configs) -> dict[int, str]:
    """A short name per run from the settings that differ among ``configs`` (sharing
    scheme, weighting, key options, seed…): ``{3: "mmoe · uncertainty", 4: "hard ·
    equal · seed 1"}``. Runs that differ in nothing get ""."""
    flat = {i: flatten({k: v for k, v in c.to_dict().items() if k != "name"})
            for i, c in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    def varies(k: str) -> bool:
        # an option varies only among the runs that have it (mmoe's experts are no
        # difference from hard sharing: the scheme already says it)
        values = [repr(f.get(k)) for f in flat.values() if ".options." not in k or k in f]
        return len(set(values)) > 1

    varying = [k for k in keys if varies(k)]
    order = [k for k in _FIRST if k in varying] + \
        [k for k in varying if k not in _FIRST and k != "seed"] + (["seed"] * ("seed" in varying))
    out = {}
    for i, f in flat.items():
        parts = [_part(k, f.get(k)) for k in order if f.get(k) is not None]
        more = len(parts) - MAX_PARTS
        out[i] = " · ".join(parts[:MAX_PARTS]) + (f" · +{more} more" if more > 0 else "")
    return out
