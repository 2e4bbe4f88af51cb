"""The Method arena page: the chosen methods' paths from the chosen start points on the
toy's contour plot with the Pareto set, in loss space, and as CSV."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from page_helpers import texts
from streamlit.testing.v1 import AppTest

from mtae_core.analysis import arena
from ui.arena.page import DEFAULT_LR, DEFAULT_METHODS, DEFAULT_STARTS


def open_arena(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("pages/arena.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(values: Any) -> np.ndarray:
    if isinstance(values, dict):  # plotly's typed arrays
        import base64
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=float)


def widget(widgets: Any, label: str) -> Any:
    found = [w for w in widgets if w.label == label]
    assert len(found) == 1, [w.label for w in widgets]
    return found[0]


def submit(at: AppTest) -> AppTest:
    at.button[0].click().run()  # the form's one button: "Run the methods"
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def small(app):
    """The arena with short runs, so a test stays fast."""
    at = open_arena(app())
    widget(at.slider, "Steps").set_value(50)
    return submit(at)


def test_the_arena_is_in_the_navigation(app):
    at = open_arena(app())
    assert at.title[0].value == "Method arena"
    assert widget(at.multiselect, "Methods").value == DEFAULT_METHODS


def test_paths_contours_and_pareto_set(small):
    at = small
    params, losses = figures(at)
    names = [t.get("name") for t in params["data"]]
    assert "task 1 loss" in names and "task 2 loss" in names and "Pareto set" in names
    assert [t["type"] for t in params["data"][:2]] == ["contour", "contour"]
    paths = [t for t in params["data"] if t.get("mode") == "lines"]
    assert len(paths) == len(DEFAULT_METHODS) * len(DEFAULT_STARTS)
    assert {t["name"] for t in paths} == set(DEFAULT_METHODS)
    # each path is the engine's own trajectory from its start point
    first = paths[0]
    tr = arena.run_method(first["name"], arena.STARTS[DEFAULT_STARTS[0]], steps=50, lr=DEFAULT_LR)
    np.testing.assert_allclose(array(first["x"]), tr.points[:, 0], rtol=1e-6)
    np.testing.assert_allclose(array(first["y"]), tr.points[:, 1], rtol=1e-6)
    assert "Pareto front" in [t.get("name") for t in losses["data"]]
    ends = at.dataframe[0].value
    assert len(ends) == len(paths)
    assert (ends["distance to the Pareto set"] >= 0).all()
    configs = [json.loads(c.proto.config) for c in at.get("plotly_chart")]
    assert [c["toImageButtonOptions"]["filename"] for c in configs] == ["arena-paths", "arena-loss-space"]
    assert [d.proto.label for d in at.get("download_button")] == ["Download data (CSV)"] * 2


def test_pick_methods_and_an_own_start_point(small):
    at = small
    widget(at.multiselect, "Methods").set_value(["cagrad", "uncertainty"])
    widget(at.multiselect, "Start points").set_value([])
    widget(at.checkbox, "Add my own start point").check()
    widget(at.number_input, "Start x").set_value(3.0)
    widget(at.number_input, "Start y").set_value(-2.0)
    submit(at)
    params, _ = figures(at)
    paths = [t for t in params["data"] if t.get("mode") == "lines"]
    assert [t["name"] for t in paths] == ["cagrad", "uncertainty"]
    for t in paths:
        assert (array(t["x"])[0], array(t["y"])[0]) == (3.0, -2.0)


def test_nothing_picked_is_explained(small):
    at = small
    widget(at.multiselect, "Methods").set_value([])
    submit(at)
    assert any("Pick at least one method" in t for t in texts(at.info))
    assert not at.get("plotly_chart")


def test_method_options_use_the_schema_widgets_and_bad_ones_are_explained(small):
    at = small
    widget(at.multiselect, "Methods").set_value(["fixed"])
    widget(at.multiselect, "Start points").set_value(["top right"])
    submit(at)
    # fixed λ: one slider per toy task, as on the Train page
    widget(at.slider, "task 1").set_value(1.0)
    widget(at.slider, "task 2").set_value(0.0)
    submit(at)
    params, _ = figures(at)
    [path] = [t for t in params["data"] if t.get("mode") == "lines"]
    expected = arena.run_method("fixed", arena.STARTS["top right"], steps=50, lr=DEFAULT_LR,
                                options={"weights": {"task 1": 1.0, "task 2": 0.0}})
    np.testing.assert_allclose(array(path["x"]), expected.points[:, 0], rtol=1e-6)
    equal = arena.run_method("equal", arena.STARTS["top right"], steps=50, lr=DEFAULT_LR)
    assert not np.allclose(expected.points, equal.points)  # λ changed the path

    widget(at.slider, "task 1").set_value(0.0)
    submit(at)
    assert any("fixed: weights: at least one task needs a weight above 0" in t
               for t in texts(at.error)), texts(at.error)
    assert not at.get("plotly_chart")


def test_too_much_work_at_once_is_refused_in_plain_words(small):
    at = small
    widget(at.multiselect, "Methods").set_value(["equal", "pcgrad", "mgda", "cagrad", "rlw"])
    widget(at.multiselect, "Start points").set_value(list(arena.STARTS))
    widget(at.slider, "Steps").set_value(3000)
    submit(at)
    assert any("That is 75,000 steps in all (5 methods × 5 start points × 3,000 steps)" in t
               for t in texts(at.error)), texts(at.error)
    assert not at.get("plotly_chart")
