"""Aggregation of a study against hand-computed cases: mean, std, t interval, Δm per seed
against the same-seed baseline, paired test, failed runs left out, best on validation."""

from __future__ import annotations

import math

import pytest

from mtae_core.analysis.baselines import baseline_config
from mtae_core.store.runs import RunStore
from mtae_core.studies import StudySpec, describe, overlap, paired_p, start, summarize
from mtae_core.studies.summary import CellSummary, _mark_best

TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8},
        "data": {"tasks": ["digit", "reconstruction"]}}
T_975_2 = 4.302652729911275  # Student t quantile, 0.975, 2 degrees of freedom (tables)


def test_describe_by_hand():
    d = describe([0.8, 0.9, 1.0])
    assert d["mean"] == pytest.approx(0.9) and d["std"] == pytest.approx(0.1)
    half = T_975_2 * 0.1 / math.sqrt(3)
    assert d["ci95"] == pytest.approx([0.9 - half, 0.9 + half])
    assert d["n"] == 3 and d["values"] == [0.8, 0.9, 1.0]
    one = describe([0.7])
    assert one["mean"] == 0.7 and one["std"] is None and one["ci95"] is None and one["n"] == 1
    assert describe([])["mean"] is None and describe([])["n"] == 0
    assert describe([2.0, 2.0])["ci95"] == [2.0, 2.0]
    assert describe([1.0, float("nan")])["n"] == 1  # a NaN is no measurement


def test_overlap_and_paired_test():
    assert overlap([0, 1], [1, 2]) and not overlap([0, 1], [1.5, 2]) and overlap(None, [0, 1])
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1/sqrt 3) = 3.4641, df 2
    p = paired_p([1.1, 1.2, 1.3], [1.0, 1.0, 1.0])
    assert p == pytest.approx(0.0742, abs=1e-4)
    assert paired_p([1.0], [0.5]) is None and paired_p([1, 2], [1, 2]) is None


def _finish(store: RunStore, run_id: int, status: str, digit: float, mse: float,
            n_params: int = 100, shared: int = 40) -> None:
    store.mark_started(run_id, {"device": "cpu", "n_params": n_params, "n_shared_params": shared})
    if status == "done":
        store.finish(run_id, "done", test_metrics={
            "digit": {"accuracy": digit, "macro_f1": digit / 2, "loss": 1.0},
            "reconstruction": {"mse": mse, "loss": mse}}, seconds=1.0)
    else:
        store.finish(run_id, status, "the loss became NaN")


