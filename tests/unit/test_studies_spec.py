"""StudySpec: parsing, expansion into cells (option reset, dict values), bad specs."""

from __future__ import annotations

import json

import pytest

from mtae_core import ExperimentConfig
from mtae_core.config import ConfigError
from mtae_core.studies import MAX_RUNS, StudySpec, axis_fields

TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def spec(**kw):
    return StudySpec.parse({"name": "t", "base": TINY, **kw})


def test_seeds_count_or_list_and_round_trip():
    s = spec(axes={"model.sharing": ["hard", "soft"], "optimizer.lr": [0.01, 0.001]}, seeds=3)
    assert s.seeds == (0, 1, 2)
    assert s.n_runs() == 12 and len(s.cells()) == 4
    assert StudySpec.parse(s.to_dict()) == s
    assert StudySpec.from_json(json.dumps(s.to_dict())) == s
    assert spec(seeds=[7, 3]).seeds == (7, 3)
    assert spec().seeds == (0, 1, 2)  # three seeds by default
    assert spec().cells()[0].config == ExperimentConfig.parse(TINY).replace(name="t")


def test_cells_are_the_product_in_order_with_labels():
    s = spec(axes={"model.sharing": ["hard", "mmoe"], "model.latent_dim": [2, 8]}, seeds=1)
    cells = s.cells()
    assert [c.settings for c in cells] == [
        {"model.sharing": "hard", "model.latent_dim": 2},
        {"model.sharing": "hard", "model.latent_dim": 8},
        {"model.sharing": "mmoe", "model.latent_dim": 2},
        {"model.sharing": "mmoe", "model.latent_dim": 8}]
    assert cells[3].config.model.sharing == "mmoe" and cells[3].config.model.latent_dim == 8
    assert cells[1].label == "model.sharing=hard, model.latent_dim=8"
    assert [c.index for c in cells] == [0, 1, 2, 3]


def test_a_component_axis_resets_the_base_options():
    base = {**TINY, "model": {**TINY["model"], "sharing": "hard",
                              "options": {"sharing": {"shared_depth": 1}}},
            "weighting": {"strategy": "cagrad", "options": {"c": 0.9}}}
    s = StudySpec.parse({"base": base, "seeds": 1,
                         "axes": {"model.sharing": ["soft", "hard"],
                                  "weighting.strategy": ["cagrad", "pcgrad"]}})
    cells = {tuple(c.settings.values()): c.config for c in s.cells()}
    soft = cells[("soft", "cagrad")]
    # the base's shared_depth belongs to hard sharing and must not leak into soft
    assert "shared_depth" not in soft.model.options["sharing"]
    assert cells[("hard", "cagrad")].model.options["sharing"]["shared_depth"] is None
    # cagrad's c of the base is reset to its default too
    from mtae_core.weighting import weightings
    default_c = weightings.get("cagrad").Options().c  # type: ignore[attr-defined]
    assert soft.weighting.options["c"] == default_c != 0.9


def test_values_may_carry_options_and_option_axes_follow_the_entry():
    s = spec(seeds=1, axes={"weighting": [{"strategy": "cagrad", "options": {"c": 0.4}}, "equal"],
                            "model.sharing": [{"sharing": "mmoe", "options": {"n_experts": 2}}]})
    a, b = s.cells()
    assert a.config.weighting.strategy == "cagrad" and a.config.weighting.options["c"] == 0.4
    assert b.config.weighting.strategy == "equal"
    assert a.config.model.options["sharing"]["n_experts"] == 2
    assert "cagrad(c=0.4)" in a.label and "mmoe(n_experts=2)" in a.label
    t = spec(seeds=1, axes={"model.sharing": ["mmoe"], "model.options.sharing.n_experts": [2, 3]})
    assert [c.config.model.options["sharing"]["n_experts"] for c in t.cells()] == [2, 3]


def test_a_data_set_axis_takes_each_data_sets_default_tasks():
    s = spec(seeds=1, axes={"data.dataset": ["digits", "synthetic_correlated"]})
    a, b = s.cells()
    assert a.config.data.tasks == ("digit", "parity", "reconstruction")
    assert b.config.data.tasks == ("task1", "task2")
    assert "correlation" in b.config.data.options


def test_fixed_weights_as_an_axis():
    grid = [{"digit": 1.0, "parity": 0.0}, {"digit": 0.5, "parity": 0.5}]
    s = spec(seeds=1, axes={"weighting.options.weights": grid})
    assert [c.config.weighting.strategy for c in s.cells()] == ["fixed", "fixed"]
    assert s.cells()[0].config.weighting.options["weights"] == grid[0]
    assert StudySpec.parse(s.to_dict()) == s


