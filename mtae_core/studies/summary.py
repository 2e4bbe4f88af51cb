"""A study's results per cell: mean, std, 95% interval and n of every metric over seeds,
Δm per seed against the same-seed matched baseline, a paired test, parameter counts and
a sentence in plain words. "Best" is decided on validation; test figures are reported
for what validation chose, never used to choose.

Statistics come from scipy (t interval, paired t-test); failed or diverged runs are left
out of every mean, with their count said.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..analysis.baselines import BASELINE, baseline_config
from ..config import run_key
from ..engine.metrics import METRIC_DIRECTION, delta_m, headline_of, task_deltas
from .spec import StudySpec, data_seed_supported, short

if TYPE_CHECKING:
    from ..store.runs import Run, RunStore

FAILED = ("failed", "diverged")
ENDED = ("done", "failed", "diverged", "cancelled")


# ---- statistics --------------------------------------------------------------------------------


def describe(values: Sequence[float]) -> dict[str, Any]:
    """{mean, std (ddof=1), ci95 [lo, hi] (Student t), n, values}; std and the interval
    are None below two values (one value says nothing about the spread)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(vals)
    out: dict[str, Any] = {"mean": None, "std": None, "ci95": None, "n": n, "values": vals}
    if n == 0:
        return out
    arr = np.asarray(vals)
    out["mean"] = float(arr.mean())
    if n >= 2:
        sd = float(arr.std(ddof=1))
        out["std"] = sd
        if sd == 0.0:
            out["ci95"] = [out["mean"], out["mean"]]
        else:
            lo, hi = sps.t.interval(0.95, n - 1, loc=out["mean"], scale=sps.sem(arr))
            out["ci95"] = [float(lo), float(hi)]
    return out


def overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """Do two intervals overlap? An unknown interval (n < 2) may overlap anything."""
    if a is None or b is None:
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def paired_p(cell: Sequence[float], base: Sequence[float]) -> float | None:
    """p-value of the paired t-test cell vs baseline over the same seeds; None when
    fewer than two pairs or every difference is 0 (nothing to test)."""
    if len(cell) < 2 or len(cell) != len(base):
        return None
    diff = np.asarray(cell, dtype=float) - np.asarray(base, dtype=float)
    if np.all(diff == 0):
        return None
    p = float(sps.ttest_rel(cell, base).pvalue)
    return p if math.isfinite(p) else None


# ---- the summary ------------------------------------------------------------------------------


