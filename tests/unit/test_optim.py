"""Optimizers, LR schedules, clipping, penalties and early stopping behave as configured."""

from __future__ import annotations

import math

import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.engine.training import build, build_optimizer, train, weight_penalty

SMALL = {"hidden": [16], "latent_dim": 4, "head_hidden": 0}


def cfg(optimizer: dict | None = None, **training: object) -> ExperimentConfig:
    return ExperimentConfig.parse({
        "model": SMALL, "optimizer": optimizer or {},
        "training": {"epochs": 2, "batch_size": 256, "device": "cpu", **training},
    })


def lrs(c: ExperimentConfig) -> list[float]:
    return [h["extras"]["lr"] for h in train(c).history]


def test_step_schedule_halves_lr():
    got = lrs(cfg({"lr": 1e-3, "lr_schedule": "step", "step_size": 2, "gamma": 0.5}, epochs=5))
    # recorded after each epoch's scheduler step: the lr the next epoch uses
    assert got == pytest.approx([1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])


def test_exponential_and_cosine_schedules():
    got = lrs(cfg({"lr": 1e-2, "lr_schedule": "exponential", "gamma": 0.9}, epochs=3))
    assert got == pytest.approx([1e-2 * 0.9 ** (e + 1) for e in range(3)])
    got = lrs(cfg({"lr": 1e-2, "lr_schedule": "cosine"}, epochs=4))
    assert got == pytest.approx([1e-2 * (1 + math.cos(math.pi * (e + 1) / 4)) / 2 for e in range(4)],
                                abs=1e-12)
    assert lrs(cfg({"lr": 3e-3}, epochs=2)) == pytest.approx([3e-3, 3e-3])


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw", "rmsprop"])
def test_build_optimizer_kinds(kind):
    c = cfg({"kind": kind, "lr": 0.05, "momentum": 0.5, "weight_decay": 0.01,
             "nesterov": kind == "sgd"})
    p = [torch.nn.Parameter(torch.ones(2, 2))]
    opt, sched = build_optimizer(c.optimizer, p, 3)
    assert sched is None
    assert type(opt).__name__.lower() == kind
    g = opt.param_groups[0]
    assert g["lr"] == 0.05 and g["weight_decay"] == 0.01
    if kind in ("sgd", "rmsprop"):
        assert g["momentum"] == 0.5
    if kind == "sgd":
        assert g["nesterov"] is True
    # every kind trains: one step on a quadratic lowers it
    loss = (p[0] ** 2).sum()
    loss.backward()
    opt.step()
    assert float((p[0] ** 2).sum().detach()) < float(loss.detach())


def test_clipping_bounds_the_update():
    c = cfg({"kind": "sgd", "lr": 1.0, "momentum": 0.0, "clip_norm": 1e-3}, epochs=1)
    data, model = build(c)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    r = train(c, data, model)
    after = torch.cat([p.detach().flatten() for p in r.model.parameters()])
    steps = len(data.train) // 256
    # each SGD step moves the weights by lr · ‖clipped grad‖ ≤ 1e-3
    assert 0 < float((after - before).norm()) <= steps * 1e-3 * (1 + 1e-4)


def test_weight_penalties():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    ws = [model[0].weight.detach(), model[1].weight.detach()]  # the expected values, by hand
    assert weight_penalty(model, 0.0, 0.0) is None
    l1 = weight_penalty(model, 0.1, 0.0)
    assert float(l1.detach()) == pytest.approx(0.1 * float(sum(w.abs().sum() for w in ws)))
    l2 = weight_penalty(model, 0.0, 0.2)
    assert float(l2.detach()) == pytest.approx(0.2 * float(sum(w.pow(2).sum() for w in ws)))


def test_l1_shrinks_weights():
    def total_abs(c: ExperimentConfig) -> float:
        r = train(c)
        return float(sum(p.detach().abs().sum() for p in r.model.parameters() if p.dim() > 1))

    plain = total_abs(cfg({"lr": 1e-2}, epochs=3))
    sparse = total_abs(cfg({"lr": 1e-2, "l1": 1e-3}, epochs=3))
    assert sparse < 0.9 * plain


def test_early_stopping_stops():
    # a learning rate far below float32 resolution: the weights, and so the validation
    # loss, never change, so no epoch improves on the first
    c = cfg({"kind": "sgd", "lr": 1e-12, "momentum": 0.0}, epochs=20, early_stopping=2)
    r = train(c)
    assert r.status == "done"
    assert r.epochs_run == 3
    assert r.reason is not None and "early stopping" in r.reason
