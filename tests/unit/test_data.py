from __future__ import annotations

import numpy as np
import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.data import data_sizes, datasets, load
from mtae_core.data.files import FileDataset


def _here(names: list[str]) -> list:
    """The data sets, those whose files ``make data`` has not fetched skipped, saying so."""
    return [pytest.param(n, marks=pytest.mark.skipif(
        issubclass(datasets.get(n), FileDataset) and not datasets.get(n).available(),
        reason=f"{n}: its files are not on this machine (`make data` adds them)"))
        for n in names]


# quick options: a subset of the large real benchmarks
OPTS = {"synthetic_correlated": {"n": 300}, "census_income": {"rows": 2000},
        "adult": {"rows": 2000}, "multi_mnist": {"n": 400}}


def test_digits_shapes_and_tasks():
    cfg = ExperimentConfig()
    d = load(cfg.data, 0)
    n = len(d.train) + len(d.val) + len(d.test)
    assert n == 1797 and d.input_dim == 64
    assert [t.name for t in d.tasks] == ["digit", "parity", "reconstruction"]
    assert [t.out_dim for t in d.tasks] == [10, 2, 64]
    assert d.train.y["digit"].dtype == torch.long and set(d.train.y["parity"].unique().tolist()) == {0, 1}
    assert torch.equal(d.train.y["parity"], d.train.y["digit"] % 2)
    assert d.train.y["reconstruction"] is d.train.x
    assert abs(float(d.train.x.mean())) < 1e-5  # standardised on train


@pytest.mark.parametrize("dataset", _here(datasets.builtin_names()))
def test_seeded_determinism(dataset):
    cfg = ExperimentConfig().replace(data={"dataset": dataset})
    opts = OPTS.get(dataset, {})
    one = cfg.replace(data={"options": opts, "seed": 1})
    two = cfg.replace(data={"options": opts, "seed": 2})
    a, b, c = load(one.data), load(one.data), load(two.data)
    assert torch.equal(a.train.x, b.train.x)
    for t in a.task_names:
        assert torch.equal(a.test.y[t], b.test.y[t])
    assert not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize("dataset", _here(datasets.names()))
def test_the_data_seed_draws_the_data_and_the_run_seed_does_not(dataset):
    from mtae_core.engine.training import build

    opts = OPTS.get(dataset, {})
    cfg = ExperimentConfig().replace(data={"dataset": dataset, "options": opts})
    (d0, m0), (d5, m5) = build(cfg), build(cfg.replace(seed=5))
    assert torch.equal(d0.train.x, d5.train.x)  # same data and split for every run seed
    assert np.array_equal(d0.extras["split_indices"][2], d5.extras["split_indices"][2])
    w0, w5 = next(iter(m0.parameters())), next(iter(m5.parameters()))
    assert not torch.equal(w0, w5)  # the run seed still draws the initialisation
    other = build(cfg.replace(data={"seed": 5}))[0]
    # the data seed draws the split: the test rows, or, where the data set comes with its
    # own test split (Census-Income, Adult), the validation rows
    given = datasets.get(dataset).given_test_size(datasets.get(dataset).Options(**opts))
    drawn = 2 if given is None else 1
    assert not np.array_equal(d0.extras["split_indices"][drawn],
                              other.extras["split_indices"][drawn])


def test_synthetic_data_seed_redraws_the_task_functions():
    ds = datasets.get("synthetic_correlated")
    o = ds.Options(n=100, d=5)
    a, b = ds.generate(o, seed=0), ds.generate(o, seed=1)
    assert not np.allclose(a.extras["weights"][0], b.extras["weights"][0])
    assert np.allclose(a.extras["weights"][0], ds.generate(o, seed=0).extras["weights"][0])


@pytest.mark.parametrize("dataset, opts", [("digits", {}), ("synthetic_correlated", {"n": 250})])
@pytest.mark.parametrize("val, test", [(0.15, 0.2), (0.01, 0.002), (0.3, 0.45)])
def test_data_sizes_match_the_loaded_splits_without_loading(dataset, opts, val, test, monkeypatch):
    cfg = ExperimentConfig().replace(data={"dataset": dataset, "options": opts,
                                           "val_fraction": val, "test_fraction": test})
    d = load(cfg.data)
    expected = {"train": len(d.train), "val": len(d.val), "test": len(d.test)}
    expected["total"] = sum(expected.values())
    ds = datasets.get(dataset)

    def no_generate(*args, **kwargs):
        raise AssertionError("data_sizes generated the data")

    monkeypatch.setattr(ds, "generate", no_generate)
    assert data_sizes(cfg.data) == expected


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_synthetic_linear_parts_have_the_chosen_correlation(p):
    ds = datasets.get("synthetic_correlated")
    raw = ds.generate(ds.Options(correlation=p), seed=3)
    lin = raw.extras["linear_parts"]
    r = np.corrcoef(lin["task1"], lin["task2"])[0, 1]
    assert abs(r - p) <= 0.05
    w1, w2 = raw.extras["weights"]
    assert np.isclose(np.linalg.norm(w1), 1.0) and np.isclose(np.linalg.norm(w2), 1.0)
    assert raw.x.shape == (12000, 100)


def test_synthetic_targets_follow_the_formula():
    ds = datasets.get("synthetic_correlated")
    o = ds.Options(n=200, d=10, m=0, noise_var=0.0)
    raw = ds.generate(o, seed=0)
    w1, _ = raw.extras["weights"]
    np.testing.assert_allclose(raw.targets["task1"], raw.x.astype(np.float64) @ w1, rtol=1e-4, atol=1e-4)
