"""Users' tables (CSV files) kept in the run store, seen as data sets by name.

A config names a stored table like a built-in (``"dataset": "my_table"``); its options
carry the SHA-256 of the file (filled in when the config is validated), so a run names
exactly the data it trained on, and its exported config trains again with ``mtae train``
wherever the store holds the same file. Which store: the one ``use_store`` named (the CLI's
``--db``, a worker's store), else ``$MTAE_HOME/runs.db``.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pandas as pd
from pydantic import Field, create_model, field_validator

from .csv_import import ColumnInfo, CsvError, MissingPolicy, ParsedTable, prepare, read_table
from .tabular import ColumnKind, Table, TableDataset, TableOptions, _config_error

if TYPE_CHECKING:
    from ..store import RunStore, StoredDataset

_TTL = 1.0  # seconds a listing of the store is reused (other processes may add tables)
_lock = threading.Lock()
_store_path: Path | None = None
_listing: dict[Path, tuple[float, dict[str, StoredDataset]]] = {}
_classes: dict[tuple[Path, str], type[UserDataset]] = {}


def use_store(path: str | Path | None) -> None:
    """Read users' tables from this store (None: ``$MTAE_HOME/runs.db``)."""
    global _store_path
    _store_path = Path(path) if path is not None else None
    invalidate()


def store_override() -> Path | None:
    """The store ``use_store`` named, if any."""
    return _store_path


def store_path() -> Path:
    from ..store import default_path

    return _store_path or default_path()


def invalidate() -> None:
    """Forget the cached listing (after this process added or deleted a table)."""
    with _lock:
        _listing.clear()


def _stored() -> dict[str, StoredDataset]:
    path = store_path()
    now = time.monotonic()
    with _lock:
        hit = _listing.get(path)
        if hit and now - hit[0] < _TTL:
            return hit[1]
    from ..store import read_stored_datasets

    # read only: listing must not create (or migrate) a store
    found = {d.name: d for d in read_stored_datasets(path)}
    with _lock:
        _listing[path] = (now, found)
    return found


def stored_names() -> list[str]:
    return list(_stored())


def lookup(name: str) -> type[UserDataset] | None:
    """The data-set class of the table stored as ``name``, or None."""
    ds = _stored().get(name)
    if ds is None:
        return None
    key = (store_path(), ds.sha256)
    with _lock:
        cls = _classes.get(key)
        if cls is None or cls.name != name:
            cls = _classes[key] = _make_class(ds)
    return cls


@lru_cache(maxsize=8)
def _parsed(path: Path, sha256: str) -> ParsedTable:
    """The parsed table of a stored file; cached by its content hash."""
    from ..store import RunStore

    with _lock:
        seeded = _seeded.pop((path, sha256), None)
    if seeded is not None:
        return seeded
    data = RunStore(path).dataset_csv(sha256)
    if data is None:
        raise KeyError(f"no table with SHA-256 {sha256[:12]}… in the store at {path}")
    return read_table(data, checked=True)  # it passed every check when it was added


_seeded: dict[tuple[Path, str], ParsedTable] = {}


def _seed_cache(path: Path, parsed: ParsedTable) -> None:
    with _lock:
        if len(_seeded) >= 4:
            _seeded.pop(next(iter(_seeded)))
        _seeded[(path, parsed.sha256)] = parsed


class UserOptions(TableOptions):
    """Options of a stored table: the file's hash, the missing-values policy, the kinds."""

    sha256: str = Field("", title="Content hash (SHA-256)",
                        description="the hash of the CSV file this data set was made from; a "
                                    "run keeps it, so it names exactly the data it trained on")
    missing: Literal["drop", "impute"] = Field(
        "impute", title="Missing values",
        description="drop the rows with a missing input, or fill it in with the column's mean "
                    "on the training split (rows missing a chosen task's value are always "
                    "dropped)")


    @field_validator("sha256")
    @classmethod
    def _fill(cls, v: str) -> str:
        # an empty hash means the stored file's: the config then names it exactly
        return v or str(cls.model_fields["sha256"].default)


