"""`RunStore`: SQLite (WAL) run store, the single source of truth that workers write and
the UI reads. One short-lived connection per operation, so any thread or process may
use the same store object's path safely."""

from __future__ import annotations

import functools
import io
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import ExperimentConfig, run_key, seedless_key
from ..errors import ConfigError, cut
from .access import CLI, Actor, NotAllowed
from .classroom import ClassTables, check_cap, check_owner, fair_units, settings_in
from .datasets import (
    DatasetInUse,
    DatasetTables,
    StoredDataset,
    attach,
    read_stored_datasets,
)
from .problems import damaged, empty_notice, from_sqlite, home_problem
from .schema import VERSION, upgrade, version_of
from .studies import Study, StudyTables

if TYPE_CHECKING:  # torch is imported to save or load weights, not to read runs
    import torch

__all__ = ["ACTIVE", "STATUSES", "DatasetInUse", "NotAllowed", "Run", "RunStore", "StoredDataset",
           "Study", "UnreadableRun", "default_path", "read_stored_datasets"]

STATUSES = ("queued", "running", "done", "failed", "cancelled", "diverged")
ACTIVE = ("queued", "running")
CANCELLED_BY_USER = "cancelled by the user"


def default_path() -> Path:
    home = Path(os.environ.get("MTAE_HOME", Path.home() / ".mtae"))
    return home / "runs.db"


@dataclass(frozen=True)
class Run:
    id: int
    name: str
    status: str
    config: ExperimentConfig
    created: float
    started: float | None
    finished: float | None
    error: str | None
    device: str | None
    info: dict[str, Any]
    progress: float
    cancel_requested: bool
    worker_pid: int | None
    train_seconds: float | None
    test_metrics: dict[str, dict[str, float]]
    val_metrics: dict[str, dict[str, float]]  # same shape, on the validation split
    owner: str | None = None  # who queued it (the UI: the browser tab and its user's name)
    first_epoch: float | None = None  # when its first epoch was stored (time.time())
    # the run that took this one's place in its study (a resumed study queued it again):
    # lists of runs leave a superseded run out unless asked for every run
    superseded_by: int | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class UnreadableRun:
    """A stored run whose row no longer reads (its config, say, names a setting this
    version does not know): lists leave it out and say so with this."""

    id: int
    name: str
    status: str
    problem: str  # in plain words, one line


