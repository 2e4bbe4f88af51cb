"""Cells, not only seeds, trained as one batched model (``mtae_core.engine.replicas``):
runs that differ in their seed and in loss-based weighting settings (fixed λ, a strategy's
numeric options, the loss-based strategy itself) equal the same runs trained alone,
replica by replica; the study plan groups exactly the runs that may share a model."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pytest

from mtae_core import ExperimentConfig
from mtae_core.data import load
from mtae_core.engine import training
from mtae_core.engine.replicas import NotBatchable, group_key, train_replicas

ATOL = 1e-4  # float tolerance: batched kernels sum in another order than per-run ones


def _cfg(**over: Any) -> ExperimentConfig:
    base = ExperimentConfig().replace(
        name="cells", data={"dataset": "synthetic_correlated", "options": {"n": 240}},
        training={"epochs": 3, "batch_size": 48, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
    return base.replace(**over) if over else base


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= ATOL * max(1.0, abs(b))
    return bool(a == b)


def assert_group_equivalent(cfgs: list[ExperimentConfig]) -> list[training.TrainResult]:
    """Each config trained in one batched model equals it trained alone: its curves (every
    row), extras (weights, lr, cosines), test and validation metrics and kept epoch."""
    data = load(cfgs[0].data)
    together = train_replicas(cfgs, data)
    for c, r in zip(cfgs, together, strict=True):
        alone = training.train(c, data)
        who = (c.seed, c.weighting.strategy, c.weighting.options)
        assert r.status == alone.status and r.reason == alone.reason, who
        assert [row[:3] for h in r.history for row in h["rows"]] == \
            [row[:3] for h in alone.history for row in h["rows"]], who
        assert _close([row[3] for h in r.history for row in h["rows"]],
                      [row[3] for h in alone.history for row in h["rows"]]), who
        assert _close([h["extras"] for h in r.history], [h["extras"] for h in alone.history]), who
        assert _close(r.test_metrics, alone.test_metrics), who
        assert _close(r.val_metrics, alone.val_metrics), who
        assert r.kept_epoch == alone.kept_epoch, who
    return together


def _fixed(a: float, seed: int, **over: Any) -> ExperimentConfig:
    return _cfg(**over).replace(seed=seed, weighting={"strategy": "fixed",
                                                      "options": {"weights": {"task1": a,
                                                                              "task2": 1 - a}}})


def test_a_fixed_lambda_grid_over_seeds_matches_each_run_alone():
    cfgs = [_fixed(a, s) for a in (0.0, 0.3, 1.0) for s in (0, 1)]
    assert len({group_key(c) for c in cfgs}) == 1
    rs = assert_group_equivalent(cfgs)
    # the grid's points trained differently (λ is data per replica, not shared)
    assert not _close(rs[0].test_metrics, rs[2].test_metrics)


def test_numeric_options_of_loss_based_strategies_match_alone():
    cfgs = [_cfg(seed=s, weighting={"strategy": "dwa", "options": {"temperature": t}})
            for t in (0.5, 4.0) for s in (0, 1)]
    cfgs += [_cfg(seed=0, weighting={"strategy": "famo", "options": {"lr": lr}})
             for lr in (0.01, 0.2)]
    cfgs += [_cfg(seed=1, weighting={"strategy": "uncertainty", "options": {"init_log_var": v}})
             for v in (-1.0, 1.0)]
    assert len({group_key(c) for c in cfgs}) == 1
    assert_group_equivalent(cfgs)


def test_different_loss_based_strategies_share_one_model():
    # each replica keeps its own strategy object (state, learnable parameters, draws)
    names = ("equal", "fixed", "uncertainty", "dwa", "rlw", "gls", "imtl_l", "famo", "curriculum")
    cfgs = [_cfg(seed=i % 2, weighting={"strategy": w}) for i, w in enumerate(names)]
    assert len({group_key(c) for c in cfgs}) == 1
    assert_group_equivalent(cfgs)


def test_cells_with_a_schedule_penalties_clipping_and_early_stopping_match_alone():
    over = {"schedule": {"kind": "adaptive"}, "training": {"epochs": 6, "early_stopping": 1},
            "optimizer": {"kind": "sgd", "lr": 0.2, "momentum": 0.9, "l2": 1e-3,
                          "clip_norm": 0.5}}
    cfgs = [_fixed(a, s, **over) for a in (0.2, 0.8) for s in (0, 1, 2)]
    assert_group_equivalent(cfgs)


def test_fixed_lambda_cells_through_vmap_match_alone():
    # soft sharing has no explicit plan: the replicas' forward runs through vmap
    cfgs = [_fixed(a, s, model={"sharing": "soft"}) for a in (0.1, 0.9) for s in (0, 1)]
    assert_group_equivalent(cfgs)


def test_what_stays_in_the_group_key():
    base = _fixed(0.5, 0)
    assert group_key(base) == group_key(_fixed(0.2, 3))
    assert group_key(base) == group_key(_cfg(weighting={"strategy": "dwa"}))
    # the learning rate and weight decay are per replica (Adam, AdamW, SGD) ...
    assert group_key(base) == group_key(_fixed(0.5, 0, optimizer={"lr": 0.01, "weight_decay": 0.1}))
    # ... the model, data, optimizer kind, schedule and budget are shared: they stay in the key
    for other in (_fixed(0.5, 0, training={"epochs": 4}), _fixed(0.5, 0, optimizer={"kind": "sgd"}),
                  _fixed(0.5, 0, optimizer={"lr_schedule": "step"}),
                  _fixed(0.5, 0, model={"sharing": "mmoe"}), _fixed(0.5, 0, schedule={"kind": "cyclic"})):
        assert group_key(other) != group_key(base)
    # a gradient method is part of the key (its options are not), and never a loss-based one's
    cagrad = [_cfg(weighting={"strategy": "cagrad", "options": {"c": c}}) for c in (0.2, 0.5)]
    assert group_key(cagrad[0]) == group_key(cagrad[1]) != group_key(base)
    assert group_key(cagrad[0]) != group_key(_cfg(weighting={"strategy": "pcgrad"}))
    with pytest.raises(ValueError, match="only in their seed"):
        train_replicas([base, _fixed(0.5, 0, training={"epochs": 4})])


def test_gradnorm_is_not_batched_with_the_loss_based_ones():
    gn = _cfg(weighting={"strategy": "gradnorm"})
    assert group_key(gn) != group_key(_cfg())
    with pytest.raises(NotBatchable):
        train_replicas([gn, gn.replace(seed=1)])


# ---- the study plan ---------------------------------------------------------------------


def _spec(**kw: Any) -> Any:
    from mtae_core.studies import StudySpec

    base = {"data": {"dataset": "synthetic_correlated", "options": {"n": 240}},
            "training": {"epochs": 1, "batch_size": 48, "device": "cpu"},
            "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8},
            "weighting": {"strategy": "fixed"}}
    return StudySpec.parse({"name": "grid", "base": base, "seeds": [0, 1, 2], **kw})


def test_the_plan_groups_exactly_the_runs_that_may_share_a_model():
    from mtae_core.studies.planning import plan, seed_groups

    spec = _spec(axes={"weighting.options.weights.task1": [0.0, 0.5, 1.0],
                       "model.sharing": ["hard", "mmoe"]})
    cfgs = list({p.key: p.config for p in plan(spec)}.values())
    groups, infos = seed_groups(cfgs, workers=1)
    members: dict[str, list[ExperimentConfig]] = {}
    for c, g in zip(cfgs, groups, strict=True):
        assert g is not None  # every run here may share a model with others
        members.setdefault(g, []).append(c)
    # hard × 3 λ × 3 seeds, mmoe × 3 λ × 3 seeds, and the 3 seeds of the shared baseline
    assert sorted(len(m) for m in members.values()) == [3, 9, 9]
    for m in members.values():
        # within a group only the seed and the weighting differ ...
        assert len({group_key(c) for c in m}) == 1
        shared = {json.dumps([c.to_dict()[k] for k in ("model", "data", "optimizer", "training",
                                                          "schedule")], sort_keys=True) for c in m}
        assert len(shared) == 1
    # ... and no two groups could have shared one
    assert len({group_key(m[0]) for m in members.values()}) == len(members)


def test_the_plan_keeps_gradient_methods_apart_from_loss_based_cells():
    from mtae_core.studies.planning import seed_groups

    cfgs = [_fixed(a, s) for a in (0.2, 0.8) for s in (0, 1)]
    cfgs += [_cfg(seed=s, weighting={"strategy": "gradnorm"}) for s in (0, 1)]
    groups, infos = seed_groups(cfgs, workers=1)
    assert len(set(groups[:4])) == 1 and groups[0] is not None
    assert groups[4] is None and groups[5] is None  # gradnorm: separate runs, with the reason
    assert all("gradnorm" in i["seeds_reason"] for i in infos[4:])
    assert Counter(groups)[groups[0]] == 4


def test_a_grid_group_is_shared_out_among_workers():
    from mtae_core.studies.planning import seed_groups

    cfgs = [_fixed(a / 10, s) for a in range(11) for s in range(3)]
    whole, _ = seed_groups(cfgs, workers=1)
    assert len(set(whole)) == 1
    halves, _ = seed_groups(cfgs, workers=2)
    assert sorted(Counter(halves).values()) == [16, 17]


def test_a_fixed_lambda_study_trains_its_cells_together_and_the_page_says_so(store):
    import os

    from mtae_core.runner.jobs import execute_group
    from mtae_core.studies import start
    from ui.studies.progress import grid_frame, seeds_lines, spec_of

    spec = _spec(axes={"weighting.options.weights.task1": [0.0, 0.5, 1.0]})
    study_id = start(store, spec, workers=1)
    claimed = []
    while runs := store.claim_group(os.getpid()):
        claimed.append(len(runs))
        execute_group(store, runs)
    assert sorted(claimed) == [3, 9]  # the baseline's 3 seeds; the 3 λ × 3 seeds as one model
    df = store.study_runs(study_id)
    runs = store.runs_by_id([int(i) for i in df.run_id.unique()])
    assert all(r.status == "done" for r in runs.values())
    cells = [r for r in runs.values() if r.config.model.sharing != "single_task"]
    assert all(r.info["seeds_together"] == 9 and r.info["cells_together"] == 3 for r in cells)
    lines = seeds_lines(grid_frame(store, study_id, spec_of(store.get_study(study_id))))
    assert sum("9 runs of 3 settings trained as one batched model" in line for line in lines) == 3
    assert sum(line.endswith(": seeds trained together") for line in lines) == 1  # the baseline


@pytest.mark.parametrize("opt", [
    {"kind": "adam", "lr_schedule": "step", "step_size": 1},
    {"kind": "adamw", "lr_schedule": "cosine"},
    {"kind": "sgd", "momentum": 0.9, "nesterov": True, "lr_schedule": "exponential"},
])
def test_a_learning_rate_and_weight_decay_sweep_matches_each_run_alone(opt):
    lrs = (0.003, 0.03) if opt["kind"] == "sgd" else (1e-3, 5e-3)
    cfgs = [_cfg(seed=s, optimizer={**opt, "lr": lr, "weight_decay": wd},
                 weighting={"strategy": "uncertainty"})  # a strategy with parameters too
            for lr in lrs for wd in (0.0, 0.01) for s in (0, 1)]
    assert len({group_key(c) for c in cfgs}) == 1
    rs = assert_group_equivalent(cfgs)
    # each replica charts its own learning rate
    assert rs[0].history[0]["extras"]["lr"] != rs[-1].history[0]["extras"]["lr"]


def test_a_learning_rate_sweep_with_fixed_lambda_and_a_gradient_method():
    cfgs = [_fixed(a, 0, optimizer={"lr": lr}) for a in (0.2, 0.8) for lr in (1e-3, 4e-3)]
    assert_group_equivalent(cfgs)
    grads = [_cfg(seed=s, weighting={"strategy": "pcgrad"}, optimizer={"lr": lr})
             for lr in (1e-3, 4e-3) for s in (0, 1)]
    assert_group_equivalent(grads)


def test_rmsprop_keeps_its_learning_rate_in_the_group_key():
    a = _cfg(optimizer={"kind": "rmsprop", "lr": 1e-3})
    assert group_key(a) != group_key(a.replace(optimizer={"lr": 2e-3}))
