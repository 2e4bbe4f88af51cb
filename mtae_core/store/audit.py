"""The audit log of a class's server: one row per cancel, delete, resume and class action
(who, in which role, what, when), written by the store inside the same transaction as the
change it records, so a change and its row land together or not at all."""

from __future__ import annotations

import sqlite3
import time

import pandas as pd

from .access import Actor

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    what TEXT NOT NULL
);
"""
COLUMNS = ["when", "who", "role", "action", "what"]
MAX_WHAT = 500  # characters of a description kept


def record(c: sqlite3.Connection, actor: Actor, action: str, what: str) -> None:
    """One audit row, on the caller's open transaction ``c``."""
    c.execute("INSERT INTO audit (at, actor, who, role, action, what) VALUES (?,?,?,?,?,?)",
              (time.time(), actor.id, actor.label, actor.role, action, what[:MAX_WHAT]))


def read(c: sqlite3.Connection, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` rows, newest first: when (a timestamp), who, role, action, what."""
    rows = c.execute("SELECT at, who, role, action, what FROM audit ORDER BY id DESC LIMIT ?",
                     (max(0, int(limit)),)).fetchall()
    df = pd.DataFrame([tuple(r) for r in rows], columns=COLUMNS)
    df["when"] = pd.to_datetime(df["when"], unit="s")
    return df


def ids_text(ids: list[int]) -> str:
    """"#3, #4 and #9" (the first 20, then how many more)."""
    shown = [f"#{i}" for i in ids[:20]]
    if len(ids) > 20:
        shown.append(f"{len(ids) - 20} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


__all__ = ["AUDIT_SCHEMA", "COLUMNS", "ids_text", "read", "record"]
