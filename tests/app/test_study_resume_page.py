"""Resume on the Studies page (issue 20, item 12): a study left "failed" by an app killed
mid-study says which runs failed because the app stopped, and Resume queues them again
(one visible run per cell and seed afterwards)."""

from __future__ import annotations

from page_helpers import TINY, button, texts
from streamlit.testing.v1 import AppTest

from mtae_core import studies
from mtae_core.runner.jobs import APP_STOPPED
from mtae_core.store.runs import RunStore

PAGE = "pages/studies.py"
SPEC = {"name": "killed midway", "base": TINY, "axes": {"model.sharing": ["hard", "mmoe"]},
        "seeds": 2}


def _open(at: AppTest, study: int) -> AppTest:
    at.run()
    at.query_params["study"] = str(study)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _killed_study(home) -> tuple[RunStore, int, list[int]]:
    """What an app killed mid-study leaves: the two runs training failed, the rest done
    (as the next app's start marks them), one cancelled."""
    store = RunStore(home / "runs.db")
    sid = studies.start(store, studies.StudySpec.parse(SPEC))
    ids = sorted(int(i) for i in store.study_runs(sid).run_id.unique())
    for i in ids[:2]:
        store.finish(i, "failed", APP_STOPPED)
    store.request_cancel(ids[2])
    for i in ids[3:]:
        store.finish(i, "done")
    return store, sid, ids


def _shown(at: AppTest) -> str:
    return " ".join(texts(at.markdown) + texts(at.caption))


def test_a_killed_study_offers_resume_and_says_why(app, home):
    store, sid, ids = _killed_study(home)
    at = _open(app(), sid)
    shown = _shown(at)
    assert "3 runs of this study did not finish" in shown
    assert f"2 runs failed because the app stopped while they trained (#{ids[0]}, #{ids[1]})" in shown
    assert f"1 run cancelled: cancelled by the user (#{ids[2]})" in shown
    button(at, "Resume study").click().run()
    assert not at.exception, [e.value for e in at.exception]
    current = sorted(int(i) for i in store.study_runs(sid).run_id.unique())
    assert len(current) == len(ids) and not set(ids[:3]) & set(current)
    assert {r.status for r in store.runs_by_id(current[-3:]).values()} == {"queued"}
    assert sorted(r.id for r in store.runs()) == current  # the old attempts are hidden
    assert "did not finish" not in _shown(at)  # queued again: nothing to resume now


def test_a_finished_study_offers_no_resume(app, home):
    store = RunStore(home / "runs.db")
    sid = studies.start(store, studies.StudySpec.parse(SPEC))
    for i in store.study_runs(sid).run_id.unique():
        store.finish(int(i), "done")
    at = _open(app(), sid)
    assert not [b for b in at.button if b.label == "Resume study"]
