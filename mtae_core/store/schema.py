"""The run store's schema version and its numbered migrations.

A store records its version in ``PRAGMA user_version``: 0 is a new file or a store made
before versions (its tables, if any, are as the code of its day left them); version N
is what ``MIGRATIONS[:N]`` made. Opening a store (``upgrade``) runs each missing
migration once, in order, each in its own transaction together with the version it sets
(so a migration is never half done, and two processes opening the same old store run it
once between them). Before the first of them, the store as it was found is copied beside
it (``<name>.v<N>.<time>.bak``; the later steps of the same opening are what the code
does to that copy, so one copy per opening is enough to go back). A new file needs none. A store whose version is newer than ``VERSION`` is refused in plain words
and left untouched.

To change the schema, append one function to ``MIGRATIONS``: it gets the connection
inside the transaction and must only use ``execute`` (``executescript`` would commit).
Never edit a migration that has shipped: stores out there already ran it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from ..config import ExperimentConfig, run_key
from .classroom import CLASS_SCHEMA
from .datasets import DATASETS_SCHEMA
from .problems import newer
from .studies import STUDY_SCHEMA

Migration = Callable[[sqlite3.Connection], None]

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','cancelled','diverged')),
    config TEXT NOT NULL,
    owner TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    error TEXT,
    device TEXT,
    info TEXT,
    progress REAL NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    train_seconds REAL,
    test_metrics TEXT
);
CREATE TABLE IF NOT EXISTS epoch_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    task TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, epoch, split, task, metric)
);
CREATE TABLE IF NOT EXISTS epoch_extras (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
"""


# ---- helpers for migrations ---------------------------------------------------------------------


def run_script(c: sqlite3.Connection, script: str) -> None:
    """Each statement of ``script`` through ``execute``, inside the caller's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            c.execute(statement)


def columns(c: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in c.execute(f"PRAGMA table_info({table})")}


def add_column(c: sqlite3.Connection, name: str, kind: str = "TEXT", table: str = "runs") -> None:
    """Give ``table`` the column ``name`` (empty) unless a store of before versions has it."""
    if name not in columns(c, table):
        c.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


# ---- the migrations, in order: MIGRATIONS[n] takes a store from version n to n + 1 --------------


def v1_tables(c: sqlite3.Connection) -> None:
    """The tables as they stood when versions began: runs and their epochs, studies, users'
    tables. A store made before versions has some of them already, perhaps without the
    columns added since (each added here, empty) and without run keys (filled here)."""
    run_script(c, RUNS_SCHEMA + DATASETS_SCHEMA + STUDY_SCHEMA)
    add_column(c, "key")  # the run-key hash a study reuses runs by
    c.execute("CREATE INDEX IF NOT EXISTS runs_key ON runs(key)")
    _fill_run_keys(c)
    add_column(c, "val_metrics")  # validation metrics, next to the test metrics
    # which backend drives a run (NULL: the local workers; 'ray': a Ray driver)
    add_column(c, "backend")
    # runs that differ only in their seed (a study cell's seeds): a worker claims the
    # queued ones together and trains them as one batched model (replicas)
    add_column(c, "seed_group")


def _fill_run_keys(c: sqlite3.Connection) -> None:
    """Tolerant: a stored config that no longer parses keeps a NULL key and is simply
    never reused."""
    keys = []
    for r in c.execute("SELECT id, config FROM runs WHERE key IS NULL").fetchall():
        try:
            keys.append((run_key(ExperimentConfig.from_stored(r[1])), r[0]))
        except Exception:  # noqa: BLE001  (an unreadable old config must not stop the app)
            continue
    if keys:
        c.executemany("UPDATE runs SET key=? WHERE id=?", keys)


def v2_superseded(c: sqlite3.Connection) -> None:
    """``runs.superseded_by``: the run that took this one's place in its study (resuming
    a study queues a failed or cancelled run again as a new run). Lists of runs hide a
    superseded one unless asked for every run."""
    add_column(c, "superseded_by", "INTEGER")
    c.execute("CREATE INDEX IF NOT EXISTS runs_superseded ON runs(superseded_by)")


def v3_classroom(c: sqlite3.Connection) -> None:
    """A class's server (``store.classroom``): its settings, the audit log of cancels and
    deletes, who made each study and users' table, when a run's first epoch was stored,
    and which queued runs are alike but for their seed (claimed together)."""
    run_script(c, CLASS_SCHEMA)
    for table in ("studies", "datasets"):
        add_column(c, "owner", table=table)
    add_column(c, "first_epoch", "REAL")  # when its first epoch was stored
    # ``config.seedless_key``: queued runs alike but for their seed (different students'
    # runs of the class link's setup) may be claimed together and train as one model
    add_column(c, "alike")


MIGRATIONS: list[Migration] = [v1_tables, v2_superseded, v3_classroom]
VERSION = len(MIGRATIONS)  # the version this code makes and reads


# ---- running them --------------------------------------------------------------------------------


def version_of(c: sqlite3.Connection) -> int:
    return int(c.execute("PRAGMA user_version").fetchone()[0])


def upgrade(c: sqlite3.Connection, path: Path,
            migrations: list[Migration] | None = None) -> list[Path]:
    """Bring the store open on ``c`` (autocommit, no transaction open) to the newest
    version, one migration per transaction, after a backup of what was found; returns
    the backups made. ``StoreError`` (plain words; nothing changed) for a store of a newer version."""
    steps = MIGRATIONS if migrations is None else migrations
    backups: list[Path] = []
    found = version_of(c)
    if found > len(steps):
        raise newer(path, found, len(steps))
    fresh = not _has_tables(c)  # a new (or 0-byte) file: nothing to back up
    while found < len(steps):
        c.execute("BEGIN IMMEDIATE")  # one writer: another process may be migrating too
        try:
            found = version_of(c)  # (it may have, while this one waited)
            if found > len(steps):
                raise newer(path, found, len(steps))
            if found < len(steps):
                if not fresh and not backups:  # the store as it was found, once
                    backups.append(backup(path, found))
                steps[found](c)
                c.execute(f"PRAGMA user_version={found + 1}")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        found = version_of(c)
    return backups


def _has_tables(c: sqlite3.Connection) -> bool:
    return c.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None


def backup(path: Path, version: int) -> Path:
    """A copy of the store as it is now, beside it: ``runs.db.v1.20260101-120000.bak``.
    Read through a connection of its own: the caller's holds the write lock (so nothing
    changes meanwhile), and SQLite lets a second connection read then, not the writer's."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.v{version}.{stamp}.bak")
    n = 1
    while target.exists():  # two upgrades within a second: keep both
        n += 1
        target = path.with_name(f"{path.name}.v{version}.{stamp}-{n}.bak")
    source, dest = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
    return target


__all__ = ["MIGRATIONS", "RUNS_SCHEMA", "VERSION", "Migration", "add_column", "backup", "columns",
           "run_script", "upgrade", "version_of"]
