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
        ({"optimizer": {"lr": 0}}, "optimizer.lr", "Learning rate must be greater than 0"),
        ({"optimizer": {"lr": -1}}, "optimizer.lr", "Learning rate must be greater than 0"),
        ({"training": {"epochs": 0}}, "training.epochs", "Epochs must be at least 1"),
        ({"data": {"dataset": "imagenet"}}, "data.dataset", "allowed: digits, synthetic_correlated"),
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
         "data.options.correlation", "Task correlation p must be at most 1"),
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


# ---- input hardening (issue 14.9) -------------------------------------------------------

PYDANTIC_WORDS = ("Input should", "should have", "Value error", "pydantic", "after validation")


@pytest.mark.parametrize("bad, field, message", [
    ({"training": {"epochs": 0}}, "training.epochs", "Epochs must be at least 1"),
    ({"optimizer": {"lr": 0}}, "optimizer.lr", "Learning rate must be greater than 0"),
    ({"model": {"hidden": []}}, "model.hidden", "Hidden layer sizes must have at least 1 item"),
    ({"model": {"latent_dim": 0}}, "model.latent_dim", "Latent size must be at least 1"),
    ({"training": {"epochs": True}}, "training.epochs", "Epochs must be a whole number"),
    ({"training": {"epochs": "1"}}, "training.epochs", "Epochs must be a whole number"),
    ({"training": {"epochs": 1.0}}, "training.epochs", "Epochs must be a whole number"),
    ({"optimizer": {"lr": "0.1"}}, "optimizer.lr", "Learning rate must be a number"),
    ({"model": {"batch_norm": 1}}, "model.batch_norm", "Batch normalisation must be true or false"),
    ({"seed": False}, "seed", "Seed must be a whole number"),
    ({"data": {"dataset": "synthetic_correlated", "options": {"n": True}}}, "data.options.n",
     "Samples n must be a whole number"),
    ({"data": {"tasks": []}}, "data.tasks", "Tasks: choose at least one task"),
    ({"data": {"tasks": None}}, "data.tasks", "Tasks: choose at least one task"),
    ({"data": 5}, "data", "Data must be an object of setting names to values (got 5)"),
    ({"name": ""}, "name", "Run name must not be empty"),
])
def test_messages_are_plain_words_with_the_fields_label(bad, field, message):
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.parse(bad)
    assert e.value.by_field[field] == message or (
        "Tasks" in message and e.value.by_field[field].startswith(message)), e.value.problems
    for word in PYDANTIC_WORDS:
        assert word not in str(e.value)


def test_config_error_is_structured_for_the_form():
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.parse({"optimizer": {"lr": -1}, "training": {"epochs": 0}})
    err = e.value
    assert [(p.path, p.label) for p in err.problems] == [("optimizer.lr", "Learning rate"),
                                                          ("training.epochs", "Epochs")]
    assert err.errors == [("optimizer.lr", "Learning rate must be greater than 0"),
                          ("training.epochs", "Epochs must be at least 1")]
    # what follows the label, for a form that names its fields its own way
    assert [p.detail for p in err.problems] == ["must be greater than 0", "must be at least 1"]
    assert err.by_field == {"optimizer.lr": "Learning rate must be greater than 0",
                            "training.epochs": "Epochs must be at least 1"}
    assert str(err) == ("optimizer.lr: Learning rate must be greater than 0\n"
                        "training.epochs: Epochs must be at least 1")
    # a problem made from a (path, message) pair gets its label from the schema
    assert ConfigError([("training.batch_size", "x")]).problems[0].label == "Batch size"
    assert ConfigError([("data.val_fraction", "x")]).problems[0].label == "Validation share"


def test_missing_tasks_mean_the_defaults_and_an_explicit_empty_list_does_not():
    assert ExperimentConfig().data.tasks == ("digit", "parity", "reconstruction")
    assert ExperimentConfig.parse({"data": {"dataset": "digits"}}).data.tasks == (
        "digit", "parity", "reconstruction")
    synth = ExperimentConfig().replace(data={"dataset": "synthetic_correlated"})
    assert synth.data.tasks == ("task1", "task2")
    for empty in ([], None, ()):
        with pytest.raises(ConfigError, match="choose at least one task"):
            ExperimentConfig.parse({"data": {"tasks": empty}})


@pytest.mark.parametrize("bad", [
    {"data": {"tasks": ["x" * 10_000]}},
    {"optimizer": {"kind": "x" * 10_000}},
    {"model": {"sharing": "x" * 10_000}},
    {"x" * 10_000: 1},
    {"data": {"dataset": "synthetic_correlated", "options": {"x" * 10_000: 1}}},
    {"weighting": {"strategy": "fixed", "options": {"weights": {"x" * 10_000: 1.0}}}},
    {"training": {"device": "9" * 10_000}},
])
def test_long_values_are_cut_in_messages(bad):
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.parse(bad)
    assert len(str(e.value)) < 400 and "…" in str(e.value)


def test_deeply_nested_json_is_a_config_error_not_a_recursion_error():
    with pytest.raises(ConfigError, match="nested too deeply"):
        ExperimentConfig.from_json("[" * 100_000 + "]" * 100_000)
    nested: dict = {}
    inner = nested
    for _ in range(10_000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ConfigError, match="nested too deeply"):
        ExperimentConfig.parse({"data": {"options": nested}})
    deep: list = [1]
    for _ in range(20):
        deep = [deep]  # far deeper than any config, shallow enough for json
    with pytest.raises(ConfigError, match="nested too deeply"):
        ExperimentConfig.from_json(json.dumps({"weighting": {"options": {"a": deep}}}))


def test_bytes_that_are_not_utf8_are_a_config_error():
    with pytest.raises(ConfigError, match="not UTF-8"):
        ExperimentConfig.from_json(b'{"name": "caf\xe9"}')
    # UTF-8, with or without a byte-order mark, reads
    assert ExperimentConfig.from_json('{"name": "café"}'.encode()).name == "café"
    assert ExperimentConfig.from_json(b"\xef\xbb\xbf{}") == ExperimentConfig()


def _every_entry_config() -> list[ExperimentConfig]:
    from mtae_core.data import datasets
    from mtae_core.models import autoencoders, sharing
    from mtae_core.schedules import schedules
    from mtae_core.weighting import weightings

    base = ExperimentConfig()
    cfgs = [base.replace(data={"dataset": n}) for n in datasets.names()]
    cfgs += [base.replace(model={"autoencoder": n}) for n in autoencoders.names()]
    cfgs += [base.replace(model={"sharing": n}) for n in sharing.names()]
    cfgs += [base.replace(weighting={"strategy": n}) for n in weightings.names()]
    cfgs += [base.replace(schedule={"kind": n}) for n in schedules.names()]
    cfgs.append(base.replace(seed=3, model={"hidden": [8, 8, 8], "batch_norm": True},
                             data={"seed": 9, "scaling": "minmax", "tasks": ["parity"]},
                             optimizer={"clip_norm": 2, "lr": 1, "kind": "sgd"},
                             training={"batch_size": 2}))
    return cfgs


def test_strict_configs_still_round_trip_through_json():
    cfgs = _every_entry_config()
    assert len(cfgs) > 30
    for cfg in cfgs:
        again = ExperimentConfig.from_json(cfg.to_json())
        assert again == cfg and again.to_json() == cfg.to_json()
        assert ExperimentConfig.parse(cfg.to_dict()) == cfg

