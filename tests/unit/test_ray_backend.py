"""Studies on Ray (``mtae_core.runner.ray_backend``) on one local Ray instance for the
module (``ray.init(num_cpus=2)``, shut down after, so Ray's start-up cost stays here): a
study gives the local backend's metrics, a user's table travels by content, a task killed
mid-run fails its run with the reason and is retried once, cancel leaves no task running;
and, without Ray, local workers skip Ray's runs and the CLI says how to install it."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from mtae_core.cli import main
from mtae_core.config import run_key
from mtae_core.runner import ray_backend as rb
from mtae_core.runner.jobs import execute
from mtae_core.store.runs import RunStore
from mtae_core.store.tables import add_table, detach
from mtae_core.studies import StudySpec, cancel, start, summarize

TINY = {"training": {"epochs": 2, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def _spec(epochs: int = 2, **kw) -> StudySpec:
    base = {**TINY, "training": {**TINY["training"], "epochs": epochs}}
    return StudySpec.parse({"name": "t", "base": base, "seeds": 1, **kw})


def _until(pred, timeout: float = 60.0, backend: rb.RayBackend | None = None) -> bool:
    """Poll ``pred`` (driving ``backend`` meanwhile) until true or the deadline."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if backend is not None and backend.active:
            backend.step()
        else:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    import logging

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture
def backend(store, ray_instance):
    b = rb.RayBackend(store).connect()
    yield b
    b.shutdown()
    assert ray_instance.is_initialized()  # the module's instance: not this driver's to stop


def _free_cpus(ray) -> bool:
    return ray.available_resources().get("CPU", 0) == ray.cluster_resources().get("CPU")


# ---- no Ray needed ----------------------------------------------------------------------------


def test_local_workers_skip_runs_queued_for_ray(store, tiny_cfg):
    sid = start(store, _spec(), backend=rb.BACKEND)
    local = store.create_run(tiny_cfg)
    assert store.claim_next(123).id == local  # older study runs are Ray's, not a worker's
    assert store.claim_next(123) is None
    ids = [int(i) for i in store.study_runs(sid).run_id]
    # a driver that stops gives its queued runs back to the local workers
    assert sorted(store.claim_for_backend(ids, None)) == sorted(set(ids))
    assert store.claim_next(123).id == min(ids)


def test_cli_without_ray_says_how_to_install(tmp_path, store, capsys, monkeypatch):
    monkeypatch.setattr(rb, "available", lambda: False)
    path = tmp_path / "spec.json"
    path.write_text(_spec().to_json(None))
    assert main(["--db", str(store.path), "study", str(path), "--backend", "ray"]) == 2
    assert "pip install '.[ray]'" in capsys.readouterr().err
    assert store.studies() == []  # nothing queued
    with pytest.raises(rb.RayMissing, match=r"pip install '\.\[ray\]'"):
        rb.RayBackend(store)


# ---- on the module's Ray instance ---------------------------------------------------------------


def test_a_study_on_ray_gives_the_local_backends_metrics(store, tmp_path, backend):
    spec = _spec(axes={"model.sharing": ["hard", "mmoe"]})
    local = RunStore(tmp_path / "local.db")  # the local backend: what a worker process does
    start(local, spec)
    for r in local.runs(["queued"]):
        execute(local, r.id, r.config)
    sid = start(store, spec, backend=rb.BACKEND)
    ids = backend.drive(sid)
    assert len(ids) == 3  # 2 cells + their single-task baseline
    assert _until(lambda: not backend.active, backend=backend)
    mine = {run_key(r.config): r for r in store.runs()}
    theirs = {run_key(r.config): r for r in local.runs()}
    assert mine.keys() == theirs.keys()
    for key, r in mine.items():
        assert r.status == "done", r.error
        assert r.worker_pid == os.getpid()  # held by the driver, the store's only writer
        for task, ms in theirs[key].test_metrics.items():
            for m, v in ms.items():
                assert r.test_metrics[task][m] == pytest.approx(v, rel=1e-5, abs=1e-6)
        # every epoch's rows came back through the reporter, as local workers write them
        a = store.metrics(r.id).drop(columns="run_id").reset_index(drop=True)
        b = local.metrics(theirs[key].id).drop(columns="run_id").reset_index(drop=True)
        assert len(a) == len(b) > 0
        assert np.allclose(a.value.astype(float), b.value.astype(float), rtol=1e-5, atol=1e-6)
        assert store.load_weights(r.id) is not None
        assert r.info["n_params"] == theirs[key].info["n_params"]
    assert summarize(store, sid).status == "done"