class RunStore(StudyTables, DatasetTables, ClassTables):
    """The store at ``path`` (default: ``$MTAE_HOME/runs.db``), brought to this version's
    schema on opening (``upgrade``). ``StoreError`` (one plain message naming the
    file and what to do) when it cannot be used: damaged, not a database, a folder,
    read-only, of a newer version, or its home is a file. ``notice``: something to tell
    the person about how it opened (a 0-byte file taken as a new store), else None."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.notice: str | None = None
        self.backups: list[Path] = []  # copies made before migrating it this time
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # the home is a file, or may not be created
            raise home_problem(self.path.parent, self.path, e) from None
        if self.path.is_dir():
            raise damaged(self.path, "it is a folder, not a file")
        if self.path.is_file() and self.path.stat().st_size == 0 \
                and not self.path.with_name(self.path.name + "-wal").exists():
            self.notice = empty_notice(self.path)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            self.backups = upgrade(c, self.path)
            # a store that cannot be written says so now, not at the first Train press: a
            # write of page 1, rolled back (nothing reaches the file)
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(f"PRAGMA user_version={version_of(c)}")
            finally:
                c.execute("ROLLBACK")

    def check(self) -> None:
        """Make sure the file is still this store (a long-lived process calls it before
        using a store it opened earlier): ``StoreError`` when it went bad since (replaced,
        made read-only...); a file moved aside since is started afresh in its place."""
        if not self.path.is_file():
            self._open()  # moved aside (or made a folder: _open says so)
            return
        with self._conn() as c:
            found = version_of(c)
        if found != VERSION:  # replaced by an empty file, an older or a newer store
            self._open()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation. SQLite's errors that mean the file cannot be
        used (damaged, read-only, a folder) come out as ``StoreError``."""
        try:
            c = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as e:
            raise (from_sqlite(e, self.path) or e) from None
        try:
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA foreign_keys=ON")
            c.row_factory = sqlite3.Row
            yield c
        except sqlite3.DatabaseError as e:
            problem = from_sqlite(e, self.path)
            if problem is None:
                raise
            raise problem from None
        finally:
            c.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:  # (the error itself may have ended the transaction)
                    pass
                raise
            c.execute("COMMIT")

    # ---- runs ---------------------------------------------------------------------------
    def create_run(self, cfg: ExperimentConfig, status: str = "queued", owner: str | None = None,
                   actor: Actor = CLI) -> int:
        """Queue a run (or record one in ``status``). ``actor``: who asks; a student's run is
        their own and counts against the class's cap (``QueueFull``)."""
        with self._tx() as c:
            owner = check_owner(actor, owner)
            check_cap(c, actor, 1)
            cur = c.execute(
                "INSERT INTO runs (name, status, config, owner, created, key, alike)"
                " VALUES (?,?,?,?,?,?,?)",
                (cfg.name, status, cfg.to_json(None), owner, time.time(), run_key(cfg),
                 seedless_key(cfg)),
            )
            return int(cur.lastrowid or 0)

    def create_runs(self, cfgs: Sequence[ExperimentConfig], owner: str | None = None,
                    backend: str | None = None,
                    groups: Sequence[str | None] | None = None,
                    infos: Sequence[dict[str, Any] | None] | None = None,
                    actor: Actor = CLI) -> list[int]:
        """Queue many runs in one transaction (a study); their ids, in order. ``backend``
        (e.g. 'ray'): the runs are born claimed for that driver, never for local workers.
        ``groups``: each run's seed group (``claim_group`` claims a group's queued runs
        together); ``infos``: what each run's info starts with (e.g. why its seeds train
        apart). ``actor``: as in ``create_run`` (a study counts each of its runs)."""
        now = time.time()
        ids = []
        groups = groups or [None] * len(cfgs)
        infos = infos or [None] * len(cfgs)
        with self._tx() as c:
            owner = check_owner(actor, owner)
            check_cap(c, actor, len(cfgs))
            for cfg, group, info in zip(cfgs, groups, infos, strict=True):
                cur = c.execute(
                    "INSERT INTO runs (name, status, config, owner, created, key, backend,"
                    " seed_group, info, alike) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (cfg.name, "queued", cfg.to_json(None), owner, now, run_key(cfg), backend,
                     group, json.dumps(info) if info else None, seedless_key(cfg)))
                ids.append(int(cur.lastrowid or 0))
        return ids

    def claim_next(self, worker_pid: int) -> Run | None:
        """Atomically move the oldest queued run to running for this worker."""
        runs = self.claim_group(worker_pid, limit=1)
        return runs[0] if runs else None

    def claim_group(self, worker_pid: int, limit: int = 64,
                    among: Sequence[int] | None = None, share: int | None = None) -> list[Run]:
        """Atomically move the next queued run in the fair order (``store.fair``: round-robin
        by owner, the teacher's first in each round, then the oldest) to running for this
        worker, with (up to ``limit`` runs in all) the other queued runs of its seed group,
        oldest first: the worker trains them together. ``among``: only these runs (a lesson
        trained in its own process takes only its study's). [] when nothing is queued or
        the class is paused. Runs another backend (Ray) drives are not for local workers.
        ``share``: a student with that many claims training gets no other meanwhile (a
        class's server keeps a worker for everyone else)."""
        with self._tx() as c:
            if settings_in(c).paused:
                return []
            order = fair_units(c, among, share)
            if not order:
                return []
            ids = list(order[0].ids[:max(1, limit)])
            now = time.time()
            c.executemany("UPDATE runs SET status='running', started=?, worker_pid=? WHERE id=?",
                          [(now, worker_pid, i) for i in ids])
        runs = self.runs_by_id(ids)
        for i in ids:
            if i not in runs:  # its row no longer reads: it cannot be trained
                self.finish(i, "failed", "its stored settings do not read in this version")
        return [runs[i] for i in ids if i in runs]

    def mark_started(self, run_id: int, info: dict[str, Any]) -> None:
        """Record what training reports at its start, over what the run's info had when
        it was queued (why a study's seeds train apart)."""
        with self._tx() as c:
            row = c.execute("SELECT info FROM runs WHERE id=?", (run_id,)).fetchone()
            merged = {**json.loads((row and row["info"]) or "{}"), **info}
            c.execute("UPDATE runs SET device=?, info=? WHERE id=?",
                      (info.get("device"), json.dumps(merged), run_id))

    def set_progress(self, run_id: int, fraction: float) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET progress=? WHERE id=?", (float(fraction), run_id))

    def finish(self, run_id: int, status: str, error: str | None = None,
               test_metrics: dict[str, Any] | None = None, seconds: float | None = None,
               val_metrics: dict[str, Any] | None = None,
               info: dict[str, Any] | None = None) -> None:
        """End a run. ``info`` keys (the kept epoch, where a run diverged) are merged into
        the run's info."""
        if status not in STATUSES or status in ACTIVE:
            raise ValueError(f"not a final status: {status!r}")
        with self._tx() as c:
            if status == "cancelled":  # why it was asked to stop, when that was recorded
                error = _info(c, run_id).get("cancel_reason") or error
            c.execute(
                "UPDATE runs SET status=?, error=?, test_metrics=?, val_metrics=?, train_seconds=?,"
                " finished=?, progress=CASE WHEN ?='done' THEN 1 ELSE progress END WHERE id=?",
                (status, error, json.dumps(test_metrics or {}), json.dumps(val_metrics or {}),
                 seconds, time.time(), status, run_id),
            )
            if info:
                row = c.execute("SELECT info FROM runs WHERE id=?", (run_id,)).fetchone()
                merged = {**json.loads((row and row["info"]) or "{}"), **info}
                c.execute("UPDATE runs SET info=? WHERE id=?", (json.dumps(merged), run_id))

    def request_cancel(self, run_id: int, actor: Actor = CLI,
                       reason: str = CANCELLED_BY_USER) -> None:
        """Ask a run to stop. A queued run is cancelled at once; a running one at its
        worker's next poll. ``reason``: what the cancelled run says (e.g. that its study
        was interrupted with Ctrl-C), however it ends. ``NotAllowed`` (nothing changed)
        when the run is not ``actor``'s to cancel; one audit row otherwise."""
        self.cancel_runs([run_id], actor, reason=reason)

    def cancel_requested(self, run_id: int) -> bool:
        """Whether the run should stop: asked to, or deleted meanwhile."""
        with self._conn() as c:
            row = c.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return row is None or bool(row[0])

    def fail_orphans(self, alive_pids: Sequence[int] | None = None, reason: str | None = None) -> list[int]:
        """Mark running runs whose worker is gone as failed. With ``alive_pids`` None,
        a pid is alive if the OS says so and its process started before the run did (a
        pid the OS gave to a new process after the worker died is not the worker)."""
        with self._conn() as c:
            rows = c.execute("SELECT id, worker_pid, started FROM runs WHERE status='running'").fetchall()
        dead = [r["id"] for r in rows
                if not (_pid_alive(r["worker_pid"], r["started"]) if alive_pids is None
                        else r["worker_pid"] in alive_pids)]
        for run_id in dead:
            self.finish(run_id, "failed", reason or "the worker process running it stopped unexpectedly")
        return dead

    def delete_run(self, run_id: int, actor: Actor = CLI, force: bool = False) -> None:
        """Delete one run: ``delete_runs([run_id], actor, force)``."""
        self.delete_runs([run_id], actor, force=force)

    def _run(self, row: sqlite3.Row) -> Run:
        """The run of a row; ``ConfigError`` (or ``ValueError``) when it does not read."""
        try:
            return _run(row)
        except ConfigError:
            # a run may name a table added since this process listed the store's tables:
            # read the listing again, once (the store side refreshes; configs never read it)
            attach(self.path)
            return _run(row)

    def _readable(self, rows: Sequence[sqlite3.Row]) -> list[Run]:
        """The runs of these rows that read; one that does not is left out (so one bad
        row never hides the others: ``unreadable`` lists it)."""
        out = []
        for row in rows:
            try:
                out.append(self._run(row))
            except (ValueError, TypeError):
                continue
        return out

    def get_run(self, run_id: int) -> Run | None:
        """The run with this id; None when there is none. ``ConfigError`` when its row
        no longer reads (see ``unreadable``)."""
        with self._conn() as c:
            row = c.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return self._run(row) if row else None

    def runs(self, status: Sequence[str] | None = None, superseded: bool = False) -> list[Run]:
        """The runs (with these statuses), newest first. Left out: runs a resumed study
        replaced (``superseded_by``; ``superseded=True`` keeps them) and runs whose row
        no longer reads (``unreadable`` lists them)."""
        where = [] if superseded else ["superseded_by IS NULL"]
        args: tuple[str, ...] = ()
        if status:
            where.append(f"status IN ({','.join('?' * len(status))})")
            args = tuple(status)
        q = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._conn() as c:
            rows = c.execute(q + " ORDER BY id DESC", args).fetchall()
        return self._readable(rows)

    def count_runs(self, superseded: bool = False) -> int:
        """How many runs the store holds (as ``runs`` counts them, unreadable ones too):
        with ``len(runs())``, how many do not read, without reading any config."""
        with self._conn() as c:
            q = "SELECT count(*) FROM runs" + ("" if superseded else " WHERE superseded_by IS NULL")
            return int(c.execute(q).fetchone()[0])

    def unreadable(self) -> list[UnreadableRun]:
        """The runs whose stored row no longer reads, newest first, each with why."""
        with self._conn() as c:
            rows = c.execute("SELECT * FROM runs ORDER BY id DESC").fetchall()
        out = []
        for row in rows:
            try:
                self._run(row)
            except (ValueError, TypeError) as e:
                out.append(UnreadableRun(row["id"], row["name"], row["status"], _problem(e)))
        return out

    def latest_run(self, active_only: bool = False) -> Run | None:
        rs = self.runs(ACTIVE if active_only else None)
        return rs[0] if rs else None

    def runs_by_id(self, run_ids: Sequence[int]) -> dict[int, Run]:
        """The runs with these ids (missing ids are left out), in one query."""
        ids = list(dict.fromkeys(int(i) for i in run_ids))
        out: dict[int, Run] = {}
        with self._conn() as c:
            for i in range(0, len(ids), 500):  # SQLite caps the number of parameters
                chunk = ids[i:i + 500]
                rows = c.execute(f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
                                 chunk).fetchall()
                out.update((r.id, r) for r in self._readable(rows))
        return out

    def find_run(self, key: str) -> Run | None:
        """The newest run with this run key that is done or still queued or training:
        a study reuses it instead of training the same work again."""
        with self._conn() as c:
            row = c.execute("SELECT * FROM runs WHERE key=? AND status IN ('done','queued','running')"
                            " ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        found = self._readable([row]) if row else []
        return found[0] if found else None

    def find_runs(self, keys: Sequence[str]) -> dict[str, Run]:
        """``find_run`` for many keys in one query: key -> newest reusable run."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, Run] = {}
        with self._conn() as c:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                rows = c.execute(
                    f"SELECT * FROM runs WHERE key IN ({','.join('?' * len(chunk))})"
                    " AND status IN ('done','queued','running') ORDER BY id", chunk).fetchall()
                key_of = {r["id"]: r["key"] for r in rows}
                out.update((key_of[r.id], r) for r in self._readable(rows))  # the newest id wins
        return out

    def run_keys(self, run_ids: Sequence[int]) -> dict[int, str]:
        """run id -> run key (the hash of its normalised config)."""
        ids = list(dict.fromkeys(int(i) for i in run_ids))
        out: dict[int, str] = {}
        with self._conn() as c:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = c.execute(f"SELECT id, key FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
                                 chunk).fetchall()
                out.update((r["id"], r["key"]) for r in rows if r["key"])
        return out

    # ---- per-epoch data -----------------------------------------------------------------
    def add_epoch(self, run_id: int, epoch: int, rows: Sequence[tuple[str, str, str, float]],
                  extras: dict[str, Any] | None = None) -> None:
        with self._tx() as c:
            # when the run's first epoch was stored (a class's wait: queue_position, benches)
            c.execute("UPDATE runs SET first_epoch=? WHERE id=? AND first_epoch IS NULL",
                      (time.time(), run_id))
            c.executemany(
                "INSERT OR REPLACE INTO epoch_metrics VALUES (?,?,?,?,?,?)",
                [(run_id, epoch, s, t, m, _finite(v)) for s, t, m, v in rows],
            )
            if extras:
                c.execute("INSERT OR REPLACE INTO epoch_extras VALUES (?,?,?)",
                          (run_id, epoch, json.dumps(extras, default=_jsonable)))

    def metrics(self, run_ids: int | Sequence[int], since_epoch: int = -1) -> pd.DataFrame:
        """Long table: run_id, epoch, split, task, metric, value."""
        ids = [run_ids] if isinstance(run_ids, int) else list(run_ids)
        cols = ["run_id", "epoch", "split", "task", "metric", "value"]
        if not ids:
            return pd.DataFrame(columns=cols)
        with self._conn() as c:
            rows = c.execute(
                f"SELECT {', '.join(cols)} FROM epoch_metrics WHERE run_id IN "
                f"({','.join('?' * len(ids))}) AND epoch > ? ORDER BY run_id, epoch",
                (*ids, since_epoch),
            ).fetchall()
        return pd.DataFrame([tuple(r) for r in rows], columns=cols)

    def extras(self, run_id: int) -> list[dict[str, Any]]:
        """Per-epoch extras (task weights, gradient cosines, gates...), oldest first."""
        with self._conn() as c:
            rows = c.execute("SELECT epoch, data FROM epoch_extras WHERE run_id=? ORDER BY epoch",
                             (run_id,)).fetchall()
        return [{"epoch": r["epoch"], **json.loads(r["data"])} for r in rows]

    # ---- artifacts ------------------------------------------------------------------------
    def save_weights(self, run_id: int, state_dict: dict[str, torch.Tensor]) -> None:
        import torch

        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buf)
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO artifacts VALUES (?,?,?)",
                      (run_id, "weights", buf.getvalue()))

    def load_weights(self, run_id: int) -> dict[str, torch.Tensor] | None:
        with self._conn() as c:
            row = c.execute("SELECT data FROM artifacts WHERE run_id=? AND name='weights'",
                            (run_id,)).fetchone()
        if row is None:
            return None
        import torch

        return torch.load(io.BytesIO(row[0]), map_location="cpu", weights_only=True)  # type: ignore[no-any-return]

    # ---- tables for the UI ------------------------------------------------------------------
    def runs_table(self, superseded: bool = False) -> pd.DataFrame:
        """One row per run with its settings and final per-task test metrics
        (columns ``<task> · <metric>``). Runs a resumed study replaced are left out unless
        ``superseded`` (then a column ``superseded by`` says by which run)."""
        recs = []
        for r in self.runs(superseded=superseded):
            cfg = r.config
            rec: dict[str, Any] = {
                "id": r.id, "name": r.name, "status": r.status, "dataset": cfg.data.dataset,
                "tasks": ", ".join(cfg.data.tasks), "autoencoder": cfg.model.autoencoder,
                "sharing": cfg.model.sharing, "weighting": cfg.weighting.strategy,
                "epochs": cfg.training.epochs, "seed": cfg.seed, "device": r.device,
                "seconds": r.train_seconds, "created": pd.Timestamp(r.created, unit="s"),
                "owner": r.owner,
            }
            if superseded:
                rec["superseded by"] = r.superseded_by
            for task, ms in r.test_metrics.items():
                for m, v in ms.items():
                    if m != "loss":
                        rec[f"{task} · {m}"] = v
            recs.append(rec)
        return pd.DataFrame(recs)


def _info(c: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """A run's info as stored (empty when there is none, or it does not read)."""
    row = c.execute("SELECT info FROM runs WHERE id=?", (run_id,)).fetchone()
    try:
        info = json.loads((row and row["info"]) or "{}")
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _problem(e: Exception) -> str:
    """Why a row does not read, in one line: the first of a ``ConfigError``'s problems."""
    if isinstance(e, ConfigError) and e.messages:
        first = e.messages[0]
        more = len(e.messages) - 1
        return cut(first, 160) + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")
    return "its stored data is not valid JSON" if isinstance(e, json.JSONDecodeError) \
        else "its stored data does not read in this version"


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"], name=row["name"], status=row["status"],
        config=_config(row["config"]),
        created=row["created"], started=row["started"], finished=row["finished"],
        error=row["error"], device=row["device"], info=json.loads(row["info"] or "{}"),
        progress=row["progress"], cancel_requested=bool(row["cancel_requested"]),
        worker_pid=row["worker_pid"], train_seconds=row["train_seconds"],
        test_metrics=json.loads(row["test_metrics"] or "{}"),
        val_metrics=json.loads(row["val_metrics"] or "{}"),
        owner=row["owner"], first_epoch=row["first_epoch"], superseded_by=row["superseded_by"],
    )


@functools.lru_cache(maxsize=4096)
def _config(text: str) -> ExperimentConfig:
    """Parse a stored config once: configs are frozen, and the pages and study summaries
    read the same runs every second. (``from_stored``: a run stored before the data seed
    keeps the data its run seed drew.)"""
    return ExperimentConfig.from_stored(text)


def _finite(v: float) -> float | None:
    v = float(v)
    return v if v == v and abs(v) != float("inf") else None


def _jsonable(o: Any) -> Any:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if torch is not None and isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _pid_alive(pid: int | None, since: float | None = None) -> bool:
    """Whether ``pid`` is a live process that was already running at time ``since``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a zombie (exited, not yet reaped) is not alive; nor is a reused pid
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        with open("/proc/stat") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return True
    if fields[0] == "Z":
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time
    # slack: btime has whole seconds, the CLI stores whole seconds, clocks get adjusted
    return since is None or started <= float(since) + 2.0
