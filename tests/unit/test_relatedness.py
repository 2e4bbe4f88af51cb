"""Task relatedness before training, against hand-made tables: identical columns give 1,
independent ones about 0, and a hand-computed correlation ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mtae_core import ExperimentConfig
from mtae_core.analysis.relatedness import (
    correlation_ratio,
    dataset_report,
    gradient_cosine,
    label_relatedness,
    reading,
)
from mtae_core.store.tables import add_table

REG, CLS = "regression", "classification"


def test_identical_columns_are_fully_related():
    rng = np.random.default_rng(0)
    r = rng.normal(size=500)
    c = rng.integers(0, 4, 500)
    m = label_relatedness({"r1": r, "r2": r.copy(), "c1": c, "c2": c.copy()},
                          {"r1": REG, "r2": REG, "c1": CLS, "c2": CLS})
    assert m["pearson"].loc["r1", "r2"] == pytest.approx(1.0)
    assert m["spearman"].loc["r1", "r2"] == pytest.approx(1.0)
    assert m["nmi"].loc["c1", "c2"] == pytest.approx(1.0)
    assert (np.diag(m["strength"]) == 1).all()
    # measures apply only to their kinds of pair
    assert np.isnan(m["pearson"].loc["r1", "c1"]) and np.isnan(m["nmi"].loc["r1", "r2"])


def test_independent_columns_are_about_zero():
    rng = np.random.default_rng(1)
    n = 20000
    t = {"r1": rng.normal(size=n), "r2": rng.normal(size=n),
         "c1": rng.integers(0, 3, n), "c2": rng.integers(0, 3, n)}
    m = label_relatedness(t, {"r1": REG, "r2": REG, "c1": CLS, "c2": CLS})
    s = m["strength"]
    for a, b in [("r1", "r2"), ("c1", "c2"), ("c1", "r1"), ("c2", "r2")]:
        assert s.loc[a, b] < 0.03, (a, b, s.loc[a, b])
        assert s.loc[a, b] == s.loc[b, a]


def test_a_label_that_fixes_another_scores_one():
    digit = np.random.default_rng(2).integers(0, 10, 3000)
    m = label_relatedness({"digit": digit, "parity": digit % 2}, {"digit": CLS, "parity": CLS})
    assert m["nmi"].loc["digit", "parity"] == pytest.approx(1.0)


def test_signed_correlations_match_scipy():
    rng = np.random.default_rng(3)
    a = rng.normal(size=300)
    b = -0.5 * a + rng.normal(size=300)
    m = label_relatedness({"a": a, "b": b}, {"a": REG, "b": REG})
    assert m["pearson"].loc["a", "b"] == pytest.approx(stats.pearsonr(a, b).statistic)
    assert m["pearson"].loc["a", "b"] < 0 < m["strength"].loc["a", "b"]


def test_correlation_ratio_by_hand():
    # classes [0,0,1,1], values [1,3,5,7]: mean 4; between 2·4 + 2·4 = 16; total 20
    assert correlation_ratio(np.array([0, 0, 1, 1]), np.array([1.0, 3, 5, 7])) == pytest.approx(np.sqrt(0.8))
    # a value that is its class's mean exactly: η = 1; one class only: 0 between
    c = np.repeat([0, 1, 2], 50)
    assert correlation_ratio(c, c * 2.5 + 1) == pytest.approx(1.0)
    assert correlation_ratio(np.zeros(10), np.arange(10.0)) == 0.0


def test_missing_values_are_left_out_pairwise():
    a = np.array([1.0, 2, 3, 4, np.nan, 6])
    c = np.array([0, 0, 1, 1, 1, -1])
    m = label_relatedness({"a": a, "b": a * 2, "c": c}, {"a": REG, "b": REG, "c": CLS})
    assert m["pearson"].loc["a", "b"] == pytest.approx(1.0)
    assert m["correlation_ratio"].loc["a", "c"] == pytest.approx(
        correlation_ratio(c[:4], a[:4]))


def _table_with_twin_tasks(n: int = 400) -> bytes:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, 5))
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    df["t1"] = x @ np.arange(1, 6)
    df["t2"] = df["t1"]
    df["noise"] = rng.normal(size=n)
    return df.to_csv(index=False).encode()


def test_gradient_cosine_identical_tasks_agree_and_noise_does_not(store):
    add_table(store, "twins", _table_with_twin_tasks())
    cfg = ExperimentConfig.parse({"data": {"dataset": "twins",
                                           "tasks": ["t1", "t2", "noise", "reconstruction"]},
                                  "model": {"hidden": [32], "latent_dim": 8}})
    cos = gradient_cosine(cfg, seeds=(0, 1), batches=2)
    assert list(cos.index) == ["t1", "t2", "noise", "reconstruction"]
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-5)
    np.testing.assert_allclose(cos.to_numpy(), cos.to_numpy().T, atol=1e-6)
    # two copies of one target pull the fresh encoder the same way; pure noise does not
    assert cos.loc["t1", "t2"] > 0.8
    assert abs(cos.loc["t1", "noise"]) < 0.3 and abs(cos.loc["t2", "noise"]) < 0.3
    again = gradient_cosine(cfg, seeds=(0, 1), batches=2)
    np.testing.assert_allclose(cos.to_numpy(), again.to_numpy())


@pytest.mark.parametrize(("p", "low", "high"), [(1.0, 0.6, 1.0), (0.0, -0.15, 0.15)])
def test_gradient_cosine_follows_the_synthetic_correlation(p, low, high):
    cfg = ExperimentConfig.parse({"data": {"dataset": "synthetic_correlated",
                                           "options": {"correlation": p, "n": 2000, "d": 20}},
                                  "model": {"hidden": [32], "latent_dim": 8}})
    cos = gradient_cosine(cfg, seeds=(0, 1), batches=2)
    assert low <= cos.loc["task1", "task2"] <= high


def test_report_reads_digit_and_parity_as_strongly_related():
    rep = dataset_report("digits")
    assert rep["rows"] == 1797 and [t["name"] for t in rep["tasks"]] == ["digit", "parity", "reconstruction"]
    assert sum(rep["tasks"][0]["class_counts"].values()) == 1797
    assert rep["readings"][0].startswith("digit and parity are strongly related")
    cos = rep["gradient_cosine"]
    assert cos["tasks"] == ["digit", "parity", "reconstruction"] and len(cos["values"]) == 3
    assert rep["relatedness"]["nmi"]["values"][0][1] == pytest.approx(1.0)


def test_readings_in_plain_words():
    assert reading("a", "b", 0.8, None) == "a and b are strongly related (0.80): sharing is likely to help"
    assert "barely related" in reading("a", "b", 0.05, 0.9)
    assert "opposite ways" in reading("a", "reconstruction", None, -0.3)