def test_summary_by_hand(store):
    spec = StudySpec.parse({"name": "hand", "base": TINY, "seeds": 3,
                            "axes": {"model.sharing": ["hard", "single_task"]}})
    sid = start(store, spec)
    df = store.study_runs(sid)

    def rid(role, cell, seed):
        m = df[(df.role == role) & (df.seed == seed)]
        if cell is not None:
            m = m[m.cell == cell]
        return int(m.run_id.iloc[0])

    # baselines (= the single_task cell, cell 1): digit accuracy, reconstruction mse
    base = {0: (0.80, 0.40), 1: (0.90, 0.50), 2: (0.85, 0.20)}
    hard = {0: (0.90, 0.50), 1: (0.90, 0.40), 2: (0.80, 0.20)}
    for seed in range(3):
        _finish(store, rid("cell", 1, seed), "done", *base[seed], n_params=200, shared=0)
        _finish(store, rid("cell", 0, seed), "done", *hard[seed])
    # baselines are the single-task cells themselves: no separate baseline rows
    assert (df.role == "baseline").sum() == 0
    s = summarize(store, sid)
    assert s.status == "done" and s.tasks == ["digit", "reconstruction"]
    assert s.metric_of == {"digit": "accuracy", "reconstruction": "mse"}
    h = s.cells[0]
    assert h.n == 3 and h.n_failed == 0
    acc = h.metrics["digit"]["accuracy"]
    assert acc["mean"] == pytest.approx(13 / 15) and acc["n"] == 3
    assert acc["std"] == pytest.approx(math.sqrt(((0.9 - 13 / 15) ** 2 * 2 + (0.8 - 13 / 15) ** 2) / 2))
    # Δm per seed (percent; mse lower is better):
    #  seed 0: digit +12.5, recon -25   -> -6.25
    #  seed 1: digit 0,     recon +20   -> +10
    #  seed 2: digit -5.882352941, recon 0 -> -2.941176471
    dms = [-6.25, 10.0, (-100 * 0.05 / 0.85) / 2]
    assert h.delta_m["values"] == pytest.approx(dms)
    assert h.delta_m["mean"] == pytest.approx(sum(dms) / 3) and h.delta_m["n"] == 3
    sd = math.sqrt(sum((d - sum(dms) / 3) ** 2 for d in dms) / 2)
    assert h.delta_m["std"] == pytest.approx(sd)
    half = T_975_2 * sd / math.sqrt(3)
    assert h.delta_m["ci95"] == pytest.approx([sum(dms) / 3 - half, sum(dms) / 3 + half])
    assert h.task_deltas["digit"]["mean"] == pytest.approx((12.5 + 0 - 100 * 0.05 / 0.85) / 3)
    assert h.paired["digit"] == pytest.approx(
        __import__("scipy.stats").stats.ttest_rel([0.9, 0.9, 0.8], [0.8, 0.9, 0.85]).pvalue)
    assert h.baseline_runs == [rid("cell", 1, s_) for s_ in range(3)]
    assert h.params == {"total": 100, "shared": 40}
    assert h.words[0].startswith("better than single-task on digit in 1 of 3 seeds")
    assert "within noise" in h.words[0]
    assert h.words[1].startswith("better than single-task on reconstruction in 1 of 3 seeds")
    st = s.cells[1]
    assert st.delta_m["values"] == [0.0, 0.0, 0.0] and st.paired["digit"] is None
    assert st.words == ["this cell is the single-task baseline"]
    t = s.table("digit")
    assert list(t["model.sharing"]) == ["hard", "single_task"]
    assert t.loc[0, "accuracy_mean"] == pytest.approx(13 / 15)
    assert t.loc[0, "accuracy_ci_lo"] == pytest.approx(acc["ci95"][0])
    assert "loss_mean" not in t.columns and "macro_f1_mean" in t.columns
    assert t.loc[1, "params_total"] == 200 and t.loc[0, "params_shared"] == 40
    for col in ("delta_m_mean", "delta_m_std", "delta_m_n", "best", "words", "n_failed"):
        assert col in t.columns
    j = s.to_json()
    assert j["study"] == sid and j["status"] == "done" and len(j["cells"]) == 2
    c0 = j["cells"][0]
    assert c0["settings"] == {"model.sharing": "hard"} and c0["n"] == 3
    assert set(c0["metrics"]["digit"]["accuracy"]) == {"mean", "std", "ci95", "n"}
    assert set(c0["delta_m"]) >= {"mean", "std", "n"}


def test_failed_runs_are_left_out_with_their_count(store):
    spec = StudySpec.parse({"base": TINY, "seeds": 3, "axes": {"model.sharing": ["hard"]}})
    sid = start(store, spec)
    df = store.study_runs(sid)
    cells = df[df.role == "cell"].sort_values("seed").run_id.tolist()
    bases = df[df.role == "baseline"].sort_values("seed").run_id.tolist()
    for b in bases:
        _finish(store, int(b), "done", 0.8, 0.4)
    _finish(store, int(cells[0]), "done", 0.9, 0.4)
    _finish(store, int(cells[1]), "diverged", 0, 0)
    s = summarize(store, sid)
    c = s.cells[0]
    assert c.n == 1 and c.n_failed == 1 and c.metrics["digit"]["accuracy"]["values"] == [0.9]
    assert c.delta_m["values"] == pytest.approx([12.5 / 2]) and c.delta_m["std"] is None
    assert any("1 run failed or diverged and is left out" in w for w in c.words)
    assert any("1 run still to finish" in w for w in c.words)
    assert s.status == "running"
    _finish(store, int(cells[2]), "failed", 0, 0)
    s = summarize(store, sid)
    assert s.status == "failed" and s.cells[0].n_failed == 2
    assert s.baselines == {0: int(bases[0]), 1: int(bases[1]), 2: int(bases[2])}


def test_baseline_matches_on_the_same_seed(store):
    spec = StudySpec.parse({"base": TINY, "seeds": [3, 4], "axes": {"model.sharing": ["hard"]}})
    sid = start(store, spec)
    df = store.study_runs(sid)
    runs = store.runs_by_id(df.run_id.tolist())
    for r in runs.values():
        if r.config.model.sharing == "hard":
            _finish(store, r.id, "done", 0.9, 0.5)
        else:  # seed 3's baseline is much better than seed 4's
            _finish(store, r.id, "done", 0.6 if r.config.seed == 4 else 0.9, 0.5)
    c = summarize(store, sid).cells[0]
    assert c.delta_m["values"] == pytest.approx([0.0, 25.0])  # seeds 3 then 4
    for r in c.runs:
        b = baseline_config(runs[r].config)
        assert b.seed == runs[r].config.seed