@dataclass
class CellSummary:
    index: int
    settings: dict[str, Any]
    label: str
    runs: list[int]
    statuses: dict[int, str]
    n: int
    n_failed: int
    metrics: dict[str, dict[str, dict[str, Any]]]
    val_metrics: dict[str, dict[str, dict[str, Any]]]
    delta_m: dict[str, Any]
    task_deltas: dict[str, dict[str, Any]]
    baseline_runs: list[int]
    params: dict[str, int | None]
    paired: dict[str, float | None]
    words: list[str]
    seed_runs: dict[int, int] = field(default_factory=dict)  # seed -> run id (progress grid)
    best: dict[str, bool | str] = field(default_factory=dict)  # task -> True/False/'tie'

    def to_json(self) -> dict[str, Any]:
        def slim(m: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
            return {t: {k: {f: v[f] for f in ("mean", "std", "ci95", "n")} for k, v in ms.items()}
                    for t, ms in m.items()}

        return {
            "index": self.index, "label": self.label, "settings": self.settings,
            "runs": self.runs, "statuses": {str(k): v for k, v in self.statuses.items()},
            "seed_runs": {str(k): v for k, v in self.seed_runs.items()},
            "n": self.n, "n_failed": self.n_failed,
            "metrics": slim(self.metrics), "val_metrics": slim(self.val_metrics),
            "delta_m": {k: self.delta_m[k] for k in ("mean", "std", "n", "ci95")},
            "task_deltas": self.task_deltas, "baseline_runs": self.baseline_runs,
            "params": self.params, "paired": self.paired, "best": self.best,
            "words": self.words,
        }


@dataclass
class StudySummary:
    study_id: int
    name: str
    status: str  # queued | running | done | cancelled | failed (some runs failed)
    spec: StudySpec
    cells: list[CellSummary]
    baselines: dict[int, int]  # seed -> the (first) baseline run of that seed
    tasks: list[str]
    metric_of: dict[str, str]  # task -> headline metric
    counts: dict[str, int] = field(default_factory=dict)  # run status -> how many
    notes: list[str] = field(default_factory=list)
    all_baselines: dict[int, list[int]] = field(default_factory=dict)  # seed -> every baseline

    def to_json(self) -> dict[str, Any]:
        """The object ``mtae study --json`` prints."""
        return {
            "study": self.study_id, "name": self.name, "status": self.status,
            "tasks": self.tasks, "metric_of": self.metric_of, "counts": self.counts,
            "notes": self.notes, "spec": self.spec.to_dict(),
            "baselines": {str(k): v for k, v in self.all_baselines.items()},
            "cells": [c.to_json() for c in self.cells],
        }

    def table(self, task: str) -> pd.DataFrame:
        """One row per cell: its settings, then per metric mean, std, ci_lo, ci_hi, n;
        Δm; best (on validation); parameters; words; failed runs."""
        recs = []
        for c in self.cells:
            rec: dict[str, Any] = {"cell": c.index, "label": c.label}
            rec.update({p: short(v) if isinstance(v, dict | list) else v
                        for p, v in c.settings.items()})
            for metric, st in c.metrics.get(task, {}).items():
                if metric == "loss":
                    continue
                ci = st["ci95"] or [None, None]
                rec.update({f"{metric}_mean": st["mean"], f"{metric}_std": st["std"],
                            f"{metric}_ci_lo": ci[0], f"{metric}_ci_hi": ci[1],
                            f"{metric}_n": st["n"]})
            rec.update({"delta_m_mean": c.delta_m["mean"], "delta_m_std": c.delta_m["std"],
                        "delta_m_n": c.delta_m["n"], "best": c.best.get(task, False),
                        "params_total": c.params.get("total"),
                        "params_shared": c.params.get("shared"),
                        "words": "; ".join(c.words), "n_failed": c.n_failed})
            recs.append(rec)
        return pd.DataFrame(recs)


@functools.lru_cache(maxsize=32)
def _spec(text: str) -> StudySpec:
    return StudySpec.parse(json.loads(text), check_size=False)


def summarize(store: RunStore, study_id: int) -> StudySummary:
    """Aggregate a stored study as it stands now (running studies too)."""
    study = store.get_study(study_id)
    if study is None:
        raise KeyError(f"no study with id {study_id}")
    spec = _spec(json.dumps(study.spec))  # key order kept: cells are numbered in the axes' order
    df = store.study_runs(study_id)
    runs = store.runs_by_id([int(i) for i in df.run_id])
    keys = store.run_keys(list(runs))
    by_key: dict[str, Run] = {}
    for r in sorted(runs.values(), key=lambda r: r.id):
        by_key[keys.get(r.id) or run_key(r.config)] = r
    tasks = list(dict.fromkeys(t for c in spec.cells() for t in c.config.data.tasks))
    metric_of = _headlines(runs.values(), tasks, spec)
    cell_rows: dict[int, list[tuple[int, int]]] = {}
    for row in df.itertuples():
        if row.role == "cell":
            cell_rows.setdefault(int(row.cell), []).append((int(row.seed), int(row.run_id)))
    cells = [_cell(c.index, c.settings, c.label, cell_rows.get(c.index, []), runs, by_key,
                   keys, tasks, metric_of) for c in spec.cells()]
    _mark_best(cells, tasks, metric_of)
    all_b: dict[int, list[int]] = {}  # seed -> baselines in use (single-task cells included)
    for c in cells:
        for b in c.baseline_runs:
            seed = runs[b].config.seed
            if b not in all_b.setdefault(seed, []):
                all_b[seed].append(b)
    statuses = [r.status for r in runs.values()]  # each run once, even if two cells share it
    counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
    return StudySummary(study_id, study.name, _status(study.cancelled, statuses), spec, cells,
                        {s: min(ids) for s, ids in sorted(all_b.items())}, tasks, metric_of, counts,
                        _notes(spec) + _failure_notes(runs), all_b)


def _status(cancelled: bool, statuses: list[str]) -> str:
    if cancelled and any(s in ("cancelled", "queued", "running") for s in statuses):
        return "cancelled"  # (a study cancelled after every run ended stays as it ended)
    if "running" in statuses or ("queued" in statuses and any(s in ENDED for s in statuses)):
        return "running"
    if "queued" in statuses:
        return "queued"
    if any(s in (*FAILED, "cancelled") for s in statuses):
        return "failed"
    return "done"


def _notes(spec: StudySpec) -> list[str]:
    if not data_seed_supported():
        seeds = "each seed draws the data (generation and split) as well as the initialisation"
    elif spec.vary_data_seed:
        seeds = ("each seed draws its own data (generation and split) as well as the "
                 "initialisation and batch order")
    else:
        seeds = ("the data (generation and split) is the same for every seed; the seeds "
                 "change the initialisation and batch order")
    return [seeds, "'best' is decided on validation metrics; the test figures are reported, "
            "never used to choose"]


MAX_FAILURE_NOTES = 5


def _failure_notes(runs: dict[int, Run]) -> list[str]:
    """What failed, in plain words: each failed run's reason, and each run that is a
    second attempt of a lost one (a Ray worker or node gone) with the first's reason."""
    out = [f"run #{r.info['retry_of']} failed ({r.info.get('retry_reason') or 'no reason given'})"
           f" and was tried again as run #{r.id}"
           for r in sorted(runs.values(), key=lambda r: r.id) if r.info.get("retry_of")]
    failed = [r for r in sorted(runs.values(), key=lambda r: r.id) if r.status == "failed"]
    out += [f"run #{r.id} failed: {r.error or 'no reason given'}"
            for r in failed[:MAX_FAILURE_NOTES]]
    if len(failed) > MAX_FAILURE_NOTES:
        out.append(f"… and {len(failed) - MAX_FAILURE_NOTES} more failed runs")
    return out


def _headlines(runs: Any, tasks: list[str], spec: StudySpec) -> dict[str, str]:
    """Headline metric per task (``TaskSpec.metric``: ROC AUC for a binary task, accuracy
    for another classification task, else MSE), read from what the runs stored: the one
    every run has (``headline_of``), so runs stored before AUC compare on accuracy."""
    stored: dict[str, list[Any]] = {}
    for r in runs:
        for t, ms in r.test_metrics.items():
            stored.setdefault(t, []).append(ms)
    out: dict[str, str] = {}
    for t, keys in stored.items():
        m = headline_of(keys)
        if m is not None:
            out[t] = m
    missing = [t for t in tasks if t not in out]
    if missing:
        from ..data import datasets

        cfg = spec.base.data
        try:
            ds = datasets.get(cfg.dataset)
            specs = ds.generate(ds.Options.model_validate(cfg.options), 0).specs
        except Exception:  # noqa: BLE001  (a data set that cannot be built here: guess)
            specs = {}
        for t in missing:
            out[t] = specs[t].metric if t in specs else "mse"
    return {t: out[t] for t in tasks}


def _headline_values(run: Run, tasks: list[str], metric_of: dict[str, str]) -> dict[str, float]:
    return {t: run.test_metrics[t][metric_of[t]] for t in tasks
            if metric_of[t] in run.test_metrics.get(t, {})}


_BASELINE_KEYS: dict[str, str] = {}  # run key -> its matched baseline's run key


def _baseline_of(run: Run, key: str | None, by_key: dict[str, Run]) -> Run | None:
    """The study's run that is ``run``'s matched baseline (itself for a single-task run)."""
    if run.config.model.sharing == BASELINE:
        return run
    bkey = _BASELINE_KEYS.get(key) if key else None
    if bkey is None:
        bkey = run_key(baseline_config(run.config))
        if key:
            if len(_BASELINE_KEYS) > 100_000:
                _BASELINE_KEYS.clear()
            _BASELINE_KEYS[key] = bkey
    return by_key.get(bkey)


def _cell(index: int, settings: dict[str, Any], label: str, seed_runs: list[tuple[int, int]],
          runs: dict[int, Run], by_key: dict[str, Run], keys: dict[int, str], tasks: list[str],
          metric_of: dict[str, str]) -> CellSummary:
    present = [(s, runs[i]) for s, i in sorted(seed_runs) if i in runs]
    done = [(s, r) for s, r in present if r.status == "done"]
    n_failed = sum(r.status in FAILED for _, r in present)
    n_cancelled = sum(r.status == "cancelled" for _, r in present)
    metrics = _gather([r.test_metrics for _, r in done])
    val = _gather([getattr(r, "val_metrics", None) or {} for _, r in done])
    higher = {t: METRIC_DIRECTION.get(metric_of[t], False) for t in tasks}
    dms: list[float] = []
    per_task: dict[str, list[float]] = {t: [] for t in tasks}
    pairs: dict[str, tuple[list[float], list[float]]] = {t: ([], []) for t in tasks}
    baseline_runs: list[int] = []
    own_baseline = bool(present) and present[0][1].config.model.sharing == BASELINE
    base_of = {r.id: _baseline_of(r, keys.get(r.id), by_key) for _, r in present}
    for _, r in present:
        b = base_of[r.id]
        if b is not None and b.id not in baseline_runs:
            baseline_runs.append(b.id)
    for _, r in done:
        b = base_of[r.id]
        if b is None or b.status != "done":
            continue
        cv, bv = _headline_values(r, tasks, metric_of), _headline_values(b, tasks, metric_of)
        dm = delta_m(cv, bv, higher)
        if math.isfinite(dm):
            dms.append(dm)
        for t, d in task_deltas(cv, bv, higher).items():
            per_task[t].append(d)
        for t in tasks:
            if t in cv and t in bv:
                pairs[t][0].append(cv[t])
                pairs[t][1].append(bv[t])
    dstats = describe(dms)
    params: dict[str, int | None] = {"total": None, "shared": None}
    for _, r in present:
        if r.info.get("n_params") is not None:
            params = {"total": r.info.get("n_params"), "shared": r.info.get("n_shared_params")}
            break
    words = _words(own_baseline, pairs, higher, n_failed, n_cancelled,
                   sum(r.active for _, r in present))
    return CellSummary(
        index=index, settings=settings, label=label, runs=[r.id for _, r in present],
        statuses={r.id: r.status for _, r in present}, n=len(done), n_failed=n_failed,
        metrics=metrics, val_metrics=val, delta_m=dstats,
        task_deltas={t: {k: v for k, v in describe(ds).items() if k in ("mean", "std", "n")}
                     for t, ds in per_task.items()},
        baseline_runs=baseline_runs, params=params,
        paired={t: (None if own_baseline else paired_p(*pairs[t])) for t in tasks},
        words=words, seed_runs={s: r.id for s, r in present},
    )


def _gather(reports: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, Any]]]:
    values: dict[str, dict[str, list[float]]] = {}
    for rep in reports:
        for t, ms in rep.items():
            for m, v in ms.items():
                values.setdefault(t, {}).setdefault(m, []).append(v)
    return {t: {m: describe(vs) for m, vs in ms.items()} for t, ms in values.items()}


