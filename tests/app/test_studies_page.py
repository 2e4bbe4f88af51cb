"""The Studies page through Streamlit's AppTest: on an empty store (explanation, example
study), the form (plain-words errors next to the axis, Start off; size and estimate;
queueing), a running study (runs queued, no workers: the grid, Cancel study) and a
finished study trained for real in this process (tables, figures, downloads), and the
hooks on the Train and Compare pages."""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from page_helpers import TINY, button, field, texts, tiny
from streamlit.testing.v1 import AppTest

from mtae_core import studies
from mtae_core.runner.jobs import execute
from mtae_core.store.runs import RunStore
from ui.classroom import roles as classroom
from ui.frame import links

PAGE = "pages/studies.py"


def open_studies(at: AppTest, study: int | None = None) -> AppTest:
    """Run the app once (the Train page), then switch to Studies (``?study=`` set)."""
    at.run()
    if study is not None:
        at.query_params["study"] = str(study)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def grid(at: AppTest) -> str:
    found = [m for m in texts(at.markdown) if "study-grid" in m]
    assert len(found) == 1, texts(at.markdown)
    return found[0]


def squares(at: AppTest) -> list[tuple[int, str]]:
    """(run id, status) of every square of the progress grid."""
    return [(int(r), s) for r, s in
            re.findall(r"href='\./\?run=(\d+)'[^>]*data-status='(\w+)'", grid(at))]


def plotted(values: Any) -> list[float]:
    """A figure's numbers as plotly's JSON holds them (a list, or a base64 typed array)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    return list(values)


def spec_dict(**changes: Any) -> dict[str, Any]:
    obj = {"name": "tiny sharing", "base": tiny("base").to_dict(),
           "axes": {"model.sharing": ["hard", "mmoe"]}, "seeds": 2}
    return {**obj, **changes}


# ---- empty store --------------------------------------------------------------------------------


def test_empty_store_explains_and_starts_the_example(app, home):
    at = open_studies(app())
    info = " ".join(texts(at.info))
    assert "No studies yet" in info and "seeds" in info
    example = studies.StudySpec.parse(
        {"name": "x", "base": {"training": {"epochs": 5}},
         "axes": {"model.sharing": ["hard", "mmoe", "single_task"]}, "seeds": 3})
    n = len(studies.plan(example))  # 3 cells × 3 seeds; single_task is its own baseline
    assert n == 9
    assert any(f"{n} runs" in c for c in texts(at.caption)), texts(at.caption)
    button(at, "Start the example study").click().run()
    assert not at.exception
    store = RunStore(home / "runs.db")
    (study,) = store.studies()
    assert at.query_params["study"] == str(study.id)
    runs = store.runs()
    assert len(runs) == n and {r.status for r in runs} == {"queued"}
    assert {r.config.model.sharing for r in runs} == {"hard", "mmoe", "single_task"}
    assert {r.config.seed for r in runs} == {0, 1, 2}
    # the runs are this tab's, as a run queued on Train is (the Class page groups them)
    assert {classroom.parse_owner(r.owner)[0] for r in runs} == {at.session_state[links.TAB_KEY]}
    got = squares(at)
    assert sorted(r for r, _ in got) == sorted(r.id for r in runs)
    assert {s for _, s in got} == {"queued"}
    assert f"0 of {n} runs done, {n} waiting" in " ".join(texts(at.markdown))


# ---- the form -----------------------------------------------------------------------------------


def _axis(at: AppTest, path: str, values: str | list[Any]) -> AppTest:
    at.selectbox(key="studies.axis0.field").set_value(path).run()
    key = f"studies.axis0.values.{path}"
    if isinstance(values, str):
        at.text_input(key=key).set_value(values).run()
    else:
        at.multiselect(key=key).set_value(values).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(("text", "message"), [
    ("abc", "Learning rate: 'abc' is not a number"),
    ("", "Learning rate: give at least one value"),
    ("0.01, 0.01", "Learning rate: a value is listed twice"),
    ("0, 0.01", "must be greater than 0"),  # the config's own bound, through the engine
])
def test_bad_axis_values_are_named_in_plain_words_and_start_is_off(app, home, text, message):
    at = _axis(open_studies(app()), "optimizer.lr", text)
    errors = texts(at.error)
    assert len(errors) == 1 and message in errors[0], errors
    assert not any(w in errors[0] for w in ("Input should", "Traceback", "pydantic"))
    assert button(at, "Start study").disabled
    assert RunStore(home / "runs.db").runs() == []


@pytest.mark.parametrize(("text", "message"), [
    ("0, 2", "Epochs must be at least 1"),
    ("2.5", "Epochs must be a whole number"),
])
def test_values_the_config_refuses_are_named_by_the_engine_next_to_the_axis(app, home, text,
                                                                           message):
    """The form checks only that the values are numbers; bounds and whole numbers are the
    config's, and its message names the field in plain words."""
    at = _axis(open_studies(app()), "training.epochs", text)
    errors = texts(at.error)
    assert len(errors) == 1 and message in errors[0], errors
    assert not any(w in errors[0] for w in ("Input should", "Traceback", "pydantic"))
    assert button(at, "Start study").disabled


