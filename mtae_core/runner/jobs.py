"""Running stored runs: ``execute`` (one run, in this process) and ``JobRunner`` (a pool of
worker processes that take queued runs from the store and honour cancels).

Training never runs in the Streamlit script thread: the UI only inserts queued runs and
reads the store, so clicks, page switches and browser refreshes never touch a run.

Workers never outlive the process that started them (see ``mtae_core.runner.worker``): each
holds the read end of a pipe whose write end only its runner holds, so however the
runner's process ends — even by SIGKILL — the worker sees end-of-file, records its run as
``failed`` ("the app stopped during training") and exits; on Linux the kernel also sends
it SIGTERM (``PR_SET_PDEATHSIG``). A run left ``running`` by a worker that is gone is
marked ``failed`` when the next runner starts: a half-trained run is not requeued, since
its stored epochs would mix with a second attempt's (a study may queue it again).
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..store.access import CLI, Actor
from ..store.runs import RunStore

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from ..store.runs import Run

POLL_SECONDS = 0.1  # how often an idle worker looks for queued runs
SUPERVISE_SECONDS = 0.25  # how often the runner looks for workers that died
APP_STOPPED = "the app stopped during training"
STORE_EXIT = 3  # a worker's exit code when the store cannot be used (its reason: reported)


def process_group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from Linux's /proc ([]
    elsewhere): how a test or a benchmark that started an app in its own group checks that
    no worker outlived it."""
    out = []
    proc = Path("/proc")
    for d in proc.iterdir() if proc.is_dir() else ():
        if not d.name.isdigit():
            continue
        try:  # after "(comm)", which may hold spaces: state, ppid, pgrp, ...
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d.name))
    return out


def default_workers() -> int:
    """``$MTAE_WORKERS`` when set to a whole number ≥ 1, else one worker per CPU core this
    process may use (each worker trains with one torch thread)."""
    raw = os.environ.get("MTAE_WORKERS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        print(f"MTAE_WORKERS must be a whole number of at least 1, not {raw[:40]!r}; "
              "using one worker per core", file=sys.stderr)
    return usable_cores()


