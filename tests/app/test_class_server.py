"""A class server through AppTest (``MTAE_TEACHER_KEY`` set): the teacher's link (the key
checked, removed from the URL and in no link a page offers), a student's rights (their
own runs only, whatever name they type), nothing ticked for deletion, the delete's
preview and the teacher's controls on the Class page (locked settings, cap, pause and
clear, a student's runs, the audit log), and the bad input a class produces: a wrong,
empty or overlong key, a forged ``?who=``, a second tab, a session after a restart, a
run deleted by someone else first. And the Train press that a live fragment's rerun
used to lose."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from page_helpers import button, field, texts
from streamlit.testing.v1 import AppTest

from mtae_core.config import ExperimentConfig
from mtae_core.store.access import Actor, owner_of, owner_text
from mtae_core.store.runs import RunStore, default_path
from ui.frame import identity

KEY = "s3cret-Teacher-key"
TINY = ExperimentConfig().replace(training={"epochs": 2, "batch_size": 128, "device": "cpu"},
                                  model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's app is a class server: the teacher's key is in its environment."""
    monkeypatch.setenv("MTAE_TEACHER_KEY", KEY)
    return KEY


def opened(app: Any, page: str = "pages/train.py", **params: str) -> AppTest:
    at = app()
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page != "pages/train.py":
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def actor_of(at: AppTest) -> str:
    return str(at.session_state[identity.ACTOR_KEY])


