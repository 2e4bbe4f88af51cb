from __future__ import annotations

import json
import math

import pytest
import torch

from mtae_core import ConfigError, ExperimentConfig
from mtae_core.engine import training
from mtae_core.engine.metrics import task_loss
from mtae_core.engine.training import NullSink, build, preflight, resolve_device, train


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
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")


# ---- bad settings and divergence end as plain outcomes (issue 14.5, 14.7, 14.10) ---------

def test_non_finite_validation_loss_ends_the_run_diverged_with_epoch_and_task(tiny_cfg):
    data, model = build(tiny_cfg)
    data.val.x[0, 0] = float("nan")  # the training data stay finite
    seen = []

    class Sink(NullSink):
        def epoch(self, epoch, rows, extras):
            seen.append((epoch, rows, extras))

    r = train(tiny_cfg, data, model, sink=Sink())
    assert r.status == "diverged" and r.epochs_run == 0 and r.test_metrics == {}
    assert "validation loss of task 'digit'" in r.reason and "epoch 1" in r.reason
    assert r.info == {"diverged_epoch": 0, "diverged_task": "digit"}
    # the epoch trained with finite losses: its train losses are kept, marked as diverged
    [(epoch, rows, extras)] = seen
    assert epoch == 0 and extras["diverged"] and extras["diverged_task"] == "digit"
    train_rows = [v for s, _, _, v in rows if s == "train"]
    assert len(train_rows) == 3 and all(math.isfinite(v) for v in train_rows)


def test_a_diverged_run_keeps_its_finished_epochs_and_says_where(tiny_cfg):
    # seeded: this setup finishes an epoch, then diverges a few steps into the next
    cfg = tiny_cfg.replace(optimizer={"kind": "sgd", "lr": 1.0, "momentum": 0.9},
                           training={"epochs": 30, "batch_size": 16})
    seen = []

    class Sink(NullSink):
        def epoch(self, epoch, rows, extras):
            seen.append((epoch, rows, extras))

    r = train(cfg, sink=Sink(), poll_seconds=0.0)  # poll at every step
    assert r.status == "diverged" and 1 <= r.epochs_run < 30
    assert r.diverged_epoch == r.epochs_run  # the first epoch not finished
    assert f"epoch {r.diverged_epoch + 1}, step" in r.reason
    assert f"'{r.diverged_task}'" in r.reason and r.diverged_task in cfg.data.tasks
    assert r.info == {"diverged_epoch": r.diverged_epoch, "diverged_task": r.diverged_task}
    assert [e for e, _, x in seen if not x.get("diverged")] == list(range(r.epochs_run))
    # the steps before the divergence are kept as the diverged epoch's train losses
    [(epoch, rows, extras)] = [s for s in seen if s[2].get("diverged")]
    assert epoch == r.diverged_epoch and extras["diverged_task"] == r.diverged_task
    assert {t for s, t, _, _ in rows if s == "train"} == set(cfg.data.tasks)
    assert all(math.isfinite(v) for *_, v in rows)


def test_batch_size_larger_than_the_training_set_fails_before_training(tiny_cfg):
    cfg = tiny_cfg.replace(training={"batch_size": 5000})
    with pytest.raises(ConfigError) as e:
        preflight(cfg)
    assert e.value.by_field["training.batch_size"] == (
        "Batch size 5,000 is larger than the 1,168 training samples of digits; choose at most 1,168")
    r = train(cfg)
    assert r.status == "failed" and r.reason.startswith("Batch size 5,000 is larger")
    assert r.epochs_run == 0 and r.history == []


def test_an_empty_split_is_explained_before_training(tiny_cfg):
    cfg = tiny_cfg.replace(data={"dataset": "synthetic_correlated", "options": {"n": 100},
                                 "test_fraction": 0.001, "val_fraction": 0.004},
                           training={"batch_size": 16})
    with pytest.raises(ConfigError) as e:
        preflight(cfg)
    assert set(e.value.by_field) == {"data.test_fraction", "data.val_fraction"}
    assert "leaves no test samples of the 100 in synthetic_correlated" in e.value.by_field[
        "data.test_fraction"]
    assert train(cfg).status == "failed"


def test_batch_norm_with_batches_of_one_is_refused_before_training(tiny_cfg):
    cfg = tiny_cfg.replace(model={"batch_norm": True}, training={"batch_size": 1})
    with pytest.raises(ConfigError) as e:
        preflight(cfg)
    assert e.value.by_field == {
        "training.batch_size": "Batch size must be at least 2 when batch normalisation is on"}
    r = train(cfg)
    assert r.status == "failed" and r.reason.startswith("Batch size must be at least 2")
    preflight(cfg.replace(model={"batch_norm": False}))  # without it, one sample is fine


def test_batch_norm_trains_when_the_last_batch_would_hold_one_sample(tiny_cfg):
    # 65 training samples in batches of 4: the remainder of 1 joins the last batch
    cfg = tiny_cfg.replace(data={"dataset": "synthetic_correlated", "options": {"n": 100}},
                           model={"batch_norm": True}, training={"batch_size": 4, "epochs": 1})
    data, _ = build(cfg)
    assert len(data.train) % 4 == 1
    r = train(cfg)
    assert r.status == "done", r.reason


