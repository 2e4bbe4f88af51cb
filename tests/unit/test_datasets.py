"""Contract tests over every built-in data set (shapes, task kinds, seeded determinism,
a short training run), and the table data sets' "any column can be a task" option."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.config import ConfigError
from mtae_core.data import TableDataset, datasets, load
from mtae_core.data.files import FileDataset
from mtae_core.engine.training import train


def _here(names: list[str]) -> list:
    """The data sets, those whose files ``make data`` has not fetched skipped, saying so."""
    return [pytest.param(n, marks=pytest.mark.skipif(
        issubclass(datasets.get(n), FileDataset) and not datasets.get(n).available(),
        reason=f"{n}: its files are not on this machine (`make data` adds them)"))
        for n in names]


BUILTINS = _here(datasets.builtin_names())
SMALL = {"synthetic_correlated": {"n": 300, "d": 10}, "multi_digits": {"n": 400},
         "census_income": {"rows": 2000}, "adult": {"rows": 2000}, "multi_mnist": {"n": 400}}
SIZES = {"wine": (178, 13), "breast_cancer": (569, 30), "diabetes": (442, 10),
         "iris": (150, 4), "linnerud": (20, 3), "digits": (1797, 64),
         "multi_digits": (400, 128)}


def _cfg(dataset: str, **data) -> ExperimentConfig:
    return ExperimentConfig().replace(
        data={"dataset": dataset, "options": SMALL.get(dataset, {}), **data},
        # linnerud trains on 13 rows: a batch may not be larger (preflight)
        training={"epochs": 2, "batch_size": 8 if dataset == "linnerud" else 64, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})


def test_the_issue_s_data_sets_are_registered():
    assert {"wine", "breast_cancer", "diabetes", "iris", "linnerud", "multi_digits"} \
        <= set(datasets.builtin_names())


@pytest.mark.parametrize("dataset", BUILTINS)
def test_shapes_and_task_kinds(dataset):
    cfg = _cfg(dataset)
    d = load(cfg.data, 0)
    ds = datasets.get(dataset)
    assert d.task_names == list(cfg.data.tasks) == list(ds.default_tasks)
    n = len(d.train) + len(d.val) + len(d.test)
    if dataset in SIZES:
        rows, cols = SIZES[dataset]
        assert n == rows
        # a feature column chosen as a task is not an input any more
        held_out = [t for t in cfg.data.tasks if t in getattr(ds.Options, "columns", ())]
        assert d.input_dim == cols - len(held_out)
    for split in (d.train, d.val, d.test):
        assert split.x.shape == (len(split), d.input_dim) and split.x.dtype == torch.float32
        assert torch.isfinite(split.x).all()
        for spec in d.tasks:
            y = split.y[spec.name]
            if spec.kind == "classification":
                assert y.dtype == torch.long and y.shape == (len(split),)
                assert 0 <= int(y.min()) and int(y.max()) < spec.n_classes == spec.out_dim
            elif spec.kind == "regression":
                assert y.dtype == torch.float32 and y.shape == (len(split),) and spec.out_dim == 1
            else:
                assert y is split.x and spec.out_dim == d.input_dim
    assert ds.summary(), "the form shows a one-line description"


@pytest.mark.parametrize("dataset", BUILTINS)
def test_seeded_determinism(dataset):
    cfg = _cfg(dataset)
    a, b, c = load(cfg.data, 3), load(cfg.data, 3), load(cfg.data, 4)
    assert torch.equal(a.train.x, b.train.x)
    for t in a.task_names:
        assert torch.equal(a.test.y[t], b.test.y[t])
    assert not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize("dataset", BUILTINS)
def test_trains_two_epochs_to_done(dataset):
    cfg = _cfg(dataset)
    result = train(cfg)
    assert result.status == "done", result.reason
    assert set(result.test_metrics) == set(cfg.data.tasks)


@pytest.mark.parametrize("dataset", _here([n for n in datasets.builtin_names()
                                            if issubclass(datasets.get(n), TableDataset)]))
def test_any_column_can_become_a_task_of_a_table(dataset):
    ds = datasets.get(dataset)
    columns = ds.Options.columns
    col = columns[-1]
    cfg = _cfg(dataset, tasks=[col, "reconstruction"])
    d = load(cfg.data, 0)
    every = load(_cfg(dataset, tasks=["reconstruction"]).data, 0).input_dim
    assert d.input_dim == every - 1  # removed from the inputs (a numeric column: one)
    spec = d.tasks[0]
    raw = ds.table(ds.Options()).frame[col].to_numpy()
    y = d.train.y[col].numpy()
    if spec.kind == "regression":  # standardised on the training split
        assert abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-3
    else:
        assert spec.n_classes == len(np.unique(raw))
    # the kind is editable: a numeric column as classes, one class per distinct value
    kind = "classification" if spec.kind == "regression" else "regression"
    d2 = load(_cfg(dataset, tasks=[col], options={"kinds": {col: kind}}).data, 0)
    assert d2.tasks[0].kind == kind
    if kind == "classification":
        assert d2.tasks[0].n_classes == len(np.unique(raw))


def test_kinds_naming_an_unknown_column_is_a_clear_config_error():
    with pytest.raises(ConfigError, match=r"data.options.kinds: Column task kinds: no column .alcool. in wine; its columns: alcohol"):
        ExperimentConfig.parse({"data": {"dataset": "wine", "options": {"kinds": {"alcool": "regression"}}}})


def test_inferred_kinds():
    # diabetes: sex holds two whole numbers (classes), bmi is continuous
    d = load(_cfg("diabetes", tasks=["sex", "bmi"]).data, 0)
    assert [t.kind for t in d.tasks] == ["classification", "regression"]
    assert d.tasks[0].n_classes == 2


def test_every_column_as_a_task_leaves_no_input_and_says_so():
    cfg = _cfg("iris", tasks=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    with pytest.raises(ValueError, match="keep at least one column as an input"):
        load(cfg.data, 0)


def test_multi_digits_puts_two_digits_side_by_side():
    ds = datasets.get("multi_digits")
    raw = ds.generate(ds.Options(n=200), seed=5)
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = raw.x.reshape(200, 8, 16)
    for i in range(20):
        left, right = images[i, :, :8], images[i, :, 8:]
        # each half is one of scikit-learn's digit images with the task's label
        li = np.flatnonzero((digits.images == left).all(axis=(1, 2)))
        ri = np.flatnonzero((digits.images == right).all(axis=(1, 2)))
        assert len(li) and digits.target[li[0]] == raw.targets["left"][i]
        assert len(ri) and digits.target[ri[0]] == raw.targets["right"][i]
    np.testing.assert_array_equal(raw.targets["sum_parity"],
                                  (raw.targets["left"] + raw.targets["right"]) % 2)


def test_linnerud_says_it_is_tiny():
    assert "20 samples" in datasets.get("linnerud").summary()
