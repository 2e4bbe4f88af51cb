"""Seeds trained as one batched model (``mtae_core.engine.replicas``) equal the same seeds
trained alone, replica by replica; a replica that diverges or stops early ends alone."""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from mtae_core import ExperimentConfig, models
from mtae_core.data import load
from mtae_core.engine import training
from mtae_core.engine.replicas import NotBatchable, batch_reason, group_key, train_replicas
from mtae_core.weighting import weightings

SEEDS = (0, 1, 2)
ATOL = 1e-4  # float tolerance: batched kernels sum in another order than per-run ones


def _cfg(**over: Any) -> ExperimentConfig:
    # small and quick: few samples, tiny layers, 3 epochs of 3 steps
    base = ExperimentConfig().replace(
        name="replicas", data={"dataset": "synthetic_correlated", "options": {"n": 240}},
        training={"epochs": 3, "batch_size": 48, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
    return base.replace(**over) if over else base


def _seeds(cfg: ExperimentConfig, seeds: tuple[int, ...] = SEEDS) -> list[ExperimentConfig]:
    return [cfg.replace(seed=s) for s in seeds]


def _values(result: training.TrainResult) -> list[float]:
    return [v for h in result.history for (_, _, _, v) in h["rows"]]


def _close(a: Any, b: Any) -> bool:
    """Nested lists / dicts of floats equal to ``ATOL``."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= ATOL * max(1.0, abs(b))
    return bool(a == b)


def assert_equivalent(cfg: ExperimentConfig, seeds: tuple[int, ...] = SEEDS) -> list[training.TrainResult]:
    cfgs = _seeds(cfg, seeds)
    data = load(cfg.data)
    together = train_replicas(cfgs, data)
    for c, r in zip(cfgs, together, strict=True):
        alone = training.train(c, data)
        assert r.status == alone.status, (c.seed, r.reason, alone.reason)
        assert r.reason == alone.reason
        assert [h["epoch"] for h in r.history] == [h["epoch"] for h in alone.history]
        assert [row[:3] for h in r.history for row in h["rows"]] == \
            [row[:3] for h in alone.history for row in h["rows"]]
        assert _close(_values(r), _values(alone)), c.seed
        assert _close([h["extras"] for h in r.history], [h["extras"] for h in alone.history])
        assert _close(r.test_metrics, alone.test_metrics)
        assert _close(r.val_metrics, alone.val_metrics)
        assert r.kept_epoch == alone.kept_epoch
    return together


@pytest.mark.parametrize("sharing", models.sharing.names())
def test_every_sharing_scheme_matches_its_seeds_trained_alone(sharing):
    assert_equivalent(_cfg(model={"sharing": sharing}))


@pytest.mark.parametrize("variant", [v for v in models.autoencoders.names()
                                     if not models.autoencoders.get(v).needs_input_grad])
def test_every_autoencoder_variant_matches_its_seeds_trained_alone(variant):
    # the noise of denoising and variational is drawn per replica as the single run draws it
    assert_equivalent(_cfg(model={"autoencoder": variant}))


def test_dropout_and_batch_norm_match_their_seeds_trained_alone():
    # SGD, not Adam: a bias before batch norm has a zero gradient in exact arithmetic, and
    # Adam scales its rounding noise up to full steps, so batched and per-run kernels (which
    # round differently) would part there by chance, not by a difference in training
    assert_equivalent(_cfg(model={"dropout": 0.3, "batch_norm": True, "sharing": "mmoe"},
                           optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9}))


def _plan(cfg: ExperimentConfig) -> Any:
    from mtae_core.engine.replica_stack import make_stack

    data = load(cfg.data)
    runs = [training.setup_run(c, data, training.build(c, data)[1], torch.device("cpu"))
            for c in _seeds(cfg, (0, 1))]
    return make_stack(runs, data.test).plan


def test_the_default_model_runs_without_vmap_and_others_with_it():
    # the explicit batched matmuls serve hard sharing (any depth), the single-task
    # baselines and MMoE with a plain autoencoder and no dropout or batch norm; the rest
    # uses vmap (the every-scheme test above compares both kinds with runs alone)
    for sharing in ("hard", "single_task", "mmoe"):
        assert _plan(_cfg(model={"sharing": sharing})) is not None, sharing
    for sharing in ("soft", "cross_stitch", "cgc", "ple"):
        assert _plan(_cfg(model={"sharing": sharing})) is None, sharing
    assert _plan(_cfg(model={"sharing": "mmoe", "dropout": 0.2})) is None
    assert _plan(_cfg(model={"dropout": 0.2})) is None
    assert _plan(_cfg(model={"batch_norm": True})) is None
    assert _plan(_cfg(model={"autoencoder": "variational"})) is None


@pytest.mark.parametrize("depth", [0, 1])
def test_the_explicit_path_matches_alone_at_every_shared_depth(depth):
    # depth 0: per-task encoders only (no gradient cosines); 1: a shared layer, then theirs
    cfg = _cfg(model={"hidden": [16, 8], "options": {"sharing": {"shared_depth": depth}}})
    plan = _plan(cfg)
    assert plan is not None and plan.encoders is not None
    assert (plan.encoder is not None) == (depth > 0)
    assert_equivalent(cfg)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_the_explicit_path_matches_alone_with_every_activation(activation):
    # relu is the default every other test trains (hard sharing runs the explicit path)
    cfg = _cfg(model={"activation": activation, "hidden": [16, 8]})
    assert _plan(cfg) is not None
    assert_equivalent(cfg)


LOSS_BASED = [w for w in weightings.names() if not weightings.get(w).needs_task_grads
              and batch_reason(_cfg(weighting={"strategy": w})) is None]


@pytest.mark.parametrize("strategy", LOSS_BASED)
def test_every_loss_based_weighting_matches_its_seeds_trained_alone(strategy):
    assert_equivalent(_cfg(weighting={"strategy": strategy}))


def test_loss_based_and_gradient_weightings_are_batched_but_gradnorm_is_not():
    # gradient methods over replicas: tests/unit/test_replicas_grads.py
    assert {"equal", "uncertainty", "dwa", "rlw", "famo"} <= set(LOSS_BASED)
    for w in ("mgda", "pcgrad", "cagrad"):
        assert batch_reason(_cfg(weighting={"strategy": w})) is None
    reason = batch_reason(_cfg(weighting={"strategy": "gradnorm"}))
    assert reason is not None and "gradnorm" in reason
    assert "contractive" in (batch_reason(_cfg(model={"autoencoder": "contractive"})) or "")
    with pytest.raises(NotBatchable, match="gradients"):
        train_replicas(_seeds(_cfg(weighting={"strategy": "gradnorm"})))


def test_schedule_optimizer_penalties_and_lr_schedule_match_alone():
    assert_equivalent(_cfg(schedule={"kind": "adaptive"},
                           optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9, "l1": 1e-4,
                                      "l2": 1e-3, "lr_schedule": "step", "step_size": 1}))


def test_per_replica_clipping_matches_alone():
    # SGD, where clipping changes every step (Adam would mostly undo the scale)
    clipped = _cfg(optimizer={"kind": "sgd", "lr": 0.2, "clip_norm": 0.05})
    rs = assert_equivalent(clipped)
    free = train_replicas(_seeds(clipped.replace(optimizer={"clip_norm": None})))
    assert not _close(_values(rs[0]), _values(free[0]))  # the clip was active


def test_clipping_scales_each_replica_by_its_own_norm():
    from mtae_core.engine.replica_stack import clip as _clip

    ms = [training.build(c)[1] for c in _seeds(_cfg(), (0, 1))]
    log_vars = [torch.nn.Parameter(torch.zeros(2)) for _ in ms]  # a strategy's parameters
    for k, m in enumerate(ms):
        scale = (1e-5, 10.0)[k]  # replica 0: norm below the max (kept), replica 1: above
        for p in m.parameters():
            p.grad = scale * (1 + torch.arange(p.numel()).reshape(p.shape) % 3).float()
        log_vars[k].grad = torch.full((2,), scale)
    flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in ms])
    flat.grad = torch.stack([torch.cat([p.grad.reshape(-1) for p in m.parameters()]) for m in ms])
    own = [[torch.nn.Parameter(v.detach().clone())] for v in log_vars]
    for o, v in zip(own, log_vars, strict=True):
        o[0].grad = v.grad.clone()
    before = flat.grad.clone()
    _clip(SimpleNamespace(flat=flat, strategy_params=own), 1.0)
    assert torch.equal(flat.grad[0], before[0])  # below the max norm: kept
    assert not torch.equal(flat.grad[1], before[1])
    for k, m in enumerate(ms):  # what clip_grad_norm_ does to each replica alone
        torch.nn.utils.clip_grad_norm_([*m.parameters(), log_vars[k]], 1.0)
        alone = torch.cat([p.grad.reshape(-1) for p in m.parameters()])
        torch.testing.assert_close(flat.grad[k], alone)
        torch.testing.assert_close(own[k][0].grad, log_vars[k].grad)


def test_early_stopping_freezes_a_replica_alone():
    # patience 1 over 8 epochs with a large step: some seeds stop early, some do not
    cfg = _cfg(training={"epochs": 8, "early_stopping": 1}, optimizer={"lr": 0.05})
    rs = assert_equivalent(cfg, (0, 1, 2, 3))
    assert any(r.kept_epoch is not None and r.kept_epoch < r.epochs_run - 1 for r in rs)


def test_a_replica_that_diverges_ends_alone_and_the_others_train_on():
    # at this learning rate some seeds diverge alone and others do not (checked below)
    cfg = _cfg(optimizer={"kind": "sgd", "lr": 1.0}, training={"epochs": 4})
    seeds = (0, 1, 2, 3, 4, 5)
    alone = [training.train(c) for c in _seeds(cfg, seeds)]
    statuses = [r.status for r in alone]
    assert "diverged" in statuses and "done" in statuses, statuses
    heard: list[int] = []
    together = train_replicas(_seeds(cfg, seeds), on_result=lambda k, r: heard.append(k))
    assert [r.status for r in together] == statuses
    for a, b in zip(alone, together, strict=True):
        assert b.diverged_epoch == a.diverged_epoch
        if a.status == "done":
            assert _close(a.test_metrics, b.test_metrics)
            assert b.epochs_run == a.epochs_run
        else:
            assert b.test_metrics == {} and "NaN or infinite" in (b.reason or "")
    assert sorted(heard) == list(range(len(seeds)))
    # a diverged replica is reported when it diverges, before the others end
    first_done = min(heard.index(i) for i, s in enumerate(statuses) if s == "done")
    assert any(heard.index(i) < first_done for i, s in enumerate(statuses) if s == "diverged")


def test_group_key_ignores_only_the_seed_and_name():
    cfg = _cfg()
    assert group_key(cfg) == group_key(cfg.replace(seed=7, name="other"))
    assert group_key(cfg) != group_key(cfg.replace(training={"epochs": 4}))
    with pytest.raises(ValueError, match="only in their seed"):
        train_replicas([cfg, cfg.replace(training={"epochs": 4})])


def test_cancel_stops_every_replica():
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    rs = train_replicas(_seeds(_cfg(training={"epochs": 5})), should_stop=stop, poll_seconds=0.0)
    assert [r.status for r in rs] == ["cancelled"] * len(SEEDS)
    assert all(r.epochs_run < 5 for r in rs)


# ---- the store and studies: a cell's seeds are claimed and trained together --------------

STUDY_BASE = {"data": {"dataset": "synthetic_correlated", "options": {"n": 240}},
              "training": {"epochs": 2, "batch_size": 48, "device": "cpu"},
              "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def _study(store, **kw) -> int:
    from mtae_core.studies import StudySpec, start

    spec = StudySpec.parse({"name": "seeds", "base": STUDY_BASE, "seeds": [0, 1, 2],
                            "axes": {"weighting.strategy": ["equal", "gradnorm"]}, **kw})
    return start(store, spec)


def _serve(store) -> list[list[int]]:
    """Train every queued run here as a worker does; the groups it claimed."""
    import os

    from mtae_core.runner.jobs import execute_group

    claimed = []
    while runs := store.claim_group(os.getpid()):
        claimed.append([r.id for r in runs])
        execute_group(store, runs)
    return claimed


@pytest.mark.slow
def test_a_study_cell_s_seeds_are_claimed_and_trained_together(store):
    study_id = _study(store)
    claimed = _serve(store)
    df = store.study_runs(study_id)
    runs = store.runs_by_id([int(i) for i in df.run_id.unique()])
    assert all(r.status == "done" for r in runs.values())
    by_cell = {}
    for row in df.itertuples():
        by_cell.setdefault((row.role, row.cell), set()).add(int(row.run_id))
    equal_cell = next(ids for (role, cell), ids in by_cell.items()
                      if role == "cell" and runs[next(iter(ids))].config.weighting.strategy == "equal")
    gradnorm_cell = next(ids for (role, cell), ids in by_cell.items()
                     if role == "cell" and runs[next(iter(ids))].config.weighting.strategy == "gradnorm")
    # the equal cell's three seeds: one claim, trained together, one run per seed
    assert sorted(equal_cell) in [sorted(c) for c in claimed]
    assert sorted(runs[i].config.seed for i in equal_cell) == [0, 1, 2]
    for i in equal_cell:
        assert runs[i].info["seeds_path"] == "together" and runs[i].info["seeds_together"] == 3
        assert store.load_weights(i) is not None
    curves = [store.metrics(i).query("split == 'train'").value.tolist() for i in sorted(equal_cell)]
    assert len({tuple(c) for c in curves}) == 3 and all(len(c) == 4 for c in curves)  # 2 tasks x 2 epochs
    # GradNorm takes its own gradient steps on its weights: separate runs, with the reason
    for i in gradnorm_cell:
        assert [i] in claimed
        assert runs[i].info["seeds_path"] == "separately"
        assert "gradnorm" in runs[i].info["seeds_reason"]


@pytest.mark.slow
def test_a_study_gives_the_same_summary_batched_as_with_separate_runs(tmp_path):
    from mtae_core.store.runs import RunStore
    from mtae_core.studies import summarize

    together, apart = RunStore(tmp_path / "a.db"), RunStore(tmp_path / "b.db")
    a, b = _study(together), _study(apart, separate_seeds=True)
    assert max(len(c) for c in _serve(together)) == 3
    assert max(len(c) for c in _serve(apart)) == 1  # no groups: one run per claim
    sa, sb = summarize(together, a).to_json(), summarize(apart, b).to_json()
    for ca, cb in zip(sa["cells"], sb["cells"], strict=True):
        assert ca["settings"] == cb["settings"] and ca["n"] == cb["n"] == 3
        assert _close(ca["metrics"], cb["metrics"]) and _close(ca["delta_m"], cb["delta_m"])
    df = apart.study_runs(b)
    infos = [r.info for r in apart.runs_by_id([int(i) for i in df.run_id]).values()]
    assert all(i["seeds_path"] == "separately" and "separate" in i["seeds_reason"] for i in infos)


def test_claim_group_takes_only_the_queued_runs_of_the_oldest_run_s_group(store):
    cfg = _cfg()
    ids = store.create_runs([cfg.replace(seed=s) for s in range(4)] + [cfg.replace(seed=9)],
                            groups=["g", "g", "h", "g", None])
    store.request_cancel(ids[1])  # cancelled while queued: not claimed
    first = store.claim_group(1)
    assert [r.id for r in first] == [ids[0], ids[3]]
    assert all(store.get_run(i).status == "running" for i in (ids[0], ids[3]))
    assert [r.id for r in store.claim_group(1)] == [ids[2]]
    assert [r.id for r in store.claim_group(1)] == [ids[4]]
    assert store.claim_group(1) == []


def test_claim_group_among_given_runs_takes_only_those(store):
    """A lesson trained in its own process claims only its study's runs: an older queued
    run of someone else's, and the group's runs outside the study, stay queued."""
    cfg = _cfg()
    other = store.create_run(cfg.replace(seed=7))  # older, not the lesson's
    ids = store.create_runs([cfg.replace(seed=s) for s in range(3)] + [cfg.replace(seed=5)],
                            groups=["g", "g", "g", None])
    mine = [ids[0], ids[2], ids[3]]  # ids[1] is in the group but not among them
    assert [r.id for r in store.claim_group(1, among=mine)] == [ids[0], ids[2]]
    assert [r.id for r in store.claim_group(1, among=mine)] == [ids[3]]
    assert store.claim_group(1, among=mine) == []
    assert store.get_run(other).status == "queued" and store.get_run(ids[1]).status == "queued"


def test_cancelling_one_run_of_a_group_stops_that_replica_only(store):

    from mtae_core.runner.jobs import StoreSink

    cfgs = _seeds(_cfg(training={"epochs": 8}))
    ids = store.create_runs(cfgs, groups=["g"] * len(cfgs))
    runs = store.claim_group(1)
    store.request_cancel(ids[1])  # before training starts: replica 1 stops at its first poll
    results = train_replicas(cfgs, sinks=[StoreSink(store, i) for i in ids],
                             stop_replica=lambda k: store.cancel_requested(ids[k]),
                             poll_seconds=0.0)
    assert [r.status for r in results] == ["done", "cancelled", "done"]
    assert results[1].epochs_run == 0 and results[0].epochs_run == 8
    assert len(runs) == 3


def test_only_a_strategy_that_draws_gets_the_replica_s_generator():
    from mtae_core.engine.replica_stack import strategy_draws as _strategy_draws

    data = load(_cfg().data)
    run = {}
    for w in ("rlw", "equal", "famo"):
        cfg = _cfg(weighting={"strategy": w})
        _, model = training.build(cfg, data)
        run[w] = training.setup_run(cfg, data, model, torch.device("cpu"))
    assert _strategy_draws(run["rlw"])
    assert not _strategy_draws(run["equal"]) and not _strategy_draws(run["famo"])
    assert run["famo"].strategy.prev is None  # the probe used a copy


def test_a_group_that_fails_its_preflight_records_every_run_failed(store):
    import os

    from mtae_core.runner.jobs import execute_group

    cfg = _cfg(training={"batch_size": 5000})  # larger than the training split
    store.create_runs(_seeds(cfg), groups=["g"] * len(SEEDS))
    runs = store.claim_group(os.getpid())
    assert len(runs) == len(SEEDS)
    execute_group(store, runs)
    for r in runs:
        after = store.get_run(r.id)
        assert after.status == "failed" and "batch" in (after.error or "").lower(), after.error


def test_a_resumed_study_queues_a_cell_s_seeds_together_again(store):
    import os

    from mtae_core.studies import cancel, retry

    study_id = _study(store)
    cancel(store, study_id)  # every run was still queued: all cancelled
    again = retry(store, study_id)
    assert len(again) == 9  # 3 baselines, 3 equal, 3 gradnorm
    sizes = []
    while runs := store.claim_group(os.getpid()):
        sizes.append(len(runs))
        for r in runs:
            store.finish(r.id, "cancelled")
    assert sorted(sizes) == [1, 1, 1, 3, 3]  # gradnorm's seeds apart, the others together


def test_seed_groups_are_split_when_there_are_fewer_groups_than_workers_can_share() -> None:
    from mtae_core.studies.planning import SHARED_OUT, chunks_per_group, seed_groups

    # 3 groups on 2 workers: halves (1.5 group-times, not 2); 2 groups: whole; 1 worker: whole
    assert chunks_per_group(3, 4, 2) == 2
    assert chunks_per_group(2, 4, 2) == 1
    assert chunks_per_group(3, 4, 1) == 1
    assert chunks_per_group(1, 3, 2) == 2
    base = ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"})
    cfgs = [base.replace(seed=s, model={"sharing": sh})
            for sh in ("hard", "mmoe", "single_task") for s in range(4)]
    groups, _ = seed_groups(cfgs, workers=2)
    assert len(set(groups)) == 6 and Counter(groups).most_common()[-1][1] == 2
    # each chunk holds one configuration's seeds only
    for g in set(groups):
        assert len({c.model.sharing for c, h in zip(cfgs, groups, strict=True) if h == g}) == 1
    whole, _ = seed_groups(cfgs, workers=1)
    assert len(set(whole)) == 3
    # two seeds per cell on 2 workers: each seed its own chunk, and the page is told why
    pairs = [c for c in cfgs if c.seed < 2]
    groups, infos = seed_groups(pairs, workers=2)
    assert groups == [None] * 6
    assert {i["seeds_reason"] for i in infos if i} == {SHARED_OUT} and all(infos)
