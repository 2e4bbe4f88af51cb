"""`ExperimentConfig`: the one validated description of a run.

Every section is a frozen pydantic model with ``extra="forbid"``. The options of a
registered entry (data set, autoencoder, sharing scheme, weighting, schedule) are
validated against that entry's own ``Options`` model and stored with defaults filled,
so the JSON a user exports is complete and round-trips exactly. Invalid input raises
``ConfigError`` whose message names the field and the allowed values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data import datasets
from .errors import (
    MARK,
    SEP,
    ConfigError,
    ConfigProblem,
    compose,
    cut,
    fail,
    long_numbers,
    printable,
    read_int,
    show,
    unprintable,
    use_labels,
    words,
)
from .models import autoencoders, sharing
from .registry import Registry
from .schedules import schedules
from .weighting import weightings

MAX_DEPTH = 16  # a config is at most a few levels deep; deeper input is refused, not recursed


def _field_label(model: type[BaseModel], name: str) -> str:
    field = model.model_fields.get(name)
    return (field.title if field is not None and field.title else None) or words(name)


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _plain(err: Any) -> str:
    """A pydantic error in plain words, to follow the field's label (never pydantic's
    wording: "Input should be", "Tuple should have at least 1 item")."""
    t, ctx = err.get("type", ""), err.get("ctx") or {}
    got = f" (got {show(err['input'])})" if "input" in err else ""
    n = ctx.get("min_length", ctx.get("max_length"))
    items = f"{n} item" + ("" if n == 1 else "s")
    text = {
        "greater_than_equal": f"must be at least {_num(ctx.get('ge'))}",
        "greater_than": f"must be greater than {_num(ctx.get('gt'))}",
        "less_than_equal": f"must be at most {_num(ctx.get('le'))}",
        "less_than": f"must be less than {_num(ctx.get('lt'))}",
        "too_short": f"must have at least {items}",
        "too_long": f"must have at most {items}",
        "string_too_short": ("must not be empty" if n == 1 else f"must be at least {n} characters long"),
        "string_too_long": f"must be at most {n} characters long",
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number", "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false", "bool_parsing": "must be true or false",
        "string_type": "must be text",
        "string_unicode": "must be text without a lone surrogate (a \\ud800 escape on its own)",
        "literal_error": f"must be one of {ctx.get('expected', '')}",
        "tuple_type": "must be a list", "list_type": "must be a list",
        "dict_type": "must be an object of names to values",
        "model_type": "must be an object of setting names to values",
        "model_attributes_type": "must be an object of setting names to values",
        "missing": "is required",
    }.get(t, _FALLBACK)
    # echo the value only where it tells more than the field does (a misspelt name, a
    # number where a list belongs): "Epochs must be at least 1" needs no "(got 0)"
    if t not in _ECHO and text != _FALLBACK:
        got = ""
    return text + got


_FALLBACK = "has a value that is not allowed"
_ECHO = ("literal_error", "tuple_type", "list_type", "dict_type", "model_type",
         "model_attributes_type")


def _options(registry: Registry[Any], name: Any, options: Any, path: str,
             key: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in registry:
        raise fail(key, f"unknown {registry.kind} {show(name)}; "
                    f"allowed: {', '.join(registry.names())}")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise fail(path, "must be an object of option names to values")
    opts_model = registry.spec(name).Options
    try:
        # strict: true is not 1 and "1" is not 1 (tuples become lists, as in JSON)
        return opts_model.model_validate(_as_json(options), strict=True).model_dump(mode="json")
    except ValidationError as e:
        err = e.errors()[0]
        loc = [cut(str(p)) for p in err["loc"]]
        if not loc:
            raise fail(path, "has a value that is not allowed") from None
        label = _field_label(opts_model, loc[0]) + (f" ({'.'.join(loc[1:])})" if loc[1:] else "")
        full = f"{path}.{'.'.join(loc)}"
        if err.get("type") == "extra_forbidden":
            raise fail(full, f"is not an option of {name}; allowed: "
                        f"{', '.join(opts_model.model_fields) or 'none'}",
                        label=show(str(err["loc"][0]))) from None
        raise fail(full, _plain(err), label=label) from None


def _as_json(obj: Any) -> Any:
    """Tuples as lists, as JSON has them (strict validation takes lists for list fields)."""
    if isinstance(obj, dict):
        return {k: _as_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_as_json(v) for v in obj]
    return obj


def _depth_ok(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``obj`` nests containers at most ``limit`` deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict | list | tuple):
            if d > limit:
                return False
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return True


class Section(BaseModel):
    # strict: `epochs: true` or `"1"` is refused, not read as 1 (a float field takes an
    # integer, as JSON has no separate kinds); list fields opt out to take JSON arrays
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataConfig(Section):
    dataset: str = Field("digits", title="Data set")
    tasks: tuple[str, ...] = Field((), strict=False, title="Tasks",
                                   description="the tasks the network learns together; "
                                   "left out: the data set's default tasks")
    options: dict[str, Any] = Field(default_factory=dict)
    val_fraction: float = Field(0.15, gt=0.0, lt=0.5, title="Validation share")
    test_fraction: float = Field(0.2, gt=0.0, lt=0.5, title="Test share")
    scaling: Literal["standard", "minmax", "none"] = "standard"
    seed: int = Field(0, ge=0, le=2**31 - 1, title="Data seed",
                      description="draws the data (the synthetic generators' task functions "
                      "and samples) and the train/validation/test split; the run's seed "
                      "does not change them, so runs with other seeds see the same data")

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        name = data.get("dataset", "digits")
        data["options"] = _options(datasets, name, data.get("options"), "data.options",
                                   "data.dataset")
        ds = datasets.get(name)
        options = ds.Options.model_validate(data["options"])
        allowed = ds.task_names(options)
        # left out: the data set's defaults; given but empty (null, []): a mistake
        tasks = data["tasks"] if "tasks" in data else ds.default_tasks_for(options)
        if tasks is None or (isinstance(tasks, list | tuple) and not tasks):
            raise fail("data.tasks", f"choose at least one task ({', '.join(allowed)})")
        if isinstance(tasks, str) or not isinstance(tasks, list | tuple):
            raise fail("data.tasks", f"must be a list of task names; allowed: {', '.join(allowed)}")
        unknown = [t for t in tasks if t not in allowed]
        if unknown:
            raise fail("data.tasks", f"unknown task {show(unknown[0])} for data set {show(name)}; "
                        f"allowed: {', '.join(allowed)}")
        if len(set(tasks)) != len(tasks):
            raise fail("data.tasks", "a task is listed twice")
        data["tasks"] = tuple(tasks)
        return data

    @model_validator(mode="after")
    def _fractions(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 0.8:
            raise fail("data.test_fraction", "validation plus test shares must stay below 0.8")
        return self


class ModelConfig(Section):
    autoencoder: str = "plain"
    sharing: str = "hard"
    hidden: tuple[int, ...] = Field((128, 64), min_length=1, max_length=6, strict=False,
                                    title="Hidden layer sizes")
    latent_dim: int = Field(16, ge=1, le=1024, title="Latent size")
    head_hidden: int = Field(32, ge=0, le=1024, title="Head hidden units", description="hidden units of each task head; 0 = linear")
    activation: Literal["relu", "tanh", "gelu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = Field(False, title="Batch normalisation")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        opts = data.get("options") or {}
        if not isinstance(opts, dict) or set(opts) - {"autoencoder", "sharing"}:
            raise fail("model.options", "must be {'autoencoder': {...}, 'sharing': {...}}")
        data["options"] = {
            "autoencoder": _options(autoencoders, data.get("autoencoder", "plain"),
                                    opts.get("autoencoder"), "model.options.autoencoder",
                                    "model.autoencoder"),
            "sharing": _options(sharing, data.get("sharing", "hard"),
                                opts.get("sharing"), "model.options.sharing", "model.sharing"),
        }
        hidden = data.get("hidden")
        if isinstance(hidden, list | tuple) and any(
            not isinstance(h, int) or isinstance(h, bool) or not 1 <= h <= 4096 for h in hidden
        ):
            raise fail("model.hidden", "must be whole numbers from 1 to 4096 "
                        f"(got {show(list(hidden))})")
        return data


class EntrySection(Section):
    """A section that names one entry of a registry (``name_field``) and that entry's
    ``options``: the options are validated by the entry's own ``Options`` model and stored
    with defaults filled, the name checked against the registry (one normaliser for every
    such section)."""

    registry: ClassVar[Registry[Any]]
    name_field: ClassVar[str]
    section: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            name = data.get(cls.name_field, cls.model_fields[cls.name_field].default)
            data["options"] = _options(cls.registry, name, data.get("options"),
                                       f"{cls.section}.options",
                                       f"{cls.section}.{cls.name_field}")
        return data


class WeightingConfig(EntrySection):
    registry = weightings
    name_field = "strategy"
    section = "weighting"

    strategy: str = "equal"
    options: dict[str, Any] = Field(default_factory=dict)


class ScheduleConfig(EntrySection):
    registry = schedules
    name_field = "kind"
    section = "schedule"

    kind: str = "joint"
    options: dict[str, Any] = Field(default_factory=dict)


class OptimizerConfig(Section):
    kind: Literal["sgd", "adam", "adamw", "rmsprop"] = Field("adam", title="Optimizer")
    lr: float = Field(1e-3, gt=0.0, le=10.0, title="Learning rate")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD and RMSprop only")
    nesterov: bool = Field(False, description="SGD only; needs momentum > 0")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    l1: float = Field(0.0, ge=0.0, le=1.0, description="L1 penalty on all weights, added to the loss")
    l2: float = Field(0.0, ge=0.0, le=1.0, description="L2 penalty on all weights, added to the loss")
    lr_schedule: Literal["none", "step", "cosine", "exponential"] = Field(
        "none", title="Learning-rate schedule")
    step_size: int = Field(10, ge=1, le=10000, description="epochs between decays (step)")
    gamma: float = Field(0.5, gt=0.0, le=1.0, title="Decay factor γ", description="decay factor (step, exponential)")
    clip_norm: float | None = Field(None, gt=0.0, le=1e6, title="Gradient clipping (max norm)",
                                    description="clip the gradient's total norm to this; empty = no clipping")

    @model_validator(mode="after")
    def _nesterov(self) -> OptimizerConfig:
        if self.nesterov and (self.kind != "sgd" or self.momentum == 0):
            raise fail("optimizer.nesterov", "needs kind 'sgd' with momentum > 0")
        return self


class TrainingConfig(Section):
    epochs: int = Field(20, ge=1, le=10000)
    batch_size: int = Field(64, ge=1, le=65536, description="samples per training step; at "
                            "most the size of the training set, at least 2 with batch normalisation")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    early_stopping: int = Field(0, ge=0, le=10000, title="Early-stopping patience", description="patience in epochs on validation loss; 0 = off")


class ExperimentConfig(Section):
    name: str = Field("run", min_length=1, max_length=120, title="Run name")
    seed: int = Field(0, ge=0, le=2**31 - 1, title="Seed",
                      description="drives the network's initialisation, the batch order and "
                      "the training noise (dropout, denoising, sampling); the data and its "
                      "split follow the data seed (data.seed)")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    weighting: WeightingConfig = Field(default_factory=WeightingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        check_name_text("name", name)
        return name

    @model_validator(mode="after")
    def _cross(self) -> ExperimentConfig:
        tasks = list(self.data.tasks)
        for registry, name, options, path in (
            (weightings, self.weighting.strategy, self.weighting.options, "weighting.options"),
            (schedules, self.schedule.kind, self.schedule.options, "schedule.options"),
        ):
            cls = registry.spec(name)
            try:
                cls.check(cls.Options.model_validate(options), tasks)
            except ValueError as e:
                # a message may start with its own sub-path: "weights.digit: ..."
                sub, sep, text = str(e).partition(": ")
                if sep and " " not in sub:
                    first, *rest = [cut(p) for p in sub.split(".")]
                    label = _field_label(cls.Options, first) + (f" ({'.'.join(rest)})" if rest else "")
                    raise fail(f"{path}.{sub}", text, label=label) from None
                raise fail(path, str(e)) from None
        return self

    # ---- construction that reports ConfigError -------------------------------------
    @classmethod
    def parse(cls, obj: Any) -> ExperimentConfig:
        """Validate a dict (or a config) and raise ``ConfigError`` on any problem."""
        if isinstance(obj, ExperimentConfig):
            return obj
        if not isinstance(obj, dict):
            raise ConfigError([("", "a config must be a JSON object")])
        if not _depth_ok(obj):
            raise ConfigError([("", f"the config is nested too deeply (more than {MAX_DEPTH} "
                                "levels); a config is a few levels deep")])
        for keys, n in long_numbers(obj):
            raise ConfigError([long_number_problem(keys, n)])
        try:
            return cls.model_validate(obj)
        except ValidationError as e:
            raise ConfigError(plain_problems(e)) from None
        except RecursionError:  # a self-referencing dict built in Python
            raise ConfigError([("", "the config is nested too deeply")]) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> ExperimentConfig:
        """Validate JSON text (or the bytes of a UTF-8 file)."""
        return cls.parse(parse_json(text))

    @classmethod
    def from_stored(cls, text: str | bytes) -> ExperimentConfig:
        """A config as a run store keeps it. A run stored before the data had a seed of
        its own drew its data and split with the run's seed: its config says so."""
        obj = parse_json(text)
        data = obj.get("data") if isinstance(obj, dict) else None
        if isinstance(data, dict) and "seed" not in data:
            obj = {**obj, "data": {**data, "seed": obj.get("seed", 0)}}
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            # a name stored before names were checked: kept, its control characters escaped
            obj = {**obj, "name": printable(obj["name"])}
        return cls.parse(obj)

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def replace(self, **sections: Any) -> ExperimentConfig:
        """A validated copy with whole sections or nested keys changed:
        ``cfg.replace(training={"epochs": 3})`` merges into the section."""
        d = self.to_dict()
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(d.get(key), dict):
                merged = dict(d[key])
                merged.update(value)
                # changing the entry resets its options unless they are given too
                for entry_key in ("dataset", "autoencoder", "sharing", "strategy", "kind"):
                    if entry_key not in value or value[entry_key] == d[key].get(entry_key):
                        continue
                    if "options" not in value and "options" in d[key]:
                        merged["options"] = {}
                    if entry_key == "dataset" and "tasks" not in value:
                        merged.pop("tasks", None)  # the new data set's default tasks
                d[key] = merged
            else:
                d[key] = value
        return ExperimentConfig.parse(d)


