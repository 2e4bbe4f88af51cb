from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest
import torch

from mtae_core.engine.training import build
from mtae_core.runner.jobs import JobRunner, execute
from mtae_core.store.runs import RunStore


def _wait(pred, timeout=30.0, every=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def test_run_lifecycle_metrics_and_weights(store, tiny_cfg):
    run_id = store.create_run(tiny_cfg)
    assert store.get_run(run_id).status == "queued"
    claimed = store.claim_next(os.getpid())
    assert claimed.id == run_id and claimed.status == "running"
    assert store.claim_next(os.getpid()) is None  # nothing else queued
    execute(store, run_id, tiny_cfg)
    run = store.get_run(run_id)
    assert run.status == "done" and run.progress == 1.0 and run.device == "cpu"
    assert run.config == tiny_cfg
    assert run.test_metrics["digit"]["accuracy"] > 0
    m = store.metrics(run_id)
    assert sorted(m.epoch.unique()) == [0, 1]
    assert {"train", "val"} <= set(m.split)
    assert len(store.extras(run_id)) == 2
    w = store.load_weights(run_id)  # torch.load(..., weights_only=True)
    _, model = build(tiny_cfg)
    model.load_state_dict(w)
    assert all(isinstance(v, torch.Tensor) for v in w.values())
    table = store.runs_table()
    assert table.loc[0, "status"] == "done" and "digit · accuracy" in table.columns


def test_runs_survive_reopening_the_store(store, tiny_cfg):
    run_id = store.create_run(tiny_cfg)
    execute(store, run_id, tiny_cfg)
    again = RunStore(store.path)
    assert again.get_run(run_id).status == "done"
    assert not again.metrics(run_id).empty
    with sqlite3.connect(store.path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_worker_writes_while_the_ui_reads(store, tiny_cfg):
    cfg = tiny_cfg.replace(training={"epochs": 40})
    run_id = store.create_run(cfg)
    errors, seen = [], set()

    def read():
        try:
            while store.get_run(run_id).active:
                seen.add(len(store.metrics(run_id)))
                store.runs_table()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    reader = threading.Thread(target=read)
    store.claim_next(os.getpid())
    reader.start()
    execute(store, run_id, cfg)
    reader.join(10)
    assert not errors
    assert len(seen) > 2  # the reader saw the table grow
    assert store.get_run(run_id).status == "done"


def test_cancel_a_queued_run_is_immediate(store, tiny_cfg):
    run_id = store.create_run(tiny_cfg)
    store.request_cancel(run_id)
    assert store.get_run(run_id).status == "cancelled"
    assert store.claim_next(os.getpid()) is None


def test_nan_run_is_stored_as_diverged(store, tiny_cfg):
    cfg = tiny_cfg.replace(optimizer={"kind": "sgd", "lr": 10.0, "momentum": 0.99},
                           training={"epochs": 30})
    run_id = store.create_run(cfg)
    execute(store, run_id, cfg)
    run = store.get_run(run_id)
    assert run.status == "diverged" and "NaN or infinite" in run.error


def test_missing_cuda_marks_run_failed_with_the_plain_reason(store, tiny_cfg):
    cfg = tiny_cfg.replace(training={"device": "cuda"})
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    run_id = store.create_run(cfg)
    assert execute(store, run_id, cfg).status == "failed"
    run = store.get_run(run_id)
    assert run.status == "failed"
    assert run.error == "this machine has no CUDA GPU; choose device auto or cpu"


def test_training_exception_marks_run_failed(store, tiny_cfg, monkeypatch):
    import mtae_core.engine.training

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(mtae_core.engine.training, "train", broken)
    run_id = store.create_run(tiny_cfg)
    assert execute(store, run_id, tiny_cfg) is None
    run = store.get_run(run_id)
    assert run.status == "failed" and "boom" in run.error


@pytest.fixture
def runner(store):
    r = JobRunner(store, n_workers=1).start()
    yield r
    r.stop()


def test_job_runner_trains_and_cancels_in_worker_processes(store, runner, tiny_cfg):
    run_id = runner.submit(tiny_cfg)
    assert _wait(lambda: store.get_run(run_id).status == "done", 60), store.get_run(run_id)
    assert store.get_run(run_id).worker_pid != os.getpid()
    long_id = runner.submit(tiny_cfg.replace(training={"epochs": 5000}))
    assert _wait(lambda: not store.metrics(long_id).empty, 30)
    t0 = time.monotonic()
    runner.cancel(long_id)
    assert _wait(lambda: store.get_run(long_id).status == "cancelled", 5)
    assert time.monotonic() - t0 < 1.0
    assert not store.get_run(long_id).active


def test_killed_worker_leaves_its_run_failed_and_the_store_intact(store, runner, tiny_cfg):
    done_id = runner.submit(tiny_cfg)
    assert _wait(lambda: store.get_run(done_id).status == "done", 60)
    run_id = runner.submit(tiny_cfg.replace(training={"epochs": 5000}))
    assert _wait(lambda: not store.metrics(run_id).empty, 30)
    pid = store.get_run(run_id).worker_pid
    os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: store.get_run(run_id).status == "failed", 10)
    assert "stopped unexpectedly" in store.get_run(run_id).error
    with sqlite3.connect(store.path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.get_run(done_id).status == "done" and store.load_weights(done_id)
    # the supervisor started a new worker, which takes the next run
    next_id = runner.submit(tiny_cfg)
    assert _wait(lambda: store.get_run(next_id).status == "done", 60)
    assert store.get_run(next_id).worker_pid != pid


def test_stale_running_run_is_failed_when_the_app_starts(store, tiny_cfg):
    run_id = store.create_run(tiny_cfg)
    store.claim_next(worker_pid=2**22 + 12345)  # a pid that does not exist
    runner = JobRunner(store, n_workers=0).start()  # (0: no worker; it once meant "default")
    try:
        assert runner.wait_ready() and runner.pids == []
        run = store.get_run(run_id)
        assert run.status == "failed" and run.error == "the app stopped during training"
    finally:
        runner.stop()
