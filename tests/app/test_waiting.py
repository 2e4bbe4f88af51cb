"""Waiting on the Train page: pressing Train shows the new run in the same script run,
with no second full rerun before its live view starts polling."""

from __future__ import annotations

import json
from pathlib import Path

from page_helpers import button, texts

import ui.train.form
from mtae_core.store.runs import RunStore
from ui.train.live import WAITING_TEXT


def test_train_shows_the_new_run_without_a_second_rerun(app, home, monkeypatch):
    page_runs: list[str] = []
    real = ui.train.form.experiment_form

    def counted(*args, **kwargs):  # pages/train.py draws its form through this, once a run
        page_runs.append("run")
        return real(*args, **kwargs)

    monkeypatch.setattr(ui.train.form, "experiment_form", counted)
    at = app()
    at.run()
    assert not at.exception
    # the sidebar's counts, drawn after the page, are there
    assert "0 run(s) stored" in texts(at.sidebar.caption)
    assert page_runs == ["run"]
    page_runs.clear()
    button(at, "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert page_runs == ["run"]  # one run of the page from the click to the run's live view

    (run,) = RunStore(home / "runs.db").runs()
    assert f"Run #{run.id}" in " ".join(texts(at.markdown))
    assert at.query_params["run"] == str(run.id)
    # the loss chart's place is drawn at once (plotly's script loads in the browser while
    # a worker starts the run), saying what comes, and keyed as the chart the first epoch
    # fills in, so the first point updates it in place
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and "loss-" in c.proto.id]
    spec = json.loads(chart.proto.spec)
    assert spec["data"] == []
    assert [a["text"] for a in spec["layout"]["annotations"]] == [WAITING_TEXT]
    assert spec["layout"]["title"]["text"] == "Loss per task"


def test_the_train_page_has_the_browser_load_the_chart_script_when_idle(app, home):
    """The Train form draws no chart until its Model tab is opened, so the page asks the
    browser to import Streamlit's plotly module once idle: the first live point then
    does not wait for it (the browser test sees the module fetched)."""
    import streamlit as st

    from ui.frame.preload import plotly_chunk

    chunk = plotly_chunk()
    assert chunk is not None  # Streamlit's file is where the page looks for it
    assert (Path(st.__file__).parent / "static" / "static" / "js" / chunk).is_file()
    at = app()
    at.run()
    assert not at.get("plotly_chart")
    (preload,) = [h for h in at.get("html") if "mtaePlotlyPreload" in h.proto.body]
    assert f'"{chunk}"' in preload.proto.body
