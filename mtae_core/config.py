"""`ExperimentConfig`: the one validated description of a run.

Every section is a frozen pydantic model with ``extra="forbid"``. The options of a
registered entry (data set, autoencoder, sharing scheme, weighting, schedule) are
validated against that entry's own ``Options`` model and stored with defaults filled,
so the JSON a user exports is complete and round-trips exactly. Invalid input raises
``ConfigError`` whose message names the field and the allowed values.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .data import datasets
from .models import autoencoders, sharing
from .registry import Registry
from .schedules import schedules
from .weighting import weightings

_MARK = "§"  # prefixes messages that already carry their own field path


class ConfigError(ValueError):
    """A config is invalid. ``errors`` lists ``(field, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{f}: {m}" if f else m for f, m in errors))


def _fail(path: str, msg: str) -> ValueError:
    return ValueError(f"{_MARK}{path}: {msg}")


def _options(registry: Registry[Any], name: Any, options: Any, path: str,
             key: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in registry:
        raise _fail(key, f"unknown {registry.kind} {name!r}; "
                    f"allowed: {', '.join(registry.names())}")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise _fail(path, "must be an object of option names to values")
    opts_model = registry.get(name).Options
    try:
        return opts_model.model_validate(options).model_dump(mode="json")
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise _fail(f"{path}.{loc}" if loc else path, _describe(err, opts_model)) from None


def _describe(err: Any, model: type[BaseModel] | None = None) -> str:
    msg = str(err["msg"])
    if err.get("type") == "extra_forbidden" and model is not None:
        return f"unknown option; allowed: {', '.join(model.model_fields) or 'none'}"
    if "input" in err and err.get("type") not in ("missing", "extra_forbidden"):
        msg += f" (got {err['input']!r})"
    return msg


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Section):
    dataset: str = "digits"
    tasks: tuple[str, ...] = ()
    options: dict[str, Any] = Field(default_factory=dict)
    val_fraction: float = Field(0.15, gt=0.0, lt=0.5, title="Validation share")
    test_fraction: float = Field(0.2, gt=0.0, lt=0.5, title="Test share")
    scaling: Literal["standard", "minmax", "none"] = "standard"

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
        allowed = ds.task_names(ds.Options.model_validate(data["options"]))
        tasks = data.get("tasks") or ds.default_tasks
        if isinstance(tasks, str) or not isinstance(tasks, list | tuple):
            raise _fail("data.tasks", f"must be a list of task names; allowed: {', '.join(allowed)}")
        unknown = [t for t in tasks if t not in allowed]
        if unknown:
            raise _fail("data.tasks", f"unknown task {unknown[0]!r} for data set {name!r}; "
                        f"allowed: {', '.join(allowed)}")
        if len(set(tasks)) != len(tasks):
            raise _fail("data.tasks", "a task is listed twice")
        data["tasks"] = tuple(tasks)
        return data

    @model_validator(mode="after")
    def _fractions(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 0.8:
            raise _fail("data.test_fraction", "validation plus test fractions must stay below 0.8")
        return self


class ModelConfig(Section):
    autoencoder: str = "plain"
    sharing: str = "hard"
    hidden: tuple[int, ...] = Field((128, 64), min_length=1, max_length=6,
                                    title="Hidden layer sizes")
    latent_dim: int = Field(16, ge=1, le=1024, title="Latent size")
    head_hidden: int = Field(32, ge=0, le=1024, title="Head hidden units", description="hidden units of each task head; 0 = linear")
    activation: Literal["relu", "tanh", "gelu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        opts = data.get("options") or {}
        if not isinstance(opts, dict) or set(opts) - {"autoencoder", "sharing"}:
            raise _fail("model.options", "must be {'autoencoder': {...}, 'sharing': {...}}")
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
            raise _fail("model.hidden", f"each hidden size must be an integer in 1..4096 (got {list(hidden)})")
        return data


class WeightingConfig(Section):
    strategy: str = "equal"
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data["options"] = _options(weightings, data.get("strategy", "equal"),
                                       data.get("options"), "weighting.options",
                                       "weighting.strategy")
        return data


class ScheduleConfig(Section):
    kind: str = "joint"
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data["options"] = _options(schedules, data.get("kind", "joint"),
                                       data.get("options"), "schedule.options",
                                       "schedule.kind")
        return data


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
            raise _fail("optimizer.nesterov", "needs kind 'sgd' with momentum > 0")
        return self


class TrainingConfig(Section):
    epochs: int = Field(20, ge=1, le=10000)
    batch_size: int = Field(64, ge=1, le=65536)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    early_stopping: int = Field(0, ge=0, le=10000, title="Early-stopping patience", description="patience in epochs on validation loss; 0 = off")


class ExperimentConfig(Section):
    name: str = Field("run", min_length=1, max_length=120)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    weighting: WeightingConfig = Field(default_factory=WeightingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="after")
    def _cross(self) -> ExperimentConfig:
        tasks = list(self.data.tasks)
        for registry, name, options, path in (
            (weightings, self.weighting.strategy, self.weighting.options, "weighting.options"),
            (schedules, self.schedule.kind, self.schedule.options, "schedule.options"),
        ):
            cls = registry.get(name)
            try:
                cls.check(cls.Options.model_validate(options), tasks)
            except ValueError as e:
                # a message may start with its own sub-path: "weights.digit: ..."
                sub, sep, text = str(e).partition(": ")
                if sep and " " not in sub:
                    raise _fail(f"{path}.{sub}", text) from None
                raise _fail(path, str(e)) from None
        return self

    # ---- construction that reports ConfigError -------------------------------------
    @classmethod
    def parse(cls, obj: Any) -> ExperimentConfig:
        """Validate a dict (or a config) and raise ``ConfigError`` on any problem."""
        if isinstance(obj, ExperimentConfig):
            return obj
        if not isinstance(obj, dict):
            raise ConfigError([("", "a config must be a JSON object")])
        try:
            return cls.model_validate(obj)
        except ValidationError as e:
            raise ConfigError(_errors(e)) from None

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError([("", f"not valid JSON: {e}")]) from None
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
                        merged["tasks"] = []
                d[key] = merged
            else:
                d[key] = value
        return ExperimentConfig.parse(d)


def _errors(e: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in e.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        if msg.startswith(_MARK):
            field, _, text = msg[len(_MARK):].partition(": ")
            out.append((field, text))
            continue
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        if err.get("type") == "extra_forbidden":
            parent = loc.rsplit(".", 1)[0] if "." in loc else ""
            section = _section_model(parent)
            allowed = ", ".join(section.model_fields) if section else ""
            out.append((loc, "unknown key" + (f"; allowed: {allowed}" if allowed else "")))
            continue
        if err.get("type") == "literal_error":
            msg = msg.replace("Input should be", "must be one of")
        out.append((loc, _describe({**err, "msg": msg})))
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
