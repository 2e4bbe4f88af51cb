"""The study tables of the run store: ``studies`` (name, spec JSON, cancelled) and
``study_runs`` (which runs belong to a study, in which role, cell and seed, and whether the
study queued them itself). A study is only these rows over ordinary runs, so it survives
any restart. ``RunStore`` inherits these methods."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .access import CLI, Actor, may_act, refusal
from .audit import record

STUDY_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    spec TEXT NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS study_runs (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('cell','baseline')),
    cell INTEGER,
    seed INTEGER NOT NULL,
    owned INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS study_runs_study ON study_runs(study_id);
CREATE INDEX IF NOT EXISTS study_runs_run ON study_runs(run_id);
"""


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    created: float
    spec: dict[str, Any]
    cancelled: bool
    owner: str | None = None  # who started it (``access.owner_text``), None: the command line


class StudyTables:
    if TYPE_CHECKING:
        def _conn(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def create_study(self, name: str, spec_json: str, owner: str | None = None) -> int:
        with self._tx() as c:
            cur = c.execute("INSERT INTO studies (name, created, spec, owner) VALUES (?,?,?,?)",
                            (name, time.time(), spec_json, owner))
            return int(cur.lastrowid or 0)

    def add_study_run(self, study_id: int, run_id: int, role: str, cell: int | None, seed: int,
                      owned: bool = True) -> None:
        """Record a run of a study. ``owned``: the study queued it (a reused run belongs to
        whoever queued it, so cancelling the study leaves it alone)."""
        self.add_study_runs(study_id, [(run_id, role, cell, seed, owned)])

    def add_study_runs(self, study_id: int,
                       rows: Sequence[tuple[int, str, int | None, int, bool]]) -> None:
        with self._tx() as c:
            c.executemany("INSERT INTO study_runs VALUES (?,?,?,?,?,?)",
                          [(study_id, r, role, cell, seed, int(owned))
                           for r, role, cell, seed, owned in rows])

    def studies(self) -> list[Study]:
        """Every study, newest first."""
        with self._conn() as c:
            rows = c.execute("SELECT * FROM studies ORDER BY id DESC").fetchall()
        return [_study(r) for r in rows]

    def get_study(self, study_id: int) -> Study | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM studies WHERE id=?", (study_id,)).fetchone()
        return _study(row) if row else None

    def study_runs(self, study_id: int) -> pd.DataFrame:
        """study_id, run_id, role ('cell'|'baseline'), cell (None for baselines), seed, owned."""
        cols = ["study_id", "run_id", "role", "cell", "seed", "owned"]
        with self._conn() as c:
            rows = c.execute(f"SELECT {', '.join(cols)} FROM study_runs WHERE study_id=?"
                             " ORDER BY rowid", (study_id,)).fetchall()
        df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        df["owned"] = df["owned"].astype(bool)
        df["cell"] = df["cell"].astype("Int64")  # None stays missing for baselines
        return df

    def mark_study_cancelled(self, study_id: int, cancelled: bool = True) -> None:
        with self._tx() as c:
            c.execute("UPDATE studies SET cancelled=? WHERE id=?", (int(cancelled), study_id))

    def check_study(self, study_id: int, actor: Actor, verb: str) -> Study | None:
        """The study, if ``actor`` may ``verb`` it (cancel, resume, delete); NotAllowed
        otherwise. None: no such study."""
        study = self.get_study(study_id)
        if study is not None and not may_act(actor, study.owner):
            raise refusal(actor, f"The study #{study_id} {study.name!r}", study.owner, verb)
        return study

    def record_study_action(self, study_id: int, actor: Actor, action: str, what: str) -> None:
        """One audit row for a study's cancel or resume (``studies.planning``)."""
        with self._tx() as c:
            record(c, actor, action, f"study #{study_id}: {what}")

    def replace_study_run(self, study_id: int, old_run_id: int, new_run_id: int) -> None:
        """Point the study at a new run in place of an old one (a retry); the study owns it.
        The old run is marked superseded by the new one: lists of runs leave it out, so a
        study shows one run per cell and seed however often it was resumed."""
        self.replace_study_runs(study_id, [(old_run_id, new_run_id)])

    def replace_study_runs(self, study_id: int, pairs: Sequence[tuple[int, int]]) -> None:
        """``replace_study_run`` for many (old, new) pairs, in one transaction."""
        with self._tx() as c:
            c.executemany("UPDATE study_runs SET run_id=?, owned=1 WHERE study_id=? AND run_id=?",
                          [(new, study_id, old) for old, new in pairs])
            c.executemany("UPDATE runs SET superseded_by=? WHERE id=?",
                          [(new, old) for old, new in pairs])

    # ---- runs a study backend other than the local workers drives (Ray) -------------------
    def claim_for_backend(self, run_ids: Sequence[int], backend: str | None,
                          pid: int | None = None) -> list[int]:
        """Tag the queued runs among ``run_ids`` as driven by ``backend`` (None: give them
        back to the local workers) from process ``pid``; local workers only take untagged
        queued runs. Returns the ids tagged (runs no longer queued are left alone)."""
        ids = [int(i) for i in dict.fromkeys(run_ids)]
        done: list[int] = []
        with self._tx() as c:
            for i in range(0, len(ids), 500):  # SQLite caps the number of parameters
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                rows = c.execute(f"SELECT id FROM runs WHERE status='queued' AND id IN ({marks})",
                                 chunk).fetchall()
                c.execute(f"UPDATE runs SET backend=?, worker_pid=? WHERE status='queued' "
                          f"AND id IN ({marks})", (backend, pid, *chunk))
                done.extend(int(r[0]) for r in rows)
        return done

    def mark_backend_running(self, run_id: int, pid: int) -> bool:
        """A backend's task began training this queued run: it is now ``running``, held by
        the driver process ``pid`` (so ``fail_orphans`` fails it if that driver dies)."""
        with self._tx() as c:
            cur = c.execute("UPDATE runs SET status='running', started=?, worker_pid=? "
                            "WHERE id=? AND status='queued'", (time.time(), pid, run_id))
            return cur.rowcount > 0

    def delete_study(self, study_id: int, actor: Actor = CLI) -> None:
        """Forget the study; its runs stay in the store. NotAllowed (nothing changed) when
        it is not ``actor``'s; one audit row otherwise."""
        with self._tx() as c:
            row = c.execute("SELECT name, owner FROM studies WHERE id=?", (study_id,)).fetchone()
            if row is None:
                return
            if not may_act(actor, row["owner"]):
                raise refusal(actor, f"The study #{study_id} {row['name']!r}", row["owner"],
                              "delete")
            c.execute("DELETE FROM study_runs WHERE study_id=?", (study_id,))
            c.execute("DELETE FROM studies WHERE id=?", (study_id,))
            record(c, actor, "delete", f"study #{study_id} {row['name']!r}")


def _study(row: sqlite3.Row) -> Study:
    return Study(id=row["id"], name=row["name"], created=row["created"],
                 spec=json.loads(row["spec"]), cancelled=bool(row["cancelled"]),
                 owner=row["owner"] if "owner" in row.keys() else None)
