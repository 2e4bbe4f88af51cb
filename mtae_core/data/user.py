"""Users' tables (CSV files) kept in the run store, seen as data sets by name.

A config names a stored table like a built-in (``"dataset": "my_table"``); its options
carry the SHA-256 of the file (filled in when the config is validated), so a run names
exactly the data it trained on, and its exported config trains again with ``mtae train``
wherever the store holds the same file.

Which tables exist is told by a ``TableSource`` the store side hands the data-set registry
(``mtae_core.store.tables``): an in-memory listing it refreshes itself, so validating a
config never reads the store, and this package never imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar, Literal, Protocol

import pandas as pd
from pydantic import Field, create_model, field_validator

from ..errors import fail
from .csv_import import ColumnInfo, MissingPolicy, ParsedTable, read_table
from .tabular import ColumnKind, Table, TableDataset, TableOptions


class StoredTable(Protocol):
    """What a source knows of one stored table (its bytes come from ``TableSource.csv``)."""

    @property
    def sha256(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def meta(self) -> dict[str, Any]: ...
    @property
    def created(self) -> float: ...


class TableSource(Protocol):
    """Where users' tables come from: a listing in memory and each table's bytes."""

    key: str  # names the source in caches (a store's path)

    def __hash__(self) -> int: ...  # sources over the same store are one in caches

    def tables(self) -> Mapping[str, StoredTable]: ...
    def csv(self, sha256: str) -> bytes | None: ...


_lock = threading.Lock()
_classes: dict[tuple[str, str], type[UserDataset]] = {}


def lookup(source: TableSource, name: str) -> type[UserDataset] | None:
    """The data-set class of the table ``source`` holds as ``name``, or None."""
    ds = source.tables().get(name)
    if ds is None:
        return None
    key = (source.key, ds.sha256)
    with _lock:
        cls = _classes.get(key)
        if cls is None or cls.name != name:
            cls = _classes[key] = _make_class(source, ds)
    return cls


@lru_cache(maxsize=8)
def _parsed(source: TableSource, sha256: str) -> ParsedTable:
    """The parsed table of a stored file; cached by its content hash."""
    with _lock:
        seeded = _seeded.pop((source.key, sha256), None)
    if seeded is not None:
        return seeded
    data = source.csv(sha256)
    if data is None:
        raise KeyError(f"no table with SHA-256 {sha256[:12]}… in the store at {source.key}")
    return read_table(data, checked=True)  # it passed every check when it was added


_seeded: dict[tuple[str, str], ParsedTable] = {}


def seed_cache(source_key: str, parsed: ParsedTable) -> None:
    """Keep a table just parsed (at upload) for its first load: no second parse."""
    with _lock:
        if len(_seeded) >= 4:
            _seeded.pop(next(iter(_seeded)))
        _seeded[(source_key, parsed.sha256)] = parsed


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
    stored: ClassVar[StoredTable]
    source: ClassVar[TableSource]

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
            raise fail(
                "data.options.sha256", label="Content hash (SHA-256)", text=
                f"the store holds other data under the name {cls.stored.name!r} (SHA-256 "
                f"{stored[:12]}…) than this config's ({str(options.sha256)[:12]}…): add the "
                "config's CSV file under another name, or use the stored one")

    @classmethod
    def table(cls, options: Any) -> Table:
        frame = _parsed(cls.source, cls.stored.sha256).frame
        keep = [c.name for c in cls.columns_info() if c.role != "ignore"]
        return Table(frame[keep])


def _make_class(source: TableSource, ds: StoredTable) -> type[UserDataset]:
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
        "Options": opts, "stored": ds, "source": source, "name": ds.name,
        "default_tasks": (*kinds, "reconstruction"),
        "__doc__": UserDataset.__doc__,
    })
    return cls


__all__ = ["StoredTable", "TableSource", "UserDataset", "lookup", "seed_cache"]
