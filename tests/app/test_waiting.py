"""Waiting on the Train page: pressing Train shows the new run in the same script run,
with no second full rerun before its live view starts polling."""

from __future__ import annotations

import json

from page_helpers import button, texts

import ui.train_form
from mtae_core.store import RunStore
from ui.live import WAITING_TEXT


def test_train_shows_the_new_run_without_a_second_rerun(app, home, monkeypatch):
    page_runs: list[str] = []
    real = ui.train_form.experiment_form

    def counted(*args, **kwargs):  # pages/train.py draws its form through this, once a run
        page_runs.append("run")
        return real(*args, **kwargs)

    monkeypatch.setattr(ui.train_form, "experiment_form", counted)
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