def train(at: AppTest, name: str) -> int:
    """Press Train with a tiny setup; the run stays queued (no workers here)."""
    field(at, "training.epochs").set_value(2)
    at.text_input(key="name").set_value(name)
    at.run()
    button(at, "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return int(at.query_params["run"])


def every_link(at: AppTest) -> list[str]:
    """Every link text a page offers: its page links, code blocks (the class and students'
    links, Export config), markdown and captions, and the URL itself."""
    out = [p.proto.query_string for p in at.get("page_link")]
    out += [str(c.value) for c in at.code]
    out += texts(at.markdown) + texts(at.caption)
    out += [f"{k}={v}" for k, v in at.query_params.items()]
    return [unquote(x) for x in out]


def popover_labels(at: AppTest) -> list[str]:
    return [p.proto.popover.label for p in at.get("popover")]


def student_run(store: RunStore, name: str, who: str = "Ada") -> tuple[int, str]:
    """A finished run of a student from another browser: (its id, that student's id)."""
    ada = Actor("student", identity.secrets.token_urlsafe(18), who)
    run = store.create_run(TINY.replace(name=name), owner=owner_text(ada, "tab-a"), actor=ada)
    store.finish(run, "done")
    return run, ada.id


# ---- the teacher's key --------------------------------------------------------------------------


def test_the_teacher_link_makes_the_tab_the_teachers_and_leaves_no_trace_of_the_key(app, home, key):
    at = opened(app, teacher=key, who="Ms T")
    assert "teacher" not in at.query_params  # removed at once
    assert at.session_state[identity.TEACHER_KEY] is True
    assert any("Teacher" in c for c in texts(at.caption))
    # the Train page's links: page links, the class link, Export config
    at.checkbox(key="classlink.hide.optimizer").check().run()
    assert not [x for x in every_link(at) if key in x]
    at.switch_page("pages/class.py").run()
    assert not at.exception
    assert [e for e in at.expander if e.label == "Teacher's controls"]
    assert any(c.value.startswith("http") for c in at.code)  # the students' link
    assert not [x for x in every_link(at) if key in x]
    for page in ("pages/compare.py", "pages/studies.py", "pages/data.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert not [x for x in every_link(at) if key in x], page


@pytest.mark.parametrize("given", ["wrong", "", "x" * 5000, KEY + " ", KEY.upper()])
def test_a_wrong_empty_or_overlong_key_gets_a_plain_notice_and_a_students_rights(app, home, key, given):
    at = opened(app, teacher=given)
    assert "teacher" not in at.query_params
    assert not at.session_state[identity.TEACHER_KEY] if identity.TEACHER_KEY in at.session_state else True
    warnings = texts(at.warning)
    assert any("key is not right" in w and "student's rights" in w for w in warnings), warnings
    assert not [w for w in warnings if given and given in w]  # the key typed is not echoed
    at.switch_page("pages/class.py").run()
    assert not at.exception
    assert not [e for e in at.expander if e.label == "Teacher's controls"]


def test_without_a_key_set_the_one_person_at_make_run_is_the_teacher(app, home):
    at = opened(app, page="pages/class.py")
    assert [e for e in at.expander if e.label == "Teacher's controls"]
    run, _ = student_run(RunStore(default_path()), "a student's")
    at.switch_page("pages/compare.py").run()
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    button(at, "Delete for good").click().run()
    assert RunStore(default_path()).get_run(run) is None


# ---- a student's rights ----------------------------------------------------------------------------


def test_runs_record_the_actor_and_a_forged_who_changes_only_the_label(app, home, key):
    store = RunStore(default_path())
    ada_run, ada_id = student_run(store, "ada's run")
    ben = opened(app, who="Ada")  # Ben types Ada's name into the link
    mine = train(ben, "ben's run")
    actor, name = owner_of(store.get_run(mine).owner)  # type: ignore[union-attr]
    assert name == "Ada" and actor == actor_of(ben) != ada_id  # a label, not a key
    # on Compare, Ada's run is listed but Ben may not delete it
    ben.switch_page("pages/compare.py").run()
    ids = list(ben.dataframe[0].value["id"])
    ben.session_state[ben.dataframe[0].key] = {"selection": {"rows": [ids.index(ada_run)],
                                                              "columns": []}}
    ben.run()
    assert any(f"Kept: #{ada_run}" in c and "only your own" in c for c in texts(ben.caption))
    assert button(ben, "Delete for good").disabled
    assert store.get_run(ada_run) is not None


def test_a_student_cannot_cancel_anothers_run_by_a_crafted_link(app, home, key):
    store = RunStore(default_path())
    ada = Actor("student", "ada-" + "a" * 20, "Ada")
    queued = store.create_run(TINY.replace(name="ada's queued"), owner=owner_text(ada, "t"),
                              actor=ada)
    ben = opened(app, run=str(queued), who="Ben")  # the link names Ada's run
    cancel = [b for b in ben.button if b.key == f"cancel-{queued}"]
    assert cancel and cancel[0].disabled
    # the engine says no even when asked directly with Ben's actor
    from ui.train.live import cancel as ui_cancel  # noqa: F401  (the page's own path)

    with pytest.raises(Exception, match="only they or the teacher"):
        store.request_cancel(queued, actor=Actor("student", actor_of(ben), "Ben"))
    assert store.get_run(queued).status == "queued"  # type: ignore[union-attr]


def test_a_student_cannot_delete_anothers_table_and_the_teacher_can(app, home, key):
    from mtae_core.store import tables

    store = RunStore(default_path())
    teacher = Actor("teacher", "t-" + "b" * 20, "Ms T")
    csv = b"a,b,y\n" + b"".join(f"{i},{i % 3},{i % 2}\n".encode() for i in range(60))
    tables.add_table(store, "class_table", csv, owner=owner_text(teacher, "t"))
    ben = opened(app, page="pages/data.py")
    assert not ben.exception
    delete = [b for b in ben.button if b.label == "Delete for good"]
    assert delete, texts(ben.button)
    delete[0].click().run()
    assert not ben.exception
    assert store.stored_dataset("class_table") is not None
    assert any("only they or the teacher may delete it" in w for w in texts(ben.warning)), \
        texts(ben.warning)
    boss = opened(app, page="pages/data.py", teacher=KEY)
    [b for b in boss.button if b.label == "Delete for good"][0].click().run()
    assert not boss.exception
    assert store.stored_dataset("class_table") is None
    assert "data set 'class_table'" in set(store.audit_log()["what"])


# ---- nothing destructive by default --------------------------------------------------------------


def test_compare_opens_with_nothing_ticked_for_deletion(app, filled):
    at = opened(app, page="pages/compare.py")
    table = at.dataframe[0]
    assert list(at.session_state[table.key]["selection"]["rows"]) == []
    assert popover_labels(at)[0] == "Delete 0 ticked run(s)"
    assert any("Nothing ticked: showing the 3 newest finished run(s)" in c for c in texts(at.caption))


def test_the_delete_says_whose_runs_and_which_studies_use_them(app, home, key):
    from mtae_core import studies

    store = RunStore(default_path())
    ada_run, _ = student_run(store, "ada's")
    base = TINY.replace(model={"sharing": "single_task"})  # (its own baseline: one run)
    spec = studies.StudySpec.parse({"name": "class study", "base": base.to_dict(),
                                    "axes": {}, "seeds": 1})
    study = studies.start(store, spec)
    (study_run,) = [int(i) for i in store.study_runs(study)["run_id"]]
    store.finish(study_run, "done")
    boss = opened(app, page="pages/compare.py", teacher=KEY)
    ids = list(boss.dataframe[0].value["id"])
    boss.session_state[boss.dataframe[0].key] = {"selection": {
        "rows": [ids.index(ada_run), ids.index(study_run)], "columns": []}}
    boss.run()
    said = " ".join(texts(boss.markdown))
    assert "Delete **2** run(s)" in said and "Ada: 1" in said, said
    assert any("class study" in w for w in texts(boss.warning))
    assert any(f"#{study_run}" in c for c in texts(boss.caption))  # kept unless ticked so
    button(boss, "Delete for good").click().run()
    assert store.get_run(ada_run) is None and store.get_run(study_run) is not None
    boss.switch_page("pages/compare.py").run()
    ids = list(boss.dataframe[0].value["id"])
    boss.session_state[boss.dataframe[0].key] = {"selection": {
        "rows": [ids.index(study_run)], "columns": []}}
    boss.run()
    boss.checkbox(key="runs.delete.force").check().run()
    button(boss, "Delete for good").click().run()
    assert store.get_run(study_run) is None
    log = store.audit_log()
    assert list(log["action"]) == ["delete", "delete"] and set(log["role"]) == {"teacher"}


def test_a_delete_of_a_run_someone_else_just_deleted_is_a_plain_notice(app, home, key):
    at = opened(app)
    mine = train(at, "mine")
    store = RunStore(default_path())
    store.finish(mine, "done")
    store.finish(store.create_run(TINY.replace(name="another")), "done")
    at.switch_page("pages/compare.py").run()
    rows = [list(at.dataframe[0].value["id"]).index(mine)]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": []}}
    at.run()
    store.delete_runs([mine])  # meanwhile, from the command line
    button(at, "Delete for good").click().run()
    assert not at.exception
    said = texts(at.warning) + texts(at.info)
    assert any(f"Already deleted, by someone else: #{mine}" in w for w in said), said


# ---- identity across tabs and restarts -------------------------------------------------------------


def test_a_second_tab_and_a_session_after_a_restart_are_the_same_student(app, home, key,
                                                                         monkeypatch):
    first = opened(app, who="Ada")
    run = train(first, "ada's")
    token = identity.token_of(actor_of(first))
    # the browser sends the signed cookie with every new session: a second tab, a
    # refresh, or a reconnect after the server restarted (its session state gone)
    monkeypatch.setattr(identity, "_cookie", lambda: token)
    again = opened(app, run=str(run))
    assert actor_of(again) == actor_of(first)
    cancel = [b for b in again.button if b.key == f"cancel-{run}"]
    assert cancel and not cancel[0].disabled
    cancel[0].click().run()
    assert not again.exception
    assert RunStore(default_path()).get_run(run).status == "cancelled"  # type: ignore[union-attr]
    # a made-up or edited cookie is not that student
    monkeypatch.setattr(identity, "_cookie", lambda: token[:-1] + ("0" if token[-1] != "0" else "1"))
    forged = opened(app, run=str(run))
    assert actor_of(forged) != actor_of(first)


def test_the_signed_id_is_checked(home):
    assert identity.id_of(identity.token_of("A" * 24)) == "A" * 24
    for bad in (None, "", "A" * 24, "A" * 24 + ".", "A" * 24 + "." + "0" * 32, "a b.c", 5):
        assert identity.id_of(bad) is None


# ---- the teacher's controls ---------------------------------------------------------------------


def test_locked_settings_stay_locked_whatever_the_students_link_says(app, home, key):
    boss = opened(app, page="pages/class.py", teacher=KEY)
    boss.toggle(key="class.locked").set_value(True)
    boss.multiselect(key="class.hide").set_value(["optimizer", "training"])
    boss.run()
    button(boss, "Save the class's settings").click().run()
    assert not boss.exception
    settings = RunStore(default_path()).class_settings()
    assert settings.locked and settings.hide == ("optimizer", "training")
    for params in ({}, {"hide": ""}, {"hide": "data"}):
        student = opened(app, **params)
        assert [t.label for t in student.tabs] == ["Data", "Model", "Weighting"], params
        assert student.query_params["hide"] == "optimizer,training"
    teacher_form = opened(app, teacher=KEY)
    assert "Optimizer" in [t.label for t in teacher_form.tabs]
    assert "class settings" in set(RunStore(default_path()).audit_log()["action"])


def test_the_cap_the_queue_and_a_students_runs(app, home, key):
    store = RunStore(default_path())
    boss = opened(app, page="pages/class.py", teacher=KEY)
    boss.number_input(key="class.cap").set_value(1).run()
    button(boss, "Save the class's settings").click().run()
    assert store.class_settings().cap == 1

    ada = opened(app, who="Ada")
    first = train(ada, "first")
    assert any("in the queue" in str(p.proto.text) for p in ada.get("progress"))
    ada.text_input(key="name").set_value("second").run()
    button(ada, "Train").click().run()
    button(ada, "Queue it").click().run()  # after the one still waiting
    assert not ada.exception
    assert any("the class's limit is 1" in w for w in texts(ada.warning)), texts(ada.warning)
    assert [r.id for r in store.runs()] == [first]

    boss.run()
    button(boss, "Pause the queue").click().run()
    assert store.class_settings().paused
    button(boss, "Cancel them").click().run()  # clear the queue
    assert store.get_run(first).status == "cancelled"  # type: ignore[union-attr]
    boss.selectbox(key="class.student").set_value(actor_of(ada)).run()
    button(boss, "Delete for good").click().run()
    assert store.runs() == []
    log = store.audit_log()
    assert {"class settings", "clear queue", "delete"} <= set(log["action"])
    boss.run()
    audit = [d.value for d in boss.dataframe if "action" in d.value.columns]
    assert audit and {"clear queue", "delete"} <= set(audit[0]["action"])


# ---- the lost press --------------------------------------------------------------------------------


def test_a_train_press_that_lands_in_a_fragments_rerun_queues_the_run_once(app, home, monkeypatch):
    """A press that Streamlit delivers with a live fragment's rerun (coalesced with its
    poll) runs only that fragment: the page's body never saw the button True, and the
    press was lost. Its callback runs in any case, and asks for the full run."""
    import streamlit.testing.v1.local_script_runner as lsr

    store = RunStore(default_path())
    at = opened(app)
    busy = train(at, "first")  # its live view polls (st.fragment(run_every=...))
    store.finish(busy, "done")  # ...and it has just finished
    fragments = list(at._fragment_storage._fragments)  # the live view's, still registered
    assert fragments
    real = lsr.RerunData

    def in_fragment_run(**kw: Any) -> Any:
        return real(**kw, fragment_id_queue=fragments[:1])

    monkeypatch.setattr(lsr, "RerunData", in_fragment_run)
    at.text_input(key="name").set_value("second")  # (set now, sent with the press)
    button(at, "Train").click().run()
    monkeypatch.setattr(lsr, "RerunData", real)
    assert not at.exception, [e.value for e in at.exception]
    assert [r.name for r in store.runs()] == ["second", "first"]  # queued, once
    at.run()  # a later run of the page queues nothing more, and asks nothing
    assert len(store.runs()) == 2
    assert not [w for w in texts(at.warning) if "still" in w]


def test_a_student_cannot_cancel_the_teachers_study_and_the_teacher_can(app, home, key):
    from mtae_core import studies

    store = RunStore(default_path())
    teacher = Actor("teacher", "t-" + "c" * 20, "Ms T")
    spec = studies.StudySpec.parse({"name": "the class's study", "axes": {},
                                    "base": TINY.replace(model={"sharing": "single_task"}).to_dict(),
                                    "seeds": 2})
    study = studies.start(store, spec, owner=owner_text(teacher, "t"), actor=teacher)
    ben = opened(app, page="pages/studies.py", study=str(study), who="Ben")
    button(ben, "Cancel study").click().run()
    assert not ben.exception, [e.value for e in ben.exception]
    assert any("only they or the teacher" in w for w in texts(ben.warning)), texts(ben.warning)
    assert all(r.status == "queued" for r in store.runs())  # nothing changed
    boss = opened(app, page="pages/studies.py", study=str(study), teacher=KEY)
    button(boss, "Cancel study").click().run()
    assert not boss.exception
    assert all(r.status == "cancelled" for r in store.runs())
    assert list(store.audit_log()["role"]) == ["teacher"]
