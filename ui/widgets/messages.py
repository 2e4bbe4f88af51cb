"""Config problems in plain words, each naming its field by the label the form shows.

The engine reports a problem as ``(dotted field path, message)``; a message may still be
pydantic's ("Input should be greater than or equal to 1 (got 0)"). ``plain`` rewrites
those into a sentence with the field's label ("Epochs must be at least 1"), cuts long
echoed values, and leaves the engine's own plain messages as they are. ``LABELS``: each
config path's label, from the schemas. Pure functions, no Streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mtae_core.config import DataConfig, ModelConfig, OptimizerConfig, TrainingConfig

MAX_VALUE_CHARS = 40  # an echoed value longer than this is cut (a pasted 10,000-char text)

_NUMBER = r"(-?[\d.e+-]+)"
# pydantic's wording → ours; each pattern matches the start of the message
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"Input should be greater than or equal to {_NUMBER}"), r"must be at least \1"),
    (re.compile(rf"Input should be greater than {_NUMBER}"), r"must be greater than \1"),
    (re.compile(rf"Input should be less than or equal to {_NUMBER}"), r"must be at most \1"),
    (re.compile(rf"Input should be less than {_NUMBER}"), r"must be less than \1"),
    (re.compile(r"Input should be a valid integer"), "must be a whole number"),
    (re.compile(r"Input should be a finite number"), "must be a finite number"),
    (re.compile(r"Input should be a valid (number|float)"), "must be a number"),
    (re.compile(r"Input should be a valid boolean"), "must be on or off"),
    (re.compile(r"(?:Tuple|List) should have at least 1 item"), "must have at least one value"),
    (re.compile(r"(?:Tuple|List) should have at least (\d+) items?"), r"must have at least \1 values"),
    (re.compile(r"(?:Tuple|List) should have at most (\d+) items?"), r"must have at most \1 values"),
    (re.compile(r"String should have at least 1 character"), "must not be empty"),
    (re.compile(r"String should have at most (\d+) characters?"), r"must be at most \1 characters long"),
    (re.compile(r"Field required"), "is required"),
    (re.compile(r"Input should be (.*)"), r"must be \1"),
]
_GOT = re.compile(r"\s*\(got (.*)\)\s*$", re.S)
# the rewritten messages that read as the rest of a sentence after the label
_PREDICATE = ("must", "is ")


@dataclass(frozen=True)
class Problem:
    path: str  # dotted config path, "" for the config as a whole
    label: str  # the field's label on the form
    text: str  # the whole sentence, label included

    def __str__(self) -> str:
        return self.text


def _cut(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"


def plain(label: str, message: str) -> str:
    """One problem as a sentence: ``plain("Epochs", "Input should be greater than or equal
    to 1 (got 0)")`` → ``"Epochs must be at least 1"``."""
    message = message.strip().removeprefix("Value error, ")
    got = _GOT.search(message)
    rewritten = False
    body = message[:got.start()] if got else message
    for pattern, repl in _REWRITES:
        m = pattern.match(body)
        if m:
            body = m.expand(repl)
            rewritten = True
            break
    # pydantic echoes the value; ours already say what is wrong. Keep a short echo of
    # the engine's own messages (they name allowed values), cut to a readable length.
    tail = f" (got {_cut(got.group(1))})" if got and not rewritten else ""
    body = _cut_long_words(body)
    if not label:
        return body[:1].upper() + body[1:] + tail
    if body.startswith(_PREDICATE):
        return f"{label} {body}{tail}"
    return f"{label}: {body}{tail}"


def _cut_long_words(text: str) -> str:
    return " ".join(_cut(w) if len(w) > 2 * MAX_VALUE_CHARS else w for w in text.split(" "))


def label_of(path: str, labels: Mapping[str, str]) -> tuple[str, str]:
    """(the registered path that ``path`` falls under, its label): the longest registered
    prefix; else the last part of the path in words."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in labels:
            label = labels[key]
            rest = parts[i:]  # e.g. a per-task weight under "Task weights"
            return key, f"{label} ({'.'.join(rest)})" if rest else label
    return path, parts[-1].replace("_", " ").capitalize() if path else ""


def problems(errors: Iterable[Any], labels: Mapping[str, str]) -> list[Problem]:
    """A ``ConfigError`` 's problems as plain ``Problem`` s keyed by the form's field:
    its ``problems`` (``ConfigProblem(path, label, message)``, whose message is already
    a sentence naming the field) or its ``errors`` (pairs of field path and message,
    which may be pydantic's wording)."""
    out = []
    for err in errors:
        if hasattr(err, "message"):  # (a ConfigProblem may be a named tuple too)
            path = str(getattr(err, "path", ""))
            message = str(err.message)
            named = str(getattr(err, "label", "") or "")
        else:
            path, message, named = str(err[0]), str(err[1]), ""
        key, label = label_of(path, labels)
        if named and message[:1] and not message[:1].islower():  # the engine's own sentence
            text = _cut_long_words(message)
        else:
            text = plain(label, message)
        out.append(Problem(key, label, text))
    return out


def _schema_labels() -> dict[str, str]:
    """Config path → the label its widget shows, from the schemas (for problems found
    where no form is drawn: a link opened on another page)."""
    out = {"name": "Run name", "seed": "Seed", "data.dataset": "Data set", "data.tasks": "Tasks",
           "model.autoencoder": "Autoencoder", "model.sharing": "Parameter sharing",
           "weighting.strategy": "Loss weighting", "schedule.kind": "Task schedule"}
    for section, model in (("data", DataConfig), ("model", ModelConfig),
                           ("optimizer", OptimizerConfig), ("training", TrainingConfig)):
        for name, f in model.model_fields.items():
            out.setdefault(f"{section}.{name}", f.title or name.replace("_", " ").capitalize())
    return out


LABELS = _schema_labels()
