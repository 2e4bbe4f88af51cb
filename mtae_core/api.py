"""The Python API, for notebooks and scripts: ``train`` one config, ``run_study`` a study to
its end, ``load_runs`` every stored run. Results come back as pandas tables.

Each is a thin front over the engine functions the command line uses, so a run trained
here is the run ``mtae train`` would store (and the dashboard shows), and a study's
numbers and verdicts are those of ``mtae study show`` and the Studies page:

- ``train``: ``engine.preflight`` (what the data and this machine allow), then
  ``runner.jobs.execute`` in this process on a run recorded in the store;
- ``run_study``: ``studies.planning.start`` (identical stored runs reused), then
  ``lessons.run.train_here`` (in this process) or ``studies.planning.serve`` (worker
  processes started and stopped here), then ``studies.summary.summarize``;
- ``load_runs``: ``RunStore.runs_table`` (what ``mtae runs`` prints).

Importing this module imports no torch; training does, when it starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .config import ExperimentConfig

if TYPE_CHECKING:
    from .store.runs import Run as StoredRun
    from .store.runs import RunStore
    from .studies.spec import StudySpec
    from .studies.summary import StudySummary

__all__ = ["Run", "StudyResult", "load_runs", "run_study", "train"]

ConfigLike = Mapping[str, Any] | str | os.PathLike[str] | ExperimentConfig
INTERRUPTED = "interrupted from the keyboard"  # as `mtae train` words it


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Run:
    """One stored run as a notebook reads it.

    ``status``: done, diverged, failed or cancelled (queued or running while another
    process trains it); ``error``: the plain reason when it is not done (None when done);
    ``reason``: whatever the run's end said (an early stop, say) whatever its status.
    ``curves``: one row per epoch × task × split (train, val) with its ``loss`` (an
    auxiliary loss, such as a variational model's KL term, as task ``aux:<name>``);
    ``test_metrics`` / ``val_metrics``: one row per task (the index), a column per metric,
    for the model the run kept (empty when the run did not finish)."""

    id: int
    name: str
    status: str
    config: ExperimentConfig
    error: str | None
    reason: str | None
    device: str | None
    seconds: float | None
    curves: pd.DataFrame
    test_metrics: pd.DataFrame
    val_metrics: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, run_id: int, store: RunStore | str | os.PathLike[str] | None = None) -> Run:
        """The stored run ``run_id`` (``KeyError`` if there is none)."""
        s = _open(store)
        with _tables_of(s):
            record = s.get_run(int(run_id))
            if record is None:
                raise KeyError(f"there is no run #{run_id} in {s.path}")
            return cls._of(s, record)

    @classmethod
    def _of(cls, store: RunStore, r: StoredRun) -> Run:
        return cls(
            id=r.id, name=r.name, status=r.status, config=r.config,
            error=None if r.status == "done" else r.error, reason=r.error, device=r.device,
            seconds=r.train_seconds, curves=_curves(store, r.id),
            test_metrics=_per_task(r.test_metrics), val_metrics=_per_task(r.val_metrics),
            info=dict(r.info),
        )

    @property
    def ok(self) -> bool:
        """True when the run finished (status ``done``)."""
        return self.status == "done"

    def __repr__(self) -> str:
        head = f"Run #{self.id} {self.name!r}: {self.status}"
        if self.seconds:
            head += f" in {self.seconds:.1f} s" + (f" on {self.device}" if self.device else "")
        lines = [head]
        if self.reason:
            lines.append(f"  {self.reason}")
        for task, row in self.test_metrics.iterrows():
            shown = "  ".join(f"{m}={v:.4f}" for m, v in row.items()
                              if m != "loss" and isinstance(v, float) and math.isfinite(v))
            lines.append(f"  {task!s:<16} {shown}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False, repr=False)
class StudyResult:
    """A study run to its end: ``summary`` is the engine's ``StudySummary`` (what
    ``mtae study show`` prints); ``to_frame()`` and ``verdicts()`` read it."""

    id: int
    summary: StudySummary

    @property
    def name(self) -> str:
        return self.summary.name

    @property
    def status(self) -> str:
        """done, failed (some runs failed or diverged), cancelled, running or queued."""
        return self.summary.status

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: ``cell``, ``label``, its settings (a column per axis), then per
        task and metric ``<task> · <metric>_mean``, ``_std``, ``_ci_lo``, ``_ci_hi`` (the
        95% interval over seeds) and ``_n`` (test figures), ``<task> · best`` (chosen on
        validation: True, False or 'tie'); ``delta_m_mean``, ``delta_m_std``,
        ``delta_m_ci_lo``, ``delta_m_ci_hi``, ``delta_m_n`` (Δm in %, per seed against the
        same-seed matched single-task baseline); ``n`` (finished runs), ``n_failed``,
        ``params_total``, ``params_shared`` and ``verdict`` (the cell's plain words)."""
        from .studies.spec import short

        s = self.summary
        recs = []
        for c in s.cells:
            rec: dict[str, Any] = {"cell": c.index, "label": c.label}
            rec.update({p: short(v) if isinstance(v, dict | list) else v
                        for p, v in c.settings.items()})
            for task in s.tasks:
                for metric, st in c.metrics.get(task, {}).items():
                    if metric == "loss":  # (as the Studies page: the metrics, not the loss)
                        continue
                    lo, hi = st["ci95"] or (None, None)
                    col = f"{task} · {metric}"
                    rec.update({f"{col}_mean": st["mean"], f"{col}_std": st["std"],
                                f"{col}_ci_lo": lo, f"{col}_ci_hi": hi, f"{col}_n": st["n"]})
                rec[f"{task} · best"] = c.best.get(task, False)
            dm = c.delta_m
            lo, hi = dm["ci95"] or (None, None)
            rec.update({"delta_m_mean": dm["mean"], "delta_m_std": dm["std"],
                        "delta_m_ci_lo": lo, "delta_m_ci_hi": hi, "delta_m_n": dm["n"],
                        "n": c.n, "n_failed": c.n_failed, "params_total": c.params.get("total"),
                        "params_shared": c.params.get("shared"), "verdict": _verdict(c.words)})
            recs.append(rec)
        return pd.DataFrame(recs)

    def verdicts(self) -> dict[str, str]:
        """Cell label → the engine's verdict in plain words (the sentences ``mtae study
        show`` prints under its tables)."""
        return {c.label: _verdict(c.words) for c in self.summary.cells}

    def __repr__(self) -> str:
        s = self.summary
        counts = ", ".join(f"{n} {k}" for k, n in s.counts.items())
        lines = [f"Study #{self.id} {s.name!r}: {s.status} ({counts})"]
        lines += [f"  {label}: {words}" for label, words in self.verdicts().items()]
        return "\n".join(lines)


