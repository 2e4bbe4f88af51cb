"""Who may cancel or delete what on a class's server: the engine checks (runs, studies,
users' tables), writes one audit row per change, caps each student's waiting runs, pauses,
and compares the teacher's key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtae_core.store.access import (
    CLI,
    Actor,
    ClassSettings,
    NotAllowed,
    QueueFull,
    check_key,
    class_mode,
    may_act,
    owner_of,
    owner_text,
)
from mtae_core.store.runs import RunStore
from mtae_core.store.tables import add_table, delete_table
from mtae_core.studies import StudySpec, cancel, retry, start

TEACHER = Actor("teacher", "t-session", "Ms Rivera")
ADA = Actor("student", "ada-session", "Ada")
BEN = Actor("student", "ben-session", "Ben")
TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def _snapshot(store: RunStore) -> tuple[object, ...]:
    """Everything a refused action must leave as it was."""
    runs = [(r.id, r.status, r.cancel_requested, r.owner) for r in store.runs()]
    studies = [(s.id, s.cancelled) for s in store.studies()]
    tables = [d.name for d in store.stored_datasets()]
    return runs, studies, tables, len(store.audit_log())


def _csv() -> bytes:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40),
                       "y": rng.choice(["u", "v"], 40)})
    return df.to_csv(index=False).encode()


def _spec(name: str = "s", seeds: int = 2) -> StudySpec:
    return StudySpec.parse({"name": name, "base": TINY, "seeds": list(range(seeds))})


def test_owner_text_round_trips_and_reads_older_owners():
    text = owner_text(ADA, "tab-1")
    assert owner_of(text) == ("ada-session", "Ada")
    assert owner_of('{"tab": "x", "name": "Old"}') == (None, "Old")  # before actors
    assert owner_of("plain") == (None, "plain") and owner_of(None) == (None, "")
    assert may_act(ADA, text) and not may_act(BEN, text) and may_act(TEACHER, text)
    assert may_act(CLI, None) and not may_act(ADA, None) and not may_act(ADA, "plain")
    import json

    assert json.loads(text)["tab"] == "tab-1"  # ui.classroom.roles.parse_owner reads the tab


def test_a_student_cannot_cancel_or_delete_the_teachers_run(store, tiny_cfg):
    run = store.create_run(tiny_cfg, owner=owner_text(TEACHER), actor=TEACHER)
    before = _snapshot(store)
    with pytest.raises(NotAllowed, match=r"Run #\d+ is Ms Rivera's: only they or the teacher"):
        store.request_cancel(run, ADA)
    with pytest.raises(NotAllowed, match="delete"):
        store.delete_runs([run], ADA)
    with pytest.raises(NotAllowed):
        store.delete_run(run, ADA)
    assert _snapshot(store) == before  # nothing changed, not even the log
    assert store.delete_preview([run], ADA).refused == [run]


def test_the_teacher_and_the_cli_can_and_each_change_is_logged(store, tiny_cfg):
    a = store.create_run(tiny_cfg, actor=ADA)
    b = store.create_run(tiny_cfg, actor=ADA)
    c = store.create_run(tiny_cfg, actor=BEN)
    store.request_cancel(a, TEACHER)
    assert store.get_run(a).status == "cancelled"
    store.delete_runs([b], TEACHER)
    store.request_cancel(c, CLI)
    store.delete_run(c)  # the command line's default
    assert store.get_run(b) is None and store.get_run(c) is None
    log = store.audit_log()
    assert list(log.columns) == ["when", "who", "role", "action", "what"]
    assert list(log.action) == ["delete", "cancel", "delete", "cancel"]  # newest first
    assert list(log.role) == ["cli", "cli", "teacher", "teacher"]
    assert f"#{a}" in log.what.iloc[3] and "Ada" in log.what.iloc[3]
    assert log.who.iloc[3] == "the teacher (Ms Rivera)"


def test_a_student_acts_on_their_own_runs_only(store, tiny_cfg):
    mine = store.create_run(tiny_cfg, owner=owner_text(ADA, "tab-9"), actor=ADA)
    theirs = store.create_run(tiny_cfg, actor=BEN)
    assert owner_of(store.get_run(mine).owner) == ("ada-session", "Ada")
    with pytest.raises(NotAllowed):  # one refused run refuses the whole request
        store.cancel_runs([mine, theirs], ADA)
    assert store.get_run(mine).status == "queued"
    store.request_cancel(mine, ADA)
    store.delete_run(mine, ADA)
    assert store.get_run(mine) is None
    log = store.audit_log()
    assert list(log.who) == ["Ada", "Ada"] and list(log.role) == ["student", "student"]
    with pytest.raises(NotAllowed, match="someone else's name"):
        store.create_run(tiny_cfg, owner=owner_text(BEN), actor=ADA)


def test_study_runs_are_refused_for_students_and_need_force_for_the_teacher(store):
    sid = start(store, _spec(), owner=owner_text(ADA), actor=ADA)
    ids = [int(i) for i in store.study_runs(sid).run_id]
    assert store.get_study(sid).owner == owner_text(ADA)
    before = _snapshot(store)
    with pytest.raises(NotAllowed, match="only the teacher may delete a study's runs"):
        store.delete_runs(ids[:1], ADA)
    with pytest.raises(NotAllowed, match="force"):
        store.delete_runs(ids[:1], TEACHER)
    assert _snapshot(store) == before
    preview = store.delete_preview(ids, ADA)
    assert preview.runs == len(ids) and preview.refused == ids
    assert preview.studies == [(sid, "s")] and preview.by_owner == {"Ada": len(ids)}
    assert store.delete_preview(ids, TEACHER).refused == []
    assert store.delete_runs(ids[:1], TEACHER, force=True) == ids[:1]
    assert store.get_run(ids[0]) is None
    assert "deleted anyway" in store.audit_log().what.iloc[0]


def test_a_student_cannot_cancel_resume_or_delete_the_teachers_study(store):
    sid = start(store, _spec("lesson"), owner=owner_text(TEACHER), actor=TEACHER)
    before = _snapshot(store)
    with pytest.raises(NotAllowed, match="study #\\d+ 'lesson' is Ms Rivera's"):
        cancel(store, sid, ADA)
    with pytest.raises(NotAllowed, match="resume"):
        retry(store, sid, actor=ADA)
    with pytest.raises(NotAllowed, match="delete"):
        store.delete_study(sid, ADA)
    assert _snapshot(store) == before
    stopped = cancel(store, sid, TEACHER)
    assert stopped and all(r.status == "cancelled" for r in store.runs_by_id(stopped).values())
    assert store.audit_log().action.iloc[0] == "cancel"
    again = retry(store, sid, actor=TEACHER)
    assert len(again) == len(stopped)
    assert {owner_of(r.owner)[0] for r in store.runs_by_id(again).values()} == {"t-session"}
    assert store.audit_log().action.iloc[0] == "resume"
    store.delete_study(sid)  # the command line
    assert store.get_study(sid) is None and store.audit_log().action.iloc[0] == "delete"


def test_a_student_cannot_delete_the_teachers_table(store):
    add_table(store, "teachers", _csv(), owner=owner_text(TEACHER))
    before = _snapshot(store)
    with pytest.raises(NotAllowed, match="data set 'teachers' is Ms Rivera's"):
        delete_table(store, "teachers", ADA)
    assert _snapshot(store) == before
    assert store.stored_dataset("teachers").owner == owner_text(TEACHER)
    delete_table(store, "teachers", TEACHER)
    assert store.stored_datasets() == []
    add_table(store, "adas", _csv(), owner=owner_text(ADA))
    delete_table(store, "adas", ADA)
    assert list(store.audit_log().what) == ["data set 'adas'", "data set 'teachers'"]


def test_the_cap_on_a_students_waiting_runs(store, tiny_cfg):
    assert store.class_settings() == ClassSettings(cap=5)
    for _ in range(5):
        store.create_run(tiny_cfg, actor=ADA)
    before = _snapshot(store)
    with pytest.raises(QueueFull, match="You have 5 runs waiting \\(the class's limit is 5\\)"):
        store.create_run(tiny_cfg, actor=ADA)
    with pytest.raises(QueueFull):  # a study counts its runs, and records nothing
        start(store, _spec(seeds=6), actor=BEN)
    assert _snapshot(store) == before
    store.create_run(tiny_cfg, actor=TEACHER)  # the teacher and the CLI have no cap
    store.create_runs([tiny_cfg] * 8)
    store.request_cancel(store.runs()[-1].id, ADA)  # one of Ada's ends: room for one
    store.create_run(tiny_cfg, actor=ADA)
    store.set_class_settings(TEACHER, cap=0)  # no limit
    store.create_runs([tiny_cfg] * 7, actor=ADA)
    with pytest.raises(NotAllowed, match="Only the teacher"):
        store.set_class_settings(ADA, cap=50)
    for bad in (-1, 1.5, True, "3", 10_000):
        with pytest.raises(ValueError, match="whole number"):
            store.set_class_settings(TEACHER, cap=bad)
    with pytest.raises(ValueError, match="Not a class setting: colour"):
        store.set_class_settings(TEACHER, colour="red")


def test_settings_paused_clear_queue_and_a_students_runs(store, tiny_cfg):
    s = store.set_class_settings(TEACHER, locked=True, hide=["model"], paused=True)
    assert s == ClassSettings(locked=True, hide=("model",), cap=5, paused=True)
    assert RunStore(store.path).class_settings() == s  # kept in the store
    a = store.create_run(tiny_cfg, actor=ADA)
    b = store.create_run(tiny_cfg, actor=BEN)
    assert store.claim_group(123) == []  # paused: the workers take nothing
    assert store.queue_position(a) == (1, None)
    store.set_class_settings(TEACHER, paused=False)
    assert [r.id for r in store.claim_group(123)] == [a]
    with pytest.raises(NotAllowed):
        store.clear_queue(ADA)
    assert store.clear_queue(TEACHER) == [b]
    assert store.get_run(b).status == "cancelled" and store.get_run(a).status == "running"
    c = store.create_run(tiny_cfg, actor=BEN)
    with pytest.raises(NotAllowed, match="another student's"):
        store.delete_owner_runs(ADA, BEN.id)
    assert sorted(store.delete_owner_runs(TEACHER, BEN.id)) == [b, c]
    assert [r.id for r in store.runs()] == [a]
    assert list(store.audit_log().action) == ["delete", "clear queue", "class settings",
                                              "class settings"]


def test_check_key(monkeypatch):
    monkeypatch.delenv("MTAE_TEACHER_KEY", raising=False)
    assert not class_mode() and check_key("anything") is False
    monkeypatch.setenv("MTAE_TEACHER_KEY", "s3cret-key")
    assert class_mode()
    assert check_key("s3cret-key") is True
    for wrong in ("", "s3cret-kez", "s3cret-key ", "x" * 10_000, "ключ", None, 12, b"s3cret-key"):
        assert check_key(wrong) is False  # type: ignore[arg-type]
    monkeypatch.setenv("MTAE_TEACHER_KEY", "k" * 300)  # a long key of the teacher's own
    assert check_key("k" * 300) and not check_key("k" * 301)
    monkeypatch.setenv("MTAE_TEACHER_KEY", "")
    assert check_key("") is False and not class_mode()
