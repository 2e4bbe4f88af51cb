from __future__ import annotations

import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.metrics import task_loss
from mtae_core.training import build, resolve_device, train


def _grads(model, data, task):
    model.zero_grad()
    out = model(data.train.x[:32])
    spec = next(s for s in data.tasks if s.name == task)
    task_loss(spec, out.outputs[task], data.train.y[task][:32]).backward()
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
            for n, p in model.named_parameters()}


def test_hard_sharing_sends_every_task_gradient_into_the_shared_encoder(tiny_cfg):
    data, model = build(tiny_cfg)
    shared = {id(p) for p in model.shared_parameters()}
    enc = [n for n, p in model.named_parameters() if id(p) in shared]
    assert enc and all(n.startswith("encoder") for n in enc)
    for task in data.task_names:
        g = _grads(model, data, task)
        assert all(g[n].abs().sum() > 0 for n in enc), task


def test_single_task_gives_zero_gradient_to_other_tasks_networks(tiny_cfg):
    cfg = tiny_cfg.replace(model={"sharing": "single_task"})
    data, model = build(cfg)
    assert model.shared_parameters() == []
    names = data.task_names
    for i, task in enumerate(names):
        g = _grads(model, data, task)
        for n, grad in g.items():
            if n.startswith("encoders"):  # stacked (n_tasks, ...) weights
                others = [j for j in range(len(names)) if j != i]
                assert torch.count_nonzero(grad[others]) == 0
                assert grad[i].abs().sum() > 0
            elif n.startswith("heads."):
                owner = n.split(".")[1]
                assert (grad.abs().sum() > 0) == (owner == task) or owner == task


def test_same_config_and_seed_give_identical_metrics(tiny_cfg):
    a = train(tiny_cfg)
    b = train(tiny_cfg)
    assert a.status == b.status == "done"
    assert a.test_metrics == b.test_metrics
    assert [h["rows"] for h in a.history] == [h["rows"] for h in b.history]
    c = train(tiny_cfg.replace(seed=1))
    assert c.test_metrics != a.test_metrics


@pytest.mark.slow
def test_hard_shared_digits_reaches_90_percent_within_30_epochs():
    cfg = ExperimentConfig().replace(training={"epochs": 30, "device": "cpu"})
    r = train(cfg)
    assert r.status == "done" and r.epochs_run == 30
    assert r.test_metrics["digit"]["accuracy"] >= 0.90
    assert set(r.test_metrics["digit"]) >= {"accuracy", "macro_f1"}
    assert set(r.test_metrics["reconstruction"]) >= {"mse"}


def test_regression_metrics_on_synthetic(tiny_cfg):
    cfg = tiny_cfg.replace(data={"dataset": "synthetic_correlated", "options": {"n": 600}})
    r = train(cfg)
    assert set(r.test_metrics) == {"task1", "task2"}
    assert set(r.test_metrics["task1"]) >= {"mse", "r2"}


def test_nan_in_the_data_ends_as_diverged(tiny_cfg):
    data, model = build(tiny_cfg)
    data.train.x[5, 3] = float("nan")
    r = train(tiny_cfg, data, model)
    assert r.status == "diverged"
    assert "NaN or infinite" in r.reason and "epoch 1" in r.reason
    assert r.epochs_run == 0 and r.test_metrics == {}


def test_exploding_learning_rate_ends_as_diverged(tiny_cfg):
    cfg = tiny_cfg.replace(optimizer={"kind": "sgd", "lr": 10.0, "momentum": 0.99},
                           training={"epochs": 30})
    r = train(cfg)
    assert r.status == "diverged" and r.epochs_run < 30


def test_should_stop_cancels(tiny_cfg):
    r = train(tiny_cfg.replace(training={"epochs": 50}), should_stop=lambda: True)
    assert r.status == "cancelled" and r.epochs_run <= 1


def test_sink_receives_every_epoch_with_train_and_val_losses(tiny_cfg):
    seen = []

    class Sink:
        def started(self, info):
            seen.append(("started", info))

        def epoch(self, epoch, rows, extras):
            seen.append((epoch, rows, extras))

        def progress(self, f):
            pass

    train(tiny_cfg, sink=Sink())
    assert seen[0][0] == "started" and seen[0][1]["device"] == "cpu"
    assert seen[0][1]["n_params"] > seen[0][1]["n_shared_params"] > 0
    epochs = [s for s in seen[1:]]
    assert [e[0] for e in epochs] == [0, 1]
    keys = {(s, t, m) for s, t, m, _ in epochs[0][1]}
    for t in tiny_cfg.data.tasks:
        assert ("train", t, "loss") in keys and ("val", t, "loss") in keys
    assert set(epochs[0][2]["weights"]) == set(tiny_cfg.data.tasks)


def test_auto_device_is_cpu_without_gpu():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(RuntimeError, match="no CUDA"):
            resolve_device("cuda")
