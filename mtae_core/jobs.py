"""Running stored runs: ``execute`` (one run, in this process) and ``JobRunner`` (a small
pool of worker processes that take queued runs from the store and honour cancels).

Training never runs in the Streamlit script thread: the UI only inserts queued runs and
reads the store, so clicks, page switches and browser refreshes never touch a run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import ExperimentConfig
from .store import RunStore

POLL_SECONDS = 0.1  # how often an idle worker looks for queued runs


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
            on_progress: Callable[[float], None] | None = None) -> Any:
    """Train one stored run here and record how it ended. Returns the TrainResult, or
    None when training raised (the run is then ``failed`` with the reason)."""
    from .training import train

    def should_stop() -> bool:
        return store.cancel_requested(run_id)

    try:
        result = train(cfg, sink=StoreSink(store, run_id, on_progress), should_stop=should_stop)
    except Exception as e:  # report every failure on the run instead of dying silently
        traceback.print_exc()
        store.finish(run_id, "failed", f"{type(e).__name__}: {e}")
        return None
    if result.status == "done" and result.model is not None:
        store.save_weights(run_id, result.model.state_dict())
    store.finish(run_id, result.status, result.reason, result.test_metrics, result.seconds,
                 val_metrics=result.val_metrics, info=result.info)
    return result


def worker_main(db: str) -> None:
    """Loop of a worker process: claim the oldest queued run, train it, repeat. Exits
    when its parent (the app) goes away."""
    _warm_up()
    parent = os.getppid()
    store = RunStore(db)
    while os.getppid() == parent:
        run = store.claim_next(os.getpid())
        if run is None:
            time.sleep(POLL_SECONDS)
            continue
        execute(store, run.id, run.config)


def _warm_up() -> None:
    """Import and run a one-epoch toy job before taking real ones, so the first run of a
    session shows its first point in a fraction of a second, not after lazy imports."""
    from .training import train

    try:
        train(ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"},
                                         model={"hidden": [8], "latent_dim": 2}))
    except Exception:  # warming up must never keep a worker from serving
        traceback.print_exc()


class JobRunner:
    """A small pool of worker processes over one run store, with a supervisor thread
    that marks the run of a crashed worker ``failed`` and starts a new worker."""

    def __init__(self, store: RunStore, n_workers: int | None = None,
                 log_path: str | Path | None = None) -> None:
        self.store = store
        self.n_workers = n_workers or int(os.environ.get("MTAE_WORKERS", "1"))
        self.log_path = Path(log_path) if log_path else store.path.with_name("worker.log")
        self.procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> JobRunner:
        with self._lock:
            if self._thread is not None:
                return self
            # runs left 'running' by an app or worker that died earlier
            self.store.fail_orphans(reason="the app or its worker stopped while this run was training")
            for _ in range(self.n_workers):
                self.procs.append(self._spawn())
            self._thread = threading.Thread(target=self._supervise, name="mtae-supervisor", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            for p in self.procs:
                p.terminate()
            for p in self.procs:
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            self.procs.clear()
        self.store.fail_orphans(reason="the app stopped while this run was training")

    @property
    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    # -- work ---------------------------------------------------------------------------------
    def submit(self, cfg: ExperimentConfig, owner: str | None = None) -> int:
        run_id = self.store.create_run(cfg, owner=owner)
        self.start()
        return run_id

    def cancel(self, run_id: int) -> None:
        self.store.request_cancel(run_id)

    # -- internals ----------------------------------------------------------------------------
    def _spawn(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115  (the child keeps it)
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "mtae_core.worker", "--db", str(self.store.path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
            )
        finally:
            log.close()

    def _supervise(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                if self._stop.is_set():
                    return
                dead = [p for p in self.procs if p.poll() is not None]
                if not dead:
                    continue
                codes = ", ".join(str(p.returncode) for p in dead)
                self.store.fail_orphans(
                    reason=f"the worker process training this run stopped unexpectedly (exit code {codes})")
                self.procs = [p for p in self.procs if p.poll() is None]
                while len(self.procs) < self.n_workers:
                    self.procs.append(self._spawn())
