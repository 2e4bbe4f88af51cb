"""Plain problems: the one error type of bad input (``ConfigError``) and the helpers that
word it. A leaf module: everything may import it, it imports nothing of the engine.

The labels of config fields live in ``config``; a problem given as a ``(path, sentence)``
pair gets its label from the function ``config`` hands over when it is imported
(``use_labels``), so this module never imports ``config`` back.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
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
    """A value as a user typed it (JSON), cut to its first ``SHOW`` characters, control
    characters escaped."""
    if isinstance(value, LongNumber) or (isinstance(value, int) and _too_long(value)):
        return f"a number of {digits(value):,} digits"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        try:
            text = repr(value)
        except (ValueError, RecursionError):  # holds a number too long to write out
            text = f"a {type(value).__name__} too large to show"
    return cut(text)


def cut(text: str, limit: int = SHOW) -> str:
    """``text`` cut to ``limit`` characters, its control characters escaped (a value
    echoed in a message may come from anyone: it must not move the cursor of a terminal,
    nor hold a lone surrogate a page cannot encode)."""
    head = printable(text[:limit + 1])
    return head if len(text) <= limit and len(head) <= limit else head[:limit] + "…"


# ---- text that is safe to print ----------------------------------------------------------------

# what a terminal or a page takes as something other than a letter: control characters
# (escape sequences, carriage returns, bells), format characters (right-to-left
# overrides), lone surrogates, private use, and the line and paragraph separators
UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
JOINERS = frozenset("\u200c\u200d")  # (format characters emoji and some scripts need)


def _escape(ch: str) -> str:
    # JSON's escapes, so a JSON text printed through ``printable`` stays JSON
    n = ord(ch)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control character (but those in ``keep``) written as its
    escape, ``\\u001b`` for ESC (as JSON writes it): what a terminal prints shows the text, never obeys it."""
    if text.isprintable() and not keep:
        return text  # the usual case, checked in C
    return "".join(_escape(ch) if ch not in keep and not _prints(ch) else ch for ch in text)


def _prints(ch: str) -> bool:
    return ch.isprintable() or ch in JOINERS or unicodedata.category(ch) not in UNPRINTABLE


def unprintable(text: str) -> str | None:
    """The first character of ``text`` a name must not hold (see ``printable``), or None."""
    if text.isprintable():
        return None
    return next((ch for ch in text if not _prints(ch)), None)


# ---- whole numbers: from a user's text, and in JSON ---------------------------------------------

MAX_DIGITS = 4300  # Python reads no longer integer from text (sys.get_int_max_str_digits)
WHOLE = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() takes "²" and "①" too


def whole_number(text: str, low: int, high: int) -> int:
    """A whole number typed by a user (a link's ``?study=``, a command's ID): ASCII
    digits only, from ``low`` to ``high``; else ``ValueError`` in plain words (never
    Python's). Reads at most as many digits as ``high`` has (after leading zeros), so
    its time does not depend on the length of the text."""
    text = text.strip()
    if not WHOLE.fullmatch(text):
        return _out_of(low, high, "is not a whole number")
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(high)):
        return _out_of(low, high, "is too large")
    n = int(significant)
    if not low <= n <= high:
        return _out_of(low, high, "is too large" if n > high else "is too small")
    return n


def _out_of(low: int, high: int, why: str) -> int:
    raise ValueError(f"{why} (a whole number from {low:,} to {high:,} is needed)")


class LongNumber:
    """A number in JSON text too long to be read as one (``read_int``): it stays in the
    parsed value, so the config names the field that holds it."""

    def __init__(self, n_digits: int) -> None:
        self.digits = n_digits

    def __repr__(self) -> str:
        return f"LongNumber({self.digits})"


def read_int(text: str) -> int | LongNumber:
    """``json.loads(..., parse_int=read_int)``: integers as ``int``, but one of more than
    ``MAX_DIGITS`` digits becomes a ``LongNumber`` instead of a ``ValueError``."""
    n = len(text) - text.startswith("-")
    return int(text) if n <= MAX_DIGITS else LongNumber(n)


def _too_long(n: int) -> bool:
    return n.bit_length() > MAX_DIGITS * 3.32  # (log2 10: about MAX_DIGITS digits)


def digits(n: int | LongNumber) -> int:
    """The number of digits of ``n`` (about, for a very large int)."""
    if isinstance(n, LongNumber):
        return n.digits
    return int(abs(n).bit_length() * 0.30103) + 1 if _too_long(n) else len(str(abs(n)))


def long_numbers(obj: Any) -> Iterator[tuple[list[Any], int]]:
    """(the keys leading to it, its digits) of every number in ``obj`` too long to use
    (a ``LongNumber``, or an int of more than ``MAX_DIGITS`` digits): a walk without
    recursion that enters each list or dict once (a dict built in Python may hold
    itself), a found number's keys rebuilt from its parents."""
    Node = tuple[Any, Any]  # (the parent's node, the key in it); None at the top
    stack: list[tuple[Any, Node | None]] = [(obj, None)]
    entered: set[int] = set()
    while stack:
        o, node = stack.pop()
        if isinstance(o, LongNumber) or (isinstance(o, int) and _too_long(o)):
            keys: list[Any] = []
            while node is not None:
                node, key = node
                keys.append(key)
            yield keys[::-1], digits(o)
        elif isinstance(o, dict | list | tuple) and id(o) not in entered:
            entered.add(id(o))
            items = o.items() if isinstance(o, dict) else enumerate(o)
            stack.extend((v, (node, k)) for k, v in reversed(list(items)))


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


__all__ = ["ConfigError", "ConfigProblem", "LongNumber", "StoreError", "compose", "cut", "digits",
           "fail", "label_of", "long_numbers", "printable", "read_int", "show", "unprintable",
           "use_labels", "whole_number", "words"]