class UserDataset(TableDataset):
    """A table the user uploaded (subclassed per stored table by ``lookup``)."""

    Options: ClassVar[type[UserOptions]] = UserOptions  # type: ignore[assignment]
    stored: ClassVar[StoredDataset]
    path: ClassVar[Path]

    @classmethod
    def summary(cls) -> str:
        m = cls.stored.meta
        inputs = sum(c["role"] == "input" for c in m["columns"])
        tasks = [c["name"] for c in m["columns"] if c["role"] == "task"]
        return (f"Your table {cls.stored.name!r} ({m['rows']:,} rows × {inputs} input "
                f"columns; tasks: {', '.join(tasks)}), uploaded "
                f"{pd.Timestamp(cls.stored.created, unit='s'):%Y-%m-%d %H:%M} UTC.")

    @classmethod
    def columns_info(cls) -> list[ColumnInfo]:
        return [ColumnInfo(**c) for c in cls.stored.meta["columns"]]

    @classmethod
    def native_tasks(cls) -> list[str]:
        return []  # every task is a column

    @classmethod
    def check_options(cls, options: Any) -> None:
        super().check_options(options)
        stored = cls.stored.sha256
        if options.sha256 and options.sha256 != stored:
            raise _config_error(
                "data.options.sha256", "Content hash (SHA-256)",
                f"the store holds other data under the name {cls.stored.name!r} (SHA-256 "
                f"{stored[:12]}…) than this config's ({str(options.sha256)[:12]}…): add the "
                "config's CSV file under another name, or use the stored one")

    @classmethod
    def table(cls, options: Any) -> Table:
        frame = _parsed(cls.path, cls.stored.sha256).frame
        keep = [c.name for c in cls.columns_info() if c.role != "ignore"]
        return Table(frame[keep])


def _make_class(ds: StoredDataset) -> type[UserDataset]:
    cols = [ColumnInfo(**c) for c in ds.meta["columns"]]
    kept = tuple(c.name for c in cols if c.role != "ignore")
    kinds: dict[str, ColumnKind] = {c.name: c.kind for c in cols if c.role == "task"}
    opts = create_model(  # type: ignore[call-overload]
        f"{ds.name}Options", __base__=UserOptions,
        sha256=(str, Field(ds.sha256, title="Content hash (SHA-256)",
                           description=UserOptions.model_fields["sha256"].description)),
        missing=(MissingPolicy, Field(
            ds.meta.get("missing", "impute"), title="Missing values",
            description=UserOptions.model_fields["missing"].description)),
        kinds=(dict[str, ColumnKind], Field(
            default_factory=lambda: dict(kinds), title="Column task kinds",
            description=TableOptions.model_fields["kinds"].description)),
    )
    opts.columns = kept
    cls = type(f"User_{ds.sha256[:12]}", (UserDataset,), {
        "Options": opts, "stored": ds, "path": store_path(), "name": ds.name,
        "default_tasks": (*kinds, "reconstruction"),
        "__doc__": UserDataset.__doc__,
    })
    return cls


def add(name: str, data: bytes, columns: list[ColumnInfo] | None = None,
        missing: Literal["drop", "impute"] = "impute", store: RunStore | None = None,
        parsed: ParsedTable | None = None) -> StoredDataset:
    """Check a CSV file and keep it in the store as the data set ``name``. Raises
    ``CsvError`` with a plain-words message, storing nothing, when it cannot be used."""
    from ..store import RunStore

    table = prepare(name, data, columns, missing, parsed)
    store = store or RunStore(store_path())
    try:
        store.add_dataset(table.name, table.csv, table.sha256, table.meta)
    except ValueError as e:
        raise CsvError(str(e)) from None
    invalidate()
    if parsed is not None and store.path == store_path():
        _seed_cache(store.path, parsed)  # the page loads it next: no second parse
    ds = store.stored_dataset(table.sha256)
    assert ds is not None
    return ds


def delete(name: str, store: RunStore | None = None) -> None:
    """Delete a stored table; ``CsvError`` when it is unknown or runs use it."""
    from ..store import RunStore

    store = store or RunStore(store_path())
    try:
        store.delete_dataset(name)
    except (KeyError, ValueError) as e:
        raise CsvError(str(e.args[0])) from None
    finally:
        invalidate()


__all__ = ["CsvError", "UserDataset", "add", "delete", "lookup", "stored_names", "use_store"]
