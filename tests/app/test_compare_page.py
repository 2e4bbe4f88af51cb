"""The Compare page through Streamlit's AppTest: the runs table, the comparison table
and its CSV, Δm against the single-task baseline (which one, said and checked), the
gains per task, highlighting on validation, deleting runs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from page_helpers import (
    array,
    button,
    comparison,
    figures,
    finished,
    open_page,
    runs_frame,
    select_runs,
    texts,
)

from mtae_core.config import ExperimentConfig
from mtae_core.engine.metrics import delta_m
from mtae_core.store.runs import RunStore
from ui.compare.tables import DELTA_M, comparison_table, higher_is_better

DIGIT_METRICS = ["digit · accuracy", "parity · accuracy", "reconstruction · mse"]


# ---- Compare ------------------------------------------------------------------------------


def test_compare_runs_table_lists_every_run(app, filled):
    at = open_page(app(), "pages/compare.py")
    table = runs_frame(at).value
    assert sorted(table["id"]) == sorted(filled.ids.values())
    assert dict(zip(table["id"], table["status"], strict=True))[filled.ids["queued"]] == "queued"
    for col in [*DIGIT_METRICS, "task1 · r2"]:
        assert col in table.columns
    # each task's test metrics right after the name and status, before the settings
    order = list(runs_frame(at).proto.column_order)
    assert order[:3] == ["id", "name", "status"]
    assert set(DIGIT_METRICS) <= set(order[3:3 + len([c for c in order if " · " in c])])
    # on arrival the three newest finished runs are selected and compared
    newest_done = sorted((filled.ids[n] for n in filled.done), reverse=True)[:3]
    assert sorted(int(i.split()[0][1:]) for i in comparison(at).index) == sorted(newest_done)


def test_compare_selected_runs_table_and_csv(app, filled):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, ["hard", "single", "synth"])
    table = comparison(at)
    assert len(table) == 3
    assert {i.split(" ", 1)[1] for i in table.index} == {"hard", "single", "synth"}
    for col in [*DIGIT_METRICS, "task1 · mse", "task1 · r2", "task2 · r2", DELTA_M]:
        assert col in table.columns, list(table.columns)
    synth = table.loc[f"#{filled.ids['synth']} synth"]
    assert math.isnan(synth["digit · accuracy"]) and not math.isnan(synth["task1 · r2"])
    assert "Download table (CSV)" in [d.label for d in at.get("download_button")]
    # one loss-curve chart per task of the chosen runs
    titles = " ".join(str(f["layout"].get("title", {}).get("text", "")) for f in figures(at))
    for task in ["digit", "parity", "reconstruction", "task1", "task2"]:
        assert task in titles, titles


def test_compare_delta_m_against_single_task_baseline(app, filled):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, ["hard", "single"])
    table = comparison(at)
    hard = table.loc[f"#{filled.ids['hard']} hard"]
    single = table.loc[f"#{filled.ids['single']} single"]
    assert math.isnan(single[DELTA_M])  # the baseline has no Δm against itself
    cols = ["digit · accuracy", "parity · auc", "reconstruction · mse"]  # headlines: binary AUC
    expected = delta_m({c: hard[c] for c in cols}, {c: single[c] for c in cols},
                       {c: higher_is_better(c) for c in cols})
    assert hard[DELTA_M] == pytest.approx(expected, rel=1e-6)

    # the baseline need not be selected: Δm looks for it among all runs
    at = select_runs(at, filled, ["mmoe"])
    assert not math.isnan(comparison(at).iloc[0][DELTA_M])


def test_compare_no_delta_m_without_baseline(app, filled):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, ["synth"])
    assert DELTA_M not in comparison(at).columns  # no single-task run on that data set


def test_comparison_table_of_store(filled):
    """The same table the page draws, straight from ``ui.compare.tables``: Δm for every finished
    multi-task digits run, none for the baseline, the diverged run or other data."""
    runs = RunStore(filled.path).runs_table()
    table = comparison_table(runs, runs)
    dm = dict(zip(runs["name"], table[DELTA_M], strict=True))
    for name in ["hard", "mmoe", "cross", "soft", "pcgrad", "uncert"]:
        assert math.isfinite(dm[name]), name
    for name in ["single", "synth", "diverge", "failed", "queued"]:
        assert math.isnan(dm[name]), name
    csv = table.to_csv()
    assert csv.splitlines()[0].split(",")[0] == "run" and DELTA_M in csv.splitlines()[0]
    assert len(csv.splitlines()) == len(runs) + 1


def test_compare_shows_which_tasks_gain_or_lose_from_sharing(app, filled):
    from mtae_core.analysis.comparison import task_delta_frame

    at = open_page(app(), "pages/compare.py")
    at = select_runs(at, filled, ["hard"])
    spec = next(f for f in figures(at)
                if "Change per task" in str(f["layout"].get("title", {}).get("text")))
    runs = RunStore(filled.path).runs_table()
    expected = task_delta_frame(runs[runs["id"] == filled.ids["hard"]], runs)
    assert len(expected) == 3  # digit, parity, reconstruction against the single-task run
    (bars,) = spec["data"]  # one run chosen: one set of bars
    assert bars["type"] == "bar"
    assert array(bars["x"]) == pytest.approx(expected["delta"].tolist())
    assert array(bars["y"]) == [f"{t} · {m}" for t, m in zip(expected["task"], expected["metric"],
                                                       strict=True)]



def test_compare_without_a_baseline_says_how_to_get_one(app, home):
    from mtae_core.runner.jobs import execute

    store = RunStore(home / "runs.db")
    cfg = ExperimentConfig().replace(name="alone", training={"epochs": 1, "device": "cpu"},
                                     model={"hidden": [16], "latent_dim": 4})
    execute(store, store.create_run(cfg), cfg)
    at = open_page(app(), "pages/compare.py")
    assert not [f for f in figures(at)
                if "Change per task" in str(f["layout"].get("title", {}).get("text"))]
    assert any("Train a `single_task` run" in c for c in texts(at.caption))


def test_compare_deletes_ticked_finished_runs_only(app, filled):
    at = open_page(app(), "pages/compare.py")
    at = select_runs(at, filled, ["hard", "failed", "queued"])
    popover = at.get("popover")[0].proto.popover  # AppTest has no Popover element class
    assert popover.label == "Delete 2 ticked run(s)"  # the queued run is kept
    button(at, "Delete for good").click().run()
    assert not at.exception
    store = RunStore(filled.path)
    left = {r.id for r in store.runs()}
    assert filled.ids["hard"] not in left and filled.ids["failed"] not in left
    assert filled.ids["queued"] in left and filled.ids["single"] in left
    assert store.metrics(filled.ids["hard"]).empty and store.extras(filled.ids["hard"]) == []
    assert store.load_weights(filled.ids["hard"]) is None
    assert len(at.dataframe[0].value) == len(left)  # the table shows what is left


# ---- Compare: which baseline, and honest highlighting --------------------------------------


def test_compare_says_which_baseline_and_warns_when_it_differs(app, home):
    from mtae_core.analysis.baselines import baseline_config

    store = RunStore(home / "runs.db")
    shared = ExperimentConfig().replace(name="shared", training={"epochs": 20})
    finished(store, baseline_config(shared))  # matched, but older…
    newest = finished(store, baseline_config(shared).replace(name="quick single",
                                                             training={"epochs": 1}))
    run_id = finished(store, shared, 1.01)
    at = open_page(app(), "pages/compare.py")
    at = select_runs(at, SimpleNamespace(ids={"shared": run_id}), ["shared"])
    # …the matched one is used, not the newest
    captions = " ".join(texts(at.caption))
    assert f"Δm of #{run_id} shared is against #1 " in captions and "a matched" in captions
    assert not at.warning

    store.delete_run(1)  # only the 1-epoch single-task run is left
    at.run()
    [warning] = texts(at.warning)
    assert f"Δm of #{run_id} shared is against #{newest} quick single" in warning
    assert "Epochs (baseline 1, this run 20)" in warning
    button(at, "Queue the matched baseline").click().run()
    assert not at.exception
    queued = store.runs(["queued"])
    assert [r.config for r in queued] == [baseline_config(shared)]
    assert any(f"run #{queued[0].id} (queued)" in c for c in texts(at.caption))
    assert not [b for b in at.button if b.label == "Queue the matched baseline"]

    store.delete_run(newest)  # no single-task run at all: said plainly, and offered
    at.run()
    assert any(f"#{run_id} shared has no Δm" in t for t in texts(at.info))


def test_compare_highlights_the_best_on_validation_not_on_test(app, filled):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, ["hard", "mmoe", "soft"])
    assert any("best on the *validation* set" in c or "best on the validation set" in c
               for c in texts(at.caption)), texts(at.caption)
    table = comparison(at)
    styles = at.dataframe[1].proto.arrow_data.styler.styles
    assert "background-color" in styles
    store = RunStore(filled.path)
    col = "digit · accuracy"
    val = {f"#{i} {n}": store.get_run(i).val_metrics["digit"]["accuracy"]  # type: ignore[union-attr]
           for n, i in filled.ids.items() if n in ("hard", "mmoe", "soft")}
    best = max(val, key=lambda k: val[k])
    assert best in table.index and col in table.columns


def test_compare_without_validation_metrics_highlights_nothing_and_says_why(app, home):
    store = RunStore(home / "runs.db")
    for seed in (0, 1):  # made-up finished runs recording test metrics only
        finished(store, ExperimentConfig().replace(name=f"old {seed}", seed=seed), 1 + seed / 10)
    at = open_page(app(), "pages/compare.py")
    assert any("No run is highlighted" in c for c in texts(at.caption))
    assert "background-color" not in at.dataframe[1].proto.arrow_data.styler.styles