def _cell(i, mean, ci):
    stats = {"mean": mean, "std": 0.01, "ci95": ci, "n": 3, "values": []}
    return CellSummary(i, {}, str(i), [], {}, 3, 0, metrics={"digit": {"accuracy": {
        "mean": 1 - mean, "std": 0, "ci95": [0, 0], "n": 3, "values": []}}},
        val_metrics={"digit": {"accuracy": stats}}, delta_m={}, task_deltas={},
        baseline_runs=[], params={}, paired={}, words=[])


def test_best_is_decided_on_validation_with_ties():
    cells = [_cell(0, 0.90, [0.88, 0.92]), _cell(1, 0.80, [0.78, 0.82]), _cell(2, 0.70, [0.6, 0.8])]
    _mark_best(cells, ["digit"], {"digit": "accuracy"})
    # the test means (1 - val) would pick cell 2: validation picks cell 0
    assert [c.best["digit"] for c in cells] == [True, False, False]
    cells = [_cell(0, 0.90, [0.85, 0.95]), _cell(1, 0.88, [0.84, 0.92]), _cell(2, 0.5, [0.4, 0.6])]
    _mark_best(cells, ["digit"], {"digit": "accuracy"})
    assert [c.best["digit"] for c in cells] == ["tie", "tie", False]
    cells = [_cell(0, 0.90, None), _cell(1, 0.2, None)]  # one seed: no interval, no claim
    _mark_best(cells, ["digit"], {"digit": "accuracy"})
    assert [c.best["digit"] for c in cells] == ["tie", "tie"]
    # lower is better for mse
    cells = [_cell(0, 0.5, [0.45, 0.55]), _cell(1, 0.2, [0.15, 0.25])]
    for c in cells:
        c.val_metrics = {"recon": {"mse": c.val_metrics["digit"]["accuracy"]}}
    _mark_best(cells, ["recon"], {"recon": "mse"})
    assert [c.best["recon"] for c in cells] == [False, True]


def test_unknown_study_raises(store):
    with pytest.raises(KeyError, match="no study with id 9"):
        summarize(store, 9)


def test_best_through_the_store_uses_validation_not_test(store):
    spec = StudySpec.parse({"base": TINY, "seeds": 2,
                            "axes": {"optimizer.lr": [0.01, 0.001, 0.0001]}})
    sid = start(store, spec)
    df = store.study_runs(sid)
    # cell 0 best on validation, cell 2 best on test; cell 1 close to cell 0
    val = {0: [0.90, 0.91], 1: [0.895, 0.905], 2: [0.50, 0.52]}
    test = {0: [0.60, 0.61], 1: [0.62, 0.63], 2: [0.99, 0.98]}
    for row in df.itertuples():
        m = {"reconstruction": {"mse": 0.5}}
        if row.role == "baseline":
            store.finish(int(row.run_id), "done", test_metrics={**m, "digit": {"accuracy": 0.5}},
                         val_metrics={**m, "digit": {"accuracy": 0.5}})
            continue
        k = 0 if row.seed == 0 else 1
        store.finish(int(row.run_id), "done",
                     test_metrics={**m, "digit": {"accuracy": test[row.cell][k]}},
                     val_metrics={**m, "digit": {"accuracy": val[row.cell][k]}})
    s = summarize(store, sid)
    assert s.cells[0].val_metrics["digit"]["accuracy"]["mean"] == pytest.approx(0.905)
    assert [c.best["digit"] for c in s.cells] == ["tie", "tie", False]
    t = s.table("digit")
    assert list(t.best) == ["tie", "tie", False]
    assert t.loc[2, "accuracy_mean"] == pytest.approx(0.985)  # best test, never chosen


def test_cells_keep_the_axes_order_they_were_written_in(store):
    # axes not in alphabetical order: each stored cell must be summarised with the settings
    # its runs trained with (reading the spec back sorted once swapped the labels)
    spec = StudySpec.parse({"name": "order", "base": TINY, "seeds": 1,
                            "axes": {"model.sharing": ["hard", "mmoe"],
                                     "model.latent_dim": [2, 8]}})
    sid = start(store, spec)
    s = summarize(store, sid)
    assert len(s.cells) == 4
    for cell in s.cells:
        (run_id,) = cell.runs
        cfg = store.get_run(run_id).config
        assert cell.settings == {"model.sharing": cfg.model.sharing,
                                 "model.latent_dim": cfg.model.latent_dim}
