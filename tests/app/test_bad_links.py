"""Bad links (issue 20, item 6): every number of a link is read by one helper (ASCII
digits within a range), and every bad link gets a notice and the defaults, never a
Python error on the page: ``?study=²``, ``?study=①``, ``?study=`` with 5,000 nines,
``?step=²`` on Lessons, ``?run=²``, and a ``?cfg=`` that decodes to a lone surrogate."""

from __future__ import annotations

import base64
import json

import pytest
from page_helpers import texts, tiny
from streamlit.testing.v1 import AppTest

from mtae_core.store.runs import RunStore
from mtae_core.studies import StudySpec, start

BAD_NUMBERS = ["²", "①", "١", "9" * 5000, "abc", "-1", "0"]


def _page(at: AppTest, page: str, **params: str) -> AppTest:
    at.run()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page).run()
    assert not at.exception, [str(e.value)[:300] for e in at.exception]
    return at


@pytest.fixture
def two_studies(home) -> list[int]:
    store = RunStore(home / "runs.db")
    spec = {"name": "first", "base": tiny("base").to_dict(), "seeds": 1}
    return [start(store, StudySpec.parse({**spec, "name": name})) for name in ("old", "new")]


@pytest.mark.parametrize("raw", BAD_NUMBERS + ["5"])
def test_a_bad_study_number_gets_a_notice_and_the_newest_study(app, two_studies, raw):
    at = _page(app(), "pages/studies.py", study=raw)
    notes = texts(at.warning)
    assert any("is not a study here" in n for n in notes), notes
    assert all(len(n) < 300 for n in notes)
    assert at.selectbox(key=next(s.key for s in at.selectbox if s.label == "Study")).value \
        == max(two_studies)
    assert at.query_params["study"] == str(max(two_studies))


def test_a_good_study_number_opens_it_without_a_notice(app, two_studies):
    at = _page(app(), "pages/studies.py", study=f"00{min(two_studies)}")
    assert not [n for n in texts(at.warning) if "not a study" in n]
    assert at.query_params["study"] == str(min(two_studies))


@pytest.mark.parametrize("raw", BAD_NUMBERS)
def test_a_bad_step_gets_a_notice_and_step_1(app, home, raw):
    at = _page(app(), "pages/lessons.py", lesson="curriculum", step=raw)
    notes = texts(at.warning)
    assert any("is not a step of this lesson" in n for n in notes), notes
    assert at.query_params["step"] == "1"


@pytest.mark.parametrize("raw", ["²", "①", "١", "9" * 5000])
def test_a_bad_run_number_gets_a_notice(app, home, raw):
    at = app()
    at.query_params["run"] = raw  # (read on the tab's first run)
    at.run()
    assert not at.exception
    notes = texts(at.warning)
    assert any("no run is shown" in n for n in notes) and all(len(n) < 300 for n in notes)
    assert "run" not in at.query_params


@pytest.mark.parametrize("delta", [
    {"name": "\ud800"},
    {"name": "\x1b[2Jfake"},
    {"data": {"dataset": "\ud800"}},
    {"data": {"tasks": ["\udfff"]}},
    {"\ud800": 1},
    {"seed": int("9" * 4000)},
])
def test_a_settings_link_with_unusable_text_gets_a_notice_and_the_defaults(app, home, delta):
    text = json.dumps(delta).replace(json.dumps(int("9" * 4000)), "9" * 5000) \
        if "seed" in delta else json.dumps(delta)
    link = "j" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    at = app()
    at.query_params["cfg"] = link
    at.run()
    assert not at.exception, [str(e.value)[:300] for e in at.exception]
    notes = texts(at.warning)
    assert any("settings could not be used" in n for n in notes), notes
    for n in notes:
        n.encode("utf-8")  # nothing a page cannot encode
        assert "\x1b" not in n and len(n) < 500
    assert "cfg" not in at.query_params
