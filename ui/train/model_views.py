"""Plotly views of the models: the architecture of a config and the learned mixing.

Pure functions returning ``plotly.graph_objects.Figure``; no Streamlit here.

- ``architecture_figure(cfg: ExperimentConfig, data: MultiTaskData | None = None)
  -> tuple[Figure, dict[str, int]]`` builds the config's model (on the CPU, untrained;
  ``data`` saves loading the data set), draws its ``SharingScheme.diagram()`` (input,
  shared blocks, per-task blocks, experts, gates, cross-stitch units and heads, coloured
  by kind) and returns it with the model's parameter counts (total, shared, task_specific).
- ``diagram_figure(diagram: Diagram) -> Figure`` draws a diagram already built.
- ``mixing_figures(history_extras: list[dict]) -> list[Figure]`` takes the per-epoch
  ``extras`` dicts of a run (oldest first; ``TrainResult.history[i]["extras"]`` or the
  store's) and returns the figures that apply, in this order: gate weights per task and
  expert (heatmap per level, latest epoch), cross-stitch α matrices (heatmap per layer,
  latest epoch), soft-sharing mean pairwise distance per epoch (line). Empty when the
  scheme learns no mixing.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mtae_core.config import ExperimentConfig
from mtae_core.data import MultiTaskData

if TYPE_CHECKING:  # (torch: the models are imported when a figure is drawn)
    from mtae_core.models import Diagram

__all__ = ["architecture_figure", "diagram_figure", "mixing_figures"]

COLOURS = {
    "input": "#d9d9d9",
    "shared": "#4c78a8",
    "task": "#f58518",
    "expert": "#72b7b2",
    "gate": "#e45756",
    "mix": "#b279a2",
    "head": "#54a24b",
}
KIND_NAMES = {
    "input": "input", "shared": "shared layers", "task": "task-specific layers",
    "expert": "experts", "gate": "gates", "mix": "mixing / penalty", "head": "heads",
}
BOX_W, BOX_H = 0.8, 0.6


def architecture_figure(cfg: ExperimentConfig, data: MultiTaskData | None = None
                        ) -> tuple[go.Figure, dict[str, int]]:
    """Diagram of the model ``cfg`` builds (shared vs task-specific blocks, gates, α) and
    its parameter counts."""
    from mtae_core import data as data_mod
    from mtae_core import models

    if data is None:
        data = data_mod.load(cfg.data, cfg.seed)
    model = models.build(cfg.model, data.tasks, data.input_dim)
    fig = diagram_figure(model.diagram())
    counts = models.count_parameters(model)
    # the summary is too long for a narrow column: name the choices, then the size
    name = f"{cfg.model.sharing.replace('_', ' ')} sharing · {cfg.model.autoencoder} autoencoder"
    fig.update_layout(title={"text": f"{name}<br><sup>{counts['total']:,} parameters, "
                             f"{counts['shared']:,} shared</sup>"})
    return fig, counts


def diagram_figure(diagram: Diagram) -> go.Figure:
    """Boxes at (stage, lane), arrows along the edges; lanes run top to bottom."""
    pos = {b.key: (b.x, b.y) for b in diagram.blocks}
    xs = [b.x for b in diagram.blocks] or [0]
    ys = [b.y for b in diagram.blocks] or [0]
    fig = go.Figure()
    for src, dst in diagram.edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        fig.add_annotation(x=x1 - BOX_W / 2, y=y1, ax=x0 + BOX_W / 2, ay=y0,
                           xref="x", yref="y", axref="x", ayref="y", text="",
                           showarrow=True, arrowhead=2, arrowwidth=1, arrowcolor="#888")
    for b in diagram.blocks:
        fig.add_shape(type="rect", x0=b.x - BOX_W / 2, x1=b.x + BOX_W / 2,
                      y0=b.y - BOX_H / 2, y1=b.y + BOX_H / 2, line={"color": "#444", "width": 1},
                      fillcolor=COLOURS.get(b.kind, "#ccc"), opacity=0.85, layer="below")
    # labels (with hover) in one text trace; one marker-only trace per kind for the legend
    fig.add_trace(go.Scatter(
        x=[b.x for b in diagram.blocks], y=[b.y for b in diagram.blocks], mode="text",
        text=[_wrap(b.label) for b in diagram.blocks],
        textfont={"size": 10 if max(xs) - min(xs) < 5 else 8, "color": "#111"},
        showlegend=False,
        hovertext=[f"{KIND_NAMES[b.kind]}: {b.label.replace('<br>', ' ')}" for b in diagram.blocks],
        hoverinfo="text"))
    for kind, colour in COLOURS.items():
        if any(b.kind == kind for b in diagram.blocks):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=KIND_NAMES[kind],
                                     marker={"size": 12, "color": colour, "symbol": "square"}))
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 0.6])
    fig.update_yaxes(visible=False, range=[max(ys) + 0.6, min(ys) - 0.6])  # lane 0 on top
    fig.update_layout(title={"text": diagram.title}, plot_bgcolor="white",
                      height=max(260, 90 * (max(ys) - min(ys) + 2)),
                      margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      legend={"orientation": "h", "y": -0.05})
    return fig


def _wrap(label: str, width: int = 12) -> str:
    """Break a box label into short lines so it stays inside its box."""
    return "<br>".join(textwrap.fill(part, width, break_long_words=False).replace("\n", "<br>")
                       for part in label.split("<br>"))


def mixing_figures(history_extras: list[dict[str, Any]]) -> list[go.Figure]:
    """Figures of the learned mixing in a run's per-epoch extras (see the module doc)."""
    figs: list[go.Figure] = []
    gates = _latest(history_extras, "gates")
    if gates:
        figs.append(_gate_figure(gates))
    stitch = _latest(history_extras, "cross_stitch")
    if stitch:
        figs.append(_alpha_figure(stitch))
    dist = [(i + 1, e["soft_distance"]) for i, e in enumerate(history_extras)
            if isinstance(e, dict) and "soft_distance" in e]
    if dist:
        fig = go.Figure(go.Scatter(x=[d[0] for d in dist], y=[d[1] for d in dist],
                                   mode="lines+markers", name="mean ‖θ_t − θ_s‖"))
        fig.update_layout(title="Soft sharing: mean distance between task networks",
                          xaxis_title="epoch", yaxis_title="mean pairwise ‖θ_t − θ_s‖")
        figs.append(fig)
    return figs