def normalised(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as a plain dict without its display name (the name changes no result)."""
    d = cfg.to_dict()
    d.pop("name", None)
    return d


def run_key(cfg: ExperimentConfig) -> str:
    """A stable hash of everything that determines a run's results."""
    text = json.dumps(normalised(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def seedless_key(cfg: ExperimentConfig) -> str:
    """Runs with the same key differ only in their seed (and name): they can train as
    replicas of one batched model (``engine.replicas``; the store claims such runs of
    different students together on a class's server)."""
    return run_key(cfg.model_copy(update={"seed": 0, "name": "seeds"}))


def parse_json(text: str | bytes) -> Any:
    """JSON text (or UTF-8 bytes) → Python objects, with every failure a ``ConfigError``
    in plain words (not UTF-8, not JSON, nested too deeply)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError([("", f"the file is not UTF-8 text (byte {e.start + 1} cannot be "
                                "read); save it as UTF-8")]) from None
    try:
        return json.loads(text, parse_int=read_int)  # a 5,000-digit number: named, not raised
    except json.JSONDecodeError as e:
        raise ConfigError([("", f"not valid JSON: {e.msg} at line {e.lineno}, "
                            f"column {e.colno}")]) from None
    except RecursionError:
        raise ConfigError([("", "the JSON is nested too deeply")]) from None


def check_name_text(path: str, name: str) -> None:
    """A name (of a run, a study) holds no control character: printed in a terminal, an
    escape sequence would clear it or print fake text (``fail`` at ``path`` otherwise)."""
    bad = unprintable(name)
    if bad is not None:
        raise fail(path, f"must not hold control characters (it holds {printable(bad)}); "
                   "use letters, digits, spaces and punctuation")


def long_number_problem(keys: list[Any], n_digits: int) -> ConfigProblem:
    """The problem of a number of ``n_digits`` digits found at ``keys`` (``long_numbers``):
    named by its field's label."""
    path = ".".join(cut(str(k)) for k in keys if not isinstance(k, int))
    label = label_of(path)
    text = f"has a number of {n_digits:,} digits, too long to be a setting"
    return ConfigProblem(path, label, compose(label, text), text)


def label_of(path: str) -> str:
    """The label of a config field by its dotted path: its ``title``, else its name in
    words ("training.batch_size" → "Batch size")."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        return "Config"
    model: type[BaseModel] | None = ExperimentConfig
    for i, part in enumerate(parts):
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return words(parts[-1]) if i else words(part)
        ann = field.annotation
        if i == len(parts) - 1 or not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            label = field.title or words(part)
            rest = parts[i + 1:]
            return label if not rest else words(rest[-1])
        model = ann
    return words(parts[-1])


def plain_problems(e: ValidationError) -> list[ConfigProblem]:
    """Pydantic's validation errors of a config (or of a registry entry's ``Options``) in
    plain words, each naming its field by its label; never pydantic's wording."""
    out: list[ConfigProblem] = []
    for err in e.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        if msg.startswith(MARK):
            path, label, text = msg[len(MARK):].split(SEP, 2)
            label = label or label_of(path)
            out.append(ConfigProblem(path, label, compose(label, text), text))
            continue
        parts = [cut(str(p)) for p in err["loc"] if not str(p).startswith("function-")]
        loc = ".".join(parts)
        if err.get("type") == "extra_forbidden":
            section = _section_model(".".join(parts[:-1]))
            allowed = ", ".join(section.model_fields) if section else ""
            key = show(str(err["loc"][-1]))
            text = "is not a setting here" + (f"; allowed: {allowed}" if allowed else "")
            out.append(ConfigProblem(loc, key, f"{key} {text}", text))
            continue
        label, text = label_of(loc), _plain(err)
        out.append(ConfigProblem(loc, label, compose(label, text), text))
    return out


def _section_model(path: str) -> type[BaseModel] | None:
    model: type[BaseModel] = ExperimentConfig
    for part in filter(None, path.split(".")):
        field = model.model_fields.get(part)
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


use_labels(label_of)  # problems given as (path, sentence) name the field by its own label