def _verdict(words: list[str]) -> str:
    return "; ".join(words) or "no finished runs yet"  # (as `mtae study show` says it)


def _per_task(metrics: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    df = pd.DataFrame.from_dict({t: dict(ms) for t, ms in metrics.items()}, orient="index")
    df.index.name = "task"
    return df


def _curves(store: RunStore, run_id: int) -> pd.DataFrame:
    """The store's per-epoch rows of a run, a column per metric (the loss)."""
    long = store.metrics(run_id)
    if long.empty:
        return pd.DataFrame(columns=["epoch", "task", "split", "loss"])
    wide = long.pivot(index=["epoch", "task", "split"], columns="metric", values="value")
    wide.columns.name = None
    return wide.reset_index().astype({"epoch": int})


# ---- reading what the caller gave --------------------------------------------------------------


def _open(store: RunStore | str | os.PathLike[str] | None) -> RunStore:
    """A run store: the one given, the one at a path, or $MTAE_HOME's (None)."""
    from .store.runs import RunStore

    if isinstance(store, RunStore):
        return store
    return RunStore(None if store is None else os.fspath(store))


@contextmanager
def _tables_of(store: RunStore) -> Iterator[None]:
    """Configs may name the users' tables of ``store`` meanwhile; afterwards the data-set
    registry reads the tables it read before (as ``mtae`` leaves a caller's source)."""
    from .data import datasets
    from .store.tables import StoreTables, attach

    previous = datasets.source
    attach(store.path)
    try:
        yield
    finally:
        datasets.use_source(previous)
        if isinstance(previous, StoreTables):
            previous.refresh()  # (the call may have added a run that names a new table)


def _config(config: ConfigLike) -> ExperimentConfig:
    if isinstance(config, str | os.PathLike):
        from .cli.commands import load_config  # the file read as `mtae train` reads it

        return load_config(os.fspath(config))
    if isinstance(config, Mapping) and not isinstance(config, dict):
        config = dict(config)
    return ExperimentConfig.parse(config)


def _spec(spec: Mapping[str, Any] | str | os.PathLike[str] | StudySpec) -> StudySpec:
    from .studies.spec import StudySpec

    if isinstance(spec, str | os.PathLike):
        from .cli.commands import read_json_file

        return StudySpec.parse(read_json_file(os.fspath(spec)))
    if isinstance(spec, Mapping) and not isinstance(spec, dict):
        spec = dict(spec)
    return StudySpec.parse(spec)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Train with ``threads`` torch threads (None: one, as the app's workers and `mtae
    lesson check` train: these small models lose more to thread hand-offs than they
    gain), then give the caller's setting back."""
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, not {threads!r}")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- the API -------------------------------------------------------------------------------------


def train(config: ConfigLike, *, store: RunStore | str | os.PathLike[str] | None = None,
          name: str | None = None, threads: int | None = None) -> Run:
    """Train ``config`` in this process and record it in ``store``; return the ``Run``.

    ``config``: a dict (partial: what it leaves out takes its default), a path to a JSON
    file (what Export config or ``mtae config`` writes) or an ``ExperimentConfig``.
    ``store``: a ``RunStore`` or its path; None: ``$MTAE_HOME/runs.db``, where the
    dashboard finds it. ``name``: the run's name instead of the config's. ``threads``:
    torch threads while it trains (None: one, as the app's workers).

    A config that is invalid, or that the data or this machine cannot run, raises
    ``ConfigError`` naming the field in plain words (what ``mtae train`` prints), and
    nothing is stored. A run that diverges or fails raises nothing: its ``status`` says
    so and ``error`` gives the reason. Ctrl-C (interrupting the kernel) records the run
    as cancelled and is raised again."""
    from .engine.preflight import preflight

    s = _open(store)
    with _tables_of(s):
        cfg = _config(config)
        if name is not None:
            cfg = cfg.replace(name=name)
        preflight(cfg)  # what the data and this machine allow: nothing is stored otherwise
        with _torch_threads(threads):
            run_id = _train_here(s, cfg)
        return Run.load(run_id, s)


def _train_here(store: RunStore, cfg: ExperimentConfig) -> int:
    """Record ``cfg`` as a run and train it in this process, as ``mtae train`` does."""
    from .runner.jobs import JobRunner, execute

    run_id = store.create_run(cfg)
    # this process claims it as a worker would, so that an app serving the same store
    # sees a live trainer (a running run without one is marked failed as orphaned)
    if not store.claim_group(os.getpid(), limit=1, among=[run_id]):
        # one of the app's workers took it first (between the two transactions):
        # it trains there with the same seed; wait for it to end
        JobRunner(store, n_workers=0).wait([run_id])
        return run_id
    try:
        execute(store, run_id, cfg)
    except KeyboardInterrupt:
        store.finish(run_id, "cancelled", INTERRUPTED)
        raise
    return run_id


def run_study(spec: Mapping[str, Any] | str | os.PathLike[str] | StudySpec, *,
              workers: int | None = None,
              store: RunStore | str | os.PathLike[str] | None = None) -> StudyResult:
    """Run a study to its end: its cells × seeds and their matched single-task baselines,
    reusing identical runs the store already holds (done, queued or training), as
    ``mtae study`` does. Returns a ``StudyResult`` (``to_frame()``, ``verdicts()``,
    ``summary``).

    ``spec``: a dict, a path to a JSON study spec or a ``StudySpec``; a bad one raises
    ``ConfigError`` naming the axis or field. ``workers``: 0 or 1 trains in this process
    (a cell's seeds together, one torch thread); N ≥ 2 starts N worker processes, which
    are stopped before this returns; None: ``$MTAE_WORKERS``, else one per CPU core.
    ``store``: as in ``train``. Ctrl-C cancels the study's runs, stops the workers and is
    raised again (``mtae study resume ID`` or the Studies page can finish it)."""
    from .runner.jobs import JobRunner
    from .studies.planning import cancel, serve, start
    from .studies.summary import summarize

    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be a whole number of at least 0, not {workers!r}")
    s = _open(store)
    with _tables_of(s):
        study = _spec(spec)
        here = workers is not None and workers <= 1
        # (in this process: one trainer, so a cell's seeds are never split among workers)
        study_id = start(s, study, workers=1 if here else workers)
        try:
            if here:
                from .lessons.run import train_here

                train_here(s, study_id)
                # a run it reused may be training elsewhere (the app's workers): wait for it
                ids = [int(i) for i in s.study_runs(study_id).run_id.unique()]
                JobRunner(s, n_workers=0).wait(ids)
            else:
                serve(s, study_id, workers)
        except KeyboardInterrupt:
            cancel(s, study_id)
            _mark_interrupted(s, study_id)
            raise
        return StudyResult(study_id, summarize(s, study_id))


def _mark_interrupted(store: RunStore, study_id: int) -> None:
    """The study's own runs that were asked to stop end cancelled, not failed or left
    running (as ``mtae study`` words an interrupted study)."""
    df = store.study_runs(study_id)
    own = [int(i) for i in df.loc[df.owned, "run_id"]]
    for r in store.runs_by_id(own).values():
        if r.cancel_requested and r.status in ("failed", "running", "queued"):
            store.finish(r.id, "cancelled", "cancelled: the study was interrupted")


def load_runs(store: RunStore | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every stored run, newest first: the table ``mtae runs`` prints (id, name, status,
    dataset, tasks, autoencoder, sharing, weighting, epochs, seed, device, seconds,
    created, owner, and a ``<task> · <metric>`` column per test metric). ``Run.load(id)``
    gives one run's curves and metrics."""
    s = _open(store)
    with _tables_of(s):
        return s.runs_table()
