"""Studies in the store: run keys (and their migration), matched baselines and reuse,
start, cancel, resume after a restart of the runner."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from mtae_core import ExperimentConfig
from mtae_core.analysis.baselines import baseline_config
from mtae_core.config import run_key
from mtae_core.runner.jobs import JobRunner, execute
from mtae_core.store.runs import RunStore
from mtae_core.studies import StudySpec, cancel, estimate_seconds, plan, retry, start, summarize

TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def _spec(**kw) -> StudySpec:
    return StudySpec.parse({"name": "t", "base": TINY, **kw})


def _done(store: RunStore, cfg: ExperimentConfig, metrics=None) -> int:
    run_id = store.create_run(cfg)
    store.finish(run_id, "done", test_metrics=metrics or {"digit": {"accuracy": 0.5}}, seconds=1.0)
    return run_id


def _wait(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_runs_get_their_key_and_find_run_skips_failed(store, tiny_cfg):
    a = store.create_run(tiny_cfg)
    assert store.find_run(run_key(tiny_cfg)).id == a  # queued counts: it will be done
    store.finish(a, "failed", "boom")
    assert store.find_run(run_key(tiny_cfg)) is None  # a failed run is trained again
    b = _done(store, tiny_cfg.replace(name="other name"))  # the name is not part of the key
    assert store.find_run(run_key(tiny_cfg)).id == b
    c = store.create_run(tiny_cfg)
    store.request_cancel(c)
    assert store.find_run(run_key(tiny_cfg)).id == b  # newest non-failed, cancelled skipped


def test_an_old_store_is_migrated(tmp_path, tiny_cfg):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:  # the runs table as it was before studies
        c.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                  " status TEXT NOT NULL, config TEXT NOT NULL, owner TEXT, created REAL NOT NULL,"
                  " started REAL, finished REAL, error TEXT, device TEXT, info TEXT,"
                  " progress REAL NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0,"
                  " worker_pid INTEGER, train_seconds REAL, test_metrics TEXT)")
        c.execute("INSERT INTO runs (name, status, config, created) VALUES (?,?,?,?)",
                  ("old", "done", tiny_cfg.to_json(None), 1.0))
        c.execute("INSERT INTO runs (name, status, config, created) VALUES (?,?,?,?)",
                  ("broken", "done", '{"not": "a config"}', 2.0))
    store = RunStore(path)
    assert store.find_run(run_key(tiny_cfg)).name == "old"
    assert store.studies() == []
    RunStore(path)  # opening again is harmless


def test_plan_has_one_matched_baseline_per_distinct_setting_and_seed(store):
    s = _spec(axes={"model.sharing": ["hard", "mmoe"],
                    "weighting.strategy": ["equal", "pcgrad"]}, seeds=2)
    p = plan(s, store)
    cells = [r for r in p if r.role == "cell"]
    bases = [r for r in p if r.role == "baseline"]
    assert len(cells) == 8
    # every cell's baseline is the same single-task model: one per seed
    assert [b.seed for b in bases] == [0, 1]
    for b in bases:
        assert b.config.model.sharing == "single_task" and b.config.seed == b.seed
        assert b.config.training == s.base.training
    # a single-task cell with equal weighting is the baseline itself, so it is not planned twice
    assert len({r.key for r in p}) == len(p)
    # seed by seed, baselines first
    assert [r.seed for r in p] == [0] * 5 + [1] * 5
    assert p[0].role == "baseline"
    # the single-task cell with equal weighting is the baseline itself: not planned twice
    s = _spec(axes={"model.sharing": ["hard", "single_task"]}, seeds=2)
    assert [r.role for r in plan(s, store)] == ["cell"] * 4


def test_the_data_seed_follows_the_run_seed_only_when_asked(store):
    fixed = _spec(axes={"model.sharing": ["hard"]}, seeds=[1, 2])
    assert {p.config.data.seed for p in plan(fixed, store)} == {0}
    assert {(p.config.seed, p.role) for p in plan(fixed, store)} == {
        (1, "cell"), (2, "cell"), (1, "baseline"), (2, "baseline")}
    vary = StudySpec.parse({**fixed.to_dict(), "vary_data_seed": True})
    assert all(p.config.data.seed == p.seed for p in plan(vary, store))
    sid = start(store, vary)
    assert any("each seed draws its own data" in n for n in summarize(store, sid).notes)
    sid = start(store, fixed)
    assert any("the same for every seed" in n for n in summarize(store, sid).notes)


def test_baselines_follow_the_data_options(store):
    s = StudySpec.parse({"base": {**TINY, "data": {"dataset": "synthetic_correlated",
                                                   "options": {"n": 200, "d": 4}}},
                         "axes": {"data.options.correlation": [0.1, 0.9]}, "seeds": 1})
    bases = [r for r in plan(s, store) if r.role == "baseline"]
    assert [b.config.data.options["correlation"] for b in bases] == [0.1, 0.9]


def test_mismatched_stored_baselines_are_never_used_an_identical_one_is(store):
    s = _spec(axes={"model.sharing": ["hard"]}, seeds=1)
    cell = s.cells()[0].config
    base = baseline_config(cell)
    others = [base.replace(training={"epochs": 2}), base.replace(seed=5),
              base.replace(data={"val_fraction": 0.2}), base.replace(optimizer={"lr": 0.01})]
    for o in others:
        _done(store, o)
    planned = plan(s, store)
    assert all(p.reuse is None for p in planned)
    same = _done(store, base.replace(name="someone's own baseline"))
    planned = plan(s, store)
    assert [p.reuse for p in planned if p.role == "baseline"] == [same]
    n_before = len(store.runs())
    sid = start(store, s)
    assert len(store.runs()) == n_before + 1  # only the cell is new: the baseline is reused
    df = store.study_runs(sid)
    row = df[df.role == "baseline"].iloc[0]
    assert row.run_id == same and not row.owned
    assert summarize(store, sid).cells[0].baseline_runs == [same]


def test_start_queues_records_and_reuses_within_the_store(store):
    s = _spec(axes={"model.sharing": ["hard", "soft"]}, seeds=2)
    submitted = []

    def submit(cfg):
        submitted.append(cfg)
        return store.create_run(cfg)

    sid = start(store, s, submit)
    assert len(submitted) == 6  # 2 cells x 2 seeds + 2 baselines
    df = store.study_runs(sid)
    assert list(df.columns) == ["study_id", "run_id", "role", "cell", "seed", "owned"]
    assert len(df) == 6 and df.owned.all()
    assert sorted(df[df.role == "cell"].cell.tolist()) == [0, 0, 1, 1]
    assert all(r.status == "queued" for r in store.runs())
    study = store.get_study(sid)
    assert study.name == "t" and StudySpec.parse(study.spec) == s
    assert [x.id for x in store.studies()] == [sid]
    assert summarize(store, sid).status == "queued"
    # the same study again queues nothing new: every run is already queued
    again = start(store, s)
    assert len(store.runs()) == 6 and not store.study_runs(again).owned.any()
    assert estimate_seconds(s, store) is None
    store.delete_study(again)
    assert store.get_study(again) is None and len(store.runs()) == 6


def test_estimate_learns_from_stored_runs(store, tiny_cfg):
    s = _spec(axes={"training.epochs": [2, 4]}, seeds=1)
    rough = estimate_seconds(s, store, n_workers=1)
    assert rough is not None and rough > 0
    rid = store.create_run(tiny_cfg.replace(training={"epochs": 3}))  # 5 s an epoch on digits
    store.finish(rid, "done", test_metrics={}, seconds=15.0)
    one = estimate_seconds(s, store, n_workers=1)
    # 2 + 4 epochs of cells, 2 + 4 of baselines, at 5 s an epoch
    assert one == pytest.approx(60.0)
    assert estimate_seconds(s, store, n_workers=2) == pytest.approx(30.0)


def test_cancel_stops_own_runs_only(store):
    s = _spec(axes={"model.sharing": ["hard"]}, seeds=2)
    shared = store.create_run(baseline_config(s.cells()[0].config_for(0)))  # someone else's
    sid = start(store, s)
    df = store.study_runs(sid)
    assert shared in set(df.run_id) and not df[df.run_id == shared].owned.iloc[0]
    asked = cancel(store, sid)
    assert shared not in asked and len(asked) == 3
    assert store.get_run(shared).status == "queued"
    for rid in asked:
        assert store.get_run(rid).status == "cancelled"
    summ = summarize(store, sid)
    assert summ.status == "cancelled"
    assert any("cancelled" in w for w in summ.cells[0].words)


def test_a_study_survives_a_restart_and_a_new_worker_finishes_it(store):
    s = _spec(axes={"model.sharing": ["hard", "soft"]}, seeds=1)
    sid = start(store, s)
    # one run is done before the "restart"; the rest are still queued
    first = store.claim_next(os.getpid())
    execute(store, first.id, first.config)
    reopened = RunStore(store.path)  # the app restarts: a new store object, same file
    summ = summarize(reopened, sid)
    assert summ.status == "running" and summ.counts == {"done": 1, "queued": 2}
    # a worker of the new app takes the queued runs (in-process here; see the slow test
    # for real worker processes)
    while (run := reopened.claim_next(os.getpid())) is not None:
        execute(reopened, run.id, run.config)
    summ = summarize(reopened, sid)
    assert summ.status == "done" and [c.n for c in summ.cells] == [1, 1]


def test_retry_queues_failed_and_cancelled_runs_again(store):
    s = _spec(axes={"model.sharing": ["hard"]}, seeds=2)
    sid = start(store, s)
    df = store.study_runs(sid)
    a, b, c, d = (int(i) for i in df.run_id)
    store.finish(a, "done", test_metrics={}, seconds=1.0)
    store.finish(b, "failed", "the app stopped during training")
    store.finish(c, "diverged", "NaN")
    cancel(store, sid)  # d is cancelled with the study
    new = retry(store, sid)
    assert len(new) == 2 and all(store.get_run(i).status == "queued" for i in new)
    ids = set(store.study_runs(sid).run_id)
    assert ids == {a, c, *new}  # done and diverged runs are kept as they are
    assert store.get_run(new[0]).config == store.get_run(b).config
    assert summarize(store, sid).status == "running"  # no longer cancelled
    assert store.study_runs(sid).owned.all()


@pytest.mark.slow
def test_a_study_survives_a_restart_of_the_runner(store):
    s = _spec(axes={"model.sharing": ["hard", "soft"]}, seeds=1)
    sid = start(store, s)
    runner = JobRunner(store, n_workers=1).start()
    try:
        assert _wait(lambda: summarize(store, sid).counts.get("done", 0) >= 1, 120)
    finally:
        runner.stop()  # the app stops: what is queued stays queued
    after = summarize(store, sid).counts
    assert after.get("done", 0) >= 1 and "running" not in after
    assert after.get("done", 0) + after.get("queued", 0) + after.get("failed", 0) == 3
    reopened = RunStore(store.path)
    retry(reopened, sid)  # a run the stop interrupted is queued again
    runner = JobRunner(reopened, n_workers=1).start()
    try:
        assert _wait(lambda: summarize(reopened, sid).status == "done", 120)
    finally:
        runner.stop()
    assert not runner.alive
    assert summarize(reopened, sid).counts == {"done": 3}


def test_identical_cells_share_one_run(store):
    # 1 and 1.0 are two values to the spec, one setting to the config
    s = _spec(axes={"weighting.options.weights": [{"digit": 1}, {"digit": 1.0}]}, seeds=1)
    a, b = s.cells()
    assert a.config == b.config
    sid = start(store, s)
    df = store.study_runs(sid)
    cell_runs = df[df.role == "cell"].run_id.tolist()
    assert cell_runs[0] == cell_runs[1] and len(store.runs()) == 2  # + the baseline
    summ = summarize(store, sid)
    assert summ.counts == {"queued": 2}
    assert summ.cells[0].runs == summ.cells[1].runs
    cancel(store, sid)
    assert summarize(store, sid).status == "cancelled"
