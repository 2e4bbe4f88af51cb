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
import json
import zlib
from typing import Any

from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.data import datasets
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
        delta = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except ConfigError:
        raise
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError, RecursionError):
        raise bad from None
    return config_from_delta(delta)
