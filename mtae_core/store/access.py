"""Who may do what on a class's shared server (DESIGN habit 12: whatever a class shares is
owned, and the engine checks who may cancel or delete it, never the page alone).

An ``Actor`` is whoever asks: a student (one browser session, known by a random token the
server made, never by the name they typed), the teacher (a session that opened the
teacher's link, whose key ``check_key`` compares), or the command line. A run, study or
user's table keeps its owner as the JSON ``owner_text`` writes; ``may_act`` says whether an
actor may cancel, delete or resume it: the teacher and the command line always, a student
only what they queued. The store's own methods (``RunStore.request_cancel``,
``delete_runs``, ``delete_dataset``, ``studies.planning.cancel`` / ``retry``) ask it, so
the UI, the CLI and the Python API agree.

Nothing here imports the rest of the store: the schema of the class tables and the checks
that run inside a store transaction live in ``store.classroom``.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["student", "teacher", "cli"]
ROLES: tuple[Role, ...] = ("student", "teacher", "cli")
KEY_ENV = "MTAE_TEACHER_KEY"  # the teacher's key; set: the server is a class server
MAX_KEY = 256  # a longer key given is wrong without being compared
DEFAULT_CAP = 5  # runs one student may have waiting at once (0: no limit)


@dataclass(frozen=True)
class Actor:
    """Who asks. ``id``: an unforgeable identity (a random token the server made for one
    browser session; "cli" for the command line); ``name``: a label only ("Alex")."""

    role: Role
    id: str
    name: str = ""

    @property
    def is_teacher(self) -> bool:
        """The teacher or the command line: may act on every run."""
        return self.role in ("teacher", "cli")

    @property
    def label(self) -> str:
        """How the audit log and messages name this actor."""
        if self.role == "cli":
            return "the command line"
        if self.role == "teacher":
            return f"the teacher ({self.name})" if self.name else "the teacher"
        return self.name or "a student with no name"


CLI = Actor("cli", "cli", "command line")


class NotAllowed(ValueError):  # noqa: N818  (the contract's name: a refusal, not a bug)
    """The actor may not do this; the message says why in plain words. Nothing changed."""


class QueueFull(NotAllowed):
    """A student has as many runs waiting as the class allows."""


@dataclass(frozen=True)
class ClassSettings:
    """The teacher's settings of the class: ``locked`` (students' forms keep the class
    link's setup), ``hide`` (sections hidden from students), ``cap`` (runs one student may
    have waiting; 0: no limit), ``paused`` (workers take no new run)."""

    locked: bool = False
    hide: tuple[str, ...] = ()
    cap: int = DEFAULT_CAP
    paused: bool = False


@dataclass(frozen=True)
class DeletePreview:
    """What deleting some runs would do: how many, whose (name → count), the studies that
    use some of them (id, name), and the ids this actor may not delete (not theirs, or a
    study uses them and the actor is a student)."""

    runs: int
    by_owner: dict[str, int] = field(default_factory=dict)
    studies: list[tuple[int, str]] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)


def owner_text(actor: Actor, tab: str | None = None) -> str:
    """The owner a run, study or table keeps: JSON with the browser tab, the name typed,
    the actor's id and role (``ui.classroom.roles.parse_owner`` still reads its tab and name)."""
    return json.dumps({"tab": tab, "name": actor.name, "actor": actor.id, "role": actor.role},
                      ensure_ascii=False)


def _owner_data(text: object) -> dict[str, object]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def owner_of(text: object) -> tuple[str | None, str]:
    """A stored owner → (actor id, or None when none was recorded; the name). A plain
    text owner (another client's) is a name without an actor."""
    data = _owner_data(text)
    if not data:
        return None, text if isinstance(text, str) else ""
    actor = data.get("actor")
    return (str(actor) if actor else None), str(data.get("name") or "")


def owner_role(text: object) -> Role | None:
    """The role recorded with a stored owner (None: none recorded)."""
    role = _owner_data(text).get("role")
    return role if role in ROLES else None  # type: ignore[return-value]


def owner_name(text: object) -> str:
    """Whose it is, for a message: the name, else "someone"."""
    actor, name = owner_of(text)
    if actor == CLI.id:
        return "the command line's"
    return f"{name}'s" if name else "someone else's"


def may_act(actor: Actor, owner: object) -> bool:
    """Whether ``actor`` may cancel, delete or resume what ``owner`` (a stored owner text)
    owns: the teacher and the command line always; a student only their own."""
    if actor.is_teacher:
        return True
    mine, _ = owner_of(owner)
    return mine is not None and hmac.compare_digest(mine.encode(), actor.id.encode())


def refusal(actor: Actor, what: str, owner: object, verb: str) -> NotAllowed:
    """"Run #12 is Alex's: only they or the teacher may cancel it." """
    return NotAllowed(f"{what} is {owner_name(owner)}: only they or the teacher may {verb} it.")


def class_key() -> str | None:
    """The teacher's key (``$MTAE_TEACHER_KEY``), or None: not a class server."""
    key = os.environ.get(KEY_ENV, "")
    return key or None


def class_mode() -> bool:
    """Whether this server serves a class (a teacher's key is set)."""
    return class_key() is not None


def check_key(given: object) -> bool:
    """Whether ``given`` is the teacher's key. False, never an exception, for an empty,
    overlong or non-text key, or when no key is set; compared in constant time."""
    key = class_key()
    if key is None or not isinstance(given, str) or not given \
            or len(given) > max(MAX_KEY, len(key)):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               key.encode("utf-8", "surrogatepass"))


__all__ = ["CLI", "DEFAULT_CAP", "KEY_ENV", "ROLES", "Actor", "ClassSettings", "DeletePreview",
           "NotAllowed", "QueueFull", "Role", "check_key", "class_key", "class_mode", "may_act",
           "owner_name", "owner_of", "owner_role", "owner_text", "refusal"]
