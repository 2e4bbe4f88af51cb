"""What a run learned besides its losses, on the Train run view and on Compare: task
weights, the gradient-conflict heatmap, auxiliary losses and each scheme's learned mixing;
and the network diagram with parameter counts next to the form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from page_helpers import field

from mtae_core import ExperimentConfig, models
from mtae_core.data import load
from mtae_core.store.runs import RunStore


def titles(at: Any) -> list[str]:
    out = []
    for chart in at.get("plotly_chart"):
        title = json.loads(chart.proto.spec)["layout"].get("title", {})
        out.append(str(title.get("text", "")) if isinstance(title, dict) else str(title))
    return out


def run_view(app: Any, run_id: int) -> Any:
    at = app()
    at.query_params["run"] = str(run_id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(("name", "expected", "absent"), [
    # hard + equal: plain weights and the conflict between the tasks on the shared encoder
    ("hard", ["Task weights", "Gradient conflict between tasks"],
     ["Task weights (effective)", "Auxiliary losses"]),
    # a gradient method shows the weights its update direction amounts to
    ("pcgrad", ["Task weights (effective)", "Gradient conflict between tasks"], []),
    ("mmoe", ["Gate weights per task and expert"], []),
    ("cross", ["Cross-stitch units"], []),
    ("soft", ["Soft sharing: mean distance between task networks", "Auxiliary losses"], []),
    # nothing is shared between single-task networks: no conflict to show
    ("single", ["Task weights"], ["Gradient conflict between tasks"]),
])
def test_run_view_shows_what_the_run_learned(app, filled, name, expected, absent):
    at = run_view(app, filled.ids[name])
    shown = titles(at)
    for t in expected:
        assert any(s.startswith(t) for s in shown), (t, shown)
    for t in absent:
        assert t not in shown, (t, shown)


def test_conflict_heatmap_holds_the_stored_cosines(app, filled):
    store = RunStore(filled.path)
    run_id = filled.ids["hard"]
    latest = store.extras(run_id)[-1]["grad_cosine"]
    at = run_view(app, run_id)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "Gradient conflict" in json.dumps(json.loads(c.proto.spec)["layout"]))
    matrix = spec["data"][0]
    assert matrix["type"] == "heatmap"
    assert matrix["z"] == latest  # the latest epoch's task × task cosines, unchanged
    assert matrix["x"] == ["digit", "parity", "reconstruction"]
    per_epoch = spec["data"][1]
    assert per_epoch["y"] == ["digit ↔ parity", "digit ↔ reconstruction",
                              "parity ↔ reconstruction"]
    assert len(per_epoch["x"]) == len(store.extras(run_id))  # one column per epoch


def test_compare_shows_inside_a_chosen_run(app, filled):
    at = app()
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    box = at.selectbox(key="compare.inside")
    # the three newest finished runs are compared on arrival: synth, uncert, pcgrad
    assert box.value == filled.ids["synth"]
    shown = titles(at)
    assert "Task weights" in shown and "Task weights (effective)" not in shown
    box.set_value(filled.ids["pcgrad"]).run()
    assert not at.exception
    assert "Task weights (effective)" in titles(at)


def test_model_tab_counts_parameters_of_the_chosen_scheme(app, home):
    at = app()
    at.run()
    for scheme in ("hard", "mmoe", "single_task"):
        field(at, "model.sharing.name").set_value(scheme).run()
        assert not at.exception
        shown = {m.label: int(m.value.replace(",", "")) for m in at.metric}
        cfg = ExperimentConfig().replace(model={"sharing": scheme})  # the form's defaults
        data = load(cfg.data, cfg.seed)
        expected = models.count_parameters(models.build(cfg.model, data.tasks, data.input_dim))
        assert shown == {"Parameters": expected["total"], "Shared": expected["shared"],
                         "Task-specific": expected["task_specific"]}
        # the diagram of that network is drawn beside the counts
        assert any(f"{expected['total']:,} parameters" in t for t in titles(at)), titles(at)
    assert shown["Shared"] == 0  # single-task networks share nothing

