"""Studies on a Ray cluster: each run of a study is one Ray task (``@ray.remote``, one
CPU, a fraction of a GPU when the run asks for CUDA), the single-machine ``JobRunner``
staying the default. Ray is an optional extra (``pip install '.[ray]'``): ``available()``
says whether it is installed, and nothing here imports it before it is needed.

The driver (this process: the app or ``mtae study --backend ray``) is the only writer of
the run store. Tasks never open the SQLite file, so the cluster's machines need not share
a disk: a task sends its per-epoch rows to a small actor (``Reporter``) that the driver
drains several times a second, so live curves appear while remote runs train, and
returns its final metrics and weights. A user's CSV data set travels by content: put once
in the object store per file hash, installed by the task in a private store of its own
(the task's side is ``ray_task``).

Runs a Ray driver serves are tagged in the store (``backend='ray'``) from the moment they
are queued, so the app's local workers never take them. A task whose worker or node is
lost marks its run ``failed`` with the reason and is retried once, as a new run of the
study (the failed one keeps its partial epochs; the new run's info names it). Cancel asks
the task to stop at its next poll, then cancels it in Ray. ``shutdown`` cancels every
task of this driver and, when this driver started the Ray instance, stops it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jobs import APP_STOPPED
from .ray_task import Reporter, run_task

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from ..store.runs import RunStore

BACKEND = "ray"
INSTALL_HINT = "Ray is not installed: pip install '.[ray]' (make test installs it too)"
GPU_FRACTION = 0.25  # small runs share a GPU: four at a time on one card
POLL_SECONDS = 0.1  # how often the driver drains rows and looks for ended tasks
CANCEL_GRACE_SECONDS = 2.0  # a task asked to stop that is still running is cancelled in Ray
MAX_ATTEMPTS = 2  # a run whose task was lost is retried once


def available() -> bool:
    """Whether Ray is installed (without importing it: that costs a second)."""
    return importlib.util.find_spec("ray") is not None


class RayMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


class RayUnreachable(RuntimeError):
    """The cluster at the given address could not be joined (plain words)."""


# ---- the driver ---------------------------------------------------------------------------------


@dataclass
class _Task:
    run_id: int
    study_id: int
    ref: Any
    attempt: int  # 1, then 2 for the retry
    cfg: ExperimentConfig
    retry_info: dict[str, Any]
    began: bool = False
    stop_asked: float | None = None  # when the driver asked it to stop
    killed: bool = False  # cancelled in Ray (it did not stop when asked)
    pid: int | None = None  # the Ray worker process, once the task began


def lost_reason(e: BaseException) -> str | None:
    """Plain words for a task lost by Ray (worker or node gone, out of memory), or None
    when ``e`` is not such a loss."""
    from ray import exceptions as rx

    first = (str(e).strip().splitlines() or [""])[0][:200]
    if isinstance(e, rx.NodeDiedError):
        return f"the Ray node (machine) training it was lost ({first})"
    oom = getattr(rx, "OutOfMemoryError", None)
    if oom is not None and isinstance(e, oom):
        return "Ray stopped its worker: the machine ran out of memory"
    if isinstance(e, rx.WorkerCrashedError | rx.LocalRayletDiedError):
        return "the Ray worker process training it stopped unexpectedly (killed or crashed)"
    if isinstance(e, rx.ObjectLostError | rx.RaySystemError):
        return f"Ray lost the task ({type(e).__name__}: {first})"
    return None


class RayBackend:
    """Drives studies' runs as Ray tasks and writes everything they report into ``store``.

    ``address``: a running cluster (``ray start --head`` prints it); None starts a local
    Ray instance with ``num_cpus`` CPUs (default: all). Use ``step()`` in a loop (the CLI)
    or ``start()`` for a background thread (the app); ``shutdown()`` at the end."""

    def __init__(self, store: RunStore, address: str | None = None,
                 num_cpus: int | None = None, gpu_fraction: float = GPU_FRACTION) -> None:
        if not available():
            raise RayMissing()
        self.store = store
        self.address = address
        self.num_cpus = num_cpus
        self.gpu_fraction = gpu_fraction
        self.pid = os.getpid()
        self.tasks: dict[int, _Task] = {}  # run id -> its task
        self._owns_ray = False
        self._reporter: Any = None
        self._remote: Any = None
        self._tables: dict[str, Any] = {}  # file hash -> its object ref (put once)
        self._gpus = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- connecting -----------------------------------------------------------------------
    def connect(self) -> RayBackend:
        """Join the cluster (or start a local instance) and start the reporter actor."""
        import logging
        import sys

        if self.address and "ray" not in sys.modules:
            _use_cluster_token()  # read when Ray is imported
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            if self._reporter is not None:
                return self
            if not ray.is_initialized():
                try:
                    # no address: a new instance of our own ("local"), never a cluster
                    # that happens to run on this machine (--address auto joins that)
                    ray.init(address=self.address or "local",
                             num_cpus=None if self.address else self.num_cpus,
                             include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING,
                             # the worker processes import this package from here
                             runtime_env=None if self.address is None else _runtime_env())
                except (ConnectionError, ValueError, RuntimeError) as e:
                    raise RayUnreachable(
                        f"cannot reach the Ray cluster at {self.address}: "
                        f"{(str(e).splitlines() or [''])[0]} (is `ray start --head` running "
                        "there, and does this computer hold its token, ~/.ray/auth_token?)"
                    ) from None
                self._owns_ray = True
            self._gpus = float(ray.cluster_resources().get("GPU", 0.0))
            # the reporter lives on this driver's machine: losing another machine never
            # loses the rows of the runs that still train
            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(),
                                                  soft=False)
            self._reporter = ray.remote(num_cpus=0)(Reporter).options(
                scheduling_strategy=here).remote()
            # retries are ours (once, as a new run), not Ray's: a retried task would mix
            # a second attempt's epochs into the first one's
            self._remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
            atexit.register(self.shutdown)
        return self

    # -- work -----------------------------------------------------------------------------------
    def drive(self, study_id: int) -> list[int]:
        """Take the study's queued runs (those tagged for Ray, and untagged ones no local
        worker took yet) and submit one task per run. Returns their ids."""
        self.connect()
        df = self.store.study_runs(study_id)
        ids = self.store.claim_for_backend([int(i) for i in df.run_id], BACKEND, self.pid)
        runs = self.store.runs_by_id(ids)
        with self._lock:
            for run_id in ids:
                if run_id in runs and run_id not in self.tasks:
                    self._submit(run_id, study_id, runs[run_id].config, 1, {})
        return ids

    def _submit(self, run_id: int, study_id: int, cfg: ExperimentConfig, attempt: int,
                retry_info: dict[str, Any]) -> None:
        opts: dict[str, Any] = {"name": f"mtae-run-{run_id}"}
        # a GPU share when the run may use one and the cluster has GPUs (a "cuda" run on a
        # cluster without any would wait forever: it runs, and says there is no GPU)
        if cfg.training.device in ("cuda", "auto") and self._gpus > 0:
            opts["num_gpus"] = self.gpu_fraction
        ref = self._remote.options(**opts).remote(run_id, cfg.to_json(None), self._table(cfg),
                                                  self._reporter)
        self.tasks[run_id] = _Task(run_id, study_id, ref, attempt, cfg, retry_info)

    def _table(self, cfg: ExperimentConfig) -> Any:
        """The object ref of the run's user table (by its hash, put once), or None."""
        import ray

        sha = cfg.data.options.get("sha256") if isinstance(cfg.data.options, dict) else None
        if not sha:
            return None
        if sha not in self._tables:
            ds = self.store.stored_dataset(str(sha))
            csv = self.store.dataset_csv(str(sha))
            if ds is None or csv is None:
                return None  # the task then fails with the data set's own message
            self._tables[sha] = ray.put((ds.name, csv, ds.sha256, ds.meta))
        return self._tables[sha]

    @property
    def connected(self) -> bool:
        return self._reporter is not None

    @property
    def active(self) -> bool:
        with self._lock:
            return bool(self.tasks)

    def step(self, timeout: float = POLL_SECONDS) -> None:
        """One round: write what tasks reported, pass on cancels, take in ended tasks."""
        import ray

        with self._lock:
            if not self.tasks or self._reporter is None:
                return
            self._write(ray.get(self._reporter.drain.remote()))
            self._cancels()
            refs = [t.ref for t in self.tasks.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if not ready:
            return
        with self._lock:
            self._write(ray.get(self._reporter.drain.remote()))  # rows sent before the end
            by_ref = {t.ref: t for t in self.tasks.values()}
            for ref in ready:
                task = by_ref.get(ref)
                if task is not None:
                    del self.tasks[task.run_id]
                    self._ended(task, ref)

    def _write(self, msgs: Sequence[tuple[Any, ...]]) -> None:
        for msg in msgs:
            kind, run_id = msg[0], int(msg[1])
            task = self.tasks.get(run_id)
            if kind == "begin":
                if task is not None:
                    task.pid = int(msg[2])
                    task.began = self.store.mark_backend_running(run_id, self.pid)
                    if not task.began:  # cancelled meanwhile, or taken by someone else
                        self._ask_stop(task)
            elif task is None or not task.began:
                continue  # rows of a run this driver does not hold (never expected)
            elif kind == "started":
                self.store.mark_started(run_id, msg[2])
            elif kind == "epoch":
                self.store.add_epoch(run_id, msg[2], msg[3], msg[4])
            elif kind == "progress":
                self.store.set_progress(run_id, msg[2])

    def _ask_stop(self, task: _Task) -> None:
        if task.stop_asked is None:
            task.stop_asked = time.monotonic()
            self._reporter.request_stop.remote([task.run_id])

    def _cancels(self) -> None:
        """Runs whose cancel was asked for in the store (by the page, the CLI or
        ``planning.cancel``): ask their tasks to stop; cancel in Ray those that linger."""
        import ray

        runs = self.store.runs_by_id(list(self.tasks))
        for run_id, task in self.tasks.items():
            r = runs.get(run_id)
            if r is None or r.cancel_requested or r.status == "cancelled":
                self._ask_stop(task)
            if task.stop_asked is not None and not task.killed and \
                    time.monotonic() - task.stop_asked > CANCEL_GRACE_SECONDS:
                task.killed = True
                ray.cancel(task.ref, force=True)

    def _ended(self, task: _Task, ref: Any) -> None:
        import ray
        from ray import exceptions as rx

        run = self.store.get_run(task.run_id)
        if run is None:  # deleted meanwhile
            return
        # this driver's to end: its task began training it, or it is still queued for it
        # (a task lost before it began); never a run someone else took or ended meanwhile
        ours = run.active and (task.began or run.status == "queued")
        try:
            out = ray.get(ref)
        except Exception as e:  # noqa: BLE001  (cancelled, or lost: worker, node, object)
            if isinstance(e, rx.TaskCancelledError) or task.stop_asked is not None:
                if ours:
                    self.store.finish(task.run_id, "cancelled", "cancelled by the user",
                                      info=task.retry_info or None)
                return
            if isinstance(e, rx.RayTaskError):  # raised in the task outside training
                if ours:
                    self._finish_failed(task, f"{type(e).__name__}: {e}"[:500])
                return
            if ours:
                self._lost(task, lost_reason(e) or f"Ray: {type(e).__name__}: {e}"[:500])
            return
        if not ours or not task.began:  # e.g. cancelled while queued: the store says so
            return
        if out.get("weights") is not None:
            self.store.save_weights(task.run_id, out["weights"])
        info = {**(out.get("info") or {}), **task.retry_info}
        self.store.finish(task.run_id, out["status"], out.get("reason"),
                          out.get("test_metrics"), out.get("seconds"),
                          val_metrics=out.get("val_metrics"), info=info or None)

    def _finish_failed(self, task: _Task, reason: str) -> None:
        self.store.finish(task.run_id, "failed", reason, info=task.retry_info or None)

    def _lost(self, task: _Task, reason: str) -> None:
        """The task's worker or node is gone: the run failed for that reason; try it
        once more as a new run of the study (unless it was being cancelled)."""
        self._finish_failed(task, reason)
        if task.attempt >= MAX_ATTEMPTS or task.stop_asked is not None:
            return
        study = self.store.get_study(task.study_id)
        if study is None or study.cancelled:
            return
        new_id = self.store.create_runs([task.cfg], backend=BACKEND)[0]
        self.store.claim_for_backend([new_id], BACKEND, self.pid)
        self.store.replace_study_run(task.study_id, task.run_id, new_id)
        self._submit(new_id, task.study_id, task.cfg, task.attempt + 1,
                     {"retry_of": task.run_id, "retry_reason": reason})

    def run_until(self, done: Callable[[], bool], on_step: Callable[[], None] | None = None
                  ) -> None:
        """Step until ``done()`` (the CLI's loop)."""
        while not done():
            if self.active:
                self.step()
            else:
                time.sleep(POLL_SECONDS)
            if on_step is not None:
                on_step()

    # -- the app: a background thread --------------------------------------------------------
    def start(self) -> RayBackend:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self.connect()
                self._thread = threading.Thread(target=self._loop, name="mtae-ray-driver",
                                                daemon=True)
                self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.active:
                    self.step()
                else:
                    self._stop.wait(POLL_SECONDS)
            except Exception:  # keep driving: a locked store or a hiccup must not end it
                traceback.print_exc()
                self._stop.wait(POLL_SECONDS)

    # -- the end ---------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every task of this driver (their runs end ``cancelled`` when asked for,
        else ``failed``: the app stopped), then stop Ray if this driver started it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        atexit.unregister(self.shutdown)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        try:
            import ray

            if ray.is_initialized():
                with self._lock:
                    refs = [t.ref for t in self.tasks.values()]
                    if refs:  # first ask: a task that stops by itself keeps its worker warm
                        self._reporter.request_stop.remote(list(self.tasks))
                if refs:
                    _, left = ray.wait(refs, num_returns=len(refs),
                                       timeout=min(timeout, CANCEL_GRACE_SECONDS))
                    for ref in left:
                        ray.cancel(ref, force=True)
                    ray.wait(refs, num_returns=len(refs), timeout=timeout)
                    try:
                        self._write(ray.get(self._reporter.drain.remote(), timeout=timeout))
                    except Exception:  # noqa: BLE001  (what did not arrive is lost)
                        pass
        finally:
            with self._lock:
                runs = self.store.runs_by_id(list(self.tasks))
                queued = [i for i, r in runs.items() if r.status == "queued"]
                for run_id, r in runs.items():
                    if r.status == "running":  # as a local worker's run when the app stops
                        status = "cancelled" if r.cancel_requested else "failed"
                        self.store.finish(run_id, status, "cancelled by the user"
                                          if status == "cancelled" else APP_STOPPED)
                self.tasks.clear()
            # runs that never began wait, like the local queue, for the next worker pool
            self.store.claim_for_backend(queued, None)
            self._stop_ray()

    def _stop_ray(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        if self._reporter is not None:
            try:
                ray.kill(self._reporter)
            except Exception:  # noqa: BLE001
                pass
        if self._owns_ray:
            ray.shutdown()


def _use_cluster_token() -> None:
    """Ray clusters check a token (``ray start --head`` keeps it in ~/.ray/auth_token;
    the other machines need the same file or ``$RAY_AUTH_TOKEN``), but a driver joining
    one sends it only in token mode: turn that on when a token is at hand."""
    if "RAY_AUTH_MODE" in os.environ:
        return  # the user's choice
    if os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"  # (Ray reads it when imported)


def _runtime_env() -> dict[str, Any]:
    """On a remote cluster the workers need this package: ship the project folder
    (mtae_core, ui) as Ray's working directory, without the virtualenv and the store."""
    root = Path(__file__).resolve().parent.parent.parent
    return {"working_dir": str(root),
            "excludes": [".venv", "**/__pycache__", "tests", "docs", "*.db"]}


__all__ = ["BACKEND", "INSTALL_HINT", "RayBackend", "RayMissing", "RayUnreachable",
           "available", "lost_reason", "run_task"]