def test_cuda_without_a_gpu_fails_with_a_plain_reason(tiny_cfg):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    r = train(tiny_cfg.replace(training={"device": "cuda"}))
    assert r.status == "failed"
    assert r.reason == "this machine has no CUDA GPU; choose device auto or cpu"


def test_validation_metrics_come_from_the_kept_model(tiny_cfg):
    r = train(tiny_cfg)
    assert r.status == "done" and r.kept_epoch == 1 and r.info == {"kept_epoch": 1}
    assert set(r.val_metrics) == set(r.test_metrics)
    for task, ms in r.test_metrics.items():
        assert set(r.val_metrics[task]) == set(ms)
    data, _ = build(tiny_cfg)
    from mtae_core.engine.metrics import majority_classes

    majority = majority_classes(data.tasks, data.train.y)  # the baseline guess, from train
    assert r.val_metrics == training.test_report(r.model, data.val, data.tasks, majority)
    assert r.val_metrics != r.test_metrics


def test_early_stopping_keeps_the_best_validation_epoch_and_reports_it(tiny_cfg):
    cfg = tiny_cfg.replace(optimizer={"lr": 0.05}, training={"epochs": 25, "early_stopping": 2})
    r = train(cfg)
    val = {h["epoch"]: sum(v for s, _, _, v in h["rows"] if s == "val") for h in r.history}
    assert r.kept_epoch == min(val, key=val.get) < r.epochs_run - 1  # not the last epoch
    data, _ = build(cfg)
    from mtae_core.engine.metrics import majority_classes

    majority = majority_classes(data.tasks, data.train.y)  # the baseline guess, from train
    assert r.val_metrics == training.test_report(r.model, data.val, data.tasks, majority)
    # the kept model's mean validation loss is the best epoch's
    losses = [m["loss"] for m in r.val_metrics.values()]
    assert sum(losses) == pytest.approx(val[r.kept_epoch], rel=1e-4)


# ---- what a finished run stores (issue 9.c, 14.7) ------------------------------------------

def test_a_stored_run_keeps_validation_metrics_and_the_kept_epoch(store, tiny_cfg):
    from mtae_core.runner.jobs import execute

    run_id = store.create_run(tiny_cfg)
    result = execute(store, run_id, tiny_cfg)
    run = store.get_run(run_id)
    assert run.status == "done"
    assert run.val_metrics == result.val_metrics and run.test_metrics == result.test_metrics
    assert set(run.val_metrics) == set(tiny_cfg.data.tasks)
    assert run.info["kept_epoch"] == 1 and run.info["device"] == "cpu"  # merged, not replaced


def test_a_stored_diverged_run_says_where_it_diverged(store, tiny_cfg):
    from mtae_core.runner.jobs import execute

    cfg = tiny_cfg.replace(optimizer={"kind": "sgd", "lr": 10.0, "momentum": 0.99},
                           training={"epochs": 30})
    run_id = store.create_run(cfg)
    result = execute(store, run_id, cfg)
    run = store.get_run(run_id)
    assert run.status == "diverged" and run.val_metrics == {}
    assert run.info["diverged_epoch"] == result.diverged_epoch
    assert run.info["diverged_task"] == result.diverged_task in run.error


def test_a_store_made_before_val_metrics_gains_the_column(tmp_path, tiny_cfg):
    import sqlite3

    from mtae_core.store.runs import RunStore

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:  # the runs table as the first release made it
        c.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                  " status TEXT NOT NULL, config TEXT NOT NULL, owner TEXT, created REAL NOT NULL,"
                  " started REAL, finished REAL, error TEXT, device TEXT, info TEXT,"
                  " progress REAL NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0,"
                  " worker_pid INTEGER, train_seconds REAL, test_metrics TEXT)")
        c.execute("INSERT INTO runs (name, status, config, created, test_metrics) VALUES"
                  " ('old', 'done', ?, 0, '{}')", (tiny_cfg.to_json(),))
    store = RunStore(path)
    [old] = store.runs()
    assert old.name == "old" and old.val_metrics == {}
    store.finish(old.id, "done", val_metrics={"digit": {"accuracy": 0.5}})
    assert store.get_run(old.id).val_metrics == {"digit": {"accuracy": 0.5}}
    RunStore(path)  # opening it again changes nothing


def test_a_run_stored_before_the_data_seed_keeps_the_data_it_trained_on(store, tiny_cfg):
    # before data.seed existed, the run's seed drew the data and the split
    old = tiny_cfg.replace(seed=3).to_dict()
    del old["data"]["seed"]
    with store._tx() as c:
        c.execute("INSERT INTO runs (name, status, config, created) VALUES ('old', 'done', ?, 0)",
                  (json.dumps(old),))
    [run] = store.runs()
    assert run.config.seed == 3 and run.config.data.seed == 3
    assert ExperimentConfig.parse(old).data.seed == 0  # a new partial config: the default
