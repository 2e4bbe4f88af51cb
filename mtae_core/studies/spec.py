"""`StudySpec`: a base config, axes over dotted config paths, and seeds; its cells.

A cell is one point of the product of the axes. Every axis value is checked by building
the configs it appears in, so a bad axis is reported (naming the axis and the value)
before anything is queued.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..config import (
    ConfigError,
    DataConfig,
    ExperimentConfig,
    check_name_text,
    cut,
    long_number_problem,
    show,
)
from ..errors import LongNumber, digits, long_numbers, printable, read_int, words

MAX_RUNS = 500
HUGE = 10**15  # cells: a count past it is not written out
DEFAULT_SEEDS = 3

# an axis over one of these picks another registered entry: that entry's options start
# again from their defaults in each cell (the base's options belong to the base's entry)
COMPONENTS: dict[str, tuple[str, ...]] = {
    "model.sharing": ("model", "options", "sharing"),
    "model.autoencoder": ("model", "options", "autoencoder"),
    "weighting.strategy": ("weighting", "options"),
    "schedule.kind": ("schedule", "options"),
    "data.dataset": ("data", "options"),
}
# whole sections given as one axis, e.g. "weighting": [{"strategy": "cagrad", ...}]
SECTIONS = {"weighting": "strategy", "schedule": "kind"}
_SPEC_KEYS = ("name", "base", "axes", "seeds", "vary_data_seed", "separate_seeds")


def max_runs() -> int:
    """The size cap of a study; ``MTAE_MAX_STUDY_RUNS`` raises it."""
    try:
        return max(1, int(os.environ.get("MTAE_MAX_STUDY_RUNS", MAX_RUNS)))
    except ValueError:
        return MAX_RUNS


def _err(field_: str, msg: str) -> ConfigError:
    return ConfigError([(field_, msg)])


def _show(value: Any) -> str:
    """A value as the user wrote it, cut short when long."""
    return cut(value) if isinstance(value, str) else show(value)


def _axis(path: Any) -> str:
    """An axis as a message names it: ``axis 'optimizer.lr'``, a long path cut."""
    return f"axis '{cut(str(path))}'"


def _field(path: Any) -> str:
    """The field path of a problem of the axis ``path``."""
    return f"axes.{cut(str(path))}"


def _plain(value: Any) -> Any:
    """JSON-shaped copy (tuples become lists) so a spec equals its parsed JSON."""
    return json.loads(json.dumps(value))


def data_seed_supported() -> bool:
    """True once the data has a seed of its own (``data.seed``)."""
    return "seed" in DataConfig.model_fields


# ---- applying one axis value to a config dict ------------------------------------------


def _component_value(path: str, value: Any) -> tuple[Any, Any]:
    """(entry name, options or None) of a component axis value: ``"pcgrad"`` or
    ``{"strategy": "cagrad", "options": {"c": 0.4}}`` (``name`` works as the key too)."""
    if not isinstance(value, dict):
        return value, None
    key = path.rsplit(".", 1)[1]
    extra = set(value) - {key, "name", "options"}
    if extra or not ({key, "name"} & set(value)):
        raise ValueError(f"a value given as an object needs '{key}' and may have 'options'"
                         + (f"; unknown key {_show(sorted(map(str, extra))[0])}" if extra else ""))
    options = value.get("options")
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"its 'options' must be an object of option names to values "
                         f"(got {_show(options)})")
    return value.get(key, value.get("name")), options


def apply_setting(d: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` to ``value`` in the config dict ``d`` (in place). A component axis
    resets that component's options to defaults unless the value carries its own."""
    if path in SECTIONS:
        if not isinstance(value, dict):
            value = {SECTIONS[path]: value}
        d[path] = _plain(value)
        return
    parts = path.split(".")
    if path in COMPONENTS:
        name, options = _component_value(path, value)
        _set(d, parts, name)
        _set(d, list(COMPONENTS[path]), _plain(options) if options is not None else {})
        if path == "data.dataset":
            d["data"].pop("tasks", None)  # the tasks belong to the data set: its defaults
        return
    _set(d, parts, _plain(value))


def _set(d: dict[str, Any], parts: list[str], value: Any) -> None:
    cur = d
    for i, p in enumerate(parts[:-1]):
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        if not isinstance(nxt, dict):
            raise ValueError(f"'{'.'.join(parts[:i + 1])}' is a single setting, not a group; "
                             f"it has no field '{parts[i + 1]}'")
        cur = nxt
    cur[parts[-1]] = value


