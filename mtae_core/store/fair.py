"""The fair order of the queue: with many students on a few workers, queued runs are taken
round-robin by owner, then oldest first, so one student's 100-run study does not hold back
everyone's first run; in each round the teacher's (and the command line's) go first.

A unit of the queue is what one worker claims at once: a seed group's queued runs (a study
cell's seeds, trained as one batched model) or a run alone. Each owner's units are
numbered from the number that owner already has training (so a student with two runs
training waits behind a student with none), and the units are taken by that number; among
equals the teacher's first, then the owner served longest ago (never: first), then the
oldest — so a student whose study just had a turn waits while others have theirs. Pure
functions over rows the store reads inside its claim transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .access import owner_of, owner_role


@dataclass(frozen=True)
class Unit:
    """Runs one worker claims together (oldest first) and whose they are."""

    ids: tuple[int, ...]
    owner: str  # the fairness key: the actor id, else the stored owner text, else ""
    teacher: bool  # the teacher's or the command line's (no owner recorded: the CLI's)

    @property
    def first(self) -> int:
        return self.ids[0]


def owner_key(owner: object) -> str:
    """Whose turn a run takes: the actor recorded with it, else its owner text as stored
    (an older tab's owner), else "" (the command line's)."""
    actor, _ = owner_of(owner)
    if actor is not None:
        return actor
    return owner if isinstance(owner, str) else ""


def is_teacher(owner: object) -> bool:
    """Runs the teacher or the command line queued (no owner: queued outside the app)."""
    if not owner:
        return True
    return owner_role(owner) in ("teacher", "cli")


def units(rows: Iterable[tuple[int, object, str | None]]) -> list[Unit]:
    """Queued rows (id, owner text, seed group) → units, each run once, in id order."""
    by_key: dict[str, list[tuple[int, object]]] = {}
    for run_id, owner, group in sorted(rows, key=lambda r: r[0]):
        key = f"g:{group}" if group is not None else f"r:{run_id}"
        by_key.setdefault(key, []).append((run_id, owner))
    out = []
    for members in by_key.values():
        first_owner = members[0][1]
        out.append(Unit(tuple(i for i, _ in members), owner_key(first_owner),
                        is_teacher(first_owner)))
    return sorted(out, key=lambda u: u.first)


def running_units(rows: Iterable[tuple[int, object, str | None]]) -> dict[str, int]:
    """Training rows (id, owner text, seed group) → units training per owner."""
    counts: dict[str, int] = {}
    for u in units(rows):
        counts[u.owner] = counts.get(u.owner, 0) + 1
    return counts


def last_served(rows: Iterable[tuple[object, float | None]]) -> dict[str, float]:
    """(owner text, latest start of its runs) rows → when each owner's last turn began."""
    out: dict[str, float] = {}
    for owner, started in rows:
        if started is not None:
            key = owner_key(owner)
            out[key] = max(out.get(key, 0.0), float(started))
    return out


def fair_order(queued: Sequence[Unit], training: dict[str, int] | None = None,
               served: dict[str, float] | None = None) -> list[Unit]:
    """The order in which the workers take the queued units (see the module's docstring).
    ``training``: units each owner has training; ``served``: when each owner's last turn
    began."""
    training, served = training or {}, served or {}
    turn: dict[str, int] = {}
    keyed = []
    for u in sorted(queued, key=lambda u: u.first):
        n = turn.get(u.owner, training.get(u.owner, 0))
        turn[u.owner] = n + 1
        keyed.append(((n, 0 if u.teacher else 1, served.get(u.owner, 0.0), u.first), u))
    return [u for _, u in sorted(keyed, key=lambda kv: kv[0])]


__all__ = ["Unit", "fair_order", "is_teacher", "last_served", "owner_key", "running_units",
           "units"]