def test_whole_numbers_written_with_a_point_are_whole_numbers(app, home):
    at = _axis(open_studies(app()), "training.epochs", "3.0, 2")
    assert not at.error, texts(at.error)
    assert not button(at, "Start study").disabled


def test_a_study_above_the_size_cap_says_how_to_raise_it(app, home):
    at = open_studies(app())
    at.number_input(key="studies.seeds").set_value(50).run()
    at = _axis(at, "optimizer.lr", ", ".join(f"0.00{i}" for i in range(1, 10)) + ", 0.01, 0.02")
    errors = texts(at.error)
    assert len(errors) == 1 and "11 cells × 50 seeds = 550 runs" in errors[0], errors
    assert "MTAE_MAX_STUDY_RUNS" in errors[0]
    assert button(at, "Start study").disabled
    assert RunStore(home / "runs.db").runs() == []


def test_form_shows_size_and_queues_the_study(app, home):
    at = open_studies(app())
    at.number_input(key="studies.epochs").set_value(2).run()
    at.number_input(key="studies.seeds").set_value(2).run()
    at = _axis(at, "model.sharing", ["hard", "mmoe"])
    assert not at.error
    # 2 cells × 2 seeds, plus one single-task baseline per seed
    size = " ".join(texts(at.info))
    assert "**6 runs**: 2 cell(s) × 2 seed(s) = 4, plus 2 matched single-task baseline(s)" in size
    assert "About " in size  # a time estimate
    start = button(at, "Start study")
    assert not start.disabled
    start.click().run()
    assert not at.exception
    store = RunStore(home / "runs.db")
    runs = store.runs()
    assert len(runs) == 6 and {r.config.training.epochs for r in runs} == {2}
    assert sorted(r.config.model.sharing for r in runs) == ["hard"] * 2 + ["mmoe"] * 2 + \
        ["single_task"] * 2
    (study,) = store.studies()
    assert at.query_params["study"] == str(study.id)


def test_form_starts_from_the_train_pages_settings(app, home):
    at = app()
    at.run()  # the Train page
    field(at, "training.epochs").set_value(4).run()
    field(at, "model.sharing.name").set_value("soft").run()
    links = [p for p in at.get("page_link") if p.proto.page == "studies"]
    assert len(links) == 1  # "Vary these settings in a study"
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("the Train page's settings" in c and "soft sharing" in c
               for c in texts(at.caption)), texts(at.caption)
    assert at.number_input(key="studies.epochs").value == 4


def test_a_lambda_sweep_with_other_strategies_on_one_axis(app, home):
    """Fixed λ between two tasks and gradient methods as cells of one axis: the study
    the Pareto view answers "do gradient methods beat tuned weights?" with."""
    at = open_studies(app())
    at.number_input(key="studies.seeds").set_value(1).run()
    at.selectbox(key="studies.axis0.field").set_value("weighting.options.weights").run()
    key = "studies.axis0.values.weighting.options.weights"
    at.selectbox(key=f"{key}.a").set_value("digit").run()
    at.selectbox(key=f"{key}.b").set_value("parity").run()
    at.text_input(key=f"{key}.lam").set_value("0.2, 0.8").run()
    at.multiselect(key=f"{key}.others").set_value(["pcgrad", "mgda"]).run()
    assert not at.exception and not at.error, texts(at.error)
    button(at, "Start study").click().run()
    assert not at.exception
    store = RunStore(home / "runs.db")
    spec = studies.StudySpec.parse(store.studies()[0].spec)
    assert list(spec.axes) == ["weighting"]
    got = sorted(((c.config.weighting.strategy, c.config.weighting.options.get("weights"))
                  for c in spec.cells()), key=str)
    assert got == [("fixed", {"digit": 0.2, "parity": 0.8}), ("fixed", {"digit": 0.8, "parity": 0.2}),
                   ("mgda", None), ("pcgrad", None)]
    # 4 cells × 1 seed and one shared single-task baseline
    assert len(store.runs()) == 5