def _ordered(settings: dict[str, Any]) -> list[tuple[str, Any]]:
    # pick entries first, so an axis over their options applies to the entry of the cell
    first = [p for p in settings if p in COMPONENTS or p in SECTIONS]
    return [(p, settings[p]) for p in first] + [(p, v) for p, v in settings.items()
                                                 if p not in first]


def short(value: Any) -> str:
    """A value as a cell label shows it: ``cagrad(c=0.4)``, ``digit=1,parity=0.5``."""
    if isinstance(value, dict):
        options = value.get("options")
        if "options" in value and len(value) <= 2 and isinstance(options, dict | None):
            name = next((v for k, v in value.items() if k != "options"), "")
            opts = ",".join(f"{short(k)}={short(v)}" for k, v in (options or {}).items())
            return f"{short(name)}({opts})" if opts else short(name)
        return ",".join(f"{short(k)}={short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ",".join(short(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, LongNumber) or (isinstance(value, int) and digits(value) > 30):
        return show(value)  # (str() refuses an int of more than 4,300 digits)
    return printable(str(value))


# ---- cells and the spec ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    index: int
    settings: dict[str, Any]  # {dotted path: value}
    config: ExperimentConfig  # seed = the study's first seed
    label: str

    def config_for(self, seed: int, vary_data_seed: bool = False) -> ExperimentConfig:
        """This cell's config for one seed. The data keeps the base's data seed unless
        ``vary_data_seed``, when it follows the run seed."""
        return with_seed(self.config, seed, vary_data_seed)


def with_seed(cfg: ExperimentConfig, seed: int, vary_data_seed: bool = False) -> ExperimentConfig:
    """``cfg`` with another run seed (and data seed). The seeds were validated when the
    spec was parsed and nothing else changes, so this copies without validating again
    (a study of hundreds of runs is planned on every page refresh)."""
    update: dict[str, Any] = {"seed": seed}
    if vary_data_seed and data_seed_supported():
        update["data"] = cfg.data.model_copy(update={"seed": seed})
    return cfg.model_copy(update=update)


@dataclass(frozen=True)
class StudySpec:
    name: str
    base: ExperimentConfig
    axes: dict[str, list[Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    vary_data_seed: bool = False
    # False: a cell's seeds train together as one batched model where they can
    # (``mtae_core.engine.replicas``); True: one run at a time, for comparison and debugging
    separate_seeds: bool = False

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def parse(cls, obj: Any, check_size: bool = True) -> StudySpec:
        """Validate a spec dict; raise ``ConfigError`` naming the axis and value at fault.
        ``check_size=False`` reads back a stored study whatever today's size cap (and
        its names, stored before control characters were refused, with them escaped)."""
        if isinstance(obj, StudySpec):
            return obj
        if not isinstance(obj, dict):
            raise _err("", "a study spec must be a JSON object with base, axes and seeds")
        unknown = [k for k in obj if k not in _SPEC_KEYS]
        if unknown:
            raise _err(cut(str(unknown[0])),
                       f"unknown key {_show(str(unknown[0]))} in the study spec; allowed: "
                       f"{', '.join(_SPEC_KEYS)}")
        for keys, n in long_numbers(obj):
            raise _long_number(keys, n)
        name = obj.get("name") or "study"
        if not isinstance(name, str) or len(name) > 100:
            raise _err("name", "the study name must be text of at most 100 characters")
        if not check_size:
            name = printable(name)  # stored before names were checked: kept, escaped
        try:
            check_name_text("name", name)
        except ValueError:
            raise _err("name", "the study name must not hold control characters (such as "
                       "line breaks or terminal escapes)") from None
        base_obj = obj.get("base") or {}
        if not check_size and isinstance(base_obj, dict) and isinstance(base_obj.get("name"), str):
            base_obj = {**base_obj, "name": printable(base_obj["name"])}  # (as the name)
        base = ExperimentConfig.parse(base_obj)
        axes = _parse_axes(obj.get("axes") or {})
        seeds = _parse_seeds(obj.get("seeds", DEFAULT_SEEDS))
        vary = obj.get("vary_data_seed", False)
        if not isinstance(vary, bool):
            raise _err("vary_data_seed", "must be true or false")
        if check_size:  # before any check whose time grows with the values
            _check_size(axes, len(seeds))
        for path, values in axes.items():
            _check_repeats(path, values)
        separate = obj.get("separate_seeds", False)
        if not isinstance(separate, bool):
            raise _err("separate_seeds", "must be true or false")
        spec = cls(name, base, axes, seeds, vary, separate)
        spec.cells()  # every value is checked by building the configs it appears in
        return spec

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        try:
            obj = json.loads(text, parse_int=read_int)  # a 5,000-digit number: named, not raised
        except json.JSONDecodeError as e:
            raise _err("", f"the study spec is not valid JSON: {e}") from None
        except RecursionError:
            raise _err("", "the study spec is nested too deeply to read") from None
        try:
            return cls.parse(obj)
        except RecursionError:
            raise _err("", "the study spec is nested too deeply to read") from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base.to_dict(), "axes": _plain(self.axes),
                "seeds": list(self.seeds), "vary_data_seed": self.vary_data_seed,
                **({"separate_seeds": True} if self.separate_seeds else {})}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # -- expansion ------------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        """The product of the axes, in order (built once per spec object)."""
        return list(self._cells)

    @functools.cached_property
    def _cells(self) -> tuple[Cell, ...]:
        paths = list(self.axes)
        out = []
        for i, combo in enumerate(itertools.product(*(self.axes[p] for p in paths))):
            settings = dict(zip(paths, combo, strict=True))
            cfg = self._build(settings)
            label = ", ".join(f"{p}={short(v)}" for p, v in settings.items()) or "base"
            out.append(Cell(i, settings, cfg, label))
        return tuple(out)

    def n_cells(self) -> int:
        n = 1
        for values in self.axes.values():
            n *= len(values)
        return n

    def n_runs(self) -> int:
        """Cells × seeds; the matched baselines are counted by ``plan``."""
        return self.n_cells() * len(self.seeds)

    def _build(self, settings: dict[str, Any]) -> ExperimentConfig:
        d = self.base.to_dict()
        d["seed"] = self.seeds[0]
        if ("weighting.options.weights" in settings and d["weighting"]["strategy"] != "fixed"
                and not {"weighting", "weighting.strategy"} & set(settings)):
            # a grid of fixed λ means the fixed weighting, whatever the base weighs with
            d["weighting"] = {"strategy": "fixed", "options": {}}
        for path, value in _ordered(settings):
            try:
                apply_setting(d, path, value)
            except ValueError as e:
                raise _err(_field(path), f"{_axis(path)}, value {_show(value)}: {e}") from None
        d["name"] = (f"{self.name} · " + ", ".join(
            f"{p.rsplit('.', 1)[-1]}={short(v)}" for p, v in settings.items()))[:120] \
            if settings else self.name[:120]
        try:
            return ExperimentConfig.parse(d)
        except ConfigError as e:
            raise _blame(e, settings) from None


def _blame(e: ConfigError, settings: dict[str, Any]) -> ConfigError:
    """Name the axis and value whose setting the config rejected: the axis the failing
    field lies in, else the axis that picked the entry whose options failed."""
    field_, msg = e.errors[0]

    def hits(path: str) -> int:
        if field_ == path or field_.startswith(path + ".") or path.startswith(field_ + "."):
            return 2
        return int(path in COMPONENTS and field_.startswith(".".join(COMPONENTS[path])))

    scored = [(hits(p), p) for p in settings]
    best = max((sc for sc, _ in scored), default=0)
    if best:
        path = next(p for sc, p in scored if sc == best)
        value = settings[path]
        others = [f"{cut(p)}={cut(short(v))}" for p, v in settings.items() if p != path]
        where = f" (in the cell with {cut(', '.join(others), 300)})" if others else ""
        return _err(_field(path), f"{_axis(path)}, value {_show(value)}{where}: "
                    f"{field_ + ': ' if field_ != path else ''}{plain_words(msg)}")
    if settings:
        cell = cut(", ".join(f"{cut(p)}={cut(short(v))}" for p, v in settings.items()), 300)
        return _err(field_, f"the cell {cell}: {plain_words(msg)}")
    return e


_PYDANTIC = (("Input should be greater than or equal to", "must be at least"),
             ("Input should be greater than", "must be greater than"),
             ("Input should be less than or equal to", "must be at most"),
             ("Input should be less than", "must be less than"),
             ("Input should be a valid integer", "must be a whole number"),
             ("Input should be a valid number", "must be a number"),
             ("Input should be a valid boolean", "must be true or false"),
             ("Input should be", "must be"))


def plain_words(msg: str) -> str:
    """The config's validation wording in plain words ("must be at least 1")."""
    for old, new in _PYDANTIC:
        if msg.startswith(old):
            return new + msg[len(old):]
    return msg


def _parse_axes(axes: Any) -> dict[str, list[Any]]:
    """The axes' shape: dotted paths to non-empty lists (their values' repeats are checked
    by ``_check_repeats``, once the study's size is known to be within the cap)."""
    if not isinstance(axes, dict):
        raise _err("axes", "axes must be an object of dotted field paths to lists of values, "
                   'e.g. {"model.sharing": ["hard", "soft"]}')
    out: dict[str, list[Any]] = {}
    for path, values in axes.items():
        if not isinstance(path, str) or not path or path.strip(".") != path or ".." in path:
            raise _err("axes", f"{_axis(path)}: not a dotted field path such as 'optimizer.lr'")
        if path in ("seed", "name"):
            raise _err(_field(path), f"{_axis(path)}: "
                       + ("give the seeds as 'seeds', not as an axis" if path == "seed"
                          else "the name is not a setting to vary"))
        if not isinstance(values, list):
            raise _err(_field(path), f"{_axis(path)}: the values must be a list")
        if not values:
            raise _err(_field(path), f"{_axis(path)}: the list of values is empty")
        try:
            out[path] = _plain(values)
        except (TypeError, ValueError, RecursionError):  # (a set, an object, a dict in itself)
            raise _err(_field(path), f"{_axis(path)}: the values must be JSON values (text, "
                       "numbers, true or false, lists and objects of them)") from None
    return out


def _check_size(axes: dict[str, list[Any]], n_seeds: int) -> None:
    """Refuse a study of more runs than the cap (``max_runs``)."""
    cap = max_runs()
    n_cells = 1
    for values in axes.values():
        n_cells *= len(values)
        if n_cells > HUGE:  # (each further axis only multiplies: say "more than")
            raise _err("axes", f"this study has more than {HUGE:,} cells, far more runs than "
                       f"the limit of {cap}; use fewer axes or values")
    if n_cells * n_seeds > cap:
        raise _err("axes", f"this study has {n_cells} cells × {n_seeds} seeds = "
                   f"{n_cells * n_seeds} runs, more than the limit of {cap}; use fewer "
                   "values or seeds, or raise the limit with the environment variable "
                   "MTAE_MAX_STUDY_RUNS")


def _check_repeats(path: str, values: list[Any]) -> None:
    """No value of an axis listed twice (one pass: a set of the values' JSON)."""
    seen: set[str] = set()
    for v in values:
        key = json.dumps(v, sort_keys=True)
        if key in seen:
            raise _err(_field(path), f"{_axis(path)}, value {_show(v)}: listed twice")
        seen.add(key)


def _long_number(keys: list[Any], n_digits: int) -> ConfigError:
    """The problem of a number too long to use at ``keys`` of a spec, naming its field."""
    text = f"a number of {n_digits:,} digits, too long to be a setting"
    if keys[0] == "base" and len(keys) > 1:
        return ConfigError([long_number_problem(keys[1:], n_digits)])
    if keys[0] == "axes" and len(keys) > 1:
        return _err(_field(keys[1]), f"{_axis(keys[1])}: a value holds {text}")
    return _err(cut(str(keys[0])), f"{words(str(keys[0]))}: {text}")


def _parse_seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, bool):
        raise _err("seeds", "seeds must be a count (e.g. 3) or a list of seeds")
    if isinstance(seeds, int):
        if not 1 <= seeds <= 100:
            raise _err("seeds", f"the number of seeds must be between 1 and 100 (got {show(seeds)})")
        return tuple(range(seeds))
    if isinstance(seeds, list | tuple) and seeds:
        if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= 2**31 - 1
                   for s in seeds):
            raise _err("seeds", "each seed must be a whole number from 0 to 2147483647 "
                       f"(got {show(list(seeds))})")
        if len(set(seeds)) != len(seeds):
            raise _err("seeds", "a seed is listed twice")
        return tuple(seeds)
    raise _err("seeds", "seeds must be a count (e.g. 3) or a non-empty list of seeds")
