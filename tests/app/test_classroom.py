"""Classroom mode through AppTest: a class link's ``?hide=`` (hidden controls absent, their
values kept and trained), ``?present=1`` (the presenter style sheet), notices for flags
that cannot be used, the "Copy class link" round trip, and many students on one server
(each run's owner, this tab's runs first, the teacher's Class page)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from page_helpers import button, field, open_tab, texts
from streamlit.testing.v1 import AppTest

from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import RunStore, default_path
from ui.classroom.roles import PRESENTER_CSS, group_runs, parse_owner
from ui.frame.url_state import encode_config

# a link's settings, every one of them off its default
LINKED = ExperimentConfig().replace(
    name="class demo", seed=3, training={"epochs": 3, "batch_size": 32},
    optimizer={"kind": "sgd", "lr": 0.05},
    model={"sharing": "mmoe", "options": {"sharing": {"n_experts": 6}}},
    weighting={"strategy": "uncertainty"})


def opened(app: Any, state: dict[str, Any] | None = None, **params: str) -> AppTest:
    """The Train page opened by a link with these query parameters (``state``: widget
    values the tab starts with, for the sidebar's: AppTest reruns a page without app.py's
    frame, so the sidebar can be set only before the first run)."""
    at = app()
    for k, v in params.items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def exported(at: AppTest) -> ExperimentConfig:
    """The config the Train form describes, as its "Export config" shows it."""
    return ExperimentConfig.from_json(at.code[0].value)


def labels(at: AppTest) -> set[str]:
    """The labels of the Train form's widgets (not the class link's or the sidebar's), on
    every tab it shows: each is opened in turn (the form draws only its open tab), then
    the first again."""
    kinds = ("number_input", "slider", "selectbox", "multiselect", "text_input", "checkbox",
             "toggle")
    tabs = [t.label for t in at.tabs]
    found: set[str] = set()
    for tab in tabs or [None]:
        if tab is not None:
            open_tab(at, tab)
        found |= {w.label for kind in kinds for w in at.get(kind)
                  if not str(w.key).startswith(("classlink.", "classroom."))}
    if tabs:
        open_tab(at, tabs[0])
    return found


def presenter_styles(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "font-size" in h.proto.body]


def test_hidden_sections_are_absent_and_keep_the_links_values(app, home):
    at = opened(app, cfg=encode_config(LINKED), hide="optimizer,training,weighting")
    assert [t.label for t in at.tabs] == ["Data", "Model", "Weighting"]
    # the app's own page links carry the flags (Streamlit's menu would drop them;
    # read on the first run: AppTest reruns a page without app.py's frame)
    menu = [p for p in at.get("page_link") if p.proto.label == "Compare"]
    assert len(menu) == 1
    assert parse_qs(menu[0].proto.query_string)["hide"] == ["optimizer,training,weighting"]
    shown = labels(at)
    for gone in ("Optimizer", "Learning rate", "Epochs", "Batch size",
                 "Run seed (initialisation and batch order)", "Loss weighting"):
        assert gone not in shown, gone
    # what is not hidden is still there: the schedule on the Weighting tab, the model
    assert {"Task schedule", "Parameter sharing", "Experts", "Latent size"} <= shown
    assert not at.warning and not at.error
    assert exported(at) == LINKED
    assert any("Hidden by the class link" in t for t in texts(at.caption))

    # a visible setting still follows the user, the hidden ones keep the link's values
    field(at, "model.sharing.mmoe.n_experts").set_value(4).run()
    button(at, "Train").click().run()
    assert not at.exception
    (run,) = RunStore(home / "runs.db").runs()
    expected = LINKED.replace(model={"options": {"sharing": {"n_experts": 4}}})
    assert run.config.to_dict() == expected.to_dict()

    # the flags travel with the app's own page links, and back
    assert at.query_params["hide"] == "optimizer,training,weighting"
    at.switch_page("pages/compare.py").run()
    assert at.query_params["hide"] == "optimizer,training,weighting"
    at.switch_page("pages/train.py").run()
    assert [t.label for t in at.tabs] == ["Data", "Model", "Weighting"]
    assert "Learning rate" not in labels(at)


def test_single_settings_and_groups_hide_only_themselves(app, home):
    at = opened(app, cfg=encode_config(LINKED),
                hide="training.epochs,split,name,model.sharing,optimizer.lr")
    shown = labels(at)
    for gone in ("Epochs", "Validation share", "Data seed", "Run name", "Parameter sharing",
                 "Learning rate"):
        assert gone not in shown, gone
    for kept in ("Batch size", "Autoencoder", "Experts", "Optimizer", "Loss weighting",
                 "Tasks", "Data set"):
        assert kept in shown, kept
    assert [t.label for t in at.tabs] == ["Data", "Model", "Weighting", "Optimizer", "Training"]
    assert not [e for e in at.expander if e.label == "Split, scaling and data seed"]
    assert exported(at) == LINKED  # the hidden run name too


def test_flags_that_cannot_be_used_are_ignored_with_a_notice(app, home):
    at = opened(app, hide="optimizer,nonsense,model.bogus", present="maybe", who="x" * 80)
    warnings = texts(at.warning)
    assert any("hides 'nonsense', 'model.bogus', which are not parts of the Train form"
               in w for w in warnings), warnings
    assert any("presenter mode 'maybe' is not 1 (on) or 0 (off)" in w for w in warnings)
    assert any("is longer than 40 characters" in w for w in warnings)
    assert "Learning rate" not in labels(at)  # the good name is still used
    assert not presenter_styles(at)
    assert at.query_params["hide"] == "optimizer"  # the URL keeps only what was used
    assert "present" not in at.query_params and "who" not in at.query_params
    assert exported(at) == ExperimentConfig().replace(name="digits · hard · equal")


def test_presenter_mode_adds_the_large_font_style(app, home):
    at = opened(app)
    assert not presenter_styles(at)
    assert at.toggle(key="classroom.present").value is False

    switched = opened(app, state={"classroom.present": True})  # the sidebar's switch
    assert presenter_styles(switched) == [PRESENTER_CSS]
    assert switched.query_params["present"] == "1"
    menu = [p for p in switched.get("page_link") if p.proto.label == "Compare"]
    assert parse_qs(menu[0].proto.query_string)["present"] == ["1"]  # every page keeps it

    linked = opened(app, present="1")
    assert presenter_styles(linked) == [PRESENTER_CSS]
    assert linked.toggle(key="classroom.present").value is True


def test_class_link_round_trips_into_the_same_setup_and_flags(app, home):
    at = opened(app)
    field(at, "training.epochs").set_value(4)
    field(at, "model.sharing.name").set_value("cross_stitch")
    field(at, "optimizer.lr").set_value(0.02)
    at.run()
    at.checkbox(key="classlink.hide.optimizer").check()
    at.checkbox(key="classlink.hide.split").check()
    at.multiselect(key="classlink.singles").set_value(["training.epochs"])
    at.checkbox(key="classlink.present").check()
    at.run()
    assert not at.exception
    setup = exported(at)
    link = at.code[-1].value
    parts = urlsplit(link)
    assert parts.scheme.startswith("http") and parts.path.endswith("/")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) == {"cfg", "hide", "present"}  # never this tab's run or name
    assert query["hide"] == "optimizer,split,training.epochs" and query["present"] == "1"
    # the teacher's own form is unchanged by what the link hides
    assert "Learning rate" in labels(at)

    student = opened(app, **query)
    assert exported(student) == setup
    assert [t.label for t in student.tabs] == ["Data", "Model", "Weighting", "Training"]
    assert presenter_styles(student) == [PRESENTER_CSS]  # (app.py's frame: the first run)
    shown = labels(student)
    assert "Epochs" not in shown and "Batch size" in shown
    # and the student's copy of the link is the same link
    assert student.code[-1].value == link


def _train_as(at: AppTest, run_name: str) -> int:
    """Press Train in this tab; the run is left queued (no workers in these tests)."""
    for queued in RunStore(default_path()).runs(["queued"]):  # else Train asks to queue
        RunStore(default_path()).finish(queued.id, "cancelled")  # after a run still waiting
    field(at, "training.epochs").set_value(2)
    at.text_input(key="name").set_value(run_name)
    at.run()
    button(at, "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return int(at.query_params["run"])


def test_runs_record_their_owner_and_each_tab_sees_its_own_first(app, home):
    ada = opened(app, state={"classroom.who": "  Ada "})  # typed in the sidebar
    ben = opened(app, who="Ben")  # or given by the link
    assert ada.query_params["who"] == "Ada" and ben.query_params["who"] == "Ben"
    a1 = _train_as(ada, "ada's run")
    b1 = _train_as(ben, "ben's first")
    b2 = _train_as(ben, "ben's second")
    a2 = _train_as(ada, "ada's second")
    store = RunStore(home / "runs.db")
    owners = {r.id: parse_owner(r.owner) for r in store.runs()}
    assert {i: n for i, (_, n) in owners.items()} == {a1: "Ada", b1: "Ben", b2: "Ben", a2: "Ada"}
    assert owners[a1][0] == owners[a2][0] != owners[b1][0] == owners[b2][0]  # one id per tab

    ben.switch_page("pages/compare.py").run()
    table = ben.dataframe[0].value
    assert list(table["id"]) == [b2, b1, a2, a1]  # this tab's newest first, then the class's
    assert list(table["by"]) == ["Ben (this tab)", "Ben (this tab)", "Ada", "Ada"]
    ada.switch_page("pages/compare.py").run()
    assert list(ada.dataframe[0].value["id"]) == [a2, a1, b2, b1]


def test_class_page_lists_every_run_by_student_and_opens_any(app, home):
    a1 = _train_as(opened(app, who="Ada"), "ada's run")
    b1 = _train_as(opened(app, who="Ben"), "ben's run")
    store = RunStore(home / "runs.db")
    cli = store.create_run(ExperimentConfig().replace(name="from the terminal"))
    store.finish(a1, "done", test_metrics={"digit": {"accuracy": 0.875}})

    teacher = opened(app)
    teacher.switch_page("pages/class.py").run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    headings = texts(teacher.subheader)
    assert headings == ["Ada", "Ben", "Not from a class tab (command line, studies, older runs)"]
    tables = [d.value for d in teacher.dataframe]
    assert [list(t["id"]) for t in tables] == [[a1], [b1], [cli]]
    assert list(tables[0]["status"]) == ["done"] and list(tables[1]["status"]) == ["queued"]
    assert tables[0]["digit · accuracy"].iloc[0] == 0.875
    assert any("1 run(s): 1 done" in t for t in texts(teacher.caption))

    teacher.selectbox(key="class.open").set_value(b1)
    button(teacher, "Open on Train").click().run()
    assert not teacher.exception
    assert teacher.query_params["run"] == str(b1)
    assert f"Run #{b1} · ben's run" in " ".join(texts(teacher.markdown))


def test_group_runs_by_student_over_their_tabs_and_reads_any_owner():
    def own(tab: str, name: str) -> str:
        return json.dumps({"tab": tab, "name": name})

    runs = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7], "name": list("abcdefg"),
                         "status": ["done"] * 7,
                         "owner": [own("t1", "Zoe"), own("t2", ""), own("t1", "Zoe"),
                                   "bob", None, own("t3", "amy"), own("t4", "Zoe")]})
    groups = group_runs(runs)
    assert [(g.title, g.tabs, list(g.runs["id"])) for g in groups] == [
        ("amy", ("t3",), [6]),
        ("Zoe", ("t1", "t4"), [7, 3, 1]),  # a refreshed page is a new tab, the same student
        ("No name given", ("t2",), [2]),
        ("Not from a class tab (command line, studies, older runs)", (), [5, 4])]
    assert group_runs(runs.iloc[:0]) == []
    assert parse_owner("not json {") == (None, "not json {")
    assert parse_owner("[1, 2]") == (None, "[1, 2]")
    assert parse_owner(None) == (None, "")


@pytest.mark.parametrize("hide", ["data", "model", "data,model,weighting,schedule,optimizer,training"])
def test_whole_tabs_hidden_still_train_the_links_setup(app, home, hide):
    at = opened(app, cfg=encode_config(LINKED), hide=hide)
    assert exported(at) == LINKED
    assert not at.error
    button(at, "Train").click().run()
    (run,) = RunStore(home / "runs.db").runs()
    assert run.config == LINKED


def test_run_pickers_list_the_students_runs_first(app, filled):
    """The Latent page's pickers: runs of this student's name first (a refreshed tab is a
    new tab, the same student), then everyone's, newest first."""
    import sqlite3

    ada = json.dumps({"tab": "old-tab", "name": "Ada"})
    with sqlite3.connect(filled.path) as db:  # two older runs, queued from Ada's old tab
        db.execute("UPDATE runs SET owner=? WHERE id IN (?, ?)",
                   (ada, filled.ids["single"], filled.ids["hard"]))
    others = sorted((filled.ids[n] for n in filled.done if n not in ("single", "hard")),
                    reverse=True)
    at = opened(app, who="Ada")
    at.switch_page("pages/latent.py").run()
    assert not at.exception, [e.value for e in at.exception]
    picker = [s for s in at.selectbox if s.label == "Run"][0]
    ids = [int(str(o).split()[0][1:]) for o in picker.options]
    mine = sorted((filled.ids["single"], filled.ids["hard"]), reverse=True)
    assert ids == mine + others

    nobody = opened(app)  # no name: the store's order, newest first
    nobody.switch_page("pages/latent.py").run()
    picker = [s for s in nobody.selectbox if s.label == "Run"][0]
    assert [int(str(o).split()[0][1:]) for o in picker.options] == sorted(mine + others,
                                                                          reverse=True)


def test_class_page_on_an_empty_store_says_what_will_appear(app, home):
    at = opened(app)
    at.switch_page("pages/class.py").run()
    assert not at.exception
    assert any("their runs appear here by name" in t for t in texts(at.info))
