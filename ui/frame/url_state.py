"""A config as a short, URL-safe text: the Train page's ``?cfg=`` parameter, so a link
reproduces a setup (as TensorFlow Playground's URL does).

Only what differs from ``ExperimentConfig()`` is written: the default setup encodes to
``""`` (no parameter at all), one changed setting to a few characters. The text is the
JSON of those differences, deflated when that makes it shorter, in URL-safe base64; its
first character says which (``j`` plain, ``z`` deflated).

Pure functions, no Streamlit: ``encode_config`` and ``decode_config`` round-trip any
valid config exactly; ``decode_config`` raises ``ConfigError`` naming the field for
anything else (bad encoding, unknown keys, out-of-range values).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import zlib
from collections.abc import Iterable
from typing import Any

from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.data import datasets
from mtae_core.errors import read_int
from mtae_core.models import autoencoders, sharing
from mtae_core.registry import Registry
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings

PARAM = "cfg"  # the query parameter
MAX_CHARS = 8000  # longer than any real setup needs; longer text is refused unread
MAX_JSON_BYTES = 64_000  # what a deflated text may expand to
DEFAULT_NAME = ExperimentConfig().name

# section -> (key naming the section's registry entry, its registry); model has two
_ENTRIES: dict[str, tuple[str, Registry[Any]]] = {
    "data": ("dataset", datasets),
    "weighting": ("strategy", weightings),
    "schedule": ("kind", schedules),
}
_MODEL_ENTRIES: dict[str, Registry[Any]] = {"autoencoder": autoencoders, "sharing": sharing}


# ---- config <-> its differences from the defaults ------------------------------------


def _option_defaults(registry: Registry[Any], name: str) -> dict[str, Any]:
    try:
        return dict(registry.spec(name).Options().model_dump(mode="json"))
    except Exception:  # an entry whose options have no defaults: keep them all
        return {}


def _changed_options(registry: Registry[Any], name: str, options: dict[str, Any]) -> dict[str, Any]:
    defaults = _option_defaults(registry, name)
    return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}


def config_delta(cfg: ExperimentConfig, keep_name: bool = True) -> dict[str, Any]:
    """The settings of ``cfg`` that differ from ``ExperimentConfig()``, as a JSON-able dict.
    Options list only those that differ from their entry's defaults; the tasks appear only
    when they are not the data set's default tasks; the name only if ``keep_name``."""
    full, base = cfg.to_dict(), ExperimentConfig().to_dict()
    out: dict[str, Any] = {}
    if keep_name and full["name"] != base["name"]:
        out["name"] = full["name"]
    if full["seed"] != base["seed"]:
        out["seed"] = full["seed"]
    for section in ("data", "model", "weighting", "schedule", "optimizer", "training"):
        now, then = full[section], base[section]
        diff = {k: v for k, v in now.items()
                if k not in ("options", "tasks") and v != then[k]}
        if section in _ENTRIES:
            key, registry = _ENTRIES[section]
            opts = _changed_options(registry, now[key], now["options"])
            if opts:
                diff["options"] = opts
        elif section == "model":
            opts = {part: _changed_options(registry, now[part], now["options"][part])
                    for part, registry in _MODEL_ENTRIES.items()}
            opts = {part: o for part, o in opts.items() if o}
            if opts:
                diff["options"] = opts
        if section == "data" and list(now["tasks"]) != list(datasets.get(now["dataset"]).default_tasks):
            diff["tasks"] = list(now["tasks"])
        if diff:
            out[section] = diff
    return out


def config_from_delta(delta: Any) -> ExperimentConfig:
    """The config whose differences from the defaults are ``delta`` (see ``config_delta``);
    raises ``ConfigError`` naming the field."""
    if not isinstance(delta, dict):
        raise ConfigError([("", "the settings must be an object of section names to settings")])
    full = ExperimentConfig().to_dict()
    for key, value in delta.items():
        if not isinstance(full.get(key), dict):  # name, seed, or an unknown key
            full[key] = value
            continue
        if not isinstance(value, dict):
            raise ConfigError([(key, "must be an object of setting names to values")])
        section = {**full[key], **value}
        # options start from the entry's defaults (the config fills them in), tasks from
        # the data set's default tasks, unless the delta names them
        if key == "model":
            opts = value.get("options", {})
            section["options"] = ({"autoencoder": {}, "sharing": {}, **opts}
                                  if isinstance(opts, dict) else opts)
        elif "options" in full[key]:
            section["options"] = value.get("options", {})
        if key == "data" and "tasks" not in value:
            section.pop("tasks")  # the data set's own default tasks, not digits'
        full[key] = section
    return ExperimentConfig.parse(full)


