"""Tables of the Compare page: per-task test metrics of chosen runs, the run best on
validation per column, and Δm against a single-task baseline — a matched one (same
everything but the sharing scheme, see ``mtae_core.analysis.baselines``) when there is one,
else the newest on the same data and tasks, with what differs said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from mtae_core.analysis.baselines import BASELINE, differences, is_matched_baseline
from mtae_core.config import ExperimentConfig
from mtae_core.engine.metrics import METRIC_DIRECTION, delta_m, headline_of, task_deltas

SEP = " · "  # runs_table names metric columns "<task> · <metric>"
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


def metric_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in runs.columns if SEP in c]


def higher_is_better(column: str) -> bool:
    metric = column.rsplit(SEP, 1)[-1]
    return METRIC_DIRECTION.get(metric, True)


def row_label(row: pd.Series) -> str:
    return f"#{row['id']} {row['name']}"


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


def _headline(row: pd.Series, cols: Sequence[str], other: pd.Series | None = None
              ) -> dict[str, float]:
    """One metric per task, the engine's headline (``headline_of``: ROC AUC for a binary
    task, accuracy for another classification task, else MSE), the one ``row`` and
    ``other`` (its baseline) both have."""
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


@dataclass(frozen=True)
class Baseline:
    """The single-task run a run's Δm is computed against."""

    id: int
    name: str
    matched: bool  # differs in nothing but what a single-task baseline must differ in
    differs: tuple[str, ...]  # dotted config paths it differs in (besides those)


Configs = Mapping[int, ExperimentConfig]


def find_baseline(row: pd.Series, candidates: pd.DataFrame,
                  configs: Configs | None = None) -> Baseline | None:
    """The single-task run to compare ``row`` with: among finished ``single_task`` runs on
    the same data set and tasks, the newest matched one (``is_matched_baseline``), else
    the newest, with the settings it differs in. None when there is none (or ``row`` is
    a baseline itself)."""
    if row.get("sharing") == BASELINE or candidates.empty:
        return None
    same = candidates[(candidates["sharing"] == BASELINE) & (candidates["status"] == "done")
                      & (candidates["dataset"] == row["dataset"])
                      & (candidates["tasks"] == row["tasks"])].sort_values("id")
    if same.empty:
        return None
    cfg = configs.get(int(row["id"])) if configs is not None else None
    if configs is None or cfg is None:  # nothing to match with: the newest, differences unknown
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
    b = _headline(base_row, cols, row)
    return _headline(row, cols, base_row), b, {k: higher_is_better(k) for k in b}


def delta_m_column(runs: pd.DataFrame, candidates: pd.DataFrame,
                   configs: Configs | None = None) -> pd.Series:
    """Δm in percent of each run over its single-task baseline (NaN when there is none)."""
    values = []
    for _, row in runs.iterrows():
        pair = _against_baseline(row, candidates, configs)
        values.append(delta_m(*pair) if pair else float("nan"))
    return pd.Series(values, index=runs.index, dtype=float)


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
    return pd.DataFrame(rows, columns=["run_id", "run", "task", "metric", "delta"])


def baselines_of(runs: pd.DataFrame, candidates: pd.DataFrame, configs: Configs
                 ) -> list[tuple[pd.Series, Baseline | None]]:
    """Each finished multi-task run of ``runs`` with the baseline its Δm uses (or None)."""
    return [(row, find_baseline(row, candidates, configs)) for _, row in runs.iterrows()
            if row.get("status") == "done" and row.get("sharing") != BASELINE]


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
