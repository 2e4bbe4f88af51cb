"""What a study runs (its cells per seed and their matched single-task baselines), how
long that may take, and queueing / cancelling it in the store.

A study is only rows in the store (``studies``, ``study_runs``) over ordinary runs, so it
survives an app restart: queued runs stay queued for the next worker pool.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..analysis.baselines import BASELINE, baseline_config
from ..config import ExperimentConfig, run_key
from ..store.access import CLI, Actor
from .spec import StudySpec, with_seed

if TYPE_CHECKING:
    from ..store.runs import RunStore

Role = Literal["cell", "baseline"]
# a rough cost per epoch when the store has no finished run to learn from: seconds for
# one epoch of the default model on digits (1,797 samples) at one torch thread, as
# bench_study.py measured it on this project's 2-core machine (about 0.2 s for 4 epochs);
# other data sets scale it by their sample count
ROUGH_EPOCH_SECONDS = 0.05
DIGITS_SAMPLES = 1797


def _rough_epoch_seconds(cfg: ExperimentConfig) -> float:
    n = cfg.data.options.get("n", DIGITS_SAMPLES)
    return ROUGH_EPOCH_SECONDS * max(0.1, float(n) / DIGITS_SAMPLES)


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
    cells = spec.cells()
    # a cell's baseline differs between seeds only in its seeds: build it once per cell
    bases = {c.index: (None if c.config.model.sharing == BASELINE else baseline_config(c.config))
             for c in cells}
    todo: list[tuple[Role, int | None, int, ExperimentConfig, str]] = []
    seen: set[str] = set()
    for seed in spec.seeds:
        configs = [with_seed(c.config, seed, spec.vary_data_seed) for c in cells]
        keys = [run_key(c) for c in configs]
        seen.update(keys)  # a single-task cell is the baseline itself: not planned twice
        for cell in cells:
            b = bases[cell.index]
            if b is None:
                continue
            b = with_seed(b, seed, spec.vary_data_seed).model_copy(
                update={"name": b.name.replace(f"(seed {spec.seeds[0]})", f"(seed {seed})")})
            bkey = run_key(b)
            if bkey not in seen:
                seen.add(bkey)
                todo.append(("baseline", None, seed, b, bkey))
        todo.extend(("cell", c.index, seed, cfg, key)
                    for c, cfg, key in zip(cells, configs, keys, strict=True))
    found = store.find_runs([t[4] for t in todo]) if store is not None else {}
    return [PlannedRun(role, cell, seed, cfg, key, found[key].id if key in found else None)
            for role, cell, seed, cfg, key in todo]


def default_workers() -> int:
    """The workers a study runs on by default: the ``JobRunner``'s (``$MTAE_WORKERS``,
    else one per core)."""
    from ..runner.jobs import default_workers as runner_default

    return runner_default()


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
        cost = statistics.median(costs) if costs else _rough_epoch_seconds(p.config)
        total += cost * p.config.training.epochs
    workers = max(1, n_workers or default_workers())
    # runs are whole units of work: with fewer runs than workers some workers idle
    return total / min(workers, len(planned))


def start(store: RunStore, spec: StudySpec,
          submit: Callable[[ExperimentConfig], int] | None = None,
          backend: str | None = None, workers: int | None = None,
          owner: str | None = None, actor: Actor = CLI) -> int:
    """Record the study and queue its runs (``submit``, e.g. ``JobRunner.submit``; by
    default they are only queued in the store for whichever worker pool serves it;
    ``backend='ray'``: queued for a Ray driver, which local workers leave alone).
    ``workers``: how many local workers will serve it (default: the runner's), to share a
    cell's seeds out among them when there are fewer cells than workers. Returns the study
    id. ``owner``: who queued the runs (the app's tab and student name), as for a run
    queued from the Train page. ``actor``: who asks (a student's study is their own, and
    its new runs count against the class's cap: ``QueueFull``, nothing recorded)."""
    from ..store.classroom import check_owner

    owner = check_owner(actor, owner)
    planned = plan(spec, store)
    new: dict[str, ExperimentConfig] = {}  # identical cells of this study share one run
    for p in planned:
        if p.reuse is None:
            new.setdefault(p.key, p.config)
    if submit is None:
        store.check_cap(actor, len(new))  # before the study is recorded
    study_id = store.create_study(spec.name, spec.to_json(None), owner=owner)
    if submit is None:  # one transaction for all: a 500-run study queues at once
        # a cell's seeds train together on the local workers; Ray runs one task per run
        cfgs = list(new.values())
        groups: list[str | None]
        infos: list[dict[str, Any] | None]
        if backend is None:
            groups, infos = seed_groups(cfgs, spec.separate_seeds, workers)
        else:
            groups = [None] * len(cfgs)
            infos = [{"seeds_path": "separately", "seeds_reason": f"{backend}: one task per run"}
                     for _ in cfgs]
        made = dict(zip(new, store.create_runs(cfgs, owner=owner, backend=backend,
                                               groups=groups, infos=infos, actor=actor),
                        strict=True))
    else:
        made = {key: submit(cfg) for key, cfg in new.items()}
    store.add_study_runs(study_id, [
        (p.reuse, p.role, p.cell, p.seed, False) if p.reuse is not None
        else (made[p.key], p.role, p.cell, p.seed, True) for p in planned])
    return study_id


SEPARATE_BY_REQUEST = "the study asks for separate runs (--separate-seeds)"
SHARED_OUT = "fewer cells than workers, so the cell's seeds were shared out among them"


def seed_groups(cfgs: list[ExperimentConfig], separate: bool = False,
                workers: int | None = None
                ) -> tuple[list[str | None], list[dict[str, Any] | None]]:
    """Each new run's seed group (runs of one ``replicas.group_key``, which differ only in
    their seed and in settings that are data per replica, such as fixed λ or a loss-based
    strategy's options, train together as one batched model) and the info it starts with: why its seeds train separately, when
    they do. A run alone in its group needs no group. With fewer groups than ``workers``
    can share out evenly (default: the runner's), each group is split into chunks (see
    ``chunks_per_group``), so that no worker waits while another trains two groups."""
    from ..engine.replicas import batch_reason, group_key

    keys = [group_key(c) for c in cfgs]
    whole = list(keys)  # before any split into chunks
    reasons = [SEPARATE_BY_REQUEST if separate else batch_reason(c) for c in cfgs]
    size = Counter(keys)
    batched = Counter(k for k, r in zip(keys, reasons, strict=True) if r is None and size[k] > 1)
    if batched:
        n_chunks = chunks_per_group(len(batched), max(batched.values()),
                                    workers if workers is not None else default_workers())
        seen: Counter[str] = Counter()
        for i, key in enumerate(list(keys)):
            if key in batched and n_chunks > 1:
                # consecutive seeds into near-equal chunks: chunk j of a group of n
                j = seen[key] * n_chunks // batched[key]
                seen[key] += 1
                keys[i] = f"{key}#{j}"
        size = Counter(keys)
    groups: list[str | None] = []
    infos: list[dict[str, Any] | None] = []
    for key, first, reason in zip(keys, whole, reasons, strict=True):
        if size[key] < 2 and key != first:  # a chunk of one: its cell's seeds went to all workers
            groups.append(None)
            infos.append({"seeds_path": "separately", "seeds_reason": SHARED_OUT})
        elif size[key] < 2:
            groups.append(None)
            infos.append(None)
        elif reason is not None:
            groups.append(None)
            infos.append({"seeds_path": "separately", "seeds_reason": reason})
        else:
            groups.append(key)
            infos.append(None)
    return groups, infos


def chunks_per_group(n_groups: int, k: int, workers: int) -> int:
    """Into how many chunks to split each of ``n_groups`` seed groups of ``k`` seeds so that
    ``workers`` workers finish soonest: with c chunks a group takes 1/c of its time, and
    the groups' n·c chunks go round the workers in ceil(n·c / workers) rounds. The fewest
    chunks among the quickest (the more seeds in a batch, the less each one costs). E.g.
    3 groups on 2 workers: 2 chunks each (1.5 group-times instead of 2)."""
    if workers <= 1 or n_groups <= 0 or k <= 1:
        return 1
    return min(range(1, k + 1), key=lambda c: (math.ceil(n_groups * c / workers) / c, c))


SERVE_POLL_SECONDS = 0.25  # how often ``serve`` looks at the study's runs
# what the runs a Ctrl-C stopped say (not "cancelled by the user": nobody chose to cancel
# them one by one; `mtae study resume ID` runs them)
INTERRUPTED = "the study was interrupted (Ctrl-C)"


def serve(store: RunStore, study_id: int, workers: int | None = None,
          on_run: Callable[[int, int], None] | None = None) -> None:
    """Train the study's queued runs on ``workers`` worker processes started here (None:
    one per core) until every run has ended, then stop them. ``on_run(ended, total)`` after
    each look. Ctrl-C cancels the study's runs, lets the running ones stop (5 s at most)
    and is raised again; the workers are stopped on every way out."""
    import time

    from ..runner.jobs import JobRunner
    from .summary import ENDED

    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    runner = JobRunner(store, n_workers=workers)
    try:
        if any(r.active for r in store.runs_by_id(ids).values()):
            runner.start()  # (a study of reused finished runs needs no worker)
        while True:
            runs = store.runs_by_id(ids)
            ended = sum(r.status in ENDED for r in runs.values())
            if on_run is not None:
                on_run(ended, len(ids))
            if ended >= len(runs):
                return
            time.sleep(SERVE_POLL_SECONDS)
    except KeyboardInterrupt:
        stopping = cancel(store, study_id, reason=INTERRUPTED)
        end = time.monotonic() + 5.0  # running ones stop at their next poll
        while time.monotonic() < end and any(r.active for r in store.runs_by_id(stopping).values()):
            time.sleep(0.05)
        raise
    finally:
        runner.stop()


def cancel(store: RunStore, study_id: int, actor: Actor = CLI,
           reason: str | None = None) -> list[int]:
    """Cancel the study: its queued runs stop at once, its training ones at their next
    poll. Runs it reused from elsewhere are left alone (they may belong to someone else).
    ``reason``: what the cancelled runs say (default: cancelled by the user; a Ctrl-C:
    ``INTERRUPTED``). ``NotAllowed`` (nothing changed) when the study is not ``actor``'s;
    one audit row. Returns the ids of the runs asked to stop."""
    study = store.check_study(study_id, actor, "cancel")
    store.mark_study_cancelled(study_id)
    df = store.study_runs(study_id)
    ids = sorted({int(r) for r in df.loc[df.owned, "run_id"]})
    runs = store.runs_by_id(ids)
    active = [i for i in ids if i in runs and runs[i].active]
    name = study.name if study is not None else "?"
    if active:  # one audit row for the study, not one per run
        store.cancel_runs(active, actor,
                          what=f"study #{study_id} {name!r}: {len(active)} run(s) asked to stop",
                          **({} if reason is None else {"reason": reason}))
    else:
        store.record_study_action(study_id, actor, "cancel", f"{name!r}: nothing to stop")
    return active


@dataclass(frozen=True)
class Unfinished:
    """The runs of a study that ended without finishing, by why: what resuming it queues
    again. Diverged runs are not among them (the same seed diverges again)."""

    app_stopped: list[int]  # failed because the app (its workers) stopped as they trained
    failed: dict[int, str]  # failed for another reason: run id -> the reason
    cancelled: dict[int, str]  # run id -> why (cancelled by the user, a Ctrl-C...)
    active: int  # runs of the study still queued or training

    @property
    def runs(self) -> list[int]:
        return sorted([*self.app_stopped, *self.failed, *self.cancelled])

    @property
    def resumable(self) -> bool:
        """Whether to offer Resume: some runs did not finish and none is still going
        (while runs still stop after a cancel, the study is not yet as it will stay)."""
        return bool(self.runs) and self.active == 0


def unfinished(store: RunStore, study_id: int) -> Unfinished:
    """Which of the study's runs ``retry`` would queue again, and why each ended."""
    from ..runner.jobs import APP_STOPPED

    df = store.study_runs(study_id)
    runs = store.runs_by_id([int(i) for i in df.run_id.unique()])
    ordered = sorted(runs.values(), key=lambda r: r.id)
    return Unfinished(
        app_stopped=[r.id for r in ordered if r.status == "failed" and r.error == APP_STOPPED],
        failed={r.id: r.error or "no reason given" for r in ordered
                if r.status == "failed" and r.error != APP_STOPPED},
        cancelled={r.id: r.error or "cancelled" for r in ordered if r.status == "cancelled"},
        active=sum(r.active for r in ordered))


def retry(store: RunStore, study_id: int,
          submit: Callable[[ExperimentConfig], int] | None = None,
          backend: str | None = None, actor: Actor = CLI) -> list[int]:
    """Resume a study: queue again its runs that failed (e.g. the app stopped while they
    trained) or were cancelled, each as a new run that supersedes the old one (which lists
    of runs then leave out), and lift the study's cancel. Diverged runs are kept as
    they are: the same seed diverges again. ``backend``: as in ``start`` (queued runs a
    gone driver had tagged are tagged for this one). ``actor``: the study's owner or the
    teacher (``NotAllowed`` otherwise, nothing changed); the runs queued again are the
    study's owner's, and a student's count against the class's cap. One audit row.
    Returns the new run ids."""
    study = store.check_study(study_id, actor, "resume")
    owner = study.owner if study is not None else None
    df = store.study_runs(study_id)
    runs = store.runs_by_id([int(i) for i in df.run_id.unique()])
    if submit is None:  # before anything changes
        store.check_cap(actor, sum(r.status in ("failed", "cancelled") for r in runs.values()))
    store.mark_study_cancelled(study_id, cancelled=False)
    store.claim_for_backend([int(i) for i in df.loc[df.owned, "run_id"]], backend)

    again = [r for r in sorted(runs.values(), key=lambda r: r.id)
             if r.status in ("failed", "cancelled")]
    cfgs = [r.config for r in again]
    if submit is not None:
        new = [submit(cfg) for cfg in cfgs]
    elif backend is None:  # a cell's seeds queued again train together, as at the start
        separate = bool(study is not None and study.spec.get("separate_seeds"))
        groups, infos = seed_groups(cfgs, separate)
        new = store.create_runs(cfgs, groups=groups, infos=infos, owner=owner, actor=actor)
    else:
        new = store.create_runs(cfgs, backend=backend, owner=owner, actor=actor)
    # the old attempts are superseded: lists show one run per cell and seed
    store.replace_study_runs(study_id, [(r.id, run_id) for r, run_id in zip(again, new, strict=True)])
    store.record_study_action(study_id, actor, "resume", f"{len(new)} run(s) queued again")
    return new
