"""What a study runs (its cells per seed and their matched single-task baselines), how
long that may take, and queueing / cancelling it in the store.

A study is only rows in the store (``studies``, ``study_runs``) over ordinary runs, so it
survives an app restart: queued runs stay queued for the next worker pool.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..baselines import BASELINE, baseline_config, run_key
from ..config import ExperimentConfig
from .spec import StudySpec

if TYPE_CHECKING:
    from ..store import RunStore

Role = Literal["cell", "baseline"]
# a rough cost per epoch when the store has no finished run to learn from: seconds for
# one epoch of the default model on digits on one CPU core (measured on this project's
# 2-core machine, bench_study.py)
ROUGH_EPOCH_SECONDS = 0.12


@dataclass(frozen=True)
class PlannedRun:
    role: Role
    cell: int | None  # None for a baseline
    seed: int
    config: ExperimentConfig
    key: str
    reuse: int | None  # id of an identical stored run (done or active) to use instead


def plan(spec: StudySpec, store: RunStore | None = None) -> list[PlannedRun]:
    """Every run of the study, seed by seed (so early results cover every cell): for each
    seed the matched baselines first, then the cells. Identical work appears once; a
    stored run with the same run key that is done, queued or training is reused."""
    out: list[PlannedRun] = []
    seen: set[str] = set()
    cells = spec.cells()

    def add(role: Role, cell: int | None, seed: int, cfg: ExperimentConfig, key: str) -> None:
        found = store.find_run(key) if store is not None else None
        out.append(PlannedRun(role, cell, seed, cfg, key, found.id if found else None))

    for seed in spec.seeds:
        configs = [c.config_for(seed, spec.vary_data_seed) for c in cells]
        keys = [run_key(c) for c in configs]
        seen.update(keys)  # a single-task cell is the baseline itself: not planned twice
        for cfg in configs:
            if cfg.model.sharing != BASELINE:
                b = baseline_config(cfg)
                bkey = run_key(b)
                if bkey not in seen:
                    seen.add(bkey)
                    add("baseline", None, seed, b, bkey)
        for cell, cfg, key in zip(cells, configs, keys, strict=True):
            add("cell", cell.index, seed, cfg, key)
    return out


def default_workers() -> int:
    env = os.environ.get("MTAE_WORKERS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, os.cpu_count() or 1)


def estimate_seconds(spec: StudySpec, store: RunStore | None = None,
                     n_workers: int | None = None) -> float | None:
    """Wall-clock seconds the study's new runs may take on ``n_workers`` workers (default:
    one per core): each run's epochs times a cost per epoch learned from the store's
    finished runs of the same data set and sharing scheme (else of the same data set,
    else a rough constant). Reused runs cost nothing. None when there is nothing to run."""
    planned = [p for p in plan(spec, store) if p.reuse is None]
    if not planned:
        return None
    per_epoch: dict[tuple[str, str], list[float]] = {}
    if store is not None:
        for r in store.runs(["done"]):
            if r.train_seconds and r.config.training.epochs:
                cost = r.train_seconds / r.config.training.epochs
                per_epoch.setdefault((r.config.data.dataset, r.config.model.sharing), []).append(cost)
                per_epoch.setdefault((r.config.data.dataset, "*"), []).append(cost)
    total = 0.0
    for p in planned:
        costs = (per_epoch.get((p.config.data.dataset, p.config.model.sharing))
                 or per_epoch.get((p.config.data.dataset, "*")))
        cost = statistics.median(costs) if costs else ROUGH_EPOCH_SECONDS
        total += cost * p.config.training.epochs
    workers = max(1, n_workers or default_workers())
    # runs are whole units of work: with fewer runs than workers some workers idle
    return total / min(workers, len(planned))


def start(store: RunStore, spec: StudySpec,
          submit: Callable[[ExperimentConfig], int] | None = None) -> int:
    """Record the study and queue its runs (``submit``, e.g. ``JobRunner.submit``; by
    default they are only queued in the store for whichever worker pool serves it).
    Returns the study id."""
    planned = plan(spec, store)
    study_id = store.create_study(spec.name, spec.to_json(None))
    queue = submit or store.create_run
    rows: list[tuple[int, str, int | None, int, bool]] = []
    made: dict[str, int] = {}  # identical cells of this study share one run
    for p in planned:
        if p.reuse is not None:
            rows.append((p.reuse, p.role, p.cell, p.seed, False))
        elif p.key in made:
            rows.append((made[p.key], p.role, p.cell, p.seed, True))
        else:
            made[p.key] = run_id = queue(p.config)
            rows.append((run_id, p.role, p.cell, p.seed, True))
    store.add_study_runs(study_id, rows)
    return study_id


def cancel(store: RunStore, study_id: int) -> list[int]:
    """Cancel the study: its queued runs stop at once, its training ones at their next
    poll. Runs it reused from elsewhere are left alone (they may belong to someone else).
    Returns the ids of the runs asked to stop."""
    store.mark_study_cancelled(study_id)
    df = store.study_runs(study_id)
    ids = sorted({int(r) for r in df.loc[df.owned, "run_id"]})
    runs = store.runs_by_id(ids)
    active = [i for i in ids if i in runs and runs[i].active]
    for run_id in active:
        store.request_cancel(run_id)
    return active
