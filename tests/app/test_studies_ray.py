"""The Studies page offers Ray when it is installed (and only then): a study started on
Ray is queued for the app's Ray driver, so the app's local workers leave its runs alone.
(No workers in page tests: Ray itself is not started here; tests/unit/test_ray_backend.py
runs studies on it.)"""

from __future__ import annotations

import sqlite3

import pytest
from page_helpers import texts
from streamlit.testing.v1 import AppTest

from mtae_core.runner import ray_backend
from mtae_core.store.runs import RunStore
from ui.studies.form import RUN_ON

PAGE = "pages/studies.py"


def _open(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="studies.epochs").set_value(2).run()
    at.number_input(key="studies.seeds").set_value(1).run()
    at.selectbox(key="studies.axis0.field").set_value("model.sharing").run()
    at.multiselect(key="studies.axis0.values.model.sharing").set_value(["hard", "mmoe"]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _backends(path) -> list[str | None]:
    with sqlite3.connect(path) as c:
        return [r[0] for r in c.execute("SELECT backend FROM runs ORDER BY id")]


def test_studies_page_offers_ray_when_installed(app, home):
    pytest.importorskip("ray")
    at = _open(app())
    (where,) = [r for r in at.radio if r.label == "Run on"]
    assert where.options == list(RUN_ON.values())  # this computer's workers, or Ray
    assert not [t for t in at.text_input if t.label == "Ray cluster address"]
    where.set_value("ray").run()
    (address,) = [t for t in at.text_input if t.label == "Ray cluster address"]
    assert "this computer" in address.placeholder
    [b for b in at.button if b.label == "Start study"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore(home / "runs.db")
    (study,) = store.studies()
    assert len(store.runs(["queued"])) == 3
    assert _backends(store.path) == ["ray"] * 3  # for the Ray driver, not local workers
    assert store.claim_next(1) is None


def test_without_ray_the_choice_is_absent(app, home, monkeypatch):
    monkeypatch.setattr(ray_backend, "available", lambda: False)
    at = _open(app())
    assert not [r for r in at.radio if r.label == "Run on"], texts(at.radio)
    [b for b in at.button if b.label == "Start study"][0].click().run()
    assert not at.exception
    assert _backends(home / "runs.db") == [None] * 3  # queued for the local workers