def _words(own_baseline: bool, pairs: dict[str, tuple[list[float], list[float]]],
           higher: dict[str, bool], n_failed: int, n_cancelled: int, n_active: int) -> list[str]:
    out: list[str] = []
    if own_baseline:
        out.append("this cell is the single-task baseline")
    else:
        for t, (cv, bv) in pairs.items():
            if not cv:
                continue
            better = sum((c > b) if higher[t] else (c < b) for c, b in zip(cv, bv, strict=True))
            text = f"better than single-task on {t} in {better} of {len(cv)} seed{'s' * (len(cv) != 1)}"
            if len(cv) >= 2 and overlap(describe(cv)["ci95"], describe(bv)["ci95"]):
                text += " (within noise: the intervals overlap)"
            out.append(text)
    if n_failed:
        out.append(f"{n_failed} run{'s' * (n_failed != 1)} failed or diverged and "
                   f"{'are' if n_failed != 1 else 'is'} left out")
    if n_cancelled:
        out.append(f"{n_cancelled} run{'s' * (n_cancelled != 1)} cancelled")
    if n_active:
        out.append(f"{n_active} run{'s' * (n_active != 1)} still to finish")
    return out


def _mark_best(cells: list[CellSummary], tasks: list[str], metric_of: dict[str, str]) -> None:
    """Per task, the cell with the best validation mean of the headline metric is best;
    where its 95% interval overlaps another's, both are marked a tie. Test metrics are
    never looked at here."""
    for t in tasks:
        m = metric_of[t]
        higher = METRIC_DIRECTION.get(m, False)
        scored = [(c, c.val_metrics[t][m]) for c in cells
                  if c.val_metrics.get(t, {}).get(m, {}).get("mean") is not None]
        for c in cells:
            c.best[t] = False
        if len(scored) < 2:
            continue
        scored.sort(key=lambda cs: cs[1]["mean"], reverse=higher)
        top, top_stats = scored[0]
        tied = [c for c, st in scored[1:] if overlap(top_stats["ci95"], st["ci95"])]
        top.best[t] = "tie" if tied else True
        for c in tied:
            c.best[t] = "tie"
