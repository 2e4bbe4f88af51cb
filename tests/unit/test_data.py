from __future__ import annotations

import numpy as np
import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.data import datasets, load


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


@pytest.mark.parametrize("dataset", datasets.builtin_names())
def test_seeded_determinism(dataset):
    cfg = ExperimentConfig().replace(data={"dataset": dataset})
    opts = {"n": 300} if dataset == "synthetic_correlated" else {}
    cfg = cfg.replace(data={"options": opts})
    a, b, c = load(cfg.data, 1), load(cfg.data, 1), load(cfg.data, 2)
    assert torch.equal(a.train.x, b.train.x)
    for t in a.task_names:
        assert torch.equal(a.test.y[t], b.test.y[t])
    assert not torch.equal(a.train.x, c.train.x)


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