# ---- a running study (queued, no workers) ------------------------------------------------------


def test_running_study_grid_and_cancel(app, home):
    store = RunStore(home / "runs.db")
    study_id = studies.start(store, studies.StudySpec.parse(spec_dict()))
    ids = [r.id for r in store.runs()]
    at = open_studies(app(), study_id)
    assert sorted(r for r, _ in squares(at)) == sorted(ids)
    assert "0 of 6 runs done, 6 waiting" in " ".join(texts(at.markdown))
    assert "Results appear here as the study's runs finish." in texts(at.info)
    button(at, "Cancel study").click().run()
    assert not at.exception
    assert {r.status for r in store.runs()} == {"cancelled"}
    assert {s for _, s in squares(at)} == {"cancelled"}
    assert not [b for b in at.button if b.label == "Cancel study"]


def test_open_a_run_of_the_study_on_train(app, home):
    store = RunStore(home / "runs.db")
    study_id = studies.start(store, studies.StudySpec.parse(spec_dict()))
    at = open_studies(app(), study_id)
    run_id = max(r.id for r in store.runs())
    at.selectbox(key=f"studies.open.{study_id}").set_value(run_id).run()
    button(at, "Open on Train").click().run()
    assert not at.exception
    assert at.title[0].value == "Train"
    assert at.query_params["run"] == str(run_id)
    assert f"Run #{run_id}" in " ".join(texts(at.markdown))


# ---- a finished study, trained for real ------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    path: Path
    study_id: int
    spec: studies.StudySpec


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """2 cells × 2 seeds + 2 baselines of tiny digits runs, trained once per session in
    this process as a worker would (about a second)."""
    path = tmp_path_factory.mktemp("study") / "runs.db"
    store = RunStore(path)
    spec = studies.StudySpec.parse(spec_dict())
    study_id = studies.start(store, spec)
    for run in sorted(store.runs(), key=lambda r: r.id):
        execute(store, run.id, run.config)
    assert {r.status for r in store.runs()} == {"done"}
    return Finished(path, study_id, spec)


@pytest.fixture
def finished(home: Path, finished_study: Finished) -> Finished:
    for f in finished_study.path.parent.glob("runs.db*"):
        shutil.copy(f, home / f.name)
    return Finished(home / "runs.db", finished_study.study_id, finished_study.spec)


def test_finished_study_tables_figures_and_downloads(app, finished):
    at = open_studies(app(), finished.study_id)
    assert {s for _, s in squares(at)} == {"done"}
    assert "6 of 6 runs done" in " ".join(texts(at.markdown))
    summary = studies.summarize(RunStore(finished.path), finished.study_id)
    tables = at.dataframe
    assert len(tables) == len(summary.tasks) == 3  # digit, parity, reconstruction
    digit = tables[0].value
    assert list(digit["Sharing"]) == ["hard", "mmoe"]
    stats = summary.cells[0].metrics["digit"]["accuracy"]
    assert digit["accuracy"].iloc[0] == f"{stats['mean']:.4g} ± {stats['std']:.2g}"
    assert list(digit["n"]) == [2, 2]
    base_ids = sorted(summary.baselines.values())
    assert digit["baseline runs"].iloc[0] == ", ".join(f"#{i}" for i in base_ids)
    assert set(digit["best (validation)"]) <= {"best", "tie", ""}
    assert "validation" in " ".join(texts(at.caption))
    # loss curves per task, gains, the Pareto view
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [f["layout"].get("title", {}).get("text", "") for f in specs]
    assert sum("mean ± std over seeds" in t for t in titles) == 3, titles
    pareto = [f for f in specs if any(t.get("name") == "non-dominated front" for t in f["data"])]
    assert len(pareto) == 1  # each cell a labelled point with error bars
    points = [t for t in pareto[0]["data"] if t.get("error_x")]
    assert sorted(t["name"] for t in points) == ["sharing=hard", "sharing=mmoe"]
    downloads = {d.label for d in at.get("download_button")}
    assert {f"Download the {t} table (CSV)" for t in summary.tasks} <= downloads
    assert "Download the study's spec (JSON)" in downloads


