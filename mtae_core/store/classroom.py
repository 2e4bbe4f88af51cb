"""The class side of the run store: the teacher's class settings (lock, hidden sections,
the cap on each student's waiting runs, pause), the audit log, the fair queue, deleting runs
with their owners' and studies' consent, clearing the queue. ``RunStore`` inherits these
methods; every check runs inside the store transaction that makes the change.

Schema (to become one numbered migration with the store's others): the tables
``class_settings`` and ``audit``, an ``owner`` column on ``studies`` and ``datasets``, and
``runs.first_epoch`` (when a run's first epoch was stored) and ``runs.alike`` (schema migration 3).
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from .access import (
    CLI,
    Actor,
    ClassSettings,
    DeletePreview,
    NotAllowed,
    QueueFull,
    may_act,
    owner_name,
    owner_of,
    owner_text,
    refusal,
)
from .audit import AUDIT_SCHEMA, ids_text, record
from .audit import read as read_audit
from .fair import Unit, fair_order, last_served, owner_key, running_units, units

CLASS_SCHEMA = """
CREATE TABLE IF NOT EXISTS class_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);
""" + AUDIT_SCHEMA

MAX_CAP = 1000
RECENT_RUNS = 20  # finished runs the queue's wait estimate learns from


def settings_in(c: sqlite3.Connection) -> ClassSettings:
    row = c.execute("SELECT data FROM class_settings WHERE id=1").fetchone()
    if row is None:
        return ClassSettings()
    try:
        data = json.loads(row[0])
        return ClassSettings(locked=bool(data.get("locked", False)),
                             hide=tuple(str(h) for h in data.get("hide", ())),
                             cap=int(data.get("cap", ClassSettings.cap)),
                             paused=bool(data.get("paused", False)))
    except (ValueError, TypeError, AttributeError):  # a damaged row: the defaults
        return ClassSettings()


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


def check_owner(actor: Actor, requested: object) -> str | None:
    """The owner to record for what ``actor`` creates: a student's is always their own
    (``requested`` may carry their tab; it may not name someone else)."""
    if actor.is_teacher:
        return requested if isinstance(requested, str) or requested is None else str(requested)
    if requested is None:
        return owner_text(actor)
    mine, _ = owner_of(requested)
    if mine != actor.id:
        raise NotAllowed("A student's runs are always their own: they cannot be queued in "
                         "someone else's name.")
    return str(requested)


def check_cap(c: sqlite3.Connection, actor: Actor, adding: int) -> None:
    """QueueFull when a student would have more runs waiting than the class allows (a study
    counts each of its runs)."""
    if actor.is_teacher:
        return
    cap = settings_in(c).cap
    if cap <= 0:
        return
    waiting = sum(1 for (owner,) in c.execute("SELECT owner FROM runs WHERE status='queued'")
                  if owner_of(owner)[0] == actor.id)
    if waiting + adding > cap:
        if adding > 1:
            raise QueueFull(f"This would queue {adding} runs, and you have {waiting} waiting: "
                            f"the class's limit is {cap} waiting runs per student. Ask your "
                            "teacher, or queue fewer.")
        raise QueueFull(f"You have {waiting} runs waiting (the class's limit is {cap}): wait "
                        "for one to finish.")


def fair_units(c: sqlite3.Connection, among: Sequence[int] | None = None,
               share: int | None = None) -> list[Unit]:
    """The queued units for the local workers, in the fair order (see ``store.fair``).
    ``share``: leave out students' units while their owner has that many training (so one
    student never holds every worker; the teacher's are never left out)."""
    only, args = "", ()  # type: tuple[str, tuple[int, ...]]
    if among is not None:
        only, args = f" AND id IN ({_marks(among)})", tuple(among)
    queued = c.execute("SELECT id, owner, seed_group FROM runs WHERE status='queued'"
                       " AND backend IS NULL" + only, args).fetchall()
    running = c.execute("SELECT id, owner, seed_group FROM runs WHERE status='running'").fetchall()
    served = c.execute("SELECT owner, MAX(started) FROM runs WHERE started IS NOT NULL"
                       " GROUP BY owner").fetchall()
    training = running_units(tuple(r) for r in running)
    order = fair_order(units(tuple(r) for r in queued), training,
                            last_served(tuple(r) for r in served))
    if share is None:
        return order
    return [u for u in order if u.teacher or training.get(u.owner, 0) < share]


