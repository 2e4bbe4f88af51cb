"""``mtae study`` / ``mtae studies``: JSON shape, show/export round trip, bad specs (exit 2,
nothing queued), and a study run by worker processes the command starts and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtae_core.cli import main
from mtae_core.runner.jobs import execute
from mtae_core.store.runs import RunStore, _pid_alive
from mtae_core.studies import StudySpec, start

TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}
SPEC = {"name": "cli", "base": TINY, "axes": {"model.sharing": ["hard", "soft"]}, "seeds": 2}
ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, obj, name="spec.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return str(p)


def _run_here(store: RunStore) -> None:
    while (run := store.claim_next(os.getpid())) is not None:
        execute(store, run.id, run.config)


def _check_shape(out: dict, n_cells: int, n_seeds: int) -> None:
    assert {"study", "status", "cells"} <= set(out)
    assert len(out["cells"]) == n_cells
    for c in out["cells"]:
        assert {"settings", "runs", "n", "metrics", "delta_m", "baseline_runs"} <= set(c)
        assert len(c["runs"]) == n_seeds and c["n"] == n_seeds
        for task, ms in c["metrics"].items():
            for m, st in ms.items():
                assert {"mean", "std", "ci95"} <= set(st), (task, m)
                assert len(st["ci95"]) == 2 and st["ci95"][0] <= st["mean"] <= st["ci95"][1]
        assert {"mean", "std", "n"} <= set(c["delta_m"]) and c["delta_m"]["n"] == n_seeds
        assert len(c["baseline_runs"]) == n_seeds


def test_show_export_and_list(tmp_path, store, capsys):
    db = ["--db", str(store.path)]
    assert main([*db, "study", _write(tmp_path, SPEC), "--no-wait", "--json"]) == 0
    queued = json.loads(capsys.readouterr().out)
    assert queued["status"] == "queued" and len(store.runs(["queued"])) == 6
    _run_here(store)
    sid = queued["study"]
    assert main([*db, "study", "show", str(sid), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["study"] == sid and out["status"] == "done"
    _check_shape(out, 2, 2)
    assert [c["settings"] for c in out["cells"]] == [{"model.sharing": "hard"},
                                                     {"model.sharing": "soft"}]
    # the baseline runs are ordinary runs: `mtae export` shows their config
    b = out["cells"][0]["baseline_runs"][0]
    assert main([*db, "export", str(b)]) == 0
    assert '"single_task"' in capsys.readouterr().out
    assert main([*db, "study", "show", str(sid)]) == 0
    text = capsys.readouterr().out
    assert "model.sharing=soft" in text and "better than single-task on digit" in text
    # export gives the spec that `mtae study` accepts unchanged; every run is reused
    assert main([*db, "study", "export", str(sid)]) == 0
    exported = capsys.readouterr().out
    assert StudySpec.from_json(exported) == StudySpec.parse(SPEC)
    path = tmp_path / "exported.json"
    path.write_text(exported)
    assert main([*db, "study", str(path), "--json", "--quiet", "--workers", "1"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["status"] == "done" and len(store.runs()) == 6  # nothing retrained
    assert main([*db, "studies"]) == 0
    listing = capsys.readouterr().out
    assert "cli" in listing and "6/6" in listing


@pytest.mark.parametrize("obj, words", [
    ({**SPEC, "axes": {"model.colour": ["red"]}}, ["model.colour", "red"]),
    ({**SPEC, "axes": {"optimizer.lr": [0]}}, ["optimizer.lr", "must be greater than 0"]),
    ({**SPEC, "axes": {"optimizer.lr": []}}, ["optimizer.lr", "empty"]),
    ({**SPEC, "seeds": 3, "axes": {"optimizer.lr": [0.001 * (i + 1) for i in range(200)]}},
     ["600 runs", "MTAE_MAX_STUDY_RUNS"]),
])
def test_bad_spec_exits_2_and_queues_nothing(tmp_path, store, capsys, obj, words):
    assert main(["--db", str(store.path), "study", _write(tmp_path, obj)]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert "Traceback" not in err
    assert store.runs() == [] and store.studies() == []


def test_usage_errors(tmp_path, store, capsys):
    db = ["--db", str(store.path)]
    assert main([*db, "study", "show"]) == 2
    assert "mtae study show ID" in capsys.readouterr().err
    assert main([*db, "study", "export", "7"]) == 2
    assert "no study with id 7" in capsys.readouterr().err
    assert main([*db, "study", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{")
    assert main([*db, "study", str(binary)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    assert main([*db, "study", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err
    assert main([*db, "study", _write(tmp_path, SPEC), "3"]) == 2
    assert main([*db, "study", _write(tmp_path, SPEC), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main([*db, "studies"]) == 0 and "no studies yet" in capsys.readouterr().out
    assert store.runs() == []


def test_cancel_command(tmp_path, store, capsys):
    sid = start(store, StudySpec.parse(SPEC))
    assert main(["--db", str(store.path), "study", "cancel", str(sid)]) == 0
    assert all(r.status == "cancelled" for r in store.runs())
    assert main(["--db", str(store.path), "study", "show", str(sid), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "cancelled"


@pytest.mark.slow
def test_a_tiny_study_through_worker_processes(tmp_path, store, capsys):
    rc = main(["--db", str(store.path), "study", _write(tmp_path, SPEC), "--json", "--quiet",
               "--workers", "2"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["status"] == "done"
    _check_shape(out, 2, 2)
    runs = store.runs()
    assert len(runs) == 6 and {r.status for r in runs} == {"done"}
    # the workers it started are gone
    assert not any(_pid_alive(r.worker_pid) for r in runs)


@pytest.mark.slow
def test_ctrl_c_cancels_the_study_and_leaves_no_worker(tmp_path, store):
    slow = {**SPEC, "base": {**TINY, "training": {**TINY["training"], "epochs": 400}}}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mtae_core.cli", "--db", str(store.path),
                             "study", _write(tmp_path, slow), "--workers", "1", "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not store.runs(["running"]):
            time.sleep(0.05)
        running = store.runs(["running"])
        assert running, "no run started"
        pid = running[0].worker_pid
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    end = time.monotonic() + 10
    while time.monotonic() < end and _pid_alive(pid):
        time.sleep(0.05)
    assert not _pid_alive(pid)
    assert {r.status for r in store.runs()} == {"cancelled"}
    sid = store.studies()[0].id
    assert main(["--db", str(store.path), "study", "show", str(sid), "--json"]) == 0


def test_a_stored_spec_that_no_longer_reads(store, capsys):
    sid = store.create_study("old", json.dumps({"base": {"model": {"sharing": "retired"}}}))
    assert main(["--db", str(store.path), "study", "show", str(sid)]) == 2
    err = capsys.readouterr().err
    assert "does not read any more" in err and "retired" in err and "Traceback" not in err
    assert main(["--db", str(store.path), "studies"]) == 0
    assert "unreadable" in capsys.readouterr().out