def usable_cores() -> int:
    if hasattr(os, "process_cpu_count"):  # Python 3.13: honours affinity and cgroup sets
        return max(1, os.process_cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class StoreSink:
    """Training sink that writes epochs and progress into the run store."""

    def __init__(self, store: RunStore, run_id: int, on_progress: Callable[[float], None] | None = None,
                 min_interval: float = 0.1) -> None:
        self.store, self.run_id = store, run_id
        self.on_progress = on_progress
        self.min_interval = min_interval
        self._last = 0.0

    def started(self, info: dict[str, Any]) -> None:
        self.store.mark_started(self.run_id, info)

    def epoch(self, epoch: int, rows: list[tuple[str, str, str, float]], extras: dict[str, Any]) -> None:
        self.store.add_epoch(self.run_id, epoch, rows, extras)

    def progress(self, fraction: float) -> None:
        if self.on_progress:
            self.on_progress(fraction)
        now = time.monotonic()
        if now - self._last >= self.min_interval or fraction >= 1.0:
            self._last = now
            self.store.set_progress(self.run_id, fraction)


def execute(store: RunStore, run_id: int, cfg: ExperimentConfig,
            on_progress: Callable[[float], None] | None = None,
            abort: threading.Event | None = None) -> Any:
    """Train one stored run here and record how it ended. Returns the TrainResult, or
    None when training raised (the run is then ``failed`` with the reason). ``abort``
    set (the app went away) stops training at its next poll and fails the run."""
    from ..engine.training import train

    def should_stop() -> bool:
        return (abort is not None and abort.is_set()) or store.cancel_requested(run_id)

    try:
        result = train(cfg, sink=StoreSink(store, run_id, on_progress), should_stop=should_stop)
    except StoreError:  # nothing can be recorded: the worker ends with the message
        raise
    except Exception as e:  # report every failure on the run instead of dying silently
        traceback.print_exc()
        store.finish(run_id, "failed", f"{type(e).__name__}: {e}")
        return None
    _record(store, run_id, result, abort)
    return result


def _record(store: RunStore, run_id: int, result: Any, abort: threading.Event | None) -> None:
    """Store how a run ended: its status, metrics, info and (when done) its weights."""
    if result.status == "cancelled" and abort is not None and abort.is_set() \
            and not store.cancel_requested(run_id):
        store.finish(run_id, "failed", APP_STOPPED)
        return
    if result.status == "done" and result.model is not None:
        store.save_weights(run_id, result.model.state_dict())
    store.finish(run_id, result.status, result.reason, result.test_metrics, result.seconds,
                 val_metrics=result.val_metrics, info=result.info)


def execute_group(store: RunStore, runs: Sequence[Run],
                  abort: threading.Event | None = None) -> list[Any]:
    """Train runs claimed together (``RunStore.claim_group``: a study cell's seeds) and
    record each as it ends. Two or more train as one batched model
    (``replicas.train_replicas``), each run still with its own curves, metrics and
    weights; when they cannot (``NotBatchable``) they train one after another, and each
    run's info says why (``seeds_path``, ``seeds_reason``)."""
    from ..engine.replicas import NotBatchable, train_replicas

    if len(runs) == 1:
        return [execute(store, runs[0].id, runs[0].config, abort=abort)]
    ids = [r.id for r in runs]

    def cancelled(k: int) -> bool:
        return store.cancel_requested(ids[k])

    def should_stop() -> bool:
        return abort is not None and abort.is_set()

    def done(k: int, result: Any) -> None:  # each run is recorded as soon as it ends
        _record(store, ids[k], result, abort)

    try:
        return train_replicas([r.config for r in runs], sinks=[StoreSink(store, i) for i in ids],
                              should_stop=should_stop, stop_replica=cancelled, on_result=done)
    except NotBatchable as e:
        reason = str(e)
    except StoreError:  # nothing can be recorded: the worker ends with the message
        raise
    except Exception as e:  # every failure is reported on the runs that have not ended
        traceback.print_exc()
        for i in ids:
            run = store.get_run(i)
            if run is not None and run.status == "running":
                store.finish(i, "failed", f"{type(e).__name__}: {e}")
        return [None] * len(ids)
    out = []
    for r in runs:
        store.mark_started(r.id, {"seeds_path": "separately", "seeds_reason": reason})
        out.append(execute(store, r.id, r.config, abort=abort))
    return out


# on a class's server: runs of one seed group one worker claims at once. Short turns free a
# worker for the next student sooner: bench_class (20 students, a 40-run study queued) had
# worst waits of 16.0 and 24.9 s with turns of 8, 7.0 and 10.4 s with turns of 4
CLASS_BATCH = 4
# ... and other students' runs alike but for the seed claimed with a run taken alone: each
# gets its first epoch one batched epoch after the claim, so the more the sooner for all
CLASS_ALIKE = 32


def claim(store: RunStore, worker_pid: int) -> list[Run]:
    """What a worker trains next: ``RunStore.claim_group`` (the fair choice, with its seed
    group). On a class's server (``access.class_mode``):

    - a claim takes at most ``CLASS_BATCH`` runs of a seed group, so a student's long
      study is cut into short turns;
    - one student trains on at most all workers but one (``default_workers() - 1``, at
      least one), so a worker is free for the next student's first run whenever it comes;
    - a run claimed alone takes with it (up to ``CLASS_ALIKE`` in all) other students'
      queued runs alike but for the seed (``RunStore.claim_alike``): many students
      pressing Train on the class link's setup train as one batched model, each run
      still its own."""
    from ..store.access import class_mode

    if not class_mode():
        return store.claim_group(worker_pid)
    runs = store.claim_group(worker_pid, limit=CLASS_BATCH, share=max(1, default_workers() - 1))
    if len(runs) == 1:
        from ..engine.replicas import batch_reason

        if batch_reason(runs[0].config) is None:
            more = store.claim_alike(worker_pid, runs[0].id, CLASS_ALIKE - 1)
            found = store.runs_by_id(more)
            runs += [found[i] for i in more if i in found]
    return runs


class JobRunner:
    """A pool of worker processes over one run store, with a supervisor thread that
    starts them, marks the run of a crashed worker ``failed`` and starts a new worker.

    ``n_workers``: None = ``default_workers()`` (``$MTAE_WORKERS``, else one per core);
    0 = none (runs stay queued, e.g. for another runner). One worker starts at once, the
    others when runs wait for them (see ``_wanted``)."""

    def __init__(self, store: RunStore, n_workers: int | None = None,
                 log_path: str | Path | None = None) -> None:
        if n_workers is not None and n_workers < 0:
            raise ValueError(f"the number of workers must be 0 or more, not {n_workers}")
        self.store = store
        self.n_workers = default_workers() if n_workers is None else n_workers
        self.log_path = Path(log_path) if log_path else store.path.with_name("worker.log")
        self.procs: list[subprocess.Popen[bytes]] = []
        self._pipes: dict[int, int] = {}  # worker pid -> write end of its parent-alive pipe
        self._reports: dict[int, int] = {}  # worker pid -> read end of what it reports
        self.device: str | None = None  # the device an "auto" run trains on, once a worker said
        # why no worker can serve the store (damaged, read-only...): then none is started
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._spawned = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> JobRunner:
        """Mark runs left ``running`` by a gone worker as failed, then start the workers.
        Queued runs stay queued and are taken in order."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return self
            self.store.fail_orphans(reason=APP_STOPPED)
            # Workers are started by this long-lived thread, not the caller's: Linux's
            # parent-death signal fires when the *thread* that forked a child ends, and a
            # Streamlit script thread ends after every rerun.
            self._thread = threading.Thread(target=self._supervise, name="mtae-supervisor",
                                            daemon=True)
            self._thread.start()
            atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the workers (each records its run as failed) and wait for them."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
        atexit.unregister(self.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for p in self.procs:
                self._close_pipe(p.pid)  # the worker sees EOF: ends its run, then exits
                if p.poll() is None:
                    p.terminate()
            deadline = time.monotonic() + timeout
            for p in self.procs:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            self.procs.clear()
        try:
            self.store.fail_orphans(reason=APP_STOPPED)
        except StoreError as e:  # nothing to record in a store that cannot be used
            self._store_failed(e)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once the workers have been started (not necessarily warm)."""
        return self._spawned.wait(timeout)

    @property
    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self.procs if p.poll() is None]

    # -- work ---------------------------------------------------------------------------------
    def submit(self, cfg: ExperimentConfig, owner: str | None = None, actor: Actor = CLI) -> int:
        """Queue a run and make sure workers serve it (``actor``: as in
        ``RunStore.create_run``; ``QueueFull`` for a student over the class's cap)."""
        run_id = self.store.create_run(cfg, owner=owner, actor=actor)
        self.start()
        return run_id

    def cancel(self, run_id: int, actor: Actor = CLI) -> None:
        """``RunStore.request_cancel``: ``NotAllowed`` when it is not ``actor``'s run."""
        self.store.request_cancel(run_id, actor)

    def cancel_many(self, run_ids: Iterable[int], actor: Actor = CLI) -> None:
        """Cancel several runs: queued ones at once, running ones at their next poll (one
        audit row; ``NotAllowed``, nothing cancelled, if any is not ``actor``'s)."""
        self.store.cancel_runs(list(run_ids), actor)

    def wait(self, run_ids: Sequence[int], timeout: float | None = None,
             on_progress: Callable[[list[Run]], None] | None = None,
             poll: float = 0.25) -> list[Run]:
        """Poll the store until every run in ``run_ids`` has ended; return them in that
        order. ``on_progress`` gets the current runs after each poll that changed one of
        them (status or progress). Raises ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        latest: dict[int, Run] = {}
        pending = list(dict.fromkeys(run_ids))
        first = True
        while True:
            changed = first
            first = False
            for run_id in pending:
                run = self.store.get_run(run_id)
                if run is None:
                    raise KeyError(f"there is no run #{run_id} (it may have been deleted)")
                old = latest.get(run_id)
                if old is None or (old.status, old.progress) != (run.status, run.progress):
                    changed = True
                latest[run_id] = run
            pending = [i for i in pending if latest[i].active]
            if changed and on_progress is not None:
                on_progress([latest[i] for i in run_ids])
            if not pending:
                return [latest[i] for i in run_ids]
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{len(pending)} of {len(set(run_ids))} runs had not ended "
                                   f"after {timeout:g} s")
            time.sleep(poll)

    # -- internals ----------------------------------------------------------------------------
    def _spawn(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The worker watches the read end; the write end stays here (it is not inherited
        # by other children), so it closes exactly when this process ends, however.
        read_end, write_end = os.pipe()
        # and a pipe back: the worker says which device it trains on (so the app's server
        # never initialises CUDA, nor waits for torch, to show it)
        report_read, report_write = os.pipe()
        try:
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "mtae_core.runner.worker", "--db", str(self.store.path),
                     "--parent", str(os.getpid()), "--parent-fd", str(read_end),
                     "--report-fd", str(report_write)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    pass_fds=(read_end, report_write), cwd=Path(__file__).resolve().parent.parent,
                )
        except BaseException:
            os.close(write_end)
            os.close(report_read)
            raise
        finally:
            os.close(read_end)
            os.close(report_write)
        self._pipes[proc.pid] = write_end
        self._reports[proc.pid] = report_read
        return proc

    def _read_reports(self) -> None:
        """Take in what workers reported (``device <label>`` lines), without blocking."""
        fds = list(self._reports.values())
        if not fds:
            return
        ready, _, _ = select.select(fds, [], [], 0)
        for pid, fd in list(self._reports.items()):
            if fd not in ready:
                continue
            data = os.read(fd, 4096)
            if not data:  # the worker closed it (said all it had, or ended)
                os.close(fd)
                del self._reports[pid]
                continue
            for line in data.decode(errors="replace").splitlines():
                if line.startswith("device "):
                    self.device = line.removeprefix("device ").strip()
                elif line.startswith("store-error "):
                    self.problem = line.removeprefix("store-error ").strip()

    def _close_pipe(self, pid: int) -> None:
        for fds in (self._pipes, self._reports):
            fd = fds.pop(pid, None)
            if fd is not None:
                os.close(fd)

    def _wanted(self) -> int:
        """How many workers to have now: one warm worker from the start (a Train press
        starts at once), more — up to ``n_workers`` — as soon as more runs are queued or
        running (a study). So an app on a many-core machine does not start a dozen torch
        processes for one class demo, and the first view is not slowed by their start.
        A class's server (``access.class_mode``) starts them all with the app: twenty
        students press Train within seconds, and a worker starting then (importing torch
        on a busy machine) keeps them waiting for it."""
        from ..store.access import class_mode

        if self.n_workers == 0 or len(self.procs) >= self.n_workers or class_mode():
            return self.n_workers
        return min(self.n_workers, max(1, len(self.store.runs(("queued", "running")))))

    def _spawn_wanted(self) -> None:
        if self.problem is not None:  # a new worker would only fail the same way
            return
        wanted = self._wanted()
        while len(self.procs) < wanted:
            self.procs.append(self._spawn())

    def _supervise(self) -> None:
        # This thread is the workers' parent: if it ended, Linux would stop them all
        # (PR_SET_PDEATHSIG), so a failing step (a locked store, say) is logged, not fatal.
        try:
            with self._lock:
                if not self._stop.is_set():
                    self._spawn_wanted()
        except StoreError as e:
            self._store_failed(e)
        except Exception:
            traceback.print_exc()
        finally:
            self._spawned.set()
        while not self._stop.wait(SUPERVISE_SECONDS):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    self._tick()
                except StoreError as e:
                    self._store_failed(e)
                except Exception:
                    traceback.print_exc()

    def _store_failed(self, e: StoreError) -> None:
        """The store cannot be used (any more): say so once, and start no more workers."""
        if self.problem is None:
            print(f"mtae: {e}", file=sys.stderr, flush=True)
        self.problem = str(e)

    def _tick(self) -> None:
        """Read what workers reported, replace dead ones (failing their runs), start
        more while runs wait. Called with the lock held."""
        self._read_reports()
        dead = [p for p in self.procs if p.poll() is not None]
        if any(p.returncode == STORE_EXIT for p in dead):
            self._read_reports()  # its last words: why
            if self.problem is None:
                self.problem = (f"the training workers cannot use the run store {self.store.path}"
                                f" (see {self.log_path})")
        if dead:
            for p in dead:
                self._close_pipe(p.pid)
            codes = ", ".join(str(p.returncode) for p in dead)
            self.store.fail_orphans(
                reason=f"the worker process training this run stopped unexpectedly (exit code {codes})")
            self.procs = [p for p in self.procs if p.poll() is None]
        self._spawn_wanted()
