"""The pictures of the Latent page (two runs side by side, reconstructions) and the
Compare page (learned mixing over the epochs, downloads of every chart and the weights)."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import torch
from page_helpers import texts
from streamlit.testing.v1 import AppTest

from mtae_core.store.runs import RunStore


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart_configs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.config) for c in at.get("plotly_chart")]


def download_labels(at: AppTest) -> list[str]:
    return [d.proto.label for d in at.get("download_button")]


def by_label(widgets: Any, label: str) -> Any:
    found = [w for w in widgets if w.label == label]
    assert len(found) == 1, [w.label for w in widgets]
    return found[0]


def show(at: AppTest, view: str) -> AppTest:
    at.segmented_control[0].set_value(view).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_one_run_view_has_png_name_and_csv(app, filled, files):
    at = open_page(app(), "pages/latent.py")
    [config] = chart_configs(at)
    assert config["toImageButtonOptions"]["format"] == "png"
    assert config["toImageButtonOptions"]["filename"].startswith("latent-run-")
    assert download_labels(at) == ["Download data (CSV)"]
    [csv] = [v for k, v in files.items() if k.startswith("latent-run-")]
    header = csv.decode().splitlines()[0].split(",")
    assert header[:2] == ["x", "y"] and len(header) > 2  # and the task labels


def test_two_runs_side_by_side_share_axes_and_colour(app, filled, monkeypatch):
    at = show(open_page(app(), "pages/latent.py"), "pair")
    store = RunStore(filled.path)
    by_label(at.selectbox, "Left run").set_value(store.get_run(filled.ids["hard"])).run()
    by_label(at.selectbox, "Right run").set_value(store.get_run(filled.ids["mmoe"])).run()
    assert not at.exception
    colour = by_label(at.selectbox, "Colour both by")
    assert colour.options == ["digit", "parity"]
    colour.set_value("parity").run()
    left, right = figures(at)
    for axis in ("xaxis", "yaxis"):
        assert left["layout"][axis]["range"] == right["layout"][axis]["range"]
    for fig in (left, right):
        assert fig["layout"]["legend"]["title"]["text"] == "parity"
    assert f"#{filled.ids['hard']}" in left["layout"]["title"]["text"]
    assert f"#{filled.ids['mmoe']}" in right["layout"]["title"]["text"]
    assert download_labels(at) == ["Download data (CSV)"] * 2
    # UMAP is offered; without the extra, choosing it says how to install it
    method = by_label(at.radio, "Projection")
    assert any(o.startswith("UMAP") for o in method.options)
    import ui.latent.pictures
    monkeypatch.setattr(ui.latent.pictures, "umap_available", lambda: False)
    method.set_value("umap").run()
    assert not at.exception
    assert any("pip install 'mtae-studio[umap]'" in t for t in texts(at.info))
    assert not at.get("plotly_chart")


def test_reconstructions_grid_and_runs_without_them(app, filled, files):
    at = show(open_page(app(), "pages/latent.py"), "recon")
    runs = by_label(at.multiselect, "Runs")
    # image-data runs only (synth is not image data)
    listed = {o.split(" ", 1)[0] for o in runs.options}
    assert f"#{filled.ids['synth']}" not in listed and f"#{filled.ids['hard']}" in listed
    runs.set_value([filled.ids["hard"], filled.ids["mmoe"]]).run()
    assert not at.exception
    [fig] = figures(at)
    heatmaps = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 3 * 8  # originals + two runs, 8 images each
    assert {t["name"] for t in heatmaps} >= {"originals"}
    assert any(t["name"].startswith(f"#{filled.ids['hard']} · MSE") for t in heatmaps)
    csv = files["reconstructions.csv"].decode().splitlines()
    assert csv[0] == "shown,image,pixel_row,pixel_col,value"
    assert len(csv) == 1 + 3 * 8 * 64


def test_reconstructions_of_a_run_without_the_task_say_why(app, home):
    from page_helpers import tiny

    from mtae_core.runner.jobs import execute
    store = RunStore(home / "runs.db")
    cfg = tiny("no-recon", data={"tasks": ["digit", "parity"]})
    run_id = store.create_run(cfg)
    execute(store, run_id, cfg)
    at = show(open_page(app(), "pages/latent.py"), "recon")
    assert by_label(at.multiselect, "Runs").value == [run_id]
    assert any("has no reconstruction task" in t for t in texts(at.warning))
    assert not at.get("plotly_chart")


def select_runs(at: AppTest, filled: Any, names: list[str]) -> AppTest:
    """Tick rows of the runs table (through session state, as a click would)."""
    table = at.dataframe[0]
    ids = list(table.value["id"])
    at.session_state[table.key] = {"selection": {"rows": [ids.index(filled.ids[n]) for n in names],
                                                 "columns": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(("name", "panels", "prefix"), [
    ("mmoe", 1, "Gate weights per task and expert"),
    ("cross", 2, "Cross-stitch units"),  # one α matrix after each of the two layers
])
def test_compare_mixing_over_epochs_with_a_slider(app, filled, files, name, panels, prefix):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, [name])
    fig = next(f for f in figures(at) if str(f["layout"].get("title", {}).get("text", "")).startswith(prefix)
               and f.get("frames"))
    extras = RunStore(filled.path).extras(filled.ids[name])
    assert [fr["name"] for fr in fig["frames"]] == [str(e["epoch"] + 1) for e in extras]  # every epoch
    assert all(len(fr["data"]) == panels for fr in fig["frames"])
    [slider] = fig["layout"]["sliders"]
    assert [s["label"] for s in slider["steps"]] == [fr["name"] for fr in fig["frames"]]
    assert slider["active"] == len(extras) - 1  # opens on the last epoch
    # the frames hold the stored values of their epoch
    first = extras[0]["gates"]["gates"]["rows"] if name == "mmoe" else extras[0]["cross_stitch"]["alphas"][0]
    z = fig["frames"][0]["data"][0]["z"]
    expected = list(first.values()) if name == "mmoe" else first
    np.testing.assert_allclose(np.array(z, dtype=float), np.array(expected, dtype=float), rtol=1e-6)
    stem = f"run-{filled.ids[name]}-" + ("gate-weights" if name == "mmoe" else "cross-stitch-units")
    [csv] = [v.decode().splitlines() for k, v in files.items() if k.startswith(stem)]
    assert csv[0] == "frame,trace,x,y,z"
    assert {row.split(",")[0] for row in csv[1:]} >= {str(e["epoch"] + 1) for e in extras}
    # the latest epoch's static heatmap is gone: the slider opens on it
    assert sum(str(f["layout"].get("title", {}).get("text", "")).startswith(prefix)
               for f in figures(at)) == 1


def test_compare_every_chart_offers_png_and_csv_and_the_weights(app, filled, files):
    at = select_runs(open_page(app(), "pages/compare.py"), filled, ["hard", "mmoe"])
    configs = chart_configs(at)
    assert configs and all(c.get("toImageButtonOptions", {}).get("format") == "png"
                           for c in configs), configs
    csv_buttons = download_labels(at).count("Download data (CSV)")
    assert csv_buttons >= 4  # 3 loss charts (digit, parity, reconstruction) and the gains
    loss = files["loss-digit-val.csv"].decode().splitlines()
    assert loss[0] == "run_id,run,epoch,loss" and len(loss) == 1 + 2 * 2  # 2 runs × 2 epochs
    assert "Download trained weights (.pt)" in download_labels(at)
    inside = by_label(at.selectbox, "Run").value
    blob = files[f"run-{inside}-weights.pt"]
    state = torch.load(io.BytesIO(blob), weights_only=True)
    stored = RunStore(filled.path).load_weights(int(inside))
    assert stored is not None and state.keys() == stored.keys()
    assert all(torch.equal(state[k], stored[k]) for k in stored)


@pytest.mark.parametrize("page", ["pages/data.py", "pages/latent.py", "pages/compare.py"])
def test_every_chart_of_a_page_has_its_png_and_csv(app, filled, page):
    at = open_page(app(), page)
    if page == "pages/compare.py":
        at = select_runs(at, filled, ["mmoe"])
    configs = chart_configs(at)
    assert configs, "no chart drawn"
    assert all(c["toImageButtonOptions"]["format"] == "png" for c in configs), configs
    assert len({c["toImageButtonOptions"]["filename"] for c in configs}) == len(configs)
    assert download_labels(at).count("Download data (CSV)") == len(configs)


@pytest.mark.parametrize(("name", "offered"), [("hard", True), ("diverge", False)])
def test_train_run_view_offers_the_weights_of_a_finished_run(app, filled, files, name, offered):
    at = app()
    at.query_params["run"] = str(filled.ids[name])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert ("Download trained weights (.pt)" in download_labels(at)) is offered
    if offered:
        state = torch.load(io.BytesIO(files[f"run-{filled.ids[name]}-weights.pt"]), weights_only=True)
        assert state.keys() == RunStore(filled.path).load_weights(filled.ids[name]).keys()


def test_the_network_diagram_saves_as_png_and_stays_still(app):
    from page_helpers import open_tab

    at = app()
    at.run()
    assert not at.exception
    # drawn on the Model tab only (the form draws only its open tab)
    assert not [c for c in at.get("plotly_chart")]
    open_tab(at, "Model")
    [diagram] = [c for c in at.get("plotly_chart")
                 if "parameters" in json.loads(c.proto.spec)["layout"]["title"]["text"]]
    config = json.loads(diagram.proto.config)
    assert config["toImageButtonOptions"]["filename"] == "network-hard"
    assert config["modeBarButtons"] == [["toImage"]]
    assert json.loads(diagram.proto.spec)["layout"]["dragmode"] is False


def test_reconstructions_start_with_runs_on_one_data_set(app, home):
    from page_helpers import tiny

    from mtae_core.runner.jobs import execute
    store = RunStore(home / "runs.db")
    ids = []
    for name, data in [("a", {}), ("md", {"dataset": "multi_digits", "options": {"n": 200},
                                          "tasks": ["left", "reconstruction"]}), ("b", {})]:
        cfg = tiny(name, data=data) if data else tiny(name)
        ids.append(store.create_run(cfg))
        execute(store, ids[-1], cfg)
    at = show(open_page(app(), "pages/latent.py"), "recon")
    assert by_label(at.multiselect, "Runs").value == [ids[2], ids[0]]  # newest first, digits
    assert not at.warning
