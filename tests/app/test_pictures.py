"""Pictures of finished runs: reconstructions next to their originals across runs, two
runs' latent projections on shared axes, the weights file, and every chart's CSV."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from mtae_core.analysis import projections as analysis
from mtae_core.runner.jobs import execute
from ui.widgets import charts


def trained(store, cfg, **changes):
    cfg = cfg.replace(**changes) if changes else cfg
    run_id = store.create_run(cfg)
    execute(store, run_id, cfg)
    return run_id


def test_scaling_back_gives_the_runs_own_test_inputs(store, tiny_cfg):
    """The scaler rebuilt for the pictures is the one the data was scaled with."""
    for scaling in ("standard", "minmax", "none"):
        run_id = trained(store, tiny_cfg, data={"scaling": scaling})
        cfg, data, _ = analysis.load_trained(store, run_id)
        raw, _, split = analysis._raw_inputs(cfg, data)
        scaler = analysis._scaler(cfg, raw, split[0])
        np.testing.assert_allclose(scaler.transform(raw[split[2]]), data.test.x.numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_reconstructions_side_by_side_across_runs(store, tiny_cfg):
    a = trained(store, tiny_cfg)
    b = trained(store, tiny_cfg, seed=7, training={"epochs": 6, "batch_size": 128, "device": "cpu"})
    r = analysis.reconstructions(store, [a, b], n=5)
    assert r.dataset == "digits" and r.shape == (8, 8)
    assert r.originals.shape == (5, 8, 8)
    assert r.originals.min() >= 0 and r.originals.max() <= 16  # pixel intensities
    # the originals are scikit-learn's images of the run's first test rows
    from sklearn.datasets import load_digits
    cfg, data, model = analysis.load_trained(store, a)
    test = data.extras["split_indices"][2]
    np.testing.assert_allclose(r.originals, load_digits().images[r.rows])
    where = [int(np.flatnonzero(test == row)[0]) for row in r.rows]  # all from the test split
    shown = [int(data.test.y["digit"][i]) for i in where]
    assert len(set(shown)) == 5  # five different digits, not the first five test images
    assert r.captions == [f"digit {d}, parity {d % 2}" for d in shown]
    assert set(r.runs) == {a, b} and not r.notes and not r.caveats
    # run a's reconstructions: its own model on its own scaled test inputs, scaled back
    with torch.no_grad():
        own = model(data.test.x[where]).outputs["reconstruction"].numpy()
    raw, _, split = analysis._raw_inputs(cfg, data)
    back = analysis._scaler(cfg, raw, split[0]).inverse_transform(own)
    np.testing.assert_allclose(r.runs[a].reshape(5, -1), back, rtol=1e-4, atol=1e-4)
    assert r.mse[a] == pytest.approx(float(np.mean((back - r.originals.reshape(5, -1)) ** 2)))
    # another run reconstructs the same originals its own way
    assert r.runs[b].shape == (5, 8, 8) and not np.allclose(r.runs[a], r.runs[b])


def test_runs_without_reconstructions_say_why(store, tiny_cfg):
    image = trained(store, tiny_cfg)
    no_task = trained(store, tiny_cfg, data={"tasks": ["digit", "parity"]})
    wine = trained(store, tiny_cfg, data={"dataset": "wine", "tasks": ["cultivar", "reconstruction"]})
    other_seed = trained(store, tiny_cfg, data={"seed": 3})
    r = analysis.reconstructions(store, [no_task, image, wine, other_seed, 999])
    assert set(r.runs) == {image, other_seed}
    assert "has no reconstruction task" in r.notes[no_task]
    assert "wine, which is not image data" in r.notes[wine]
    assert "no longer exists" in r.notes[999]
    assert "some of these images may be in its training set" in r.caveats[other_seed]
    none = analysis.reconstructions(store, [wine])
    assert none.dataset is None and not none.runs and wine in none.notes


def test_multi_digits_images_are_eight_by_sixteen(store, tiny_cfg):
    run_id = trained(store, tiny_cfg, data={"dataset": "multi_digits", "options": {"n": 300},
                                            "tasks": ["left", "reconstruction"]})
    r = analysis.reconstructions(store, [run_id], n=3)
    assert r.shape == (8, 16) and r.runs[run_id].shape == (3, 8, 16)
    assert r.captions[0].startswith("left ")


def test_two_projections_share_axes_and_labels(store, tiny_cfg):
    a = trained(store, tiny_cfg)
    b = trained(store, tiny_cfg, model={"sharing": "mmoe", "hidden": [16], "latent_dim": 4,
                                        "head_hidden": 8})
    fa, _ = analysis.latent_frame(store, a)
    fb, _ = analysis.latent_frame(store, b)
    assert analysis.shared_labels([fa, fb]) == ["digit", "parity"]
    (x0, x1), (y0, y1) = analysis.same_axes([fa, fb])
    for f in (fa, fb):
        assert x0 < f["x"].min() and f["x"].max() < x1 and y0 < f["y"].min() and f["y"].max() < y1
    assert x0 == pytest.approx(min(fa["x"].min(), fb["x"].min()) - 0.05 * (x1 - x0) / 1.1, rel=1e-6)
    assert not np.allclose(fa[["x", "y"]].to_numpy(), fb[["x", "y"]].to_numpy())


@pytest.mark.slow  # umap's first call compiles with numba: about 20 s
@pytest.mark.skipif(not analysis.umap_available(), reason="the umap extra is not installed")
def test_umap_projection():
    codes = np.random.default_rng(0).normal(size=(40, 4))
    xy = analysis.project(codes, "umap")
    assert xy.shape == (40, 2) and np.isfinite(xy).all()


def test_umap_missing_gives_a_plain_message(monkeypatch):
    codes = np.random.default_rng(0).normal(size=(40, 4))
    import builtins
    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(analysis.MissingExtra, match="pip install 'mtae-studio\\[umap\\]'"):
        analysis.project(codes, "umap")


def test_weights_file_loads_into_the_model(store, tiny_cfg):
    run_id = trained(store, tiny_cfg)
    blob = analysis.weights_file(store, run_id)
    assert blob is not None
    state = torch.load(io.BytesIO(blob), weights_only=True)
    _, _, model = analysis.load_trained(store, run_id)
    assert state.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v)
    queued = store.create_run(tiny_cfg)
    assert analysis.weights_file(store, queued) is None


def test_figure_data_lists_what_the_figure_draws():
    fig = go.Figure([go.Scatter(x=[1, 2], y=[3.0, 4.0], name="a"),
                     go.Heatmap(z=[[1, 2, 3], [4, 5, 6]], x=["p", "q", "r"], y=["u", "v"], name="h")])
    fig.frames = [go.Frame(data=[go.Scatter(x=[9], y=[8], name="a")], name="epoch 2")]
    d = charts.figure_data(fig)
    assert list(d.columns) == ["frame", "trace", "x", "y", "z"]
    assert d[d["trace"] == "a"].dropna(subset=["y"])[["x", "y"]].values.tolist()[:2] == [[1, 3.0], [2, 4.0]]
    h = d[d["trace"] == "h"]
    assert len(h) == 6 and h[(h["x"] == "r") & (h["y"] == "v")]["z"].item() == 6
    assert d[d["frame"] == "epoch 2"][["x", "y"]].values.tolist() == [[9, 8]]


def test_chart_config_keeps_the_png_camera_and_names_the_file():
    cfg = charts.chart_config("Loss — digit (validation)")
    assert cfg["toImageButtonOptions"] == {"format": "png", "filename": "loss-digit-validation",
                                           "scale": 2}
    assert "modeBarButtonsToRemove" not in cfg and not cfg.get("staticPlot")


def test_mixing_animation_has_a_frame_per_epoch_and_a_panel_per_level():
    def gates(epoch: int) -> dict:
        w = [0.5 + 0.1 * epoch, 0.5 - 0.1 * epoch]
        level = {"experts": ["shared 1", "a 1"], "rows": {"a": w, "b": w[::-1]}}
        return {"epoch": epoch, "gates": {"level 1": level, "level 2": level}}

    fig = charts.mixing_animation([gates(e) for e in range(3)])
    assert fig is not None
    assert [f.name for f in fig.frames] == ["1", "2", "3"]
    assert all(len(f.data) == 2 for f in fig.frames)  # one heatmap per level
    np.testing.assert_allclose(fig.frames[1].data[0].z, [[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_allclose(fig.data[0].z, [[0.7, 0.3], [0.3, 0.7]])  # opens on the last
    assert fig.layout.sliders[0].active == 2
    assert [a.text for a in fig.layout.annotations] == ["level 1", "level 2"]
    assert charts.mixing_animation([{"epoch": 0, "weights": {"a": 1.0}}]) is None  # nothing mixed


def test_every_chart_is_drawn_through_the_download_helper():
    """A chart drawn with st.plotly_chart directly would have no CSV button (and maybe no
    PNG name): only ui.widgets.downloads draws charts, the network diagram (a picture: PNG
    only, through charts.chart_config) and a run's loss chart before its first epoch
    (no data yet: PNG only, the same key as the chart ui.widgets.downloads then draws)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed = {root / "ui" / "widgets" / "downloads.py": 1, root / "ui" / "train" / "form.py": 1,
               root / "ui" / "train" / "live.py": 1}
    for path in [root / "app.py", *root.glob("pages/*.py"), *root.glob("ui/**/*.py")]:
        calls = len(re.findall(r"\.plotly_chart\(", path.read_text()))
        assert calls == allowed.get(path, 0), (path.name, calls)
    assert "chart_config" in (root / "ui" / "train" / "form.py").read_text()
    assert "chart_config" in (root / "ui" / "train" / "live.py").read_text()