def test_a_numeric_axis_draws_each_tasks_metric_against_it(app, home):
    store = RunStore(home / "runs.db")
    spec = studies.StudySpec.parse(spec_dict(axes={"optimizer.lr": [0.001, 0.01]}, seeds=1))
    study_id = studies.start(store, spec)
    for run in sorted(store.runs(), key=lambda r: r.id):  # 2 cells + their 2 baselines
        execute(store, run.id, run.config)
    at = open_studies(app(), study_id)
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (fig,) = [f for f in figs if f["layout"].get("title", {}).get("text") == "Against Learning rate"]
    panels = [a["text"] for a in fig["layout"]["annotations"]]
    assert panels == ["digit · accuracy", "parity · auc", "reconstruction · mse"]  # binary: AUC
    lines = [t for t in fig["data"] if t.get("mode") == "lines+markers"]
    summary = studies.summarize(store, study_id)
    assert plotted(lines[0]["x"]) == [0.001, 0.01]  # hard sharing's line on digit
    assert plotted(lines[0]["y"]) == pytest.approx(
        [c.metrics["digit"]["accuracy"]["mean"] for c in summary.cells])


def test_pareto_view_of_a_lambda_sweep_draws_the_scalarisation_front(app, home):
    store = RunStore(home / "runs.db")
    sweep = [{"strategy": "fixed", "options": {"weights": {"digit": lam, "parity": 1 - lam}}}
             for lam in (0.2, 0.8)]
    spec = studies.StudySpec.parse(spec_dict(axes={"weighting": [*sweep, {"strategy": "pcgrad"}]},
                                             seeds=1))
    study_id = studies.start(store, spec)
    for run in sorted(store.runs(), key=lambda r: r.id):  # 3 cells and one baseline
        execute(store, run.id, run.config)
    at = open_studies(app(), study_id)
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (pareto,) = [f for f in figs if any(t.get("name") == "non-dominated front" for t in f["data"])]
    names = [t.get("name") for t in pareto["data"]]
    assert "front of fixed weights (λ)" in names
    fixed = next(t for t in pareto["data"] if t.get("name") == "fixed λ")
    assert len(plotted(fixed["x"])) == 2 and "pcgrad" in names  # on the same axes


def test_a_failed_run_is_shown_and_left_out_with_its_count(app, finished):
    store = RunStore(finished.path)
    links = store.study_runs(finished.study_id)
    failed = int(links[(links.role == "cell") & (links.cell == 0)].run_id.iloc[0])
    store.finish(failed, "failed", "RuntimeError: worker lost its GPU")
    at = open_studies(app(), finished.study_id)
    assert (failed, "failed") in squares(at)
    assert "5 of 6 runs done, 1 failed" in " ".join(texts(at.markdown))
    digit = at.dataframe[0].value
    assert list(digit["n"]) == [1, 2] and list(digit["failed"]) == [1, 0]
    assert "1 run failed or diverged and is left out" in digit["in words"].iloc[0]
    assert "±" not in digit["accuracy"].iloc[0]  # one run left: no spread to show


def test_downloads_are_the_spec_and_the_tables(app, finished, files):
    open_studies(app(), finished.study_id)
    # the spec, as `mtae study` reads it (StudySpec.from_json), is the study's own spec
    assert studies.StudySpec.from_json(files["study.json"].decode()) == finished.spec
    summary = studies.summarize(RunStore(finished.path), finished.study_id)
    for task in summary.tasks:
        csv = files[f"study-{finished.study_id}-{task}.csv"].decode()
        assert csv == summary.table(task).to_csv(index=False)
        assert f"{summary.metric_of[task]}_mean" in csv.splitlines()[0]


def test_repeat_over_seeds_from_compare(app, home):
    store = RunStore(home / "runs.db")
    for sharing in ("hard", "mmoe"):
        cfg = tiny(sharing, model={"sharing": sharing})
        execute(store, store.create_run(cfg), cfg)
    at = app()
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    button(at, "Repeat these runs over 3 seeds").click().run()
    assert not at.exception
    (study,) = store.studies()
    spec = studies.StudySpec.parse(study.spec)
    assert list(spec.axes) == ["model.sharing"] and spec.seeds == (0, 1, 2)
    runs = store.runs()
    # the two runs are reused for seed 0; 2 cells × 2 more seeds and 3 baselines are queued
    assert sum(r.status == "queued" for r in runs) == 4 + 3
    assert TINY["training"]["epochs"] == spec.base.training.epochs
