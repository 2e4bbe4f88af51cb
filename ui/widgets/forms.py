"""Widgets built from pydantic schemas.

Every registry entry (data set, autoencoder, sharing scheme, weighting, schedule) has an
``Options`` model whose fields carry their bounds and a description; the config sections
(model, optimizer, training...) are pydantic models too. This module turns any such
field into a widget, so a new entry or a new field shows up in the UI with no UI change:

- ``bool`` → checkbox; ``Literal[...]`` → selectbox
- ``int`` / ``float`` with ``ge``/``gt``/``le``/``lt`` → slider (short linear range) or
  number input; ``X | None`` → number input that may stay empty. Number inputs take any
  number: a browser clamps a bounded input by silently keeping its last valid value, so
  the bounds are left to the config, whose problem then shows under the field
- ``dict[str, float]`` (per-task weights) → one slider per chosen task in [0, 5]
- ``list[str]`` (task names) → multiselect over the chosen tasks, in click order
- ``list[int]`` / ``tuple[int, ...]`` → text such as ``128, 64``
- anything else → text (JSON when it parses)

A field's ``title`` is the widget's label (else its name, capitalised); its description is the widget's help. A field may steer its widget with
``json_schema_extra={"widget": "slider" | "number"}``. The kind of widget and its step
follow the field's default, so a form started from other values (``value``/``values``,
such as a link's settings) draws the same widgets as the default form.

Inside ``collect()``, every field leaves an empty place under its widget, registered by
its config path with its label, so a config problem can be shown next to its field.
Inside ``hiding(paths)``, the fields at those config paths draw nothing and keep their
start values (a class link's ``?hide=``, see ``ui.classroom.roles``). Inside ``closing(paths)``
they draw nothing either, as their tab is closed (the Train form draws only its open tab),
but their labels are still known, so a problem found there names them and their tab.
A field that is not drawn keeps its start value, fitted to the chosen tasks as its widget
would fit it (per-task weights of tasks no longer chosen are dropped, new ones start at 1).
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import streamlit as st
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from streamlit.delta_generator import DeltaGenerator

from mtae_core.errors import MAX_DIGITS, read_int
from mtae_core.registry import Registry

WEIGHT_RANGE = (0.0, 5.0)  # per-task weight sliders (widened to fit a larger start value)
UNSET: Any = object()  # no start value given: the widget starts at the field's default


@dataclass
class Fields:
    """Where each field of a form is: config path → label, and → the place under its
    widget for its problem."""

    labels: dict[str, str] = field(default_factory=dict)
    slots: dict[str, DeltaGenerator] = field(default_factory=dict)
    tabs: dict[str, str] = field(default_factory=dict)  # path → the tab it is on, if any


_fields: ContextVar[Fields | None] = ContextVar("mtae_form_fields", default=None)
# config paths (or path prefixes) whose widgets are not drawn: a class link hides them
_hidden: ContextVar[frozenset[str]] = ContextVar("mtae_form_hidden", default=frozenset())
# config paths whose widgets are not drawn because their tab is closed
_closed: ContextVar[frozenset[str]] = ContextVar("mtae_form_closed", default=frozenset())


@contextmanager
def hiding(paths: frozenset[str]) -> Iterator[None]:
    """Inside the block, a field whose config path is in ``paths`` or under one of them
    (``model`` hides ``model.latent_dim``) draws no widget and keeps its start value."""
    token = _hidden.set(paths)
    try:
        yield
    finally:
        _hidden.reset(token)


@contextmanager
def closing(paths: frozenset[str]) -> Iterator[None]:
    """Inside the block, a field at or under one of ``paths`` draws no widget (its tab is
    closed) and keeps its start value; unlike ``hiding``, its label is still registered."""
    token = _closed.set(paths)
    try:
        yield
    finally:
        _closed.reset(token)


def _under(path: str | None, prefixes: frozenset[str]) -> bool:
    if not prefixes or not path:
        return False
    parts = path.split(".")
    return any(".".join(parts[:i]) in prefixes for i in range(1, len(parts) + 1))


def is_hidden(path: str | None) -> bool:
    """Whether the field at ``path`` draws no widget: hidden by a class link (see
    ``hiding``) or on a closed tab (see ``closing``)."""
    return _under(path, _hidden.get()) or _under(path, _closed.get())


def is_class_hidden(path: str | None) -> bool:
    """Whether a class link hides the field at ``path`` (see ``hiding``)."""
    return _under(path, _hidden.get())


@contextmanager
def collect() -> Iterator[Fields]:
    """Record the fields drawn inside the block (each script run has its own context)."""
    found = Fields()
    token = _fields.set(found)
    try:
        yield found
    finally:
        _fields.reset(token)


def register(path: str | None, label: str) -> None:
    """Leave a place for the problems of the field at ``path`` here (inside ``collect``);
    for a field on a closed tab, only note its label (there is no place to leave)."""
    found = _fields.get()
    if found is None or not path:
        return
    if is_hidden(path):
        if not is_class_hidden(path):  # a class link's hidden field stays unnamed
            found.labels[path] = label
        return
    found.labels[path] = label
    found.slots[path] = st.empty()


# ---- schema inspection ---------------------------------------------------------------


def _unwrap_optional(ann: Any) -> tuple[Any, bool]:
    """``X | None`` → (X, True); anything else → (ann, False)."""
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) == 1 and len(get_args(ann)) == 2:
            return args[0], True
    return ann, False


def bounds(field: FieldInfo) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low_exclusive, high_exclusive) from the field's constraints."""
    lo: float | None = None
    hi: float | None = None
    lo_ex = hi_ex = False
    for m in field.metadata:
        if isinstance(m, Ge):
            lo, lo_ex = float(m.ge), False  # type: ignore[arg-type]
        elif isinstance(m, Gt):
            lo, lo_ex = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, Le):
            hi, hi_ex = float(m.le), False  # type: ignore[arg-type]
        elif isinstance(m, Lt):
            hi, hi_ex = float(m.lt), True  # type: ignore[arg-type]
    return lo, hi, lo_ex, hi_ex


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _hint(field: FieldInfo) -> str | None:
    extra = field.json_schema_extra
    if isinstance(extra, dict):
        w = extra.get("widget")
        return str(w) if w else None
    return None


