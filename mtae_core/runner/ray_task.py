"""What runs inside a Ray task of a study (``ray_backend``): one run trained in a Ray
worker process, maybe on another machine, which never opens the driver's store: its rows
go to the driver's ``Reporter`` actor, a user's table arrives by content and is kept in a
private store of the worker, and how the run ended is the task's return value."""

from __future__ import annotations

import atexit
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

STOP_POLL_SECONDS = 0.25  # how often a task asks whether its run was cancelled


class _ReporterSink:
    """Training sink of a task: sends rows to the driver's ``Reporter`` actor instead of
    writing a store (calls from one task to one actor arrive in order)."""

    def __init__(self, reporter: Any, run_id: int, min_interval: float = 0.1) -> None:
        self.reporter, self.run_id = reporter, run_id
        self.min_interval = min_interval
        self._last = 0.0
        self.last_ref: Any = None

    def _send(self, *msg: Any) -> None:
        self.last_ref = self.reporter.put.remote((msg[0], self.run_id, *msg[1:]))

    def started(self, info: dict[str, Any]) -> None:
        self._send("started", info)

    def epoch(self, epoch: int, rows: list[tuple[str, str, str, float]],
              extras: dict[str, Any]) -> None:
        self._send("epoch", epoch, rows, _plain(extras))

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last >= self.min_interval or fraction >= 1.0:
            self._last = now
            self._send("progress", fraction)


def _plain(o: Any) -> Any:
    """Extras as plain lists and numbers (tensors become lists, as the store keeps them)."""
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_plain(v) for v in o]
    if hasattr(o, "tolist"):
        return o.tolist()
    return o


_TABLES_DIR: Path | None = None


def _install_table(table: tuple[str, bytes, str, dict[str, Any]] | None) -> None:
    """Make a user's table known to this worker process: kept in a private store in a
    temporary folder of the worker, which the data-set registry then reads — never the
    driver's store, not even to list tables (so also not without a table)."""
    global _TABLES_DIR
    from ..store.runs import RunStore
    from ..store.tables import attach, attached

    if _TABLES_DIR is None:
        _TABLES_DIR = Path(tempfile.mkdtemp(prefix="mtae-ray-tables-"))
        import shutil

        atexit.register(shutil.rmtree, _TABLES_DIR, True)
    path = _TABLES_DIR / "tables.db"
    if table is None:
        if attached(path) is None:
            attach(path)  # (no file yet: the registry lists no tables)
        return
    name, csv, sha256, meta = table
    private = RunStore(path)
    for key in (name, sha256):  # another file under this name, or this file named otherwise
        held = private.stored_dataset(key)
        if held is not None and (held.name, held.sha256) != (name, sha256):
            private.delete_dataset(held.name)  # (no runs in this store use it)
    if private.stored_dataset(name) is None:
        private.add_dataset(name, csv, sha256, meta)
    attach(path)


_SETTLED = False


def _settle() -> None:
    """Once per Ray worker process: train as a local worker does (one torch thread, one
    CPU per task; the same lower priority, so the app's server on the same machine stays
    responsive and the two backends compete on equal terms)."""
    global _SETTLED
    if _SETTLED:
        return
    import torch

    from .worker import NICE

    torch.set_num_threads(1)
    try:
        os.nice(NICE)
    except (OSError, AttributeError):
        pass
    _SETTLED = True


def run_task(run_id: int, cfg_json: str, table: Any, reporter: Any) -> dict[str, Any]:
    """Train one run in a Ray worker and return how it ended (status, reason, metrics,
    weights). Failures of the run itself (a bad setting, an error in training) come back
    as ``failed`` with the reason; only a lost worker or node raises in the driver."""
    import ray

    _settle()
    # not waited for here (one caller's calls reach an actor in order: "begin" comes
    # first), but before the task returns, so the driver knows it began before it ends
    sent = reporter.put.remote(("begin", run_id, os.getpid(),
                                ray.get_runtime_context().get_node_id()))
    sink: _ReporterSink | None = None
    try:
        _install_table(table)
        from ..config import ExperimentConfig
        from ..engine.training import train

        cfg = ExperimentConfig.from_stored(cfg_json)
        sink = _ReporterSink(reporter, run_id)
        last = [0.0, False]

        def should_stop() -> bool:  # the driver's cancel, asked a few times a second
            now = time.monotonic()
            if now - last[0] >= STOP_POLL_SECONDS:
                last[0] = now
                last[1] = bool(ray.get(reporter.stopping.remote(run_id)))
            return bool(last[1])

        result = train(cfg, sink=sink, should_stop=should_stop)
    except Exception as e:  # the run's own failure: report it, do not retry it
        traceback.print_exc()
        ray.get(sink.last_ref if sink is not None and sink.last_ref is not None else sent)
        return {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    # every row is with the actor before the driver sees the end
    ray.get(sink.last_ref if sink.last_ref is not None else sent)
    weights = None
    if result.status == "done" and result.model is not None:
        weights = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    return {"status": result.status, "reason": result.reason,
            "test_metrics": result.test_metrics, "val_metrics": result.val_metrics,
            "seconds": result.seconds, "info": result.info, "weights": weights}


class Reporter:
    """A Ray actor (no CPU of its own) between tasks and the driver: tasks put their
    rows, the driver drains them; the driver marks runs to stop, tasks ask."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.stop: set[int] = set()

    def put(self, msg: tuple[Any, ...]) -> None:
        self.rows.append(msg)

    def drain(self) -> list[tuple[Any, ...]]:
        out, self.rows = self.rows, []
        return out

    def request_stop(self, run_ids: list[int]) -> None:
        self.stop.update(run_ids)

    def stopping(self, run_id: int) -> bool:
        return run_id in self.stop