def test_config_for_sets_the_seed_and_keeps_the_cell():
    s = spec(axes={"optimizer.lr": [0.01]}, seeds=[4, 5])
    cell = s.cells()[0]
    assert cell.config.seed == 4
    c5 = cell.config_for(5)
    assert c5.seed == 5 and c5.optimizer.lr == 0.01
    if "seed" in type(c5.data).model_fields:  # the data's own seed stays unless asked
        assert c5.data.seed == cell.config.data.seed
        assert cell.config_for(5, vary_data_seed=True).data.seed == 5


@pytest.mark.parametrize("axes, field, words", [
    ({"model.colour": ["red"]}, "axes.model.colour", ["'model.colour'", "red", "not a setting"]),
    ({"optimizer.lr": [0.1, -1]}, "axes.optimizer.lr",
     ["'optimizer.lr'", "Learning rate", "-1", "must be greater than 0"]),
    ({"training.epochs": [0]}, "axes.training.epochs", ["'training.epochs'", "0", "Epochs must be at least 1"]),
    ({"optimizer.lr": []}, "axes.optimizer.lr", ["'optimizer.lr'", "empty"]),
    ({"weighting.strategy": ["nope"]}, "axes.weighting.strategy", ["nope", "allowed", "pcgrad"]),
    ({"data.options.correlation": [0.5]}, "axes.data.options.correlation", ["0.5", "not an option of digits"]),
    ({"seed.x": [1]}, "axes.seed.x", ["'seed", "single setting"]),
    ({"optimizer.lr": 0.1}, "axes.optimizer.lr", ["must be a list"]),
    ({"optimizer.lr": [0.1, 0.1]}, "axes.optimizer.lr", ["0.1", "listed twice"]),
])
def test_bad_axes_name_the_axis_and_value(axes, field, words):
    with pytest.raises(ConfigError) as e:
        spec(axes=axes)
    f, msg = e.value.errors[0]
    assert f == field
    for w in words:
        assert w in msg, (w, msg)
    assert "Input should" not in msg and "Traceback" not in msg


def test_a_combination_names_the_cell():
    # n_experts is an option of mmoe, not of hard sharing
    with pytest.raises(ConfigError) as e:
        spec(axes={"model.sharing": ["mmoe", "hard"], "model.options.sharing.n_experts": [2]})
    msg = e.value.errors[0][1]
    assert "n_experts" in msg and "model.sharing=hard" in msg


def test_too_many_runs_says_how_to_raise_the_cap(monkeypatch):
    axes = {"optimizer.lr": [0.001 * (i + 1) for i in range(200)]}
    with pytest.raises(ConfigError) as e:
        spec(axes=axes, seeds=3)
    msg = str(e.value)
    assert "600 runs" in msg and str(MAX_RUNS) in msg and "MTAE_MAX_STUDY_RUNS" in msg
    monkeypatch.setenv("MTAE_MAX_STUDY_RUNS", "1000")
    assert spec(axes={"optimizer.lr": [0.1, 0.2]}, seeds=3).n_runs() == 6


@pytest.mark.parametrize("obj, field", [
    ({"seeds": 0}, "seeds"), ({"seeds": []}, "seeds"), ({"seeds": [1, 1]}, "seeds"),
    ({"seeds": "3"}, "seeds"), ({"colour": 1}, "colour"), ({"vary_data_seed": "yes"}, "vary_data_seed"),
    ({"axes": ["optimizer.lr"]}, "axes"), ({"axes": {"seed": [1, 2]}}, "axes.seed"),
])
def test_bad_spec_keys(obj, field):
    with pytest.raises(ConfigError) as e:
        StudySpec.parse({"base": TINY, **obj})
    assert e.value.errors[0][0] == field


def test_bad_base_and_bad_json():
    with pytest.raises(ConfigError) as e:
        StudySpec.parse({"base": {"training": {"epochs": 0}}})
    assert e.value.errors[0][0] == "training.epochs"
    with pytest.raises(ConfigError, match="not valid JSON"):
        StudySpec.from_json("{")
    with pytest.raises(ConfigError, match="JSON object"):
        StudySpec.parse([1])


def test_axis_fields_come_from_the_schemas():
    f = axis_fields()
    assert f["optimizer.lr"].kind == "number" and f["optimizer.lr"].label == "Learning rate"
    assert f["optimizer.lr"].minimum == 0.0 and f["optimizer.lr"].maximum == 10.0
    assert f["training.epochs"].integer
    assert "pcgrad" in f["weighting.strategy"].choices and "mmoe" in f["model.sharing"].choices
    assert f["model.activation"].choices == ("relu", "tanh", "gelu")
    assert f["model.batch_norm"].kind == "bool"
    syn = axis_fields(ExperimentConfig().replace(data={"dataset": "synthetic_correlated"},
                                                 weighting={"strategy": "fixed"}))
    assert syn["data.options.correlation"].minimum == -1.0
    assert syn["weighting.options.weights"].kind == "weights"
    assert "seed" not in f and "name" not in f
