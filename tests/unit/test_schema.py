"""The store's schema version (issue 20, item 9): ``PRAGMA user_version``, numbered
migrations that run once, each in a transaction, after a backup of the store as found,
and a plain refusal of a store made by a newer version."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtae_core import ExperimentConfig
from mtae_core.config import run_key
from mtae_core.errors import StoreError
from mtae_core.store import schema
from mtae_core.store.runs import RunStore


def _version(path) -> int:
    c = sqlite3.connect(path)
    try:
        return int(c.execute("PRAGMA user_version").fetchone()[0])
    finally:
        c.close()


def _legacy(path) -> ExperimentConfig:
    """A store as the code before versions left it: version 0, no key, val_metrics,
    backend, seed_group nor superseded_by columns; one finished run."""
    cfg = ExperimentConfig().replace(name="old run")
    c = sqlite3.connect(path)
    c.executescript(schema.RUNS_SCHEMA)
    c.execute("INSERT INTO runs (name, status, config, created) VALUES (?,?,?,?)",
              (cfg.name, "done", cfg.to_json(None), time.time()))
    c.commit()
    c.close()
    return cfg


def test_a_new_store_has_the_current_version_and_no_backup(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    assert _version(store.path) == schema.VERSION == len(schema.MIGRATIONS)
    assert store.backups == [] and not list(tmp_path.glob("*.bak"))


def test_an_old_store_is_migrated_once_after_a_backup(tmp_path):
    path = tmp_path / "runs.db"
    cfg = _legacy(path)
    store = RunStore(path)
    assert _version(path) == schema.VERSION
    c = sqlite3.connect(path)
    cols = schema.columns(c, "runs")
    assert {"key", "val_metrics", "backend", "seed_group", "superseded_by"} <= cols
    assert c.execute("SELECT key FROM runs").fetchone()[0] == run_key(cfg)
    c.close()
    assert [r.name for r in store.runs()] == ["old run"]
    # the backup is the store as it was found: version 0, its run, none of the new columns
    (backup,) = store.backups
    assert backup.exists() and backup.name.startswith("runs.db.v0.")
    assert _version(backup) == 0
    b = sqlite3.connect(backup)
    assert "key" not in schema.columns(b, "runs")
    assert b.execute("SELECT name FROM runs").fetchall() == [("old run",)]
    b.close()
    # opened again: nothing to migrate, no new backup
    assert RunStore(path).backups == []
    assert len(list(tmp_path.glob("*.bak"))) == 1


def test_each_migration_runs_once_in_order(tmp_path):
    calls: list[int] = []

    def step(n: int) -> schema.Migration:
        def run(c: sqlite3.Connection) -> None:
            calls.append(n)
            c.execute(f"CREATE TABLE t{n} (x)")
        return run

    path = tmp_path / "s.db"
    steps = [step(1), step(2), step(3)]
    for _ in range(3):
        c = sqlite3.connect(path, isolation_level=None)
        schema.upgrade(c, path, steps)
        c.close()
    assert calls == [1, 2, 3] and _version(path) == 3
    # one more migration is one more function in the list
    c = sqlite3.connect(path, isolation_level=None)
    made = schema.upgrade(c, path, [*steps, step(4)])
    c.close()
    assert calls == [1, 2, 3, 4] and _version(path) == 4 and len(made) == 1


def test_a_failing_migration_changes_nothing(tmp_path):
    path = tmp_path / "s.db"
    c = sqlite3.connect(path, isolation_level=None)
    schema.upgrade(c, path, [lambda c: c.execute("CREATE TABLE a (x)")])

    def broken(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        schema.upgrade(c, path, [lambda c: c.execute("CREATE TABLE a (x)"), broken])
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    c.close()
    assert tables == {"a"} and _version(path) == 1  # the half-made table rolled back


def test_a_store_of_a_newer_version_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path).create_run(ExperimentConfig())
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA user_version={schema.VERSION + 1}")
    c.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version of MTAE Studio") as e:
        RunStore(path)
    assert str(path) in str(e.value)
    assert path.read_bytes() == before and _version(path) == schema.VERSION + 1
    assert not list(tmp_path.glob("*.bak"))


def test_processes_opening_an_old_store_at_once_both_open_it(tmp_path):
    """The app, its workers and a CLI command may open an old store together: the
    migrations' transactions keep them from running twice or clashing."""
    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "runs.db"
    _legacy(path)
    code = ("import sys; from mtae_core.store.runs import RunStore; "
            "s = RunStore(sys.argv[1]); print(len(s.runs()))")
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert [o.strip() for o, _ in outs] == ["1", "1", "1"]
    assert _version(path) == schema.VERSION
    c = sqlite3.connect(path)
    assert c.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    c.close()
    assert 1 <= len(list(tmp_path.glob("*.bak"))) <= 3
