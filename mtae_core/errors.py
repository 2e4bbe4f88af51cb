"""Plain problems: the one error type of bad input (``ConfigError``) and the helpers that
word it. A leaf module: everything may import it, it imports nothing of the engine.

The labels of config fields live in ``config``; a problem given as a ``(path, sentence)``
pair gets its label from the function ``config`` hands over when it is imported
(``use_labels``), so this module never imports ``config`` back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

MARK = "§"  # prefixes messages that already carry their own field path and label
SEP = "\x1f"  # separates path, label and message inside a marked message
SHOW = 60  # characters of a value shown in a message before it is cut


LONG_WORD = re.compile(rf"\S{{{SHOW + 1},}}")


_labeller: list[Callable[[str], str]] = []  # config's labels of fields, handed over at import


def use_labels(labeller: Callable[[str], str]) -> None:
    """Name fields by ``labeller`` (path → label); ``config`` hands over its own."""
    _labeller[:] = [labeller]


def label_of(path: str) -> str:
    """The label of the field at a dotted path ("training.batch_size" → "Batch size")."""
    return _labeller[0](path) if _labeller else words(path.split(".")[-1])


class ConfigProblem(NamedTuple):
    """One problem of a config: where (dotted path), the field's label, the whole plain
    sentence ("Epochs must be at least 1"), and what follows the label in it ("must be
    at least 1"), for a form that names the field its own way."""

    path: str
    label: str
    message: str
    detail: str = ""


class ConfigError(ValueError):
    """A config is invalid. ``problems`` lists ``ConfigProblem`` s; ``errors`` the
    ``(path, sentence)`` pairs; ``by_field`` maps a path to its sentence, so a form can
    show each next to its widget (or its own label + ``detail``)."""

    def __init__(self, errors: Sequence[tuple[str, str] | ConfigProblem]) -> None:
        # a (path, message) pair from a caller is a whole sentence already
        self.problems = [e if isinstance(e, ConfigProblem)
                         else ConfigProblem(e[0], label_of(e[0]), e[1], e[1]) for e in errors]
        self.errors = [(p.path, p.message) for p in self.problems]
        super().__init__("\n".join(f"{p.path}: {p.message}" if p.path else p.message
                                    for p in self.problems))

    @property
    def by_field(self) -> dict[str, str]:
        """The first message of each field path."""
        out: dict[str, str] = {}
        for p in self.problems:
            out.setdefault(p.path, p.message)
        return out

    @property
    def messages(self) -> list[str]:
        return [p.message for p in self.problems]


class StoreError(Exception):
    """The run store cannot be opened or used: damaged, not a database, a folder, on a
    read-only disk, made by a newer version, or its home is not a folder. ``str(e)`` is one
    plain message that names the file and says what to do; ``path`` is the file."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


def show(value: Any) -> str:
    """A value as a user typed it (JSON), cut to its first ``SHOW`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return cut(text)


def cut(text: str, limit: int = SHOW) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def words(name: str) -> str:
    return cut(name.replace("_", " ").capitalize())


def compose(label: str, text: str) -> str:
    """"Epochs" + "must be at least 1" → "Epochs must be at least 1"; other texts
    follow the label after a colon."""
    if text.startswith(("must ", "needs ", "is ", "has ", "should ")):
        return f"{label} {text}"
    return f"{label}: {text}"


def fail(path: str, text: str, label: str | None = None) -> ValueError:
    """A problem at ``path`` raised inside a validator; ``config.plain_problems`` turns it
    into a ``ConfigProblem`` with this path and label, never pydantic's wording."""
    path = ".".join(cut(p) for p in path.split("."))
    # texts from entries' own checks may quote a value whole: cut any overlong word
    text = LONG_WORD.sub(lambda m: cut(m.group(0)), text)
    # no label: ``config.plain_problems`` names the field by its path
    return ValueError(f"{MARK}{path}{SEP}{label or ''}{SEP}{text}")


__all__ = ["ConfigError", "ConfigProblem", "StoreError", "compose", "cut", "fail", "label_of", "show",
           "use_labels", "words"]
