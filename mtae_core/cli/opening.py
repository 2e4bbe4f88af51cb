"""Opening the run store a command works on, for every command group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .terminal import say

if TYPE_CHECKING:
    from ..store.runs import RunStore


def open_store(db: str | None) -> RunStore:
    """The run store a command works on (``--db``, else ``$MTAE_HOME/runs.db``). A store
    that cannot be used raises ``StoreError``, which ``commands.main`` prints as one line
    (exit 2); how it opened, when worth saying (a 0-byte file taken as new), goes to
    stderr."""
    from ..store.runs import RunStore

    store = RunStore(db)
    if store.notice:
        say(f"note: {store.notice}", err=True)
    return store


__all__ = ["open_store"]
