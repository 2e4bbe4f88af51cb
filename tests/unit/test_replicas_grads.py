"""Gradient methods over replicas (``mtae_core.engine.replica_grads``): the per-task
gradients of K replicas from one batched Jacobian, each replica's method applied to its own
rows; every replica equals the same run trained alone."""

from __future__ import annotations

import math
from typing import Any

import pytest
from test_replicas_cells import _cfg, assert_group_equivalent

from mtae_core.engine.replicas import batch_reason, group_key, train_replicas
from mtae_core.weighting import weightings

GRADIENT = [w for w in weightings.names() if weightings.get(w).needs_task_grads]


def _seeds(cfg: Any, seeds: tuple[int, ...] = (0, 1, 2)) -> list[Any]:
    return [cfg.replace(seed=s) for s in seeds]


@pytest.mark.parametrize("strategy", GRADIENT)
def test_every_gradient_method_matches_its_seeds_trained_alone(strategy):
    # three tasks (the input's reconstruction the third), so the methods have conflicts to solve
    cfg = _cfg(weighting={"strategy": strategy},
               data={"tasks": ["task1", "task2", "reconstruction"]})
    assert batch_reason(cfg) is None
    assert_group_equivalent(_seeds(cfg))


@pytest.mark.parametrize("sharing", ["soft", "single_task", "mmoe"])
def test_gradient_methods_over_replicas_with_other_sharing_schemes(sharing):
    # soft sharing runs its forward through vmap; single-task has nothing shared
    assert_group_equivalent(_seeds(_cfg(weighting={"strategy": "pcgrad"},
                                        model={"sharing": sharing})))


def test_numeric_options_of_a_gradient_method_are_data_per_replica():
    cfgs = [_cfg(seed=s, weighting={"strategy": "cagrad", "options": {"c": c}})
            for c in (0.1, 0.8) for s in (0, 1)]
    assert len({group_key(c) for c in cfgs}) == 1
    assert_group_equivalent(cfgs)


def test_gradient_methods_with_a_schedule_penalties_and_clipping_match_alone():
    over = {"schedule": {"kind": "cyclic"},
            "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "l1": 1e-4, "clip_norm": 0.5}}
    for strategy in ("mgda", "db_mtl"):
        assert_group_equivalent(_seeds(_cfg(weighting={"strategy": strategy}, **over)))


def test_a_sparse_autoencoder_s_auxiliary_loss_reaches_every_replica_as_alone():
    assert_group_equivalent(_seeds(_cfg(weighting={"strategy": "upgrad"},
                                        model={"autoencoder": "sparse"})))


def test_what_still_trains_apart():
    for strategy, options in (("gradnorm", {}), ("mgda", {"upper_bound": True}),
                              ("aligned_mtl", {"upper_bound": True})):
        reason = batch_reason(_cfg(weighting={"strategy": strategy, "options": options}))
        assert reason is not None and strategy in reason
    with pytest.raises(Exception, match="upper bound"):
        train_replicas(_seeds(_cfg(weighting={"strategy": "mgda", "options": {"upper_bound": True}})))


@pytest.mark.parametrize("strategy", ["pcgrad", "imtl_g", "aligned_mtl", "upgrad"])
def test_batched_weights_equal_each_replica_s_own(strategy):
    """The methods whose maths batch solve K replicas at once: the weights equal those of
    each replica's strategy alone (its own draws included)."""
    import numpy as np
    import torch

    from mtae_core.engine.replica_noise import ReplicaRng
    from mtae_core.weighting.gradient_base import GradientWeighting

    cls = weightings.get(strategy)
    names = ["a", "b", "c", "d"]
    rng = np.random.default_rng(1)
    G = rng.normal(size=(6, 4, 9))
    G[5, 3] = G[5, 0] + G[5, 1]  # a rank-deficient replica
    grams = G @ np.swapaxes(G, 1, 2)
    losses = rng.uniform(0.1, 2.0, size=(6, 4))
    strategies = [cls(names, cls.Options()) for _ in range(6)]
    rngs = []
    for s in range(6):
        torch.manual_seed(s)
        rngs.append(ReplicaRng(torch.device("cpu")))
    alone_rngs = [type("R", (), {"use": None})() for _ in range(6)]
    for a, r in zip(alone_rngs, rngs, strict=True):  # copies of each replica's state
        c = ReplicaRng(torch.device("cpu"))
        c.cpu_state = r.cpu_state.clone()
        a.use = c.use
    idxs = [list(range(4))] * 6
    got = cls.weights_from_grams(strategies, grams, losses, idxs, rngs)
    want = GradientWeighting.weights_from_grams.__func__(cls, strategies, grams, losses, idxs,
                                                          alone_rngs)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_a_replica_that_stops_or_diverges_ends_alone_and_the_others_train_on():
    # early stopping freezes some seeds; the rest train on with their rows of the Jacobian
    cfg = _cfg(weighting={"strategy": "pcgrad"}, training={"epochs": 8, "early_stopping": 1},
               optimizer={"lr": 0.05})
    rs = assert_group_equivalent(_seeds(cfg, (0, 1, 2, 3)))
    assert any(r.kept_epoch is not None and r.kept_epoch < r.epochs_run - 1 for r in rs)
    # at this learning rate some seeds diverge alone and others do not
    hot = _cfg(weighting={"strategy": "mgda"}, optimizer={"kind": "sgd", "lr": 1.5},
               training={"epochs": 4})
    from mtae_core.engine import training

    seeds = (0, 1, 2, 3, 4, 5)
    alone = [training.train(c) for c in _seeds(hot, seeds)]
    together = train_replicas(_seeds(hot, seeds))
    assert {"done", "diverged"} <= {r.status for r in alone}
    assert [r.status for r in together] == [r.status for r in alone]
    for a, b in zip(alone, together, strict=True):
        assert a.diverged_epoch == b.diverged_epoch and a.epochs_run == b.epochs_run
        if a.status == "done":  # (on the edge of diverging: rounding grows fast, so 1e-2)
            for t, ms in a.test_metrics.items():
                for m, v in ms.items():
                    assert math.isclose(v, b.test_metrics[t][m], rel_tol=1e-2, abs_tol=1e-4)
