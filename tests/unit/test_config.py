from __future__ import annotations

import json

import pytest

from mtae_core import ConfigError, ExperimentConfig


def test_default_round_trips_through_json_exactly():
    cfg = ExperimentConfig()
    text = cfg.to_json()
    again = ExperimentConfig.from_json(text)
    assert again == cfg
    assert again.to_json() == text


def test_non_default_config_round_trips():
    cfg = ExperimentConfig().replace(
        name="x", seed=7,
        data={"dataset": "synthetic_correlated", "options": {"correlation": 0.9, "n": 500}},
        model={"sharing": "single_task", "hidden": [32, 16], "latent_dim": 3},
        weighting={"strategy": "fixed", "options": {"weights": {"task1": 2.0, "task2": 0.5}}},
        optimizer={"kind": "sgd", "lr": 0.1, "momentum": 0.5},
        training={"epochs": 3, "device": "cpu"},
    )
    assert ExperimentConfig.from_json(cfg.to_json()) == cfg
    assert cfg.data.tasks == ("task1", "task2")  # the data set's default tasks
    assert cfg.data.options["n"] == 500 and cfg.data.options["d"] == 100  # defaults filled


def test_config_has_the_documented_sections():
    d = json.loads(ExperimentConfig().to_json())
    assert list(d) == ["name", "seed", "data", "model", "weighting", "schedule", "optimizer", "training"]
    assert {"dataset", "tasks", "options", "val_fraction", "test_fraction", "scaling"} <= set(d["data"])
    assert {"autoencoder", "sharing", "hidden", "latent_dim", "options"} <= set(d["model"])
    assert d["training"]["device"] == "auto"


@pytest.mark.parametrize(
    "bad, field, words",
    [
        ({"optimizer": {"lr": 0}}, "optimizer.lr", "greater than 0"),
        ({"optimizer": {"lr": -1}}, "optimizer.lr", "greater than 0"),
        ({"training": {"epochs": 0}}, "training.epochs", "greater than or equal to 1"),
        ({"data": {"dataset": "mnist"}}, "data.dataset", "allowed: digits, synthetic_correlated"),
        ({"data": {"tasks": ["digit", "colour"]}}, "data.tasks", "allowed: digit, parity, reconstruction"),
        ({"weighting": {"strategy": "fixed", "options": {"weights": {"digit": -0.5}}}},
         "weighting.options.weights.digit", "≥ 0"),
        ({"weighting": {"strategy": "fixed",
                        "options": {"weights": {"digit": 0, "parity": 0, "reconstruction": 0}}}},
         "weighting.options.weights", "above 0"),
        ({"colour": "red"}, "colour", "allowed: name, seed, data"),
        ({"optimizer": {"learning_rate": 0.1}}, "optimizer.learning_rate", "allowed: kind, lr"),
        ({"model": {"sharing": "telepathy"}}, "model.sharing", "allowed:"),
        ({"optimizer": {"kind": "lbfgs"}}, "optimizer.kind", "'sgd'"),
        ({"data": {"dataset": "synthetic_correlated", "options": {"correlation": 1.5}}},
         "data.options.correlation", "less than or equal to 1"),
    ],
)
def test_invalid_config_names_field_and_allowed_values(bad, field, words):
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.parse(bad)
    fields = [f for f, _ in e.value.errors]
    assert field in fields, e.value.errors
    assert words in str(e.value)


def test_invalid_json_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid JSON"):
        ExperimentConfig.from_json("{nope")