def _default(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


# ---- one field → one widget -------------------------------------------------------------


def field_widget(name: str, field: FieldInfo, key: str, tasks: Sequence[str] = (),
                 label: str | None = None, value: Any = UNSET, path: str | None = None) -> Any:
    """Draw the widget of one schema field and return its value. ``value`` overrides
    the field's default as the widget's starting value (``None`` too, for an optional
    field). ``path`` is the field's place in the config (default: ``key``)."""
    label = label or field.title or _label(name)  # a field's title reads better than its name
    if is_hidden(path or key):  # a setting not drawn keeps the value the form starts from
        register(path or key, label)
        start = _default(field) if value is UNSET else value
        if not is_class_hidden(path or key):  # changed just as its tab was closed?
            start = sent_value(field, key, tasks, start)
        return kept_value(field, start, tasks)
    value = _widget(name, field, key, tasks, label, value)
    register(path or key, label)
    return value


def _widget(name: str, field: FieldInfo, key: str, tasks: Sequence[str], label: str,
            value: Any) -> Any:
    ann, optional = _unwrap_optional(field.annotation)
    origin, args = get_origin(ann), get_args(ann)
    start = _default(field) if value is UNSET else value
    help_ = field.description or None

    if ann is bool:
        return st.checkbox(label, value=bool(start), key=key, help=help_)
    if origin is Literal:
        options = list(args)
        index = options.index(start) if start in options else 0
        return st.selectbox(label, options, index=index, key=key, help=help_)
    if ann in (int, float):
        return _number(label, field, ann, start, optional, key, help_)
    if ann is str:
        return st.text_input(label, value=start or "", key=key, help=help_)
    if origin is dict and args and args[1] in (float, int):
        return _per_task_weights(label, start or {}, tasks, key, help_)
    if origin in (list, tuple) and args and args[0] is str:
        return _task_list(label, list(start or []), tasks, key, help_)
    if origin in (list, tuple) and args and args[0] in (int, float):
        return _number_list(label, start or [], key, help_)
    return _json_text(label, start, key, help_)


def sent_value(field: FieldInfo, key: str, tasks: Sequence[str], start: Any) -> Any:
    """The value the browser holds for the widget of ``field`` at ``key``, which this run
    does not draw: a change made just as its tab was closed arrives with the tab's switch
    (Streamlit may even fold the two reruns into one), so the form's remembered values do
    not hold it yet. ``start`` when the browser sent none."""
    ann, _ = _unwrap_optional(field.annotation)
    origin, args = get_origin(ann), get_args(ann)
    state = st.session_state
    try:
        if origin is dict and args and args[1] in (float, int):
            keys = {t: f"{key}.{t}" for t in tasks}
            if tasks and all(k in state for k in keys.values()):
                return {t: state[k] for t, k in keys.items()}
            return start
        if origin in (list, tuple) and args and args[0] is str:
            k = f"{key}[{','.join(tasks)}]"
            return list(state[k]) if k in state else start
        if key not in state:
            return start
        sent = state[key]
        if origin in (list, tuple) and args and args[0] in (int, float):
            return parse_number_list(sent)
        if ann is bool or origin is Literal or ann in (int, float, str):
            return sent
        try:
            return json.loads(sent, parse_int=read_int)  # (a 5,000-digit number: named)
        except (TypeError, json.JSONDecodeError):
            return sent
    except (KeyError, st.errors.StreamlitAPIException):  # (cleared between check and read)
        return start


def kept_value(field: FieldInfo, start: Any, tasks: Sequence[str]) -> Any:
    """The value of a field whose widget is not drawn: ``start``, fitted to ``tasks`` as
    its widget would fit it (``_per_task_weights``, ``_task_list``)."""
    ann, _ = _unwrap_optional(field.annotation)
    origin, args = get_origin(ann), get_args(ann)
    if not tasks:
        return start
    if origin is dict and args and args[1] in (float, int) and isinstance(start, dict | None):
        return {t: max(float((start or {}).get(t, 1.0)), WEIGHT_RANGE[0]) for t in tasks}
    if origin in (list, tuple) and args and args[0] is str and isinstance(start, list | tuple | None):
        return [t for t in (start or []) if t in tasks]
    return start


def _number(label: str, field: FieldInfo, kind: type, start: Any, optional: bool,
            key: str, help_: str | None) -> Any:
    lo, hi, lo_ex, hi_ex = bounds(field)
    is_int = kind is int
    cast = int if is_int else float
    span = (hi - lo) if lo is not None and hi is not None else math.inf
    hint = _hint(field)
    # the kind of widget and its step follow the default, whatever value it starts from
    ref = _default(field)
    if ref is not None and (not isinstance(ref, int | float) or isinstance(ref, bool)):
        ref = start  # a field without a default
    if is_int:
        step: float = 1
    elif ref not in (None, 0):
        step = 10.0 ** math.floor(math.log10(abs(float(ref))))
    else:
        step = 0.01
    use_slider = hint == "slider" or (
        hint != "number" and not optional and span < math.inf and (
            (is_int and span <= 20)
            or (not is_int and span <= 2 and ref not in (None, 0)
                and abs(float(ref)) >= span / 100)))
    if use_slider:
        if not is_int:
            step = span / 100
        assert lo is not None and hi is not None  # a finite span has both bounds
        s_val = cast(start)
        # a valid start just inside an exclusive bound widens the slider, never moves
        s_lo = min(cast(lo + step if lo_ex else lo), s_val)
        s_hi = max(cast(hi - step if hi_ex else hi), s_val)
        return st.slider(label, min_value=s_lo, max_value=s_hi, value=s_val,
                         step=cast(step), key=key, help=help_)
    # no min_value/max_value: the browser would keep the last valid value of an
    # out-of-range entry without a word (epochs 0 → trains the old 5); the config's
    # bounds report it under the field instead
    kwargs: dict[str, Any] = {
        "step": cast(step),
        "value": cast(start) if start is not None else None,
        "key": key,
        "help": help_,
    }
    if not is_int:
        kwargs["format"] = "%g"
    if optional:
        kwargs["placeholder"] = "empty = default"
    return st.number_input(label, **kwargs)


def _per_task_weights(label: str, start: dict[str, float], tasks: Sequence[str], key: str,
                      help_: str | None) -> dict[str, float]:
    if not tasks:
        return dict(start)
    st.markdown(f"**{label}**", help=help_)
    out = {}
    for t in tasks:
        v = max(float(start.get(t, 1.0)), WEIGHT_RANGE[0])
        out[t] = st.slider(t, min_value=WEIGHT_RANGE[0], max_value=max(WEIGHT_RANGE[1], v),
                           value=v, step=0.05, key=f"{key}.{t}", help=help_)
    return out


def _task_list(label: str, start: list[str], tasks: Sequence[str], key: str,
               help_: str | None) -> list[str]:
    # keyed on the tasks, so a changed task list starts from a clean selection
    return st.multiselect(label, list(tasks), default=[t for t in start if t in tasks],
                          key=f"{key}[{','.join(tasks)}]", help=help_)


def parse_number_list(text: str) -> list[Any]:
    """``"128, 64"`` → ``[128, 64]``; a token that is not a number (in ASCII digits:
    Python's ``int`` takes "١٢" too, its ``float`` "nan" and "1_0") is kept as text so the
    config names it in its error."""
    out: list[Any] = []
    for tok in text.replace(";", ",").split(","):
        tok = tok.strip()
        if not tok:
            continue
        if _INT.fullmatch(tok) and len(tok) <= MAX_DIGITS:
            out.append(int(tok))
        elif _NUMBER.fullmatch(tok):
            out.append(float(tok))  # (a longer whole number is too large: inf)
        else:
            out.append(tok)
    return out


_INT = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _number_list(label: str, start: Iterable[Any], key: str, help_: str | None) -> list[Any]:
    text = st.text_input(label, value=", ".join(str(v) for v in start), key=key,
                         help=(help_ or "") + " (comma-separated numbers)")
    return parse_number_list(text)


def _json_text(label: str, start: Any, key: str, help_: str | None) -> Any:
    text = st.text_input(label, value=json.dumps(start), key=key, help=help_)
    try:
        return json.loads(text, parse_int=read_int)  # (a 5,000-digit number: named)
    except json.JSONDecodeError:
        return text


# ---- whole models and registry entries -------------------------------------------------


def model_form(model: type[BaseModel], prefix: str, tasks: Sequence[str] = (),
               only: Iterable[str] | None = None, exclude: Iterable[str] = (),
               values: dict[str, Any] | None = None, path: str | None = None) -> dict[str, Any]:
    """One widget per field of ``model`` (in declaration order); returns name → value.
    ``values`` holds start values by field name (a field left out starts at its default);
    ``path`` is where the model sits in the config (default: ``prefix``)."""
    names = list(only) if only is not None else list(model.model_fields)
    skip = set(exclude)
    values = values or {}
    return {
        n: field_widget(n, model.model_fields[n], f"{prefix}.{n}", tasks,
                        value=values.get(n, UNSET), path=f"{path or prefix}.{n}")
        for n in names if n not in skip
    }


def entry_picker(label: str, registry: Registry[Any], key: str, default: str | None = None,
                 help: str | None = None, path: str | None = None) -> str:
    """Selectbox over a registry with the chosen entry's summary under it; ``path`` is
    where the choice sits in the config."""
    names = registry.names()
    index = names.index(default) if default in names else 0
    if is_hidden(path):
        register(path, label)
        sent = st.session_state.get(key) if not is_class_hidden(path) else None
        return sent if sent in names else names[index]  # (sent: see ``sent_value``)
    name: str = st.selectbox(label, names, index=index, key=key, help=help,
                             format_func=lambda n: n.replace("_", " "))
    summary = registry.spec(name).summary()
    if summary:
        st.caption(summary)
    register(path, label)
    return name


def entry_form(label: str, registry: Registry[Any], prefix: str, tasks: Sequence[str] = (),
               default: str | None = None, help: str | None = None,
               values: dict[str, Any] | None = None,
               path: str | None = None,
               choice_path: str | None = None) -> tuple[str, dict[str, Any]]:
    """Pick an entry and fill in its options; returns (name, options). The picker starts
    at ``default``, whose options start at ``values``; other entries start at their
    own defaults. ``choice_path`` and ``path`` are where the choice and its options sit
    in the config."""
    name = entry_picker(label, registry, f"{prefix}.name", default, help, path=choice_path)
    opts_model = registry.spec(name).Options
    if not opts_model.model_fields:
        return name, {}
    start = values if name == default else None
    return name, model_form(opts_model, f"{prefix}.{name}", tasks, values=start, path=path)
