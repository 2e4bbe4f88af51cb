"""The Train page's link: a config as a short URL-safe text and back (``ui.frame.url_state``)."""

from __future__ import annotations

import base64
import json
import re
import zlib

import pytest

from mtae_core import ConfigError, ExperimentConfig
from ui.frame.url_state import (
    MAX_CHARS,
    config_delta,
    config_from_delta,
    decode_config,
    encode_config,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]*$")

NON_DEFAULT = [
    ExperimentConfig().replace(training={"epochs": 3}),
    ExperimentConfig().replace(name="sgd run", seed=7, optimizer={"kind": "sgd", "lr": 0.05,
                                                                  "clip_norm": 2.5}),
    ExperimentConfig().replace(
        name="x", seed=7,
        data={"dataset": "synthetic_correlated", "options": {"correlation": 0.9, "n": 500},
              "tasks": ["task2", "reconstruction"], "scaling": "minmax"},
        model={"autoencoder": "denoising", "sharing": "mmoe", "hidden": [32, 16],
               "latent_dim": 3, "batch_norm": True,
               "options": {"autoencoder": {"noise": "masking"}, "sharing": {"n_experts": 6}}},
        weighting={"strategy": "fixed", "options": {"weights": {"task2": 2.0}}},
        schedule={"kind": "sequential", "options": {"order": ["reconstruction"],
                                                    "epochs_per_task": 2}},
        training={"epochs": 3, "device": "cpu", "early_stopping": 4},
    ),
    ExperimentConfig().replace(model={"sharing": "hard", "options": {"sharing": {"shared_depth": 1}}},
                               weighting={"strategy": "curriculum",
                                          "options": {"order": ["parity", "digit"],
                                                      "start_epochs": [0, 3]}}),
    ExperimentConfig().replace(name="ünïcode · run"),
]


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def test_default_config_gives_no_parameter():
    assert encode_config(ExperimentConfig()) == ""
    assert decode_config("") == ExperimentConfig()
    assert config_delta(ExperimentConfig()) == {}


@pytest.mark.parametrize("cfg", NON_DEFAULT)
def test_non_default_configs_round_trip_exactly(cfg):
    text = encode_config(cfg)
    assert text and URL_SAFE.match(text), text
    assert decode_config(text) == cfg
    assert config_from_delta(config_delta(cfg)) == cfg


def test_only_changed_settings_are_written():
    cfg = ExperimentConfig().replace(training={"epochs": 3})
    assert config_delta(cfg) == {"training": {"epochs": 3}}
    assert len(encode_config(cfg)) < 40
    # another entry writes only the options that differ from that entry's defaults
    cfg = ExperimentConfig().replace(model={"sharing": "mmoe"}, data={"tasks": ["digit"]})
    assert config_delta(cfg) == {"data": {"tasks": ["digit"]}, "model": {"sharing": "mmoe"}}


def test_name_is_optional():
    cfg = ExperimentConfig().replace(name="mine", seed=3)
    assert config_delta(cfg)["name"] == "mine"
    assert decode_config(encode_config(cfg, keep_name=False)) == cfg.replace(name="run")


def test_long_setups_are_deflated():
    cfg = NON_DEFAULT[2]
    text = encode_config(cfg)
    assert text.startswith("z")
    raw = json.dumps(config_delta(cfg), separators=(",", ":")).encode()
    assert len(text) < len(base64.urlsafe_b64encode(raw))


