"""Running a lesson's study and checking its claim: in this process (the quick forms in
CI, ``mtae lesson check``) or on a pool of worker processes (``--workers N``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import ClaimResult, Lesson, lessons

if TYPE_CHECKING:
    from ..store.runs import Run, RunStore
    from ..studies import StudySummary



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
    """Train the study's queued runs in this process, as a worker would: a cell's seeds
    together (``mtae_core.runner.jobs.execute_group``), with one torch thread as a worker has
    (these small models train slower on more threads, the more so on a busy machine).
    ``on_run(done, total)`` reports progress."""
    import torch

    from ..runner.jobs import execute_group

    ids = sorted({int(i) for i in store.study_runs(study_id).run_id})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    done = len(ids) - len(_queued(store, ids))
    try:
        for group in _claim_groups(store, ids):
            execute_group(store, group)
            done += len(group)
            if on_run is not None:
                on_run(done, len(ids))
    finally:
        torch.set_num_threads(threads)
    if on_run is not None:
        on_run(len(ids), len(ids))


def _queued(store: RunStore, ids: list[int]) -> list[int]:
    return [i for i, r in store.runs_by_id(ids).items() if r.status == "queued"]


def _claim_groups(store: RunStore, ids: list[int]) -> Iterator[list[Run]]:
    """Claim the study's queued runs one seed group at a time (only these runs: without
    ``among`` the store's ``claim_group`` takes the oldest queued run of anyone's)."""
    while group := store.claim_group(os.getpid(), limit=len(ids), among=ids):
        yield group


def check(name: str, store: RunStore, quick: bool = False, workers: int | None = None,
          on_run: Callable[[int, int], None] | None = None) -> Checked:
    """Run lesson ``name``'s study (full or quick; identical stored runs are reused) and
    check its claim. ``workers``: None trains in this process, N ≥ 1 on N worker
    processes. ``KeyError`` for an unknown lesson."""
    from ..studies import start, summarize
    from ..studies.planning import serve

    lesson = lessons.get(name)
    t0 = time.monotonic()
    # (in this process: one trainer, so a cell's seeds are never split among workers)
    study_id = start(store, lesson.study(quick), workers=workers or 1)
    if workers is None:
        train_here(store, study_id, on_run)
    else:
        serve(store, study_id, workers, on_run)
    summary = summarize(store, study_id)
    return Checked(lesson, quick, study_id, summary, lesson.verdict(summary, quick),
                   time.monotonic() - t0)
