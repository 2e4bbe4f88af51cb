"""Plotly figures of a study: pure functions, frames in and figures out (no Streamlit).

- ``cell_curve_frame`` / ``cell_curves``: loss curves grouped by cell, the mean over a
  cell's seeds with a ±std band (as W&B's run grouping draws them);
- ``gains_figure``: each cell's change per task against the matched single-task
  baselines, with error bars;
- ``axis_figure``: a task's metric against a numeric axis (λ, p, latent size, lr), the
  mean with its 95% interval as a band, one line per setting of the other axes;
- ``pareto_figure``: two tasks' metrics, each cell a point with error bars and the
  non-dominated front (``mtae_core.analysis.pareto``) drawn; with a fixed-λ sweep, the
  front of the scalarisation cells and the other cells on the same axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mtae_core.analysis.pareto import pareto_mask
from ui.widgets.charts import PALETTE, _layout, task_losses

BAND_ALPHA = 0.18


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, x: Sequence[Any], lo: Sequence[float], hi: Sequence[float],
          colour: str, group: str, **where: Any) -> None:
    """A shaded band between ``lo`` and ``hi`` (one closed polygon, no legend entry)."""
    xs, los, his = list(x), list(lo), list(hi)
    keep = [i for i in range(len(xs)) if np.isfinite(los[i]) and np.isfinite(his[i])]
    if len(keep) < 1:
        return
    xs = [xs[i] for i in keep]
    los, his = [los[i] for i in keep], [his[i] for i in keep]
    fig.add_trace(go.Scatter(
        x=xs + xs[::-1], y=his + los[::-1], fill="toself", mode="lines",
        line={"width": 0}, fillcolor=_rgba(colour, BAND_ALPHA), hoverinfo="skip",
        showlegend=False, legendgroup=group), **where)


# ---- loss curves grouped by cell --------------------------------------------------------


def cell_curve_frame(metrics: pd.DataFrame, cell_of: Mapping[int, str], task: str,
                     split: str = "val") -> pd.DataFrame:
    """Per cell and epoch, the mean and standard deviation (ddof 1) of one task's loss
    over the cell's runs, and how many runs reached that epoch. ``cell_of`` maps run id
    to the cell's label; runs not in it are left out. Columns: cell, epoch, mean, std, n."""
    cols = ["cell", "epoch", "mean", "std", "n"]
    d = task_losses(metrics)
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d[(d["task"] == task) & (d["split"] == split) & d["run_id"].isin(list(cell_of))]
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d.assign(cell=d["run_id"].map(cell_of))
    out = (d.groupby(["cell", "epoch"], sort=False)["value"]
           .agg(["mean", "std", "count"]).reset_index()
           .rename(columns={"count": "n"}))
    order = {c: i for i, c in enumerate(dict.fromkeys(cell_of.values()))}
    out = out.sort_values(["cell", "epoch"], key=lambda s: s.map(order) if s.name == "cell" else s)
    return out.reset_index(drop=True)[cols]