def _latest(history: list[dict[str, Any]], key: str) -> Any:
    for extras in reversed(history):
        if isinstance(extras, dict) and extras.get(key):
            return extras[key]
    return None


def _gate_figure(gates: dict[str, Any]) -> go.Figure:
    levels = list(gates.items())  # level -> {"experts": [...], "rows": {row: [...]}}
    fig = make_subplots(rows=1, cols=len(levels), subplot_titles=[k for k, _ in levels],
                        horizontal_spacing=0.18)
    for i, (_, lv) in enumerate(levels):
        rows = list(lv["rows"])
        fig.add_trace(go.Heatmap(
            z=[lv["rows"][r] for r in rows], x=lv["experts"], y=rows, zmin=0, zmax=1,
            colorscale="Blues", showscale=i == 0, texttemplate="%{z:.2f}",
            hovertemplate="gate %{y}<br>expert %{x}<br>weight %{z:.3f}<extra></extra>"),
            row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", row=1, col=i + 1)
    fig.update_layout(title="Gate weights per task and expert (mean over the latest epoch)")
    return fig


def _alpha_figure(stitch: dict[str, Any]) -> go.Figure:
    tasks, alphas = stitch["tasks"], stitch["alphas"]
    fig = make_subplots(rows=1, cols=len(alphas),
                        subplot_titles=[f"α after layer {k + 1}" for k in range(len(alphas))],
                        horizontal_spacing=0.06)
    for k, a in enumerate(alphas):
        fig.add_trace(go.Heatmap(
            z=a, x=tasks, y=tasks, colorscale="RdBu", zmid=0, showscale=k == 0,
            texttemplate="%{z:.2f}",
            hovertemplate="to %{y}<br>from %{x}<br>α %{z:.3f}<extra></extra>"),
            row=1, col=k + 1)
        # one task list for every layer: labels on the first only, clear of its neighbour
        fig.update_yaxes(autorange="reversed", showticklabels=k == 0, row=1, col=k + 1)
    fig.update_layout(title="Cross-stitch units: α[t, s] = weight task t takes from column s")
    return fig
