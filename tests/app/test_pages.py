"""Every page of the dashboard through Streamlit's AppTest: on an empty store, on a store
of real finished runs (see conftest.py), and what each page promises — the Train form's
validation and queueing, the run view, the Compare tables, the latent projection."""

from __future__ import annotations

import base64
import json
import math
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from page_helpers import button, field, open_tab, texts
from streamlit.testing.v1 import AppTest

from mtae_core.config import ExperimentConfig
from mtae_core.engine.metrics import delta_m
from mtae_core.store.runs import RunStore
from ui.compare import DELTA_M, comparison_table, higher_is_better
from ui.url_state import encode_config

PAGES = ["pages/train.py", "pages/compare.py", "pages/latent.py"]
TASKS_KEY = "data.tasks.digits[digit,parity,reconstruction]"  # the Tasks multiselect
DIGIT_METRICS = ["digit · accuracy", "parity · accuracy", "reconstruction · mse"]


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the app once (the default page is Train), then switch to ``page``."""
    at.run()
    if page != "pages/train.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def selectbox(at: AppTest, label: str) -> Any:
    found = [s for s in at.selectbox if s.label == label]
    assert len(found) == 1, [s.label for s in at.selectbox]
    return found[0]


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


# ---- every page, empty store and full store ------------------------------------------------


@pytest.mark.parametrize(("page", "guidance"), [
    ("pages/train.py", "No runs yet"),
    ("pages/compare.py", "No runs yet"),
    ("pages/latent.py", "No finished runs yet"),
])
def test_page_on_empty_store_shows_guidance(app, page, guidance):
    at = open_page(app(), page)
    assert any(guidance in t for t in texts(at.info)), texts(at.info)
    assert not at.error
    assert not at.get("progress")  # no run view
    assert not at.dataframe
    if page != "pages/train.py":  # the other pages stop there and point to Train
        assert not at.get("plotly_chart")
        assert [(p.label, p.proto.page) for p in at.get("page_link")] == [("Go to Train", "train")]


@pytest.mark.parametrize("page", PAGES)
def test_page_with_runs_renders(app, filled, page):
    at = open_page(app(), page)
    assert not any("No runs yet" in t or "No finished runs" in t for t in texts(at.info))
    if page == "pages/train.py":
        # (AppTest keeps the sidebar of the first page only, so it is checked here)
        assert "11 run(s) stored, 1 training now" in texts(at.sidebar.caption)
        # a new tab shows none of the stored runs, not "the latest run of anyone"
        assert any("No run opened in this tab yet" in t for t in texts(at.info))
        assert not at.get("progress")
    elif page == "pages/compare.py":
        assert len(at.dataframe) >= 2  # the runs table and the comparison table
    else:
        assert len(at.get("plotly_chart")) == 1


# ---- Train ----------------------------------------------------------------------------------


def test_train_defaults_are_valid_and_export_config(app):
    at = open_page(app(), "pages/train.py")
    assert not at.error
    assert not button(at, "Train").disabled
    assert [d.label for d in at.get("download_button")] == ["Download config.json"]
    exported = json.loads(at.code[0].value)
    assert exported["data"]["tasks"] == ["digit", "parity", "reconstruction"]


def test_exported_config_trains_unchanged_with_the_cli(app, home, capsys):
    """"Export config" gives JSON that ``mtae train`` accepts as it is."""
    from mtae_core.cli import main

    at = open_page(app(), "pages/train.py")
    field(at, "model.sharing.name").set_value("mmoe").run()
    field(at, "training.epochs").set_value(2).run()
    path = home / "config.json"
    path.write_text(at.code[0].value)
    assert main(["--db", str(home / "cli.db"), "train", str(path), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "done"
    assert set(out["test_metrics"]) == {"digit", "parity", "reconstruction"}
    stored = RunStore(home / "cli.db").get_run(out["run_id"])
    assert stored is not None and stored.config == ExperimentConfig.from_json(path.read_text())
    assert stored.config.model.sharing == "mmoe" and stored.config.training.epochs == 2


@pytest.mark.parametrize(("widget", "value", "tab", "message"), [
    ("training.epochs", 0, "Training", "Epochs must be at least 1"),
    ("optimizer.lr", -1.0, "Optimizer", "Learning rate must be greater than 0"),
    ("optimizer.lr", 0.0, "Optimizer", "Learning rate must be greater than 0"),
    ("model.latent_dim", 0, "Model", "Latent size must be at least 1"),
    ("model.hidden", "", "Model", "Hidden layer sizes must have at least 1"),
    (TASKS_KEY, [], "Data", "Tasks must include at least one task"),
])
def test_invalid_setting_is_explained_next_to_its_field_and_disables_train(
        app, home, widget, value, tab, message):
    at = open_page(app(), "pages/train.py")
    field(at, widget).set_value(value)
    at.run()
    assert not at.exception
    # under the field, on its tab, with its label and in plain words
    [on_tab] = [t for t in at.tabs if t.label == tab]
    [shown] = texts(on_tab.error)
    assert shown.startswith(message)
    summary = [t for t in texts(at.error) if t.startswith("Fix this before training")]
    assert len(summary) == 1 and message in summary[0] and f"*{tab}* tab" in summary[0]
    for text in texts(at.error):
        assert not any(w in text for w in ("Input should", "should have", "validation error",
                                           "Tuple", "Value error")), text
    assert button(at, "Train").disabled
    assert RunStore(home / "runs.db").runs() == []
    assert "run" not in at.query_params and "cfg" not in at.query_params  # last valid: defaults
    if widget.startswith(("training.", "optimizer.", "model.latent")):
        # the browser keeps what was typed: a bounded number input would silently keep
        # the last valid value (epochs 0 → a run of the old 20 epochs)
        proto = at.number_input(key=widget).proto
        assert not proto.has_min and not proto.has_max
    # another tab open (the form draws only the open tab): the problem is still named,
    # with its tab, Train stays off, and the field still holds what was typed
    open_tab(at, "Weighting")
    assert at.get(widget) == [] or not any(getattr(w, "key", None) == widget
                                           for w in at.get("number_input"))
    summary = [t for t in texts(at.error) if t.startswith("Fix this before training")]
    assert len(summary) == 1 and message in summary[0] and f"*{tab}* tab" in summary[0]
    assert button(at, "Train").disabled
    assert field(at, widget).value == value
    fixed = {"training.epochs": 2, "optimizer.lr": 0.01, "model.latent_dim": 3,
             "model.hidden": "8", TASKS_KEY: ["digit"]}
    field(at, widget).set_value(fixed[widget]).run()
    assert not at.error and not button(at, "Train").disabled  # fixed: Train again


def test_train_queues_the_form_config(app, home):
    at = open_page(app(), "pages/train.py")
    field(at, "training.epochs").set_value(3)
    field(at, "seed").set_value(7)
    field(at, "optimizer.lr").set_value(0.005)
    field(at, TASKS_KEY).set_value(["digit", "parity"])
    at.text_input(key="name").set_value("my first run")
    at.run()
    assert not at.error
    exported = ExperimentConfig.from_json(at.code[0].value)  # "Export config" shows it
    button(at, "Train").click().run()
    assert not at.exception

    runs = RunStore(home / "runs.db").runs()
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "queued"  # MTAE_NO_WORKERS: queued for a worker, not trained here
    cfg = run.config
    assert (cfg.name, cfg.seed, cfg.training.epochs) == ("my first run", 7, 3)
    assert cfg.optimizer.lr == pytest.approx(0.005)
    assert cfg.data.tasks == ("digit", "parity")
    assert cfg == exported
    assert at.query_params["run"] == str(run.id)
    assert f"Run #{run.id} · my first run" in " ".join(texts(at.markdown))


def exported_config(at: AppTest) -> ExperimentConfig:
    """The config the Train form describes, as its "Export config" shows it."""
    return ExperimentConfig.from_json(at.code[0].value)


def _keys(at: AppTest) -> set[str]:
    return {str(w.key) for kind in ("number_input", "selectbox", "slider", "checkbox",
                                    "text_input", "multiselect") for w in at.get(kind)}


def test_the_form_draws_only_its_open_tab_and_keeps_the_others_values(app, home):
    """A browser draws a closed tab's widgets too (a slow reload), so only the open tab's
    are drawn; a closed tab's settings keep their values, are trained with, and show
    again when the tab is opened."""
    at = open_page(app(), "pages/train.py")
    keys = _keys(at)
    assert "data.dataset.name" in keys
    assert not {k for k in keys if k.startswith(("model.", "weighting.", "schedule.",
                                                  "optimizer.", "training."))}, keys
    assert not at.get("plotly_chart")  # the network diagram is on the Model tab
    open_tab(at, "Model")
    assert "model.sharing.name" in _keys(at) and "data.dataset.name" not in _keys(at)
    assert at.get("plotly_chart")  # now it is drawn

    field(at, "model.sharing.name").set_value("mmoe").run()
    field(at, "weighting.name").set_value("fixed").run()
    field(at, "weighting.fixed.weights.digit").set_value(2.5).run()
    field(at, "training.epochs").set_value(3).run()
    # changed and its tab closed in one step (the browser folds the two reruns into one)
    field(at, "training.batch_size").set_value(32)
    open_tab(at, "Data")
    # a task dropped while the Weighting tab is closed: its weight goes, as its slider would
    field(at, TASKS_KEY).set_value(["digit", "reconstruction"]).run()
    assert not at.error, texts(at.error)
    cfg = exported_config(at)
    assert cfg.model.sharing == "mmoe"
    assert (cfg.training.epochs, cfg.training.batch_size) == (3, 32)
    assert cfg.weighting.strategy == "fixed"
    assert cfg.weighting.options == {"weights": {"digit": 2.5, "reconstruction": 1.0}}
    button(at, "Train").click().run()
    (run,) = RunStore(home / "runs.db").runs()
    assert run.config == cfg.replace(name=run.config.name)

    # each tab shows what it kept
    assert field(at, "training.batch_size").value == 32
    assert field(at, "weighting.fixed.weights.digit").value == 2.5
    assert "weighting.fixed.weights.parity" not in _keys(at)
    assert field(at, "model.sharing.name").value == "mmoe"


def test_train_settings_live_in_the_url(app, home):
    at = open_page(app(), "pages/train.py")
    assert "cfg" not in at.query_params  # the default setup needs no settings in the URL
    field(at, "training.epochs").set_value(3)
    field(at, TASKS_KEY).set_value(["digit", "parity"])
    field(at, "model.sharing.name").set_value("mmoe")
    field(at, "weighting.name").set_value("fixed")
    at.run()
    field(at, "model.sharing.mmoe.n_experts").set_value(6)
    field(at, "weighting.fixed.weights.digit").set_value(2.5)
    field(at, "model.dropout").set_value(0.3)
    at.text_input(key="name").set_value("linked")
    at.run()
    assert not at.error
    chosen = exported_config(at)
    button(at, "Train").click().run()  # ?run= lives alongside the settings
    assert not at.exception
    params = dict(at.query_params)
    assert params, "no setting in the URL"
    assert set(params) == {"cfg", "run"}

    again = app()  # a second browser opening the same link
    for k, v in params.items():
        again.query_params[k] = v
    again = open_page(again, "pages/train.py")
    assert not again.warning and not again.error
    assert field(again, "training.epochs").value == 3
    assert field(again, TASKS_KEY).value == ["digit", "parity"]
    assert field(again, "model.sharing.name").value == "mmoe"
    assert field(again, "model.sharing.mmoe.n_experts").value == 6
    assert field(again, "weighting.name").value == "fixed"
    assert field(again, "weighting.fixed.weights.digit").value == 2.5
    assert field(again, "model.dropout").value == 0.3  # the same kind of widget
    assert again.text_input(key="name").value == "linked"
    assert exported_config(again) == chosen  # every setting, not only those checked above
    assert f"Run #{params['run']} · linked" in " ".join(texts(again.markdown))

    # the link's values are only where the form starts: a change sticks and reaches the URL
    field(again, "training.epochs").set_value(4).run()
    again.run()
    assert field(again, "training.epochs").value == 4
    assert exported_config(again) == chosen.replace(training={"epochs": 4})
    assert again.query_params["cfg"] != params["cfg"]


@pytest.mark.parametrize(("link", "problem"), [
    ("not-a-link", "does not decode"),
    (encode_config(ExperimentConfig().replace(training={"epochs": 3})).replace("j", "q", 1),
     "does not decode"),
    ("j" + base64.urlsafe_b64encode(b'{"training":{"epochs":0}}').decode(),
     "Epochs must be at least 1"),
    ("j" + base64.urlsafe_b64encode(b'{"training":{"epoch":3}}').decode(),
     '"epoch" is not a setting here'),
    ("j" + base64.urlsafe_b64encode(b'{"model":{"sharing":"nope"}}').decode(),
     'unknown sharing scheme "nope"'),
])
def test_train_malformed_link_warns_and_shows_defaults(app, link, problem):
    at = app()
    at.query_params["cfg"] = link
    at = open_page(at, "pages/train.py")
    warnings = texts(at.warning)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("This link's settings could not be used: ")
    assert problem in warnings[0], warnings
    assert not at.error
    assert exported_config(at) == ExperimentConfig().replace(name="digits · hard · equal")
    assert not button(at, "Train").disabled
    assert "cfg" not in at.query_params  # the URL now shows the form: the defaults

    field(at, "training.epochs").set_value(5).run()  # a change dismisses it
    assert not at.warning
    assert "cfg" in at.query_params


def test_train_run_view_of_finished_run_shows_test_metrics(app, filled):
    run = RunStore(filled.path).get_run(filled.ids["hard"])
    assert run is not None
    at = app()
    at.query_params["run"] = str(run.id)
    at = open_page(at, "pages/train.py")
    assert "Finished 2 epochs" in at.get("progress")[0].proto.text
    shown = {m.label: m.value for m in at.metric if " · " in m.label}  # task · metric
    assert shown == {
        "digit · accuracy": f"{run.test_metrics['digit']['accuracy']:.1%}",
        "parity · accuracy": f"{run.test_metrics['parity']['accuracy']:.1%}",
        "reconstruction · mse": f"{run.test_metrics['reconstruction']['mse']:.4g}",
    }
    titles = [str(f["layout"].get("title", {}).get("text")) for f in figures(at)]
    assert "Loss per task" in titles, titles


@pytest.mark.parametrize(("name", "says"), [
    ("diverge", "Training diverged in epoch 1: the loss of task"),
    ("failed", None),  # the reason the store recorded
])
def test_train_run_view_explains_how_a_run_ended(app, filled, name, says):
    says = says or filled.fail_reason
    at = app()
    at.query_params["run"] = str(filled.ids[name])
    at = open_page(at, "pages/train.py")
    assert any(says in t for t in texts(at.error)), texts(at.error)
    assert not [m for m in at.metric if " · " in m.label]  # no test metrics


def test_diverged_run_shows_its_curves_up_to_the_divergence(app, home):
    """Epochs 1-3 stored, the loss of parity non-finite in epoch 4 of 10: the curves show
    the three epochs, the text and the bar agree on where it stopped."""
    from mtae_core.engine.training import diverged_message

    store = RunStore(home / "runs.db")
    cfg = ExperimentConfig().replace(name="too fast", training={"epochs": 10})
    run_id = store.create_run(cfg)
    for epoch in range(3):
        store.add_epoch(run_id, epoch, [(split, task, "loss", 1.0 / (epoch + 1))
                                        for split in ("train", "val")
                                        for task in cfg.data.tasks])
    store.set_progress(run_id, 0.37)  # a step-level fraction, as a worker leaves it
    store.finish(run_id, "diverged", diverged_message("parity", 3, 4))
    at = app()
    at.query_params["run"] = str(run_id)
    at = open_page(at, "pages/train.py")
    [bar] = at.get("progress")
    assert bar.proto.text == "Diverged in epoch 4 of 10"
    assert bar.proto.value == 30  # 3 of 10 epochs, as the curves show
    [error] = texts(at.error)
    assert "diverged in epoch 4: the loss of task parity" in error
    assert "The curves show the 3 epoch(s) before it" in error
    [curves] = [f for f in figures(at) if "Loss per task" in str(f["layout"]["title"]["text"])]
    assert {len(array(t["x"])) for t in curves["data"]} == {3}
    assert len(curves["data"]) == 6  # train and validation of each of the three tasks


# ---- Compare ------------------------------------------------------------------------------


def runs_frame(at: AppTest) -> Any:
    return at.dataframe[0]


def select_runs(at: AppTest, filled: Any, names: list[str]) -> AppTest:
    """Tick rows of the runs table. AppTest cannot click dataframe rows, but a
    dataframe's selection accepts writes through session state, as a click would."""
    table = runs_frame(at)
    ids = list(table.value["id"])
    rows = [ids.index(filled.ids[n]) for n in names]
    at.session_state[table.key] = {"selection": {"rows": rows, "columns": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def comparison(at: AppTest) -> pd.DataFrame:
    assert len(at.dataframe) >= 2, "no comparison table"
    frame = at.dataframe[1].value
    return frame.set_index("run") if "run" in frame.columns else frame


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
    """The same table the page draws, straight from ``ui.compare``: Δm for every finished
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


# ---- Latent space -------------------------------------------------------------------------


def choose_run(at: AppTest, filled: Any, name: str) -> AppTest:
    run = RunStore(filled.path).get_run(filled.ids[name])
    selectbox(at, "Run").set_value(run).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def array(values: Any) -> list[Any]:
    """An array of a figure's JSON; plotly may write numbers as typed base64."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def n_points(trace: dict[str, Any]) -> int:
    """Points of a trace in a figure's JSON."""
    return len(array(trace["x"]))


def coloured_by(fig: dict[str, Any]) -> str:
    """The label a plotly-express scatter is coloured by (legend or colour-bar title)."""
    layout = fig["layout"]
    title = layout.get("legend", {}).get("title", {}).get("text") or \
        layout.get("coloraxis", {}).get("colorbar", {}).get("title", {}).get("text")
    return str(title)


def test_latent_lists_only_finished_runs(app, filled):
    at = open_page(app(), "pages/latent.py")
    listed = {o.split(" ", 2)[1] for o in selectbox(at, "Run").options}
    assert listed == set(filled.done)


def test_latent_projection_and_colour_switch(app, filled):
    at = choose_run(open_page(app(), "pages/latent.py"), filled, "hard")
    colour = selectbox(at, "Colour by")
    assert colour.options == ["digit", "parity"]  # classification labels; not reconstruction
    [fig] = figures(at)
    assert coloured_by(fig) == "digit"
    assert sorted(t["name"] for t in fig["data"]) == sorted(str(d) for d in range(10))
    n = sum(n_points(t) for t in fig["data"])
    assert f"{n:,} test points" in at.caption[-1].value

    colour.set_value("parity").run()
    assert not at.exception
    [fig] = figures(at)
    assert coloured_by(fig) == "parity"
    assert sorted(t["name"] for t in fig["data"]) == ["0", "1"]
    assert sum(n_points(t) for t in fig["data"]) == n  # same points, other colours


def test_latent_regression_run_and_per_task_codes(app, filled):
    at = choose_run(open_page(app(), "pages/latent.py"), filled, "synth")
    assert selectbox(at, "Colour by").options == ["task1", "task2"]
    assert coloured_by(figures(at)[0]) == "task1"

    at = choose_run(at, filled, "single")  # one network, so one code, per task
    code = selectbox(at, "Latent code")
    assert code.options == ["digit", "parity", "reconstruction"]
    code.set_value("parity").run()
    assert not at.exception
    assert "the parity code of run" in at.caption[-1].value
    assert len(figures(at)) == 1


def test_widgets_carry_plain_word_labels(app):
    """A field's title labels its widget: no bare field names such as 'Lr'."""
    at = open_page(app(), "pages/train.py")
    labels = set()
    for tab in [t.label for t in at.tabs]:  # (the form draws only its open tab)
        labels |= {w.label for w in [*open_tab(at, tab).number_input, *at.selectbox,
                                     *at.text_input]}
    assert {"Learning rate", "Learning-rate schedule", "Gradient clipping (max norm)",
            "Hidden layer sizes", "Latent size", "Optimizer"} <= labels
    assert not labels & {"Lr", "Lr schedule", "Clip norm", "Latent dim", "Kind"}


def test_compare_shows_which_tasks_gain_or_lose_from_sharing(app, filled):
    from ui.compare import task_delta_frame

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


# ---- the tab's state across pages, refreshes and links -----------------------------------


def test_settings_and_run_survive_train_compare_train(app, home):
    at = open_page(app(), "pages/train.py")
    field(at, "training.epochs").set_value(3)
    field(at, "model.sharing.name").set_value("mmoe")
    at.text_input(key="name").set_value("kept")
    at.run()
    chosen = exported_config(at)
    button(at, "Train").click().run()
    run_id = int(at.query_params["run"])

    at.switch_page("pages/compare.py").run()
    assert not at.exception
    # the links of the page carry the tab's state, as a refresh or a copied link would
    assert at.query_params["cfg"] and at.query_params["run"] == str(run_id)
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert field(at, "training.epochs").value == 3
    assert field(at, "model.sharing.name").value == "mmoe"
    assert at.text_input(key="name").value == "kept"
    assert exported_config(at) == chosen
    assert f"Run #{run_id} · kept" in " ".join(texts(at.markdown))
    # and the form still follows the user after the return
    field(at, "training.epochs").set_value(4).run()
    assert exported_config(at) == chosen.replace(training={"epochs": 4})


def test_a_link_shows_its_own_run_not_the_latest(app, filled):
    """Someone opening a link with ``?run=`` sees that run, even when newer runs (one
    still queued) are in the store."""
    at = app()
    at.query_params["run"] = str(filled.ids["single"])
    at = open_page(at, "pages/train.py")
    assert f"Run #{filled.ids['single']} · single" in " ".join(texts(at.markdown))
    assert "Finished 2 epochs" in at.get("progress")[0].proto.text


@pytest.mark.parametrize(("value", "says"), [
    ("99999999999999999999", "is not a run number that can exist"),
    ("abc", "is not a run number"),
    ("-3", "is not a run number"),
    ("![x](http://example.invalid/x.png)", "is not a run number"),
])
def test_bad_run_parameter_is_ignored_with_a_notice(app, filled, value, says):
    at = app()
    at.query_params["run"] = value
    at = open_page(at, "pages/train.py")
    assert not at.exception
    warnings = texts(at.warning)
    assert len(warnings) == 1 and says in warnings[0] and "no run is shown" in warnings[0]
    assert "![x](" not in at.warning[0].value  # a Markdown image never reaches the page
    assert "run" not in at.query_params  # dropped from the URL
    assert not at.get("progress")


def test_a_link_to_a_deleted_run_says_so(app, home):
    at = app()
    at.query_params["run"] = "42"
    at = open_page(at, "pages/train.py")
    assert any("There is no run #42" in t for t in texts(at.warning))


def test_bad_settings_parameter_on_compare_is_ignored_with_a_notice(app, filled):
    at2 = app()
    at2.query_params["cfg"] = "garbage"
    at2.switch_page("pages/compare.py").run()  # the link opened on Compare itself
    assert not at2.exception
    assert any("settings could not be used" in t and "does not decode" in t
               for t in texts(at2.warning)), texts(at2.warning)
    assert "cfg" not in at2.query_params


# ---- Compare: which baseline, and honest highlighting --------------------------------------


SCORES = {"digit": {"accuracy": 0.9, "loss": 0.3}, "parity": {"accuracy": 0.95, "loss": 0.1},
          "reconstruction": {"mse": 0.4, "loss": 0.4}}


def finished(store: RunStore, cfg: ExperimentConfig, scale: float = 1.0) -> int:
    """A finished run with made-up test metrics (the page only reads them)."""
    run_id = store.create_run(cfg)
    store.finish(run_id, "done", None, {t: {m: v * scale for m, v in ms.items()}
                                        for t, ms in SCORES.items()}, 1.0)
    return run_id


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


def test_user_text_is_never_markdown(app, home):
    """A run name that is a Markdown image must reach no page as one (the browser would
    fetch it): headers, captions, alerts, labels and the tab's list show it as text."""
    store = RunStore(home / "runs.db")
    evil = "![x](http://example.invalid/x.png) **bold** :red[red] $x$"
    cfg = ExperimentConfig().replace(name=evil)
    run_id = finished(store, cfg)
    finished(store, cfg.replace(name="other", seed=1))
    at = app()
    at.query_params["run"] = str(run_id)
    at = open_page(at, "pages/train.py")
    compare = open_page(app(), "pages/compare.py")
    for page in (at, compare):
        rendered = [e.value for kind in ("markdown", "caption", "warning", "info", "error",
                                         "title", "subheader") for e in page.get(kind)]
        rendered += [w.label for w in page.get("selectbox")]
        shown = [re.sub(r"\\(.)", r"\1", str(r)).replace("\u2060", "") for r in rendered]
        assert any(evil in t for t in shown), shown  # it is shown as it was typed…
        for r in rendered:  # …but never as Markdown
            assert "![x](" not in str(r) and "**bold**" not in str(r) and ":red[" not in str(r)


# ---- the runs of this tab -------------------------------------------------------------------


def test_train_while_a_run_of_this_tab_is_active_asks_and_keeps_both(app, home):
    store = RunStore(home / "runs.db")
    at = open_page(app(), "pages/train.py")
    button(at, "Train").click().run()
    [first] = store.runs()
    field(at, "seed").set_value(3).run()
    button(at, "Train").click().run()
    assert not at.exception
    assert len(store.runs()) == 1  # nothing queued before the user says so
    [ask] = texts(at.warning)
    assert f"Run #{first.id} is still waiting: queue this one to start after it?" in ask
    assert not [b for b in at.button if b.label == "Train"]
    button(at, "Queue it").click().run()
    assert not at.exception
    second = store.runs()[0]
    assert second.id != first.id and second.config.seed == 3
    # the run shown is still the first; both are listed with their status
    assert f"Run #{first.id} · " in " ".join(texts(at.markdown))
    listed = texts(at.text)
    assert any(t.startswith(f"#{first.id} ") for t in listed)
    assert any(t.startswith(f"#{second.id} ") for t in listed)
    assert len([b for b in at.button if b.label == "Cancel"]) == 3  # the panel's and the list's

    at.button(key=f"train.tab-open-{second.id}").click().run()  # open the second
    assert f"Run #{second.id} · " in " ".join(texts(at.markdown))
    assert at.query_params["run"] == str(second.id)

    at.switch_page("pages/compare.py").run()  # the list is on Compare too: cancel from there
    at.button(key=f"compare.tab-cancel-{first.id}").click().run()
    assert not at.exception
    cancelled = store.get_run(first.id)
    assert cancelled is not None and cancelled.status == "cancelled"


def test_not_now_queues_nothing(app, home):
    at = open_page(app(), "pages/train.py")
    button(at, "Train").click().run()
    button(at, "Train").click().run()
    button(at, "Not now").click().run()
    assert len(RunStore(home / "runs.db").runs()) == 1
    assert not button(at, "Train").disabled


# ---- the data's size against the split and the batch ---------------------------------------


def test_batch_larger_than_the_training_set_is_explained(app, home):
    at = open_page(app(), "pages/train.py")
    field(at, "training.batch_size").set_value(5000).run()
    [on_tab] = [t for t in at.tabs if t.label == "Training"]
    [error] = texts(on_tab.error)
    assert error.startswith("Batch size 5,000 is larger than the 1,168 training samples")
    assert button(at, "Train").disabled  # the engine would refuse it


def test_a_split_that_leaves_the_test_set_empty_stops_training(app, home):
    at = open_page(app(), "pages/train.py")
    field(at, "data.dataset.name").set_value("synthetic_correlated").run()
    field(at, "data.dataset.synthetic_correlated.n").set_value(100)
    field(at, "data.test_fraction").set_value(0.005).run()  # the slider's smallest share
    [on_tab] = [t for t in at.tabs if t.label == "Data"]
    [error] = texts(on_tab.error)
    assert error.startswith("Test share 0.005 leaves no test samples of the 100")
    assert button(at, "Train").disabled


def test_progress_bar_and_text_agree_while_training(app, home):
    store = RunStore(home / "runs.db")
    run_id = store.create_run(ExperimentConfig().replace(name="busy", training={"epochs": 30}))
    claimed = store.claim_next(worker_pid=1)
    assert claimed is not None and claimed.id == run_id
    store.add_epoch(run_id, 0, [("train", "digit", "loss", 1.0), ("val", "digit", "loss", 1.0)])
    store.set_progress(run_id, 0.0)  # a worker's step fraction may lag behind the epochs
    at = app()
    at.query_params["run"] = str(run_id)
    at = open_page(at, "pages/train.py")
    [bar] = at.get("progress")
    assert bar.proto.text.startswith("Training — epoch 1 of 30 done")
    assert bar.proto.value == 3  # 1/30 of the bar, in percent


def test_the_data_seed_and_the_run_seed_are_separate_fields(app):
    """The data seed (data and split) and the run seed (initialisation, batch order) each
    have a labelled field, and each reaches its own place in the config."""
    at = open_page(app(), "pages/train.py")
    data_seed = next(w for w in at.number_input if w.label == "Data seed")  # the Data tab
    data_seed.set_value(5)
    open_tab(at, "Training")
    run_seed = next(w for w in at.number_input if w.label.startswith("Run seed"))
    run_seed.set_value(2)
    at.run()
    cfg = exported_config(at)
    assert (cfg.data.seed, cfg.seed) == (5, 2)



def test_the_train_form_reopens_on_the_tab_left_open(app, home):
    """Back from another page, the form shows the tab that was open, with its values."""
    at = open_page(app(), "pages/train.py")
    field(at, "training.epochs").set_value(7).run()
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert "training.epochs" in _keys(at) and "data.dataset.name" not in _keys(at)
    assert at.number_input(key="training.epochs").value == 7
    open_tab(at, "Data")
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/train.py").run()
    assert "data.dataset.name" in _keys(at) and "training.epochs" not in _keys(at)
