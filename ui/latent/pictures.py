"""Pictures of finished runs: reconstructions next to their originals across runs, two
runs' latent projections side by side on the same axes, a run's weights to download.
(The learned mixing over the epochs is ``charts.mixing_animation``: the run views draw it
and must stay light.) Figure builders are pure functions; the ``*_section`` functions
draw them with Streamlit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from mtae_core.analysis.projections import (
    IMAGE_SHAPES,
    UMAP_MISSING,
    MissingExtra,
    Reconstructions,
    reconstructions,
    same_axes,
    shared_labels,
    umap_available,
    weights_file,
)
from mtae_core.store.runs import Run, RunStore
from ui.latent.views import METHODS, projection
from ui.widgets import charts, downloads, text

MAX_RECON_RUNS = 6
RECON_IMAGES = 8


# ---- reconstructions ------------------------------------------------------------------------


def recon_figure(rec: Reconstructions, names: Mapping[int, str]) -> go.Figure:
    """A grid: the originals on the first row, each run's reconstructions of the same
    images on the rows beneath, every image on one grey scale (0 = white, the largest
    pixel = black, as the digits are drawn)."""
    rows = [("originals", rec.originals)] + [(names.get(i, f"run #{i}"), img)
                                              for i, img in rec.runs.items()]
    n = len(rec.originals)
    h, w = rec.shape
    top = float(max(16.0, *(float(np.nanmax(img)) for _, img in rows)))
    fig = make_subplots(rows=len(rows), cols=n, horizontal_spacing=0.01, vertical_spacing=0.04,
                        row_titles=None, subplot_titles=[*rec.captions, *[""] * (n * (len(rows) - 1))])
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            fig.add_trace(go.Heatmap(
                z=images[c], zmin=0, zmax=top, colorscale="Greys", showscale=False,
                name=label, hovertemplate=f"{text.plotly(label)}<br>row %{{y}}, column "
                "%{x}<br>pixel %{z:.1f}<extra></extra>"), row=r + 1, col=c + 1)
        fig.update_yaxes(title_text=_short(label), title_font={"size": 11}, row=r + 1, col=1)
    fig.update_xaxes(visible=False)
    # row 0 on top, as images are read (hover shows the same row as the CSV)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed")
    for k in range(len(rows) * n):  # square pixels in every cell
        axis = "" if k == 0 else str(k + 1)
        fig.layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}", scaleratio=1)
    cell = 90 if w <= h else 130
    fig.update_layout(height=60 + (cell * h // w if w > h else cell) * len(rows) + 30,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_annotations(font_size=10)
    return fig


def _short(label: str, width: int = 22) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def recon_frame(rec: Reconstructions, names: Mapping[int, str]) -> pd.DataFrame:
    """The grid's pixels as a long table: row (originals or a run), image, pixel row,
    pixel column, value."""
    parts = [("originals", rec.originals)] + [(names.get(i, f"run #{i}"), img)
                                               for i, img in rec.runs.items()]
    out = []
    for label, images in parts:
        n, h, w = images.shape
        i, r, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
        out.append(pd.DataFrame({"shown": label, "image": i.ravel() + 1, "pixel_row": r.ravel(),
                                 "pixel_col": c.ravel(), "value": images.ravel()}))
    return pd.concat(out, ignore_index=True)


@st.cache_data(show_spinner=False, max_entries=16)
def _reconstructions(db_path: str, run_ids: tuple[int, ...], n: int) -> Reconstructions:
    return reconstructions(RunStore(db_path), list(run_ids), n)


def recon_section(store: RunStore, done: Sequence[Run], label: Any) -> None:
    """Pick finished runs on image data; draw the originals and their reconstructions."""
    images = [r for r in done if r.config.data.dataset in IMAGE_SHAPES]
    if not images:
        st.info("Reconstructions are drawn for runs on image data ("
                + " or ".join(IMAGE_SHAPES) + ") with the reconstruction task. Train one on "
                "the Train page (digits has the task by default).")
        return
    with_task = [r for r in images if "reconstruction" in r.config.data.tasks] or images
    # two runs whose images can stand side by side: the first run's data set
    default = [r.id for r in with_task if r.config.data.dataset == with_task[0].config.data.dataset][:2]
    ids = st.multiselect("Runs", [r.id for r in images], default=default, key="pictures.recon.runs",
                         max_selections=MAX_RECON_RUNS,
                         format_func=lambda i: label(next(r for r in images if r.id == i)))
    if not ids:
        st.caption("Pick one or more runs.")
        return
    with st.spinner("Reconstructing the test images…"):
        rec = _reconstructions(str(store.path), tuple(ids), RECON_IMAGES)
    for why in rec.notes.values():
        st.warning(text.md(why[:1].upper() + why[1:]) + ".")
    if not rec.runs:
        return
    names = {i: f"#{i} · MSE {rec.mse[i]:.2f}" for i in rec.runs}
    downloads.chart(recon_figure(rec, names), "reconstructions", data=recon_frame(rec, names),
                    key="pictures.recon")
    for run_id, caveat in rec.caveats.items():
        st.caption(f"Run #{run_id}: " + text.md(caveat) + ".")
    st.caption(f"Top row: {len(rec.originals)} test images of {rec.dataset} (pixel values "
               "0–16). Below, each run's reconstruction of the same images, scaled back to "
               "pixels; MSE is the mean squared pixel error over these images. A blurry row "
               "is a code that kept little of the picture.")


# ---- two latent projections side by side ----------------------------------------------------


UMAP_FIRST = " (UMAP's first use on a server compiles its code: about half a minute)"


def projection_methods() -> dict[str, str]:
    """The projections offered: UMAP always listed, so that choosing it can say how to
    install it when it is missing."""
    return {**METHODS, "umap": "UMAP (keeps neighbours; needs the umap extra)"}


def pair_figures(frames: Sequence[pd.DataFrame], colour: str | None,
                 titles: Sequence[str]) -> list[go.Figure]:
    """One latent scatter per frame, coloured by the same label, on the same ranges."""
    xr, yr = same_axes(frames)
    figs = []
    for frame, title in zip(frames, titles, strict=True):
        fig = charts.latent_scatter(frame, colour, title=text.plotly(title))
        fig.update_xaxes(range=list(xr), autorange=False)
        # the y axis follows x's scale (scaleanchor): one unit is one unit in both plots
        fig.update_yaxes(range=list(yr), autorange=False)
        fig.update_layout(height=460)
        figs.append(fig)
    return figs


def side_by_side_section(store: RunStore, done: Sequence[Run], label: Any) -> None:
    if len(done) < 2:
        st.info("Two finished runs are needed to compare their latent spaces.")
        return
    methods = projection_methods()
    c1, c2, c3 = st.columns([2, 2, 2])
    a = c1.selectbox("Left run", done, index=0, format_func=label, key="pictures.pair.a")
    b = c2.selectbox("Right run", done, index=1, format_func=label, key="pictures.pair.b")
    method = c3.radio("Projection", list(methods), format_func=methods.get, horizontal=True,
                      key="pictures.pair.method")
    if method == "umap" and not umap_available():
        st.info(UMAP_MISSING)
        return
    frames, keys = [], []
    try:
        with st.spinner("Projecting both test sets…" + (UMAP_FIRST if method == "umap" else "")):
            for run in (a, b):
                frame, k = projection(str(store.path), run.id, None, method)
                frames.append(frame)
                keys.append(k[0])
    except MissingExtra as e:
        st.info(str(e))
        return
    labels = shared_labels(frames)
    colour = st.selectbox("Colour both by", labels, key="pictures.pair.colour") if labels else None
    if not labels:
        st.caption("The two runs share no task label to colour by.")
    titles = [f"#{run.id}: {key} code" for run, key in zip((a, b), keys, strict=True)]
    cols = st.columns(2)
    for i, (fig, frame, col) in enumerate(zip(pair_figures(frames, colour, titles), frames, cols,
                                              strict=True)):
        downloads.chart(fig, f"latent-run-{(a, b)[i].id}-{method}", data=frame,
                        key=f"pictures.pair.{i}", where=col)
    st.caption("Both projections are drawn on the same ranges and scale, and coloured by "
               "the same task, so tighter or more separated groups on one side are a real "
               "difference. The projections are computed separately: their directions "
               "(rotations, flips) mean nothing.")


def weights_download(store: RunStore, run: Run) -> None:
    """The run's trained weights as a .pt file, or why there are none."""
    blob = weights_file(store, run.id)
    if blob is None:
        st.caption(f"Run #{run.id} saved no weights ({run.status}): nothing to download.")
        return
    downloads.weights_button(blob, run.id)
