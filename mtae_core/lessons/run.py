"""Running a lesson's study and checking its claim: in this process (the quick forms in
CI, ``mtae lesson check``) or on a pool of worker processes (``--workers N``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import ClaimResult, Lesson, lessons

if TYPE_CHECKING:
    from ..store import RunStore
    from ..studies import StudySummary

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Checked:
    lesson: type[Lesson]
    quick: bool
    study_id: int
    summary: StudySummary
    result: ClaimResult
    seconds: float


def train_here(store: RunStore, study_id: int,
               on_run: Callable[[int, int], None] | None = None) -> None:
    """Train the study's queued runs one after another in this process, as a worker
    would (``mtae_core.jobs.execute``), with one torch thread as a worker has: these
    small models train slower on more threads, the more so on a busy machine.
    ``on_run(done, total)`` reports progress."""
    import torch

    from ..jobs import execute

    ids = sorted({int(i) for i in store.study_runs(study_id).run_id})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for k, run_id in enumerate(ids):
            if _claim(store, run_id):
                run = store.get_run(run_id)
                assert run is not None
                execute(store, run_id, run.config)
            if on_run is not None:
                on_run(k + 1, len(ids))
    finally:
        torch.set_num_threads(threads)


def _claim(store: RunStore, run_id: int) -> bool:
    """Move one queued run to running for this process (False if someone else took it
    or it is not queued: a reused finished run)."""
    with store._tx() as c:  # (the store claims only "the next queued run" itself)
        cur = c.execute("UPDATE runs SET status='running', started=?, worker_pid=? "
                        "WHERE id=? AND status='queued'", (time.time(), os.getpid(), run_id))
        return cur.rowcount == 1


def train_on_workers(store: RunStore, study_id: int, workers: int,
                     on_run: Callable[[int, int], None] | None = None) -> None:
    """Serve the study's queued runs with ``workers`` worker processes started here, and
    stop them on the way out (Ctrl-C cancels the study's runs first)."""
    from ..jobs import JobRunner
    from ..studies import cancel
    from ..studies.summary import ENDED

    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    runner = JobRunner(store, n_workers=workers)
    try:
        runner.start()
        while True:
            runs = store.runs_by_id(ids)
            ended = sum(r.status in ENDED for r in runs.values())
            if on_run is not None:
                on_run(ended, len(ids))
            if ended >= len(runs):
                return
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        cancel(store, study_id)
        raise
    finally:
        runner.stop()


def check(name: str, store: RunStore, quick: bool = False, workers: int | None = None,
          on_run: Callable[[int, int], None] | None = None) -> Checked:
    """Run lesson ``name``'s study (full or quick; identical stored runs are reused) and
    check its claim. ``workers``: None trains in this process, N ≥ 1 on N worker
    processes. ``KeyError`` for an unknown lesson."""
    from ..studies import start, summarize

    lesson = lessons.get(name)
    t0 = time.monotonic()
    study_id = start(store, lesson.study(quick))
    if workers is None:
        train_here(store, study_id, on_run)
    else:
        train_on_workers(store, study_id, workers, on_run)
    summary = summarize(store, study_id)
    return Checked(lesson, quick, study_id, summary, lesson.verdict(summary, quick),
                   time.monotonic() - t0)
