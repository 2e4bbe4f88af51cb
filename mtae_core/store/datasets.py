"""The users' tables of the run store: ``datasets`` (a CSV by its SHA-256, its name and
what the import found about it; see ``mtae_core.data.user``). ``RunStore`` inherits these
methods, as it does the study tables'."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import datasets as registry
from ..data.user import UserDataset, lookup
from .access import CLI, Actor, may_act, refusal
from .audit import record

# Users' tables, by the SHA-256 of the file's bytes (so a run's config, which keeps the
# hash, names exactly the data it trained on). A store made before this table existed
# gets it when opened: CREATE ... IF NOT EXISTS is the migration.
DATASETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    csv BLOB NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredDataset:
    """A user's table in the store (its bytes are read separately: ``dataset_csv``)."""

    sha256: str
    name: str
    meta: dict[str, Any]  # rows, encoding, delimiter, columns (roles, kinds), missing policy
    created: float
    size: int  # bytes of the file
    owner: str | None = None  # who added it (``access.owner_text``), None: the command line


def read_stored_datasets(path: str | Path) -> list[StoredDataset]:
    """The tables stored at ``path``, read only: no store is created or migrated (the
    data-set registry lists them while configs, and so migrations, are being read)."""
    if not Path(path).is_file():
        return []
    try:
        c = sqlite3.connect(path, timeout=30.0)  # the file exists: nothing is created
    except sqlite3.Error:
        return []
    try:
        c.row_factory = sqlite3.Row
        try:
            rows = c.execute("SELECT sha256, name, meta, created, length(csv) AS size, owner "
                             "FROM datasets ORDER BY created").fetchall()
        except sqlite3.OperationalError:  # a store made before owners (or before tables)
            rows = c.execute("SELECT sha256, name, meta, created, length(csv) AS size, "
                             "NULL AS owner FROM datasets ORDER BY created").fetchall()
    except sqlite3.DatabaseError:  # a store made before users' tables: none yet; or a
        return []  # damaged one, which opening the store (RunStore) explains in plain words
    finally:
        c.close()
    return [StoredDataset(r["sha256"], r["name"], json.loads(r["meta"]), r["created"],
                          r["size"], r["owner"]) for r in rows]


def read_dataset_csv(path: str | Path, sha256: str) -> bytes | None:
    """The bytes of the table stored at ``path`` with this SHA-256 (read only)."""
    if not Path(path).is_file():
        return None
    try:
        c = sqlite3.connect(path, timeout=30.0)
    except sqlite3.Error:
        return None
    try:
        r = c.execute("SELECT csv FROM datasets WHERE sha256=?", (sha256,)).fetchone()
    except sqlite3.DatabaseError:  # a store made before users' tables (or a damaged one)
        return None
    finally:
        c.close()
    return bytes(r[0]) if r else None


class DatasetInUse(ValueError):
    """A data set cannot be deleted while runs use it."""


class DatasetTables:
    if TYPE_CHECKING:
        path: Path

        def _conn(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def add_dataset(self, name: str, csv: bytes, sha256: str,
                    meta: dict[str, Any], owner: str | None = None) -> None:
        """Keep a user's table. Raises ``ValueError`` (plain words) if the name or the
        content is already stored; stores nothing then."""
        with self._tx() as c:
            same = c.execute("SELECT name FROM datasets WHERE sha256=?", (sha256,)).fetchone()
            if same is not None:
                raise ValueError(f"This file is already stored as the data set {same[0]!r}.")
            if c.execute("SELECT 1 FROM datasets WHERE name=?", (name,)).fetchone():
                raise ValueError(f"A data set named {name!r} is already stored: choose another "
                                 "name, or delete that one first.")
            c.execute("INSERT INTO datasets (sha256, name, csv, meta, created, owner)"
                      " VALUES (?,?,?,?,?,?)",
                      (sha256, name, csv, json.dumps(meta), time.time(), owner))

    def stored_datasets(self) -> list[StoredDataset]:
        """Every stored table, oldest first."""
        return read_stored_datasets(self.path)

    def stored_dataset(self, name: str) -> StoredDataset | None:
        """The table stored under ``name`` (or with that SHA-256)."""
        with self._conn() as c:
            r = c.execute("SELECT sha256, name, meta, created, length(csv) AS size, owner "
                          "FROM datasets WHERE name=? OR sha256=?", (name, name)).fetchone()
        return StoredDataset(r["sha256"], r["name"], json.loads(r["meta"]), r["created"],
                             r["size"], r["owner"]) if r else None

    def dataset_csv(self, sha256: str) -> bytes | None:
        with self._conn() as c:
            r = c.execute("SELECT csv FROM datasets WHERE sha256=?", (sha256,)).fetchone()
        return bytes(r[0]) if r else None

    def runs_using_dataset(self, sha256: str) -> list[int]:
        with self._conn() as c:
            rows = c.execute("SELECT id FROM runs WHERE json_extract(config, "
                             "'$.data.options.sha256') = ? ORDER BY id", (sha256,)).fetchall()
        return [int(r[0]) for r in rows]

    def delete_dataset(self, name: str, actor: Actor = CLI) -> None:
        """Delete a stored table; ``DatasetInUse`` while any run uses it; ``NotAllowed``
        when it is not ``actor``'s. One audit row."""
        ds = self.stored_dataset(name)
        if ds is None:
            raise KeyError(f"No data set named {name!r} is stored.")
        if not may_act(actor, ds.owner):
            raise refusal(actor, f"The data set {ds.name!r}", ds.owner, "delete")
        used = self.runs_using_dataset(ds.sha256)
        if used:
            ids = ", ".join(map(str, used[:10])) + (" …" if len(used) > 10 else "")
            raise DatasetInUse(f"The data set {ds.name!r} is used by {len(used)} run(s) "
                               f"({ids}): delete those runs first.")
        with self._tx() as c:
            c.execute("DELETE FROM datasets WHERE sha256=?", (ds.sha256,))
            record(c, actor, "delete", f"data set {ds.name!r}")


# ---- the registry's source of users' tables (``tables`` adds and deletes them) ----------


class StoreTables:
    """The users' tables of the store at ``path``, as a data-set source."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.key = str(self.path)
        self._tables: dict[str, StoredDataset] = {}
        self.refresh()

    def __hash__(self) -> int:  # one store, one source in the parsed tables' cache
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreTables) and other.key == self.key

    def refresh(self) -> None:
        """Read the listing again (read only: listing never creates or migrates a store)."""
        self._tables = {d.name: d for d in read_stored_datasets(self.path)}

    # the data-set registry's side (DatasetSource)
    def names(self) -> list[str]:
        return list(self._tables)

    def dataset(self, name: str) -> type[UserDataset] | None:
        return lookup(self, name)

    # the user tables' side (TableSource)
    def tables(self) -> Mapping[str, StoredDataset]:
        return self._tables

    def csv(self, sha256: str) -> bytes | None:
        return read_dataset_csv(self.path, sha256)


def attached(path: str | Path | None = None) -> StoreTables | None:
    """The source the registry reads tables from, if it is a store's (and, given
    ``path``, that store's)."""
    src = registry.source
    if isinstance(src, StoreTables) and (path is None or src.path == Path(path)):
        return src
    return None


def attach(path: str | Path) -> StoreTables:
    """Make the store at ``path`` the one whose tables configs may name; its listing is
    read afresh."""
    src = attached(path)
    if src is None:
        src = StoreTables(path)
        registry.use_source(src)
    else:
        src.refresh()
    return src


def detach() -> None:
    registry.use_source(None)