def cell_curves(metrics: pd.DataFrame, cell_of: Mapping[int, str], task: str,
                split: str = "val", log_y: bool = False) -> go.Figure:
    """One task's loss per cell: the mean line over the cell's seeds with a ±std band."""
    frame = cell_curve_frame(metrics, cell_of, task, split)
    fig = go.Figure()
    for i, (cell, d) in enumerate(frame.groupby("cell", sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        x = d["epoch"] + 1  # stored from 0; people count epochs from 1
        std = d["std"].fillna(0.0)
        _band(fig, x, d["mean"] - std, d["mean"] + std, colour, str(cell))
        fig.add_trace(go.Scatter(
            x=x, y=d["mean"], mode="lines", name=str(cell), legendgroup=str(cell),
            line={"color": colour, "width": 2}, customdata=np.column_stack([d["std"], d["n"]]),
            hovertemplate="%{y:.4g} ± %{customdata[0]:.2g} (n=%{customdata[1]})"))
    split_name = "validation" if split == "val" else "training"
    fig = _layout(fig, f"{task} — {split_name} loss, mean ± std over seeds", log_y=log_y)
    fig.update_layout(showlegend=True)
    return fig


# ---- gains against the single-task baselines ------------------------------------------------


def gains_figure(gains: pd.DataFrame,
                 title: str | None = "Change per task vs the matched single-task baselines"
                 ) -> go.Figure | None:
    """Bars of each cell's mean change (%) per task against the same-seed baselines, with
    ±std error bars; right of zero the task gained from sharing. ``gains`` has columns
    cell, task, mean, std, n (one row per cell and task)."""
    if gains.empty:
        return None
    fig = go.Figure()
    for i, (cell, d) in enumerate(gains.groupby("cell", sort=False)):
        fig.add_trace(go.Bar(
            y=d["task"], x=d["mean"], name=str(cell), orientation="h",
            error_x={"type": "data", "array": d["std"].fillna(0.0).tolist(), "visible": True},
            marker={"color": PALETTE[i % len(PALETTE)]},
            customdata=np.column_stack([d["std"], d["n"]]),
            hovertemplate="%{y}<br>%{x:+.2f}% ± %{customdata[0]:.2f} (n=%{customdata[1]})"
                          "<extra>" + str(cell) + "</extra>"))
    fig.add_vline(x=0, line={"color": "#444", "width": 1})
    height = max(240, 60 + 36 * gains["task"].nunique() * gains["cell"].nunique())
    fig = _layout(fig, title, x="change (%) — right: better than alone, left: worse", y="",
                  height=height)
    fig.update_layout(barmode="group", hovermode="closest", showlegend=True)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


# ---- a metric against a numeric axis ------------------------------------------------------------


def axis_figure(frame: pd.DataFrame, axis_label: str, log_x: bool = False,
                title: str | None = None) -> go.Figure | None:
    """Each task's metric against a numeric axis: one panel per task, one line per
    setting of the other axes (``group``), the mean with its 95% interval as a band.
    ``frame`` columns: task, metric, group, x, mean, lo, hi (``lo``/``hi`` may be NaN)."""
    if frame.empty:
        return None
    tasks = list(dict.fromkeys(frame["task"]))
    fig = make_subplots(rows=1, cols=len(tasks), horizontal_spacing=0.08,
                        subplot_titles=[f"{t} · {frame[frame['task'] == t]['metric'].iloc[0]}"
                                        for t in tasks])
    groups = list(dict.fromkeys(frame["group"]))
    for col, task in enumerate(tasks, start=1):
        for i, group in enumerate(groups):
            d = frame[(frame["task"] == task) & (frame["group"] == group)].sort_values("x")
            if d.empty:
                continue
            colour = PALETTE[i % len(PALETTE)]
            _band(fig, d["x"], d["lo"], d["hi"], colour, str(group), row=1, col=col)
            fig.add_trace(go.Scatter(
                x=d["x"], y=d["mean"], mode="lines+markers", name=str(group) or "mean",
                legendgroup=str(group), showlegend=col == 1,
                line={"color": colour, "width": 2}), row=1, col=col)
        fig.update_xaxes(title_text=axis_label, type="log" if log_x else "linear", row=1, col=col)
    fig.update_layout(title=title, height=360, hovermode="closest",
                      margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      legend={"orientation": "h", "yref": "container", "yanchor": "bottom",
                              "y": 0, "x": 0},
                      showlegend=len(groups) > 1 or bool(groups and groups[0]))
    return fig


# ---- Pareto view ------------------------------------------------------------------------------


def _front_xy(x: np.ndarray, y: np.ndarray, higher_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """The front's points in order of x, for a step line between them."""
    order = np.lexsort((-y if higher_y else y, x))
    return x[order], y[order]


def pareto_figure(points: pd.DataFrame, x_title: str, y_title: str, higher_x: bool,
                  higher_y: bool, sweep: str | None = None,
                  title: str | None = "Trade-off between two tasks") -> go.Figure | None:
    """Each cell a point (mean of task A's metric against task B's) with ±std error bars;
    the non-dominated front of all cells as a dashed line. With ``sweep`` naming a
    ``family`` (the fixed-λ cells of a weight sweep), that family's own front is drawn as
    the scalarisation front, and the other cells show where they fall against it.
    ``points`` columns: label, family, x, x_std, y, y_std."""
    if points.empty:
        return None
    fig = go.Figure()
    x, y = points["x"].to_numpy(float), points["y"].to_numpy(float)
    for i, (family, d) in enumerate(points.groupby("family", sort=False)):
        is_sweep = sweep is not None and family == sweep
        fig.add_trace(go.Scatter(
            x=d["x"], y=d["y"], mode="markers" if is_sweep else "markers+text",
            name=str(family), text=d["label"], textposition="top center",
            hovertemplate="%{text}<br>x %{x:.4g}<br>y %{y:.4g}<extra></extra>",
            error_x={"type": "data", "array": d["x_std"].fillna(0.0).tolist(), "visible": True,
                     "thickness": 1},
            error_y={"type": "data", "array": d["y_std"].fillna(0.0).tolist(), "visible": True,
                     "thickness": 1},
            marker={"size": 11, "color": PALETTE[i % len(PALETTE)],
                    "symbol": "circle-open" if is_sweep else "circle",
                    "line": {"width": 2}}))
    if sweep is not None and (points["family"] == sweep).sum() >= 2:
        s = points[points["family"] == sweep]
        m = pareto_mask(s["x"], s["y"], higher_x, higher_y)
        fx, fy = _front_xy(s["x"].to_numpy(float)[m], s["y"].to_numpy(float)[m], higher_y)
        fig.add_trace(go.Scatter(x=fx, y=fy, mode="lines", name="front of fixed weights (λ)",
                                 line={"color": "#888", "width": 2}, hoverinfo="skip"))
    m = pareto_mask(x, y, higher_x, higher_y)
    fx, fy = _front_xy(x[m], y[m], higher_y)
    fig.add_trace(go.Scatter(x=fx, y=fy, mode="lines", name="non-dominated front",
                             line={"color": "#222", "width": 1.5, "dash": "dash"},
                             hoverinfo="skip"))
    better = ("right" if higher_x else "left") + " and " + ("up" if higher_y else "down")
    fig = _layout(fig, title, x=x_title, y=y_title, height=440)
    fig.update_layout(hovermode="closest", showlegend=True)
    fig.add_annotation(text=f"better: {better}", xref="paper", yref="paper", x=1, y=1,
                       xanchor="right", yanchor="bottom", showarrow=False,
                       font={"size": 11, "color": "#666"})
    return fig
