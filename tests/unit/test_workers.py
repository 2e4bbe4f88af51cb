"""Worker processes never outlive their app, runs are claimed once, and the runner is
ready for studies (several workers, waiting on and cancelling many runs, a restart that
keeps queued runs). The tests that start real workers are marked slow: each worker
imports torch and warms up first (a few seconds on a busy 2-core machine)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mtae_core.engine.training import describe_device, resolve_device
from mtae_core.runner.jobs import (
    APP_STOPPED,
    JobRunner,
    default_workers,
    process_group,
    usable_cores,
)
from mtae_core.runner.worker import set_parent_death_signal
from mtae_core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _wait(pred, timeout: float = 30.0, every: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


# An app in miniature: a process that starts a JobRunner over the store, submits a long
# run and then idles (or exits, when told to), as the Streamlit server does.
APP = textwrap.dedent("""
    import sys, threading
    from mtae_core import ExperimentConfig
    from mtae_core.runner.jobs import JobRunner
    from mtae_core.store.runs import RunStore
    store = RunStore(sys.argv[1])
    runner = JobRunner(store, n_workers=1).start()
    cfg = ExperimentConfig().replace(
        name="long", training={"epochs": 10000, "batch_size": 128, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
    if sys.argv[2] != "none":
        runner.submit(cfg)
    if sys.argv[2] == "exit":  # a normal exit, without runner.stop()
        import time
        while not any(r.status == "running" for r in store.runs()):
            time.sleep(0.05)
        sys.exit(0)
    threading.Event().wait()
""")


@pytest.fixture
def app_process(store: RunStore):
    """``start(mode)`` runs APP in its own process group; every process of that group
    is killed at the end, whatever the test did."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(mode: str = "train") -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("MTAE_WORKERS", None)
        p = subprocess.Popen([sys.executable, "-c", APP, str(store.path), mode], cwd=ROOT,
                             env=env, start_new_session=True)
        procs.append(p)
        return p

    yield start
    for p in procs:
        for pid in process_group(p.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.kill()
        p.wait()


def _running(store: RunStore) -> bool:
    runs = store.runs()
    return bool(runs) and runs[0].status == "running" and not store.metrics(runs[0].id).empty


@pytest.mark.slow
def test_killing_the_app_mid_run_ends_its_worker_and_the_run(store, app_process):
    app = app_process("train")
    assert _wait(lambda: _running(store) or app.poll() is not None, 60), store.runs()
    assert app.poll() is None, "the app script failed"
    run = store.runs()[0]
    workers = [pid for pid in process_group(app.pid) if pid != app.pid]
    assert run.worker_pid in workers
    os.kill(app.pid, signal.SIGKILL)
    app.wait()
    # the worker notices in the middle of training, records why its run ended, and exits
    assert _wait(lambda: not process_group(app.pid), 5), f"still alive: {process_group(app.pid)}"
    assert _wait(lambda: store.get_run(run.id).status == "failed", 5)
    assert store.get_run(run.id).error == APP_STOPPED
    # a new app's runner starts cleanly and leaves no run 'running'
    runner = JobRunner(store, n_workers=0).start()
    try:
        assert not store.runs(["running"])
    finally:
        runner.stop()


@pytest.mark.slow
def test_killing_the_app_while_its_worker_starts_ends_the_worker(store, app_process):
    app = app_process("none")  # no run: the worker is importing torch or warming up
    assert _wait(lambda: len(process_group(app.pid)) >= 2 or app.poll() is not None, 30)
    assert app.poll() is None, "the app script failed"
    os.kill(app.pid, signal.SIGKILL)
    app.wait()
    assert _wait(lambda: not process_group(app.pid), 10), f"still alive: {process_group(app.pid)}"


@pytest.mark.slow
def test_an_app_that_exits_without_stopping_its_runner_leaves_no_worker(store, app_process):
    app = app_process("exit")
    assert app.wait(60) == 0
    assert _wait(lambda: not process_group(app.pid), 5), f"still alive: {process_group(app.pid)}"
    (run,) = store.runs()
    assert run.status == "failed" and run.error == APP_STOPPED


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_run_whose_worker_pid_was_reused_is_failed_at_start(store, tiny_cfg):
    """The pid recorded for a run now belongs to a process that started after the run
    did (this test's own process, for the sake of the test): not its worker."""
    reused = store.create_run(tiny_cfg)
    store.claim_next(worker_pid=os.getpid())
    live = store.create_run(tiny_cfg)
    store.claim_next(worker_pid=os.getpid())
    with sqlite3.connect(store.path) as c:  # the first run started a day before this process
        c.execute("UPDATE runs SET started=? WHERE id=?", (time.time() - 86400, reused))
    JobRunner(store, n_workers=0).start().stop()
    assert store.get_run(reused).status == "failed"
    assert store.get_run(reused).error == APP_STOPPED
    assert store.get_run(live).status == "running"  # its worker (this process) is alive


def test_concurrent_claims_take_each_run_once(store, tiny_cfg):
    ids = [store.create_run(tiny_cfg) for _ in range(12)]
    claimed: list[int] = []
    lock = threading.Lock()

    def claim(pid: int) -> None:
        while (run := store.claim_next(pid)) is not None:
            with lock:
                claimed.append(run.id)

    threads = [threading.Thread(target=claim, args=(1000 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(claimed) == ids


@pytest.mark.slow
def test_two_workers_run_six_runs_each_exactly_once(store, tiny_cfg):
    with sqlite3.connect(store.path) as c:  # record every claim the workers make
        c.executescript("""
            CREATE TABLE claims (run_id INTEGER, pid INTEGER);
            CREATE TRIGGER on_claim AFTER UPDATE OF status ON runs
            WHEN new.status = 'running' BEGIN
                INSERT INTO claims VALUES (new.id, new.worker_pid);
            END;""")
    ids = [store.create_run(tiny_cfg.replace(seed=s)) for s in range(6)]
    runner = JobRunner(store, n_workers=2).start()
    try:
        assert runner.wait_ready()
        assert len(runner.pids) == 2
        runs = runner.wait(ids, timeout=120)
    finally:
        runner.stop()
    assert [r.status for r in runs] == ["done"] * 6
    with sqlite3.connect(store.path) as c:
        claims = c.execute("SELECT run_id, pid FROM claims ORDER BY run_id").fetchall()
    assert [run_id for run_id, _ in claims] == ids  # each run claimed once
    assert [pid for _, pid in claims] == [r.worker_pid for r in runs]
    assert len({r.worker_pid for r in runs}) <= 2


@pytest.mark.slow
def test_queued_runs_stay_queued_across_a_restart_of_the_runner(store, tiny_cfg):
    idle = JobRunner(store, n_workers=0)
    ids = [idle.submit(tiny_cfg.replace(seed=s)) for s in range(2)]
    idle.stop()  # the app stops before any worker took them
    assert [store.get_run(i).status for i in ids] == ["queued", "queued"]
    seen: list[list[str]] = []
    runner = JobRunner(store, n_workers=1).start()  # the app starts again
    try:
        runs = runner.wait(ids, timeout=60, on_progress=lambda rs: seen.append(
            [r.status for r in rs]))
        # the warm worker told the app which device "auto" trains on
        assert _wait(lambda: runner.device is not None, 10)
        assert runner.device == describe_device(resolve_device("auto"))
    finally:
        runner.stop()
    assert [r.status for r in runs] == ["done", "done"]
    assert seen and seen[-1] == ["done", "done"]


def test_wait_times_out_with_a_plain_message_and_cancel_many(store, tiny_cfg):
    runner = JobRunner(store, n_workers=0)
    ids = [runner.submit(tiny_cfg) for _ in range(3)]
    store.finish(ids[0], "done")
    with pytest.raises(TimeoutError, match="2 of 3 runs had not ended after 0.2 s"):
        runner.wait(ids, timeout=0.2, poll=0.05)
    runner.cancel_many(ids[1:])
    runs = runner.wait(ids, timeout=5)
    assert [r.status for r in runs] == ["done", "cancelled", "cancelled"]
    runner.stop()


def test_worker_count_defaults_to_one_per_core(monkeypatch, capsys):
    monkeypatch.delenv("MTAE_WORKERS", raising=False)
    assert default_workers() == usable_cores() >= 1
    monkeypatch.setenv("MTAE_WORKERS", "3")
    assert default_workers() == 3
    for bad in ("zero", "0", "-2"):
        monkeypatch.setenv("MTAE_WORKERS", bad)
        assert default_workers() == usable_cores()
        assert "MTAE_WORKERS must be a whole number of at least 1" in capsys.readouterr().err


def test_runner_with_no_workers_starts_none(store):
    runner = JobRunner(store, n_workers=0).start()
    assert runner.wait_ready()
    assert runner.pids == [] and not runner.alive
    runner.stop()
    with pytest.raises(ValueError, match="0 or more"):
        JobRunner(store, n_workers=-1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_parent_death_signal_is_armed_on_linux():
    import ctypes

    libc = ctypes.CDLL(None)
    got = ctypes.c_int(-1)
    try:
        assert set_parent_death_signal(signal.SIGTERM)
        assert libc.prctl(2, ctypes.byref(got), 0, 0, 0) == 0  # PR_GET_PDEATHSIG
        assert got.value == signal.SIGTERM
    finally:
        set_parent_death_signal(0)  # this test process must not keep it


def test_one_worker_starts_at_once_and_more_when_runs_wait(store, tiny_cfg):
    runner = JobRunner(store, n_workers=2).start()
    try:
        assert runner.wait_ready()
        assert len(runner.pids) == 1  # one warm worker for the next Train press
        for _ in range(2):
            runner.submit(tiny_cfg)
        assert _wait(lambda: len(runner.pids) == 2, 5)
        pids = runner.pids
    finally:
        runner.stop()
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # stop() reaps them
