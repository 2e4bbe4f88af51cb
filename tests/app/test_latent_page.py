"""The Latent space page through Streamlit's AppTest: which runs it lists, the
projection and its colours, regression runs and per-task codes."""

from __future__ import annotations

from typing import Any

from page_helpers import array, figures, open_page, selectbox
from streamlit.testing.v1 import AppTest

from mtae_core.store.runs import RunStore

# ---- Latent space -------------------------------------------------------------------------


def choose_run(at: AppTest, filled: Any, name: str) -> AppTest:
    run = RunStore(filled.path).get_run(filled.ids[name])
    selectbox(at, "Run").set_value(run).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


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
