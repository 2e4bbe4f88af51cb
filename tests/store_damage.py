"""Ways a run store can be unusable, for the CLI and page tests of the damaged store: each
case makes ``$MTAE_HOME/runs.db`` (or the home itself) unusable and names what the one
plain message must say."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mtae_core import ExperimentConfig
from mtae_core.store.runs import RunStore


def filled(path: Path) -> None:
    """A real store with a few runs, written through to the main file (no WAL left)."""
    store = RunStore(path)
    for i in range(3):
        store.create_run(ExperimentConfig().replace(name=f"run {i}"))
    c = sqlite3.connect(path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)


def truncated(home: Path, mp: pytest.MonkeyPatch) -> Path:
    path = home / "runs.db"
    filled(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def garbage_header(home: Path, mp: pytest.MonkeyPatch) -> Path:
    path = home / "runs.db"
    filled(path)
    data = path.read_bytes()
    path.write_bytes(b"\xde\xad\xbe\xef" * 25 + data[100:])
    return path


def not_a_database(home: Path, mp: pytest.MonkeyPatch) -> Path:
    path = home / "runs.db"
    path.write_text("id,name\n1,my notes\n" * 200)
    return path


def a_folder(home: Path, mp: pytest.MonkeyPatch) -> Path:
    path = home / "runs.db"
    path.mkdir()
    (path / "something.txt").write_text("kept")
    return path


def read_only(home: Path, mp: pytest.MonkeyPatch) -> Path:
    """A store on a read-only disk or in a folder this user may not write: every
    connection opens read-only (what SQLite does there), whoever runs the tests."""
    path = home / "runs.db"
    filled(path)
    real = sqlite3.connect

    def connect(database: object, *args: object, **kwargs: object) -> sqlite3.Connection:
        if Path(str(database)) == path:
            kwargs["uri"] = True
            return real(f"file:{path}?mode=ro", *args, **kwargs)  # type: ignore[arg-type]
        return real(database, *args, **kwargs)  # type: ignore[arg-type]

    mp.setattr(sqlite3, "connect", connect)
    return path


def home_is_a_file(home: Path, mp: pytest.MonkeyPatch) -> Path:
    blocker = home / "mtae-home"
    blocker.write_text("not a folder")
    mp.setenv("MTAE_HOME", str(blocker))
    return blocker


def home_under_a_file(home: Path, mp: pytest.MonkeyPatch) -> Path:
    blocker = home / "file"
    blocker.write_text("not a folder")
    mp.setenv("MTAE_HOME", str(blocker / "mtae"))
    return blocker


def newer_version(home: Path, mp: pytest.MonkeyPatch) -> Path:
    path = home / "runs.db"
    filled(path)
    c = sqlite3.connect(path)
    c.execute("PRAGMA user_version=999")
    c.close()
    return path


# case -> (make it, words the message must hold besides the file's path)
CASES: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], Path], tuple[str, ...]]] = {
    "truncated": (truncated, ("damaged", "Move it aside", "MTAE_HOME")),
    "garbage header": (garbage_header, ("not a database", "Move it aside", "MTAE_HOME")),
    "not a database": (not_a_database, ("not a database", "Move it aside", "MTAE_HOME")),
    "a folder": (a_folder, ("a folder", "Move it aside", "MTAE_HOME")),
    "read-only": (read_only, ("read-only", "MTAE_HOME")),
    "home is a file": (home_is_a_file, ("is a file, not a folder", "MTAE_HOME")),
    "home under a file": (home_under_a_file, ("is a file, not a folder", "MTAE_HOME")),
    "newer version": (newer_version, ("newer version", "999", "MTAE_HOME")),
}
# what no message may show: Python's or SQLite's own wording
RAW = ("Traceback", "sqlite3", "DatabaseError", "OperationalError", "FileExistsError",
       "NotADirectoryError", "Errno", "disk image is malformed", "readonly database")


def snapshot(path: Path) -> object:
    """What is at ``path`` (bytes of a file, names and bytes in a folder): nothing lost."""
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return path.read_bytes()