def test_cli_runs_a_study_on_ray(tmp_path, store, capsys, ray_instance):
    path = tmp_path / "spec.json"
    path.write_text(_spec(axes={"model.sharing": ["single_task"]}).to_json(None))
    assert main(["--db", str(store.path), "study", str(path), "--backend", "ray", "--json",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "done" and out["counts"] == {"done": 1}
    assert ray_instance.is_initialized()  # it joined the running instance: not its to stop
    assert _until(lambda: _free_cpus(ray_instance), timeout=20)


def test_the_apps_driver_thread_runs_a_study_by_itself(store, backend):
    backend.start()  # as the app does: a thread drives, the page only reads the store
    sid = start(store, _spec(axes={"model.sharing": ["single_task"]}), backend=rb.BACKEND)
    (run_id,) = backend.drive(sid)
    assert _until(lambda: store.get_run(run_id).status == "done")  # no stepping here
    assert len(store.metrics(run_id)) > 0


def test_a_users_table_travels_by_content(store, backend):
    rng = np.random.default_rng(0)
    a = rng.normal(size=80)
    df = pd.DataFrame({"a": a, "b": rng.normal(size=80), "label": (a > 0).astype(int)})
    try:
        ds = add_table(store, "mine", df.to_csv(index=False).encode())
        spec = StudySpec.parse({"name": "t", "base": {
            "data": {"dataset": "mine", "tasks": ["label"]},
            "training": {"epochs": 2, "batch_size": 16, "device": "cpu"},
            "model": {"hidden": [8], "latent_dim": 2, "head_hidden": 4}}, "seeds": 1})
        sid = start(store, spec, backend=rb.BACKEND)
        backend.drive(sid)
        assert _until(lambda: not backend.active, backend=backend)
    finally:
        detach()
    runs = store.runs()  # the cell and its single-task baseline, both on the table
    assert [r.status for r in runs] == ["done", "done"], [r.error for r in runs]
    assert {r.config.data.options["sha256"] for r in runs} == {ds.sha256}
    assert list(backend._tables) == [ds.sha256]  # put in the object store once


def test_a_run_that_fails_in_its_task_says_why_and_is_not_retried(store, backend):
    spec = _spec(axes={"model.sharing": ["single_task"]})
    spec = StudySpec.parse({**spec.to_dict(), "base": {
        **spec.to_dict()["base"], "training": {**TINY["training"], "device": "cuda"}}})
    sid = start(store, spec, backend=rb.BACKEND)
    (run_id,) = backend.drive(sid)  # (no GPU here: it must not wait for one forever)
    assert _until(lambda: not backend.active, backend=backend)
    run = store.get_run(run_id)
    assert run.status == "failed" and "GPU" in run.error, run.error
    assert [int(i) for i in store.study_runs(sid).run_id] == [run_id]  # not retried
    assert any(f"run #{run_id} failed" in n and "GPU" in n for n in summarize(store, sid).notes)


def test_cancel_leaves_no_task_running(store, backend, ray_instance):
    sid = start(store, _spec(epochs=2000, axes={"model.sharing": ["hard", "mmoe"]}),
                backend=rb.BACKEND)
    ids = backend.drive(sid)
    assert len(ids) == 3
    # one training (rows arriving), the others training too or still waiting for a worker
    assert _until(lambda: len(store.metrics(ids)) > 0, backend=backend)
    cancel(store, sid)
    assert _until(lambda: not backend.active, timeout=20, backend=backend)
    runs = store.runs_by_id(ids)
    assert {r.status for r in runs.values()} == {"cancelled"}, [r.error for r in runs.values()]
    assert _until(lambda: _free_cpus(ray_instance), timeout=20)  # no task holds a CPU
    epochs = len(store.metrics(ids))
    assert summarize(store, sid).status == "cancelled"
    time.sleep(0.5)  # nothing trains on: no row arrives any more
    backend.step()
    assert len(store.metrics(ids)) == epochs


def test_shutdown_cancels_the_drivers_tasks(store, ray_instance):
    b = rb.RayBackend(store).connect()
    sid = start(store, _spec(epochs=2000, axes={"model.sharing": ["single_task"]}),
                backend=rb.BACKEND)
    (run_id,) = b.drive(sid)
    assert _until(lambda: store.get_run(run_id).status == "running", backend=b)
    b.shutdown()  # as when the app or the CLI ends
    run = store.get_run(run_id)
    assert run.status == "failed" and "stopped" in run.error
    assert _until(lambda: _free_cpus(ray_instance), timeout=20)


def test_a_killed_task_fails_its_run_with_the_reason_and_is_retried(store, backend):
    # (last: the killed worker is replaced by a fresh one, whose start-up the tests above
    # would otherwise wait for)
    sid = start(store, _spec(epochs=2000, axes={"model.sharing": ["single_task"]}),
                backend=rb.BACKEND)  # one long run: a single-task cell is its own baseline
    (first,) = backend.drive(sid)
    assert _until(lambda: backend.tasks[first].pid is not None
                  and len(store.metrics(first)) > 0, backend=backend)
    os.kill(backend.tasks[first].pid, signal.SIGKILL)
    assert _until(lambda: not store.get_run(first).active, backend=backend)
    failed = store.get_run(first)
    assert failed.status == "failed"
    assert "Ray worker process training it stopped unexpectedly" in failed.error
    (again,) = [int(i) for i in store.study_runs(sid).run_id]
    assert again != first and again in backend.tasks  # the study now holds the retry
    assert _until(lambda: len(store.metrics(again)) > 0, backend=backend)  # it trains
    assert store.get_run(again).status == "running"
    cancel(store, sid)  # (not to wait for 2,000 epochs)
    assert _until(lambda: not backend.active, timeout=20, backend=backend)
    retried = store.get_run(again)
    assert retried.status == "cancelled" and retried.info["retry_of"] == first
    summary = summarize(store, sid)
    assert any(f"run #{first} failed" in n and "stopped unexpectedly" in n
               and f"run #{again}" in n for n in summary.notes), summary.notes
