"""The store side of users' tables: the source the data-set registry reads them from, and
adding or deleting one.

``StoreTables`` lists one store's tables in memory. It reads the store only when told to
(``refresh``: at a process's start, after a table is added or deleted, when a stored run
names a table the listing lacks, once per page draw in the app), so validating a config
never touches SQLite. ``attach`` hands a store's source to the registry; the CLI, a
worker, a Ray task and the app each attach the store they serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..data.csv_import import ColumnInfo, CsvError, ParsedTable, prepare
from ..data.user import seed_cache
from .access import CLI, Actor, NotAllowed
from .datasets import StoredDataset, StoreTables, attach, attached, detach

if TYPE_CHECKING:
    from .runs import RunStore  # (annotations only: the runs module imports this one)


def add_table(store: RunStore, name: str, data: bytes, columns: list[ColumnInfo] | None = None,
              missing: Literal["drop", "impute"] = "impute",
              parsed: ParsedTable | None = None, owner: str | None = None) -> StoredDataset:
    """Check a CSV file and keep it in ``store`` as the data set ``name``; configs may then
    name it. Raises ``CsvError`` with a plain-words message, storing nothing, when it
    cannot be used. ``owner``: who adds it (``access.owner_text``; None: the command
    line), whom ``delete_table`` lets delete it."""
    table = prepare(name, data, columns, missing, parsed)
    try:
        store.add_dataset(table.name, table.csv, table.sha256, table.meta, owner=owner)
    except ValueError as e:
        raise CsvError(str(e)) from None
    src = attach(store.path)
    if parsed is not None:
        seed_cache(src.key, parsed)  # the page loads it next: no second parse
    ds = store.stored_dataset(table.sha256)
    assert ds is not None
    return ds


def delete_table(store: RunStore, name: str, actor: Actor = CLI) -> None:
    """Delete a stored table; ``CsvError`` when it is unknown or runs use it,
    ``NotAllowed`` when it is not ``actor``'s (a student's may delete only their own)."""
    try:
        store.delete_dataset(name, actor)
    except NotAllowed:
        raise
    except (KeyError, ValueError) as e:
        raise CsvError(str(e.args[0])) from None
    finally:
        src = attached(store.path)
        if src is not None:
            src.refresh()


__all__ = ["StoreTables", "add_table", "attach", "attached", "delete_table", "detach"]