class ClassTables:
    if TYPE_CHECKING:
        def _conn(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    # ---- the teacher's settings ------------------------------------------------------------
    def class_settings(self) -> ClassSettings:
        with self._conn() as c:
            return settings_in(c)

    def set_class_settings(self, actor: Actor, **changes: Any) -> ClassSettings:
        """Change the class's settings (the teacher only): locked, hide, cap, paused."""
        if not actor.is_teacher:
            raise NotAllowed("Only the teacher may change the class's settings.")
        unknown = sorted(set(changes) - set(asdict(ClassSettings())))
        if unknown:
            raise ValueError(f"Not a class setting: {', '.join(unknown)}.")
        if "cap" in changes:
            cap = changes["cap"]
            if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= MAX_CAP:
                raise ValueError(f"The limit of waiting runs per student must be a whole number "
                                 f"from 0 (no limit) to {MAX_CAP}.")
        if "hide" in changes:
            changes["hide"] = tuple(str(h) for h in changes["hide"])
        for flag in ("locked", "paused"):
            if flag in changes:
                changes[flag] = bool(changes[flag])
        with self._tx() as c:
            new = replace(settings_in(c), **changes)
            c.execute("INSERT OR REPLACE INTO class_settings (id, data) VALUES (1, ?)",
                      (json.dumps({**asdict(new), "hide": list(new.hide)}),))
            said = ", ".join(f"{k} {'on' if v is True else 'off' if v is False else v}"
                             for k, v in changes.items()) or "nothing"
            record(c, actor, "class settings", said)
        return new

    def check_cap(self, actor: Actor, adding: int) -> None:
        """``QueueFull`` if queueing ``adding`` more runs would put a student over the cap."""
        with self._conn() as c:
            check_cap(c, actor, adding)

    # ---- the audit log --------------------------------------------------------------------
    def audit_log(self, limit: int = 200) -> pd.DataFrame:
        """The newest ``limit`` audit rows, newest first: when, who, role, action, what."""
        with self._conn() as c:
            return read_audit(c, limit)

    # ---- the queue --------------------------------------------------------------------------
    def queue_order(self) -> list[int]:
        """Queued runs of the local workers in the order they will be taken."""
        with self._conn() as c:
            return [i for u in fair_units(c) for i in u.ids]

    def queue_position(self, run_id: int, workers: int | None = None) -> tuple[int, float | None]:
        """(1-based place of this queued run in the fair order, counting what one worker
        takes at once as one place; an estimate in seconds until it starts, from recent
        runs' times on ``workers`` workers — default: as many as train now, at least one —
        or None when unknown or the class is paused). (0, None): not queued."""
        with self._conn() as c:
            order = fair_units(c)
            place = next((k + 1 for k, u in enumerate(order) if run_id in u.ids), 0)
            if place == 0:
                return 0, None
            if settings_in(c).paused:
                return place, None
            took = [r[0] - r[1] for r in c.execute(
                "SELECT finished, started FROM runs WHERE status='done' AND started IS NOT NULL"
                " AND finished IS NOT NULL ORDER BY finished DESC LIMIT ?", (RECENT_RUNS,))]
            busy = c.execute("SELECT COUNT(DISTINCT worker_pid) FROM runs WHERE status='running'"
                             " AND backend IS NULL").fetchone()[0]
        if not took:
            return place, None
        n = max(1, workers or busy or 1)
        return place, math.ceil(place / n) * max(0.0, statistics.median(took))

    def claim_alike(self, worker_pid: int, run_id: int, limit: int) -> list[int]:
        """Claim for this worker, with the run ``run_id`` it just claimed alone, up to
        ``limit`` other queued runs alike but for their seed (``config.seedless_key``) and
        not in a seed group, at most one per owner, in the fair order: on a class's server
        many students press Train on the class link's setup, and a worker trains their
        runs as one batched model (each run still its own, as if trained alone). The ids
        claimed (none while paused)."""
        if limit <= 0:
            return []
        with self._tx() as c:
            if settings_in(c).paused:
                return []
            row = c.execute("SELECT alike, owner FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None or row["alike"] is None:
                return []
            alike = {int(r[0]) for r in c.execute(
                "SELECT id FROM runs WHERE status='queued' AND backend IS NULL AND"
                " seed_group IS NULL AND alike=? AND id<>?", (row["alike"], run_id))}
            if not alike:
                return []
            owners = {owner_key(row["owner"])}
            ids: list[int] = []
            for u in fair_units(c):
                if len(ids) >= limit:
                    break
                if len(u.ids) == 1 and u.first in alike and u.owner not in owners:
                    owners.add(u.owner)
                    ids.append(u.first)
            now = time.time()
            c.executemany("UPDATE runs SET status='running', started=?, worker_pid=? "
                          "WHERE id=? AND status='queued'", [(now, worker_pid, i) for i in ids])
        return ids

    def clear_queue(self, actor: Actor) -> list[int]:
        """Cancel every queued run (the teacher only); training runs go on. The ids."""
        if not actor.is_teacher:
            raise NotAllowed("Only the teacher may clear the class's queue.")
        with self._tx() as c:
            ids = [int(r[0]) for r in c.execute("SELECT id FROM runs WHERE status='queued'")]
            _cancel_in(c, ids, "the teacher cleared the queue")
            said = f"{len(ids)} queued run(s) cancelled" + (f": {ids_text(ids)}" if ids else "")
            record(c, actor, "clear queue", said)
        return ids

    # ---- cancel --------------------------------------------------------------------------------
    def cancel_runs(self, run_ids: Sequence[int], actor: Actor = CLI,
                    what: str | None = None, reason: str = "cancelled by the user") -> list[int]:
        """Ask these runs to stop (queued ones end at once, training ones at their next
        poll); NotAllowed, nothing changed, if any is not ``actor``'s to cancel. One audit
        row (``what``: how it names the action, e.g. the study). ``reason``: what each
        cancelled run says, however it ends (a study interrupted with Ctrl-C says so). The
        active ids asked."""
        ids = [int(i) for i in dict.fromkeys(run_ids)]
        if not ids:
            return []
        with self._tx() as c:
            rows = _rows(c, ids)
            _check_all(actor, rows, "cancel")
            active = [i for i in ids if i in rows and rows[i]["status"] in ("queued", "running")]
            _cancel_in(c, ids, reason)
            record(c, actor, "cancel", what or _described(ids, rows))
        return active

    # ---- delete ------------------------------------------------------------------------------
    def delete_preview(self, run_ids: Sequence[int], actor: Actor = CLI) -> DeletePreview:
        """What ``delete_runs(run_ids, actor)`` would delete, whose, which studies use them,
        and which this actor may not delete."""
        ids = [int(i) for i in dict.fromkeys(run_ids)]
        with self._conn() as c:
            rows = _rows(c, ids)
            used = _studies_using(c, ids)
        by_owner: dict[str, int] = {}
        for i in ids:
            if i in rows:
                _, name = owner_of(rows[i]["owner"])
                by_owner[name or "no name"] = by_owner.get(name or "no name", 0) + 1
        refused = [i for i in ids if i in rows and (
            not may_act(actor, rows[i]["owner"]) or (i in used and not actor.is_teacher))]
        studies = sorted({s for ss in used.values() for s in ss})
        return DeletePreview(sum(i in rows for i in ids), by_owner, studies, refused)

    def delete_runs(self, run_ids: Sequence[int], actor: Actor = CLI,
                    force: bool = False) -> list[int]:
        """Delete these runs (their epochs, weights, and their place in any study).
        NotAllowed, nothing deleted, when any is not ``actor``'s, or a study uses it: a
        student may not delete a study's runs, the teacher only with ``force``. A training
        run stops at its next poll. One audit row. The ids deleted."""
        ids = [int(i) for i in dict.fromkeys(run_ids)]
        if not ids:
            return []
        with self._tx() as c:
            rows = _rows(c, ids)
            _check_all(actor, rows, "delete")
            used = _studies_using(c, [i for i in ids if i in rows])
            if used and (not actor.is_teacher or not force):
                names = sorted({f"#{s} {n!r}" for ss in used.values() for s, n in ss})
                runs = ids_text(sorted(used))
                if not actor.is_teacher:
                    raise NotAllowed(f"Run(s) {runs} belong to the study {', '.join(names)}: "
                                     "only the teacher may delete a study's runs.")
                raise NotAllowed(f"Run(s) {runs} belong to the study {', '.join(names)}: "
                                 "deleting them changes its results. Delete them anyway "
                                 "(force) or leave them.")
            found = [i for i in ids if i in rows]
            for k in range(0, len(found), 500):
                chunk = found[k:k + 500]
                c.execute(f"DELETE FROM runs WHERE id IN ({_marks(chunk)})", chunk)
            if found:
                record(c, actor, "delete", _described(found, rows)
                             + (" (used by a study; deleted anyway)" if used else ""))
        return found

    def delete_owner_runs(self, actor: Actor, owner_id: str, force: bool = False) -> list[int]:
        """Delete every run of one owner (an actor id): the teacher's action on a student's
        runs (a student may do it to their own). Same rules as ``delete_runs``."""
        if not actor.is_teacher and owner_id != actor.id:
            raise NotAllowed("Only the teacher may delete another student's runs.")
        with self._conn() as c:
            ids = [int(r[0]) for r in c.execute("SELECT id, owner FROM runs ORDER BY id")
                   if owner_of(r[1])[0] == owner_id]
        return self.delete_runs(ids, actor, force=force)


def _rows(c: sqlite3.Connection, ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    out: dict[int, sqlite3.Row] = {}
    for k in range(0, len(ids), 500):
        chunk = list(ids[k:k + 500])
        out.update((int(r["id"]), r) for r in c.execute(
            f"SELECT id, owner, status FROM runs WHERE id IN ({_marks(chunk)})", chunk))
    return out


def _check_all(actor: Actor, rows: dict[int, sqlite3.Row], verb: str) -> None:
    """NotAllowed, naming the first, if any of these runs is not ``actor``'s to ``verb``."""
    for i, row in sorted(rows.items()):
        if not may_act(actor, row["owner"]):
            raise refusal(actor, f"Run #{i}", row["owner"], verb)


def _studies_using(c: sqlite3.Connection, ids: Sequence[int]) -> dict[int, set[tuple[int, str]]]:
    """run id → the studies (id, name) whose rows name it."""
    out: dict[int, set[tuple[int, str]]] = {}
    for k in range(0, len(ids), 500):
        chunk = list(ids[k:k + 500])
        for r in c.execute("SELECT sr.run_id, s.id, s.name FROM study_runs sr JOIN studies s "
                           f"ON s.id = sr.study_id WHERE sr.run_id IN ({_marks(chunk)})", chunk):
            out.setdefault(int(r[0]), set()).add((int(r[1]), str(r[2])))
    return out


def _cancel_in(c: sqlite3.Connection, ids: Sequence[int], reason: str) -> None:
    now = time.time()
    for k in range(0, len(ids), 500):
        chunk = list(ids[k:k + 500])
        # the reason is kept in the run's info: ``finish('cancelled')`` says it however the
        # run ends (a training run stops at its next poll, after this transaction)
        c.execute("UPDATE runs SET cancel_requested=1, info=json_set(CASE WHEN json_valid(info)"
                  " THEN info ELSE '{}' END, '$.cancel_reason', ?)"
                  f" WHERE id IN ({_marks(chunk)})", (reason, *chunk))
        c.execute("UPDATE runs SET status='cancelled', error=?, finished=?"
                  f" WHERE status='queued' AND id IN ({_marks(chunk)})", (reason, now, *chunk))


def _described(ids: Sequence[int], rows: dict[int, sqlite3.Row]) -> str:
    """"run(s) #3 and #4 (Alex's: 2)"."""
    whose: dict[str, int] = {}
    for i in ids:
        if i in rows:
            name = owner_name(rows[i]["owner"])
            whose[name] = whose.get(name, 0) + 1
    return (f"run(s) {ids_text(list(ids))}"
            + (f" ({', '.join(f'{k}: {n}' for k, n in whose.items())})" if whose else ""))


__all__ = ["CLASS_SCHEMA", "ClassTables", "check_cap", "check_owner", "fair_units",
           "settings_in"]