# ---- dict <-> URL-safe text ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def encode_config(cfg: ExperimentConfig, keep_name: bool = True) -> str:
    """``cfg`` as a short URL-safe text; ``""`` for the default config."""
    delta = config_delta(cfg, keep_name)
    if not delta:
        return ""
    data = json.dumps(delta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    plain, packed = "j" + _b64(data), "z" + _b64(zlib.compress(data, 9))
    return packed if len(packed) < len(plain) else plain


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a setting can take")


def decode_config(text: str) -> ExperimentConfig:
    """The config ``encode_config`` wrote; ``""`` is the default config. Raises
    ``ConfigError`` naming the field for anything that is not a valid config."""
    text = text.strip()
    if not text:
        return ExperimentConfig()
    bad = ConfigError([("", "the link is damaged or not from MTAE Studio (it does not decode)")])
    if len(text) > MAX_CHARS:
        raise ConfigError([("", f"the settings text is too long ({len(text)} characters)")])
    kind, body = text[0], text[1:]
    try:
        data = _unb64(body)
        if kind == "z":
            inflater = zlib.decompressobj()
            data = inflater.decompress(data, MAX_JSON_BYTES)
            if inflater.unconsumed_tail:
                raise ConfigError([("", "the settings text expands to too much data")])
        elif kind != "j":
            raise bad
        delta = json.loads(data.decode("utf-8"), parse_constant=_reject_constant,
                           parse_int=read_int)  # a 5,000-digit number: named, not raised
    except ConfigError:
        raise
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError, RecursionError):
        raise bad from None
    return config_from_delta(delta)


# ---- classroom flags: ?hide=…&present=1 (as TensorFlow Playground's) -------------------------

HIDE = "hide"  # query parameter: the parts of the Train form a link hides, comma-separated
PRESENT = "present"  # query parameter: "1" = presenter mode (large text for a projector)
MAX_HIDE_CHARS = 2000  # more than every name together; longer text is refused unread

# the form's sections, as its tabs and pickers group them: name -> label
SECTIONS: dict[str, str] = {
    "data": "Data (the whole tab)",
    "model": "Model (the whole tab)",
    "weighting": "Loss weighting",
    "schedule": "Task schedule",
    "optimizer": "Optimizer (the whole tab)",
}
# names for a few controls that belong together: name -> (label, the config paths)
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "training": ("Training (the whole tab)", ("training", "seed")),
    "split": ("Split, scaling and data seed",
              ("data.val_fraction", "data.test_fraction", "data.scaling", "data.seed")),
    "autoencoder": ("Autoencoder and its options",
                    ("model.autoencoder", "model.options.autoencoder")),
    "sharing": ("Parameter sharing and its options", ("model.sharing", "model.options.sharing")),
    "name": ("Run name", ("name",)),
}


def _field_label(name: str, field: Any) -> str:
    return str(field.title or name.replace("_", " ").capitalize())


@functools.cache
def hideable() -> dict[str, str]:
    """Every name ``?hide=`` takes, with what it hides: the sections, a few groups, and
    each setting by its place in the config (``training.epochs``, ``optimizer.lr``, an
    entry's option such as ``model.options.sharing.n_experts``). Hiding a name hides
    everything under it (``model`` hides ``model.latent_dim``)."""
    from mtae_core.config import DataConfig, ModelConfig, OptimizerConfig, TrainingConfig

    out: dict[str, str] = dict(SECTIONS)
    out.update({name: label for name, (label, _) in GROUPS.items()})
    out["seed"] = "Run seed"
    out.update({"data.dataset": "Data set", "data.tasks": "Tasks",
                "model.autoencoder": "Autoencoder", "model.sharing": "Parameter sharing",
                "weighting.strategy": "Loss weighting (the choice)",
                "schedule.kind": "Task schedule (the choice)"})
    for section, model in (("data", DataConfig), ("model", ModelConfig),
                           ("optimizer", OptimizerConfig), ("training", TrainingConfig)):
        for name, f in model.model_fields.items():
            if name not in ("options", "tasks", "dataset", "autoencoder", "sharing"):
                out.setdefault(f"{section}.{name}", _field_label(name, f))
    out["model.options"] = "Autoencoder and parameter sharing options"
    options: dict[str, tuple[str, Registry[Any]]] = {
        "data.options": ("Data set options", datasets),
        "weighting.options": ("Loss weighting options", weightings),
        "schedule.options": ("Task schedule options", schedules),
        "model.options.autoencoder": ("Autoencoder options", autoencoders),
        "model.options.sharing": ("Parameter sharing options", sharing)}
    for path, (label, registry) in options.items():
        out.setdefault(path, label)
        for entry in registry.names():
            for name, f in registry.get(entry).Options.model_fields.items():
                out.setdefault(f"{path}.{name}", _field_label(name, f))
    return out


def parse_hide(text: str) -> tuple[tuple[str, ...], list[str]]:
    """``?hide=`` text → (the known names, in order, once each; the unknown ones, as
    given). Names are matched without regard to case and spaces."""
    if len(text) > MAX_HIDE_CHARS:
        return (), [text[:30] + "…"]
    known = hideable()
    names: list[str] = []
    unknown: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name in known:
            if name not in names:
                names.append(name)
        else:
            unknown.append(raw.strip())
    return tuple(names), unknown


def encode_hide(names: Iterable[str]) -> str:
    """The ``?hide=`` text of ``names`` ("" = nothing hidden)."""
    return ",".join(dict.fromkeys(names))


def hidden_paths(names: Iterable[str]) -> frozenset[str]:
    """The config paths (and path prefixes) the names hide: groups become their paths."""
    out: set[str] = set()
    for name in names:
        out.update(GROUPS[name][1] if name in GROUPS else (name,))
    return frozenset(out)


def parse_present(text: str) -> bool:
    """``?present=`` text → on or off; ``ValueError`` for anything but 1/0/true/false."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("is not 1 (on) or 0 (off)")