@pytest.mark.parametrize(("text", "field"), [
    ("not-a-link", ""),
    ("j!!!!", ""),
    ("q" + b64({"training": {"epochs": 3}}), ""),  # unknown format letter
    ("j" + b64({"training": {"epochs": 3}})[:-3], ""),  # cut short
    ("zAAAA", ""),  # not deflated data
    ("j" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), ""),  # not UTF-8
    ("j" + b64([1, 2]), ""),  # JSON, but not an object
    ("j" + base64.urlsafe_b64encode(b'{"seed": NaN}').decode(), ""),
    ("j" + b64({"training": {"epochs": 0}}), "training.epochs"),  # out of range
    ("j" + b64({"optimizer": {"lr": 50}}), "optimizer.lr"),
    ("j" + b64({"training": {"epoch": 3}}), "training.epoch"),  # unknown key
    ("j" + b64({"trainer": {"epochs": 3}}), "trainer"),
    ("j" + b64({"training": 3}), "training"),
    ("j" + b64({"model": {"sharing": "nope"}}), "model.sharing"),
    ("j" + b64({"model": {"options": {"sharing": {"n_experts": 4}}}}), "model.options.sharing.n_experts"),
    ("j" + b64({"data": {"tasks": ["digit", "colour"]}}), "data.tasks"),
    ("j" + b64({"weighting": {"strategy": "fixed", "options": {"weights": {"x": 1}}}}),
     "weighting.options.weights"),
    ("j" + b64({"name": ""}), "name"),
])
def test_garbage_raises_config_error_naming_the_field(text, field):
    with pytest.raises(ConfigError) as e:
        decode_config(text)
    assert e.value.errors[0][0] == field, e.value.errors


def test_oversized_input_is_refused_unread():
    with pytest.raises(ConfigError, match="too long"):
        decode_config("j" + "A" * MAX_CHARS)
    bomb = base64.urlsafe_b64encode(zlib.compress(b" " * 1_000_000, 9)).decode()
    assert len(bomb) < MAX_CHARS
    with pytest.raises(ConfigError, match="too much"):
        decode_config("z" + bomb)


@pytest.mark.parametrize("data", [
    {"dataset": "synthetic_correlated", "options": {"correlation": 0.2}},  # its default tasks
    {"seed": 3},  # a data setting other than the tasks, on the default data set
])
def test_a_link_changing_data_but_not_its_tasks_opens(data):
    cfg = ExperimentConfig().replace(data=data)
    assert "tasks" not in config_delta(cfg).get("data", {})
    assert decode_config(encode_config(cfg)) == cfg


# ---- classroom flags (?hide=, ?present=) ------------------------------------------------------


def test_every_setting_of_the_train_form_can_be_hidden_by_its_config_path():
    from mtae_core.data import datasets
    from mtae_core.models import autoencoders, sharing
    from mtae_core.schedules import schedules
    from mtae_core.weighting import weightings
    from ui.frame.url_state import hideable
    from ui.train.form import LABELS

    names = hideable()
    assert set(LABELS) - {"name"} <= set(names)  # every top-level setting, by its path
    for path, registry in (("data.options", datasets), ("weighting.options", weightings),
                           ("schedule.options", schedules),
                           ("model.options.autoencoder", autoencoders),
                           ("model.options.sharing", sharing)):
        for entry in registry.names():
            for field in registry.get(entry).Options.model_fields:
                assert f"{path}.{field}" in names
    assert all(URL_SAFE.match(n.replace(".", "")) for n in names)  # no escaping in a link
    assert all(label for label in names.values())


def test_parse_hide_keeps_known_names_once_and_reports_the_rest():
    from ui.frame.url_state import encode_hide, hidden_paths, parse_hide

    assert parse_hide("") == ((), [])
    assert parse_hide(" Optimizer ,schedule,,optimizer, nope ,model.bogus") == (
        ("optimizer", "schedule"), ["nope", "model.bogus"])
    names, unknown = parse_hide("x" * 5000)
    assert names == () and len(unknown) == 1  # refused unread
    assert parse_hide(encode_hide(["split", "training.epochs"]))[0] == ("split", "training.epochs")
    # groups become their config paths; other names are paths (prefixes) already
    assert hidden_paths(["split", "optimizer"]) == {
        "data.val_fraction", "data.test_fraction", "data.scaling", "data.seed", "optimizer"}
    assert hidden_paths(["training"]) == {"training", "seed"}


@pytest.mark.parametrize(("text", "on"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_parse_present(text, on):
    from ui.frame.url_state import parse_present

    assert parse_present(text) is on


def test_parse_present_refuses_anything_else():
    from ui.frame.url_state import parse_present

    with pytest.raises(ValueError, match="is not 1 \\(on\\) or 0 \\(off\\)"):
        parse_present("maybe")
