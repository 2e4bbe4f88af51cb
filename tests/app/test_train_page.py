"""The Train page through Streamlit's AppTest: the form's validation and queueing, its
labels, the run view, the runs of this tab, and the data's size against the split and
the batch."""

from __future__ import annotations

import base64
import json

import pytest
from page_helpers import array, button, exported_config, field, figures, open_page, open_tab, texts
from streamlit.testing.v1 import AppTest

from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import RunStore
from ui.frame.url_state import encode_config

TASKS_KEY = "data.tasks.digits[digit,parity,reconstruction]"  # the Tasks multiselect


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
