"""A training worker process: ``python -m mtae_core.runner.worker --db PATH [--parent PID
--parent-fd FD]``, started by ``jobs.JobRunner``.

It claims the next queued run in the fair order (``jobs.claim``), trains it, and repeats,
until its parent (the app) goes away — which it notices however the parent ends, even by
SIGKILL, and at any moment, also while importing, warming up or in the middle of an epoch:

- the read end of a pipe (``--parent-fd``) whose write end only the parent holds: the
  kernel closes it when the parent ends, and a watcher thread sees end-of-file;
- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel signals the worker;
- and, where neither exists, the watcher compares ``os.getppid()`` with ``--parent``.

Then training stops at its next poll (every 0.2 s), the run is recorded as ``failed``
("the app stopped during training") and the worker exits; if that takes longer than
``GRACE_SECONDS`` the watcher records it and ends the process itself.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import NoReturn

from ..errors import StoreError
from ..store.runs import RunStore
from .jobs import APP_STOPPED, POLL_SECONDS, STORE_EXIT, claim, execute_group

GRACE_SECONDS = 2.0  # how long a worker whose app is gone may take to end its run cleanly
WATCH_SECONDS = 0.25  # how often the watcher checks the parent pid (besides the pipe)
NICE = 5  # the app's server wins the CPU over training when both want it (snappy UI)
_PR_SET_PDEATHSIG = 1


class ParentWatch:
    """Sets ``gone`` when the parent process ends (or asks this worker to stop with
    SIGTERM); after ``GRACE_SECONDS`` more, fails the current run and exits."""

    def __init__(self, parent_pid: int | None, parent_fd: int | None) -> None:
        self.parent_pid = parent_pid
        self.parent_fd = parent_fd
        self.gone = threading.Event()
        self.finished = threading.Event()  # the main loop has ended its work
        self.store: RunStore | None = None
        self.run_ids: list[int] = []  # the runs being trained now (a study cell's seeds)

    def start(self) -> ParentWatch:
        signal.signal(signal.SIGTERM, self._on_signal)
        # Ctrl-C in a terminal reaches the whole process group: the app (or `mtae study`)
        # decides what happens to the runs (cancel them, or stop and end this worker)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        set_parent_death_signal(signal.SIGTERM)
        if self._parent_ended():  # it may have ended before the signal was armed
            self.gone.set()
        threading.Thread(target=self._watch, name="mtae-parent-watch", daemon=True).start()
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.gone.set()  # only set a flag: the main thread may hold a store transaction

    def _parent_ended(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def _watch(self) -> None:
        while not self.gone.is_set():
            if self.parent_fd is not None:
                ready, _, _ = select.select([self.parent_fd], [], [], WATCH_SECONDS)
                if ready and not os.read(self.parent_fd, 1):  # EOF: the parent is gone
                    self.gone.set()
            else:
                self.gone.wait(WATCH_SECONDS)
            if self._parent_ended():
                self.gone.set()
        if self.finished.wait(GRACE_SECONDS):
            return
        # training did not reach a poll in time (a long import or step): end it here
        try:
            if self.store is not None:
                for run_id in self.run_ids:
                    run = self.store.get_run(run_id)
                    if run is not None and run.status == "running":  # not those that ended
                        self.store.finish(run_id, "failed", APP_STOPPED)
        finally:
            os._exit(1)


def set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent ends. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def worker_main(db: str, parent_pid: int | None = None, parent_fd: int | None = None,
                report_fd: int | None = None) -> None:
    """Loop of a worker process: claim the oldest queued run (with the queued runs of its
    seed group), train it (them), repeat, until the
    parent goes away. ``report_fd``: where to say which device "auto" trains on."""
    watch = ParentWatch(parent_pid, parent_fd).start()
    try:
        try:  # first: a store that cannot be used ends this worker with one plain line
            store = RunStore(db)
        except StoreError as e:
            _give_up(e, report_fd)
        watch.store = store
        _settle()
        if not watch.gone.is_set():
            _warm_up(watch.gone)
        if report_fd is not None:
            _report(report_fd, f"device {_device_label()}")
        while not watch.gone.is_set():
            try:
                # the fair choice, with the queued runs of its seed group: trained together
                runs = claim(store, os.getpid())
                if not runs:
                    watch.gone.wait(POLL_SECONDS)
                    continue
                watch.run_ids = [r.id for r in runs]
                execute_group(store, runs, abort=watch.gone)
            except StoreError as e:  # the store went bad (or read-only) while serving it
                _give_up(e, report_fd)
            watch.run_ids = []
    finally:
        watch.finished.set()


def _give_up(e: StoreError, report_fd: int | None) -> NoReturn:
    """End this worker over a store it cannot use: the message in its log, the same line
    to its runner (which then starts no more workers and says why), no traceback."""
    print(f"mtae worker: {e}", file=sys.stderr, flush=True)
    if report_fd is not None:
        _report(report_fd, f"store-error {e}")
    raise SystemExit(STORE_EXIT)


def _settle() -> None:
    """One torch thread per worker (the runner starts one worker per core, and small
    models lose more to thread hand-offs than they gain), at a lower priority than the
    app's server."""
    import torch

    torch.set_num_threads(1)
    try:
        os.nice(NICE)
    except (OSError, AttributeError):
        pass


def _warm_up(stop: threading.Event) -> None:
    """Import and run a one-epoch toy job before taking real ones, so the first run of a
    session shows its first point in a fraction of a second, not after lazy imports."""
    from ..config import ExperimentConfig
    from ..engine.training import train

    try:
        train(ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"},
                                         model={"hidden": [8], "latent_dim": 2}),
              should_stop=stop.is_set)
    except Exception:  # warming up must never keep a worker from serving
        traceback.print_exc()


def _device_label() -> str:
    from ..engine.training import describe_device, resolve_device

    try:
        return describe_device(resolve_device("auto"))
    except Exception as e:  # a broken driver: say so rather than nothing
        return f"unknown ({type(e).__name__})"


def _report(fd: int, line: str) -> None:
    """One line to the runner (``device <label>``, ``store-error <message>``)."""
    try:
        os.write(fd, (" ".join(line.split()) + "\n").encode())
    except OSError:  # the app is gone; the watcher handles that
        pass


def main() -> None:
    p = argparse.ArgumentParser(description="MTAE Studio training worker")
    p.add_argument("--db", required=True, help="path of the SQLite run store")
    p.add_argument("--parent", type=int, help="pid of the app; the worker ends when it does")
    p.add_argument("--parent-fd", type=int,
                   help="read end of a pipe the app holds open; EOF means the app ended")
    p.add_argument("--report-fd", type=int, help="write end of a pipe to the app: the device")
    a = p.parse_args()
    from ..store.tables import attach

    attach(a.db)  # configs may name the users' tables of the store it serves
    worker_main(a.db, a.parent, a.parent_fd, a.report_fd)


if __name__ == "__main__":
    main()
