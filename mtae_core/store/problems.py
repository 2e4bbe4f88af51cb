"""What to tell a person whose run store cannot be used, in plain words: each problem is
one ``StoreError`` whose message names the file and says what to do (move it aside, and
a fresh store starts there; or point ``MTAE_HOME`` at another folder). Never SQLite's or
Python's own wording."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import StoreError

ELSEWHERE = "or point MTAE_HOME at another folder (the CLI also takes --db PATH)"


def _aside(path: Path) -> str:
    return (f"Move it aside (e.g. rename it to {path.name}.damaged): a fresh, empty store then "
            f"starts in its place; {ELSEWHERE}.")


def damaged(path: Path, why: str) -> StoreError:
    return StoreError(f"The run store {path} cannot be read: {why}. {_aside(path)}", str(path))


def unwritable(path: Path) -> StoreError:
    return StoreError(
        f"The run store {path} cannot be written: the file or its folder is read-only. Give "
        f"yourself write access to {path.parent}, {ELSEWHERE}.", str(path))


def newer(path: Path, found: int, known: int) -> StoreError:
    return StoreError(
        f"The run store {path} was made by a newer version of MTAE Studio (store version "
        f"{found}; this version knows versions up to {known}), so it is left untouched. Update "
        f"MTAE Studio to use it, {ELSEWHERE}.", str(path))


def home_problem(home: Path, path: Path, e: OSError) -> StoreError:
    """The store's folder (``$MTAE_HOME``) cannot be made or used."""
    if isinstance(e, FileExistsError | NotADirectoryError):
        blocker = next((p for p in (home, *home.parents) if p.exists() and not p.is_dir()), home)
        return StoreError(
            f"The run store {path} cannot be made: {blocker} is a file, not a folder. Move that "
            f"file aside, {ELSEWHERE}.", str(path))
    if isinstance(e, PermissionError):
        return StoreError(
            f"The run store {path} cannot be made: you may not create or write the folder "
            f"{home}. Give yourself write access to it, {ELSEWHERE}.", str(path))
    return StoreError(f"The run store {path} cannot be made: the folder {home} cannot be "
                      f"created ({e.strerror or 'the system refused'}); {ELSEWHERE}.", str(path))


def from_sqlite(e: sqlite3.Error, path: Path) -> StoreError | None:
    """The plain problem behind SQLite's error ``e`` on the store at ``path``; None when it
    is no problem of the file (a lock held too long, a constraint: the caller's to handle)."""
    text = str(e).lower()
    if type(e) is sqlite3.DatabaseError:  # SQLITE_CORRUPT, SQLITE_NOTADB
        if "not a database" in text:
            return damaged(path, "it is not a database (another kind of file, or its start "
                                 "is overwritten)")
        return damaged(path, "it is damaged (cut short or partly overwritten)")
    if not isinstance(e, sqlite3.OperationalError):
        return None
    if "readonly" in text or "read-only" in text:
        return unwritable(path)
    if "unable to open" in text:
        if path.is_dir():
            return damaged(path, "it is a folder, not a file")
        folder = path.parent
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            return unwritable(path)
        return damaged(path, "the file cannot be opened")
    if "disk i/o" in text:
        return damaged(path, "the disk could not read or write it")
    if "full" in text:
        return StoreError(f"The run store {path} cannot be written: the disk is full. Free "
                          f"some space, {ELSEWHERE}.", str(path))
    return None


def empty_notice(path: Path) -> str:
    return (f"The run store {path} was an empty file (0 bytes), so it was taken as a new, "
            f"empty store: no runs were in it.")


__all__ = ["damaged", "empty_notice", "from_sqlite", "home_problem", "newer", "unwritable"]
