"""Plotly chart builders: pure functions, a DataFrame in and a Figure out.

They read the long metrics table of ``RunStore.metrics`` (run_id, epoch, split, task,
metric, value) or small frames derived from the store, and never touch Streamlit, so
the Train and Compare pages draw the same curves the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.widgets import text

PALETTE = px.colors.qualitative.Plotly


def run_colour(run_id: int) -> str:
    """A run's colour, the same whichever runs are drawn with it."""
    return str(PALETTE[run_id % len(PALETTE)])
AUX_PREFIX = "aux:"
WEBGL_ABOVE = 1000  # points; above this a scatter draws with WebGL


def _layout(fig: go.Figure, title: str | None, x: str = "epoch", y: str = "loss",
            log_y: bool = False, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        # legend under the plot (above it, it would run into the title), at the figure's
        # foot: placed at a share of the plot's height, it ran into the axis title when
        # the fonts grow (presenter mode)
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0,
                "xanchor": "left", "x": 0},
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=x, rangemode="tozero" if x == "epoch" else "normal")
    fig.update_yaxes(title_text=y, type="log" if log_y else "linear")
    return fig


def _epochs(s: pd.Series) -> pd.Series:
    return s + 1  # stored from 0; people count epochs from 1


def task_losses(metrics: pd.DataFrame) -> pd.DataFrame:
    """The per-task loss rows (no auxiliary losses)."""
    if metrics.empty:
        return metrics
    m = metrics[metrics["metric"] == "loss"]
    return m[~m["task"].str.startswith(AUX_PREFIX)]


def aux_losses(metrics: pd.DataFrame) -> pd.DataFrame:
    if metrics.empty:
        return metrics
    m = metrics[metrics["metric"] == "loss"]
    return m[m["task"].str.startswith(AUX_PREFIX)]


def loss_curves(metrics: pd.DataFrame, title: str | None = "Loss per task",
                log_y: bool = False) -> go.Figure:
    """One run's loss per task: one colour per task, train solid, validation dashed."""
    fig = go.Figure()
    d = task_losses(metrics)
    tasks = list(dict.fromkeys(d["task"])) if not d.empty else []
    for i, task in enumerate(tasks):
        color = PALETTE[i % len(PALETTE)]
        for split, dash in (("train", "solid"), ("val", "dash")):
            s = d[(d["task"] == task) & (d["split"] == split)].sort_values("epoch")
            if s.empty:
                continue
            fig.add_trace(go.Scatter(
                x=_epochs(s["epoch"]), y=s["value"], mode="lines+markers" if len(s) < 30 else "lines",
                name=f"{task} ({'train' if split == 'train' else 'validation'})",
                legendgroup=task, line={"color": color, "dash": dash, "width": 2},
                marker={"size": 5},
            ))
    return _layout(fig, title, log_y=log_y)


def aux_curves(metrics: pd.DataFrame, title: str | None = "Auxiliary losses") -> go.Figure | None:
    """Auxiliary losses (KL, sparsity, soft-sharing penalty...) over epochs, or None."""
    d = aux_losses(metrics)
    if d.empty:
        return None
    fig = _per_epoch_lines(d, "value", colour_offset=3,
                           name=lambda task: task.removeprefix(AUX_PREFIX))
    return _layout(fig, title, height=300)


def _per_epoch_lines(frame: pd.DataFrame, y: str, colour_offset: int = 0,
                     name: Callable[[str], str] = str, **line: Any) -> go.Figure:
    """One line with markers per task of a long frame (epoch, task, ``y``)."""
    fig = go.Figure()
    for i, (task, s) in enumerate(frame.groupby("task", sort=False)):
        s = s.sort_values("epoch")
        fig.add_trace(go.Scatter(
            x=_epochs(s["epoch"]), y=s[y], mode="lines+markers", name=name(str(task)),
            line={"color": PALETTE[(i + colour_offset) % len(PALETTE)], **line}))
    return fig


def weights_frame(extras: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-epoch task weights from ``RunStore.extras`` as a long frame: epoch, task, weight."""
    rows = [(e["epoch"], task, float(w)) for e in extras
            for task, w in (e.get("weights") or {}).items() if w is not None]
    return pd.DataFrame(rows, columns=["epoch", "task", "weight"])


def weights_figure(weights: pd.DataFrame, title: str | None = "Task weights") -> go.Figure | None:
    if weights.empty:
        return None
    fig = _per_epoch_lines(weights, "weight", shape="hv")  # weights hold for a whole epoch
    fig = _layout(fig, title, y="weight", height=300)
    fig.update_yaxes(rangemode="tozero")
    return fig


def ema(values: Sequence[float] | np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average with bias correction (as TensorBoard draws it):
    ``smoothing`` 0 returns the values, 0.9 is strong smoothing. NaNs are carried over."""
    v = np.asarray(values, dtype=float)
    if smoothing <= 0 or len(v) == 0:
        return v
    out = np.empty_like(v)
    acc, weight = 0.0, 0.0
    for i, x in enumerate(v):
        if not np.isfinite(x):
            out[i] = np.nan
            continue
        acc = smoothing * acc + (1 - smoothing) * x
        weight = smoothing * weight + (1 - smoothing)
        out[i] = acc / weight
    return out


def compare_curves(metrics: pd.DataFrame, task: str, labels: Mapping[int, str],
                   split: str = "val", log_y: bool = False, smoothing: float = 0.0) -> go.Figure:
    """One task's loss for several runs: one colour per run; with smoothing, the EMA on
    top of a faint raw line."""
    fig = go.Figure()
    d = metrics[(metrics["metric"] == "loss") & (metrics["task"] == task) & (metrics["split"] == split)] \
        if not metrics.empty else metrics
    for run_id in labels:
        s = d[d["run_id"] == run_id].sort_values("epoch") if not d.empty else d
        if s.empty:
            continue
        color = run_colour(run_id)
        x = _epochs(s["epoch"])
        if smoothing > 0:
            fig.add_trace(go.Scatter(x=x, y=s["value"], mode="lines", legendgroup=str(run_id),
                                     showlegend=False, hoverinfo="skip", opacity=0.25,
                                     line={"color": color, "width": 1}))
        # a one-epoch run is a single point: a line alone would not show it
        fig.add_trace(go.Scatter(x=x, y=ema(s["value"].to_numpy(), smoothing),
                                 mode="lines" if len(s) > 1 else "markers",
                                 name=text.plotly(labels[run_id]), legendgroup=str(run_id),
                                 line={"color": color, "width": 2}))
    split_name = "validation" if split == "val" else split
    fig = _layout(fig, f"{task} — {split_name} loss", log_y=log_y)
    fig.update_layout(showlegend=True)  # plotly hides a lone trace's legend: keep the run's name
    return fig


def latent_scatter(frame: pd.DataFrame, color: str | None = None,
                   title: str | None = None) -> go.Figure:
    """2-D latent projection (columns x, y and one per task label), coloured by a label.
    Draws with WebGL above ``WEBGL_ABOVE`` points."""
    mode = "webgl" if len(frame) > WEBGL_ABOVE else "svg"
    kwargs: dict[str, Any] = {}
    if color is not None and not pd.api.types.is_numeric_dtype(frame[color]):
        order = sorted(frame[color].unique(), key=_natural)
        kwargs["category_orders"] = {color: order}
    if color is not None and pd.api.types.is_numeric_dtype(frame[color]):
        kwargs["color_continuous_scale"] = "Viridis"  # no value fades into the white page
    fig = px.scatter(frame, x="x", y="y", color=color, render_mode=mode, opacity=0.8,
                     hover_data=[c for c in frame.columns if c not in ("x", "y")], **kwargs)
    fig.update_traces(marker={"size": 6})
    fig.update_layout(title=title, height=560, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      legend={"itemsizing": "constant"})
    fig.update_xaxes(title_text="component 1")
    fig.update_yaxes(title_text="component 2", scaleanchor="x", scaleratio=1)
    return fig


def _natural(v: Any) -> tuple[int, float | str]:
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        return (1, str(v))


def cosine_frame(extras: Sequence[Mapping[str, Any]], tasks: Sequence[str]) -> pd.DataFrame:
    """Per-epoch pairwise cosine of the task gradients on the shared parameters, from
    ``RunStore.extras`` (``grad_cosine`` is an (n_tasks, n_tasks) list in ``tasks``
    order) as a long frame: epoch, pair, cosine."""
    rows = []
    for e in extras:
        m = e.get("grad_cosine")
        if not m or len(m) != len(tasks):
            continue
        for i in range(len(tasks)):
            for j in range(i + 1, len(tasks)):
                rows.append((e["epoch"], f"{tasks[i]} ↔ {tasks[j]}", float(m[i][j])))
    return pd.DataFrame(rows, columns=["epoch", "pair", "cosine"])


def cosine_figure(extras: Sequence[Mapping[str, Any]], tasks: Sequence[str],
                  title: str | None = "Gradient conflict between tasks") -> go.Figure | None:
    """Left: the task × task cosine matrix of the latest epoch; right: every pair's cosine
    per epoch. Red (negative) marks tasks whose gradients pull the shared layers apart."""
    d = cosine_frame(extras, tasks)
    if d.empty:
        return None
    latest = next(e for e in reversed(extras) if e.get("grad_cosine"))
    pairs = list(dict.fromkeys(d["pair"]))
    grid = d.pivot(index="pair", columns="epoch", values="cosine").loc[pairs]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.08,
                        subplot_titles=[f"epoch {latest['epoch'] + 1}", "per epoch"])
    scale = {"colorscale": "RdBu", "zmin": -1, "zmax": 1}
    fig.add_trace(go.Heatmap(
        z=latest["grad_cosine"], x=list(tasks), y=list(tasks), texttemplate="%{z:.2f}",
        showscale=False, **scale,
        hovertemplate="%{y} ↔ %{x}<br>cosine %{z:.3f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(
        z=grid.to_numpy(), x=[int(c) + 1 for c in grid.columns], y=pairs, showscale=False,
        hovertemplate="%{y}<br>epoch %{x}<br>cosine %{z:.3f}<extra></extra>", **scale),
        row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(side="right", autorange="reversed", row=1, col=2)  # clear of the matrix
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_layout(title=title, height=320, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def task_delta_figure(deltas: pd.DataFrame,
                      title: str | None = "Change per task vs the single-task baseline"
                      ) -> go.Figure | None:
    """Bars of ``mtae_core.analysis.comparison.task_delta_frame``: one group per task, one
    bar per run; right of zero the task gained from sharing, left of it the task lost."""
    if deltas.empty:
        return None
    fig = go.Figure()
    for i, (run, d) in enumerate(deltas.groupby("run", sort=False)):
        colour = run_colour(int(d["run_id"].iloc[0])) if "run_id" in d else PALETTE[i % len(PALETTE)]
        name = text.plotly(run)
        fig.add_trace(go.Bar(
            y=d["task"] + " · " + d["metric"], x=d["delta"], name=name, orientation="h",
            marker={"color": colour}, texttemplate="%{x:+.1f}%",
            textposition="outside", hovertemplate="%{y}<br>%{x:+.2f}%<extra>" + name
            + "</extra>"))
    fig.add_vline(x=0, line={"color": "#444", "width": 1})
    tasks = deltas["task"].nunique()
    fig = _layout(fig, title, x="change (%) — right: better than alone, left: worse", y="",
                  height=max(240, 60 + 40 * tasks * deltas["run"].nunique()))
    fig.update_layout(barmode="group", hovermode="closest", showlegend=True)
    fig.update_yaxes(type="category", autorange="reversed")  # _layout made it linear
    return fig


# ---- downloads: every chart as PNG (plotly's modebar camera) and its data as CSV ----------


def file_stem(name: str) -> str:
    """A file name from a chart's name: letters, digits, '-' and '_' only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-").lower()
    return stem or "chart"


def chart_config(name: str) -> dict[str, Any]:
    """Plotly's config for ``st.plotly_chart``: the modebar's camera saves a PNG (drawn in
    the browser, no server round trip) named after the chart, at twice the screen size
    for slides."""
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": file_stem(name), "scale": 2}}


def figure_data(fig: go.Figure) -> pd.DataFrame:
    """What a figure draws, as one long table: a row per point (trace, x, y) or per cell of
    a heatmap or contour (trace, x, y, z); animation frames add a ``frame`` column. The
    fallback CSV of charts that have no tidier table of their own."""
    def rows(traces: Any, frame: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, t in enumerate(traces):
            name = getattr(t, "name", None) or f"trace {i + 1}"
            z = getattr(t, "z", None)
            x, y = getattr(t, "x", None), getattr(t, "y", None)
            if z is not None:
                zz = np.asarray(z, dtype=object)
                if zz.ndim != 2:
                    continue
                xs = list(x) if x is not None else list(range(zz.shape[1]))
                ys = list(y) if y is not None else list(range(zz.shape[0]))
                out += [{"trace": name, "x": xs[c], "y": ys[r], "z": zz[r, c]}
                        for r in range(min(len(ys), zz.shape[0]))
                        for c in range(min(len(xs), zz.shape[1]))]
            elif x is not None or y is not None:
                n = len(x) if x is not None else len(y)  # type: ignore[arg-type]
                xs = list(x) if x is not None else [None] * n
                ys = list(y) if y is not None else [None] * n
                out += [{"trace": name, "x": a, "y": b} for a, b in zip(xs, ys, strict=False)
                        if a is not None or b is not None]
        return out if frame is None else [{"frame": frame, **r} for r in out]

    data = rows(fig.data, None)
    for fr in fig.frames or ():
        data += rows(fr.data, str(fr.name))
    frame = pd.DataFrame(data)
    cols = [c for c in ("frame", "trace", "x", "y", "z") if c in frame.columns]
    return frame[cols] if cols else frame


# ---- learned mixing over the epochs (gates, cross-stitch α) on a slider ----------------------


def _panels(extras: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[int, list[dict[str, Any]]]]]:
    """(what is mixed, [(epoch, panels)]) where each panel is a heatmap's title, x, y, z.
    Gate weights (MMoE, CGC, PLE: one panel per level) or cross-stitch α (one per layer)."""
    out: list[tuple[int, list[dict[str, Any]]]] = []
    kind = ""
    for e in extras:
        if e.get("gates"):
            kind = "gates"
            panels = [{"title": lvl, "x": g["experts"], "y": list(g["rows"]),
                       "z": [g["rows"][r] for r in g["rows"]]} for lvl, g in e["gates"].items()]
        elif e.get("cross_stitch"):
            kind = "alpha"
            cs = e["cross_stitch"]
            panels = [{"title": f"α after layer {k + 1}", "x": cs["tasks"], "y": cs["tasks"],
                       "z": a} for k, a in enumerate(cs["alphas"])]
        else:
            continue
        out.append((int(e["epoch"]), panels))
    return kind, out


def mixing_animation(extras: Sequence[Mapping[str, Any]]) -> go.Figure | None:
    """The gate weights or cross-stitch α of every epoch in one figure: a slider (and a
    play button) steps through the epochs; None when the run recorded no mixing."""
    kind, epochs = _panels(extras)
    if not epochs:
        return None
    n = len(epochs[-1][1])
    fig = make_subplots(rows=1, cols=n, subplot_titles=[p["title"] for p in epochs[-1][1]],
                        horizontal_spacing=0.12 if kind == "gates" else 0.06)
    scale: dict[str, Any] = ({"colorscale": "Blues", "zmin": 0, "zmax": 1} if kind == "gates"
                             else {"colorscale": "RdBu", "zmid": 0})
    if kind == "alpha":  # one colour range over all epochs, so colours compare across them
        top = max(abs(float(v)) for _, ps in epochs for p in ps for row in p["z"] for v in row)
        scale = {"colorscale": "RdBu", "zmin": -top, "zmax": top}
    what = "gate %{y}<br>expert %{x}<br>weight" if kind == "gates" else "to %{y}<br>from %{x}<br>α"

    def traces(panels: list[dict[str, Any]]) -> list[go.Heatmap]:
        return [go.Heatmap(z=p["z"], x=p["x"], y=p["y"], showscale=k == 0, texttemplate="%{z:.2f}",
                           hovertemplate=what + " %{z:.3f}<extra></extra>", name=p["title"], **scale)
                for k, p in enumerate(panels)]

    for k, t in enumerate(traces(epochs[-1][1])):
        fig.add_trace(t, row=1, col=k + 1)
        fig.update_yaxes(autorange="reversed", row=1, col=k + 1)
    fig.frames = [go.Frame(data=traces(ps), name=str(ep + 1), traces=list(range(n)))
                  for ep, ps in epochs if len(ps) == n]
    steps = [{"label": f.name, "method": "animate",
              "args": [[f.name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                  "transition": {"duration": 0}}]} for f in fig.frames]
    fig.update_layout(
        title=("Gate weights per task and expert" if kind == "gates"
               else "Cross-stitch units: α[t, s] = weight task t takes from column s"),
        height=380 + 20 * max(len(p["y"]) for p in epochs[-1][1]),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        sliders=[{"active": len(steps) - 1, "steps": steps, "currentvalue": {"prefix": "epoch "},
                  "pad": {"t": 40}}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.12, "xanchor": "left",
                      "buttons": [{"label": "▶ play", "method": "animate",
                                   "args": [None, {"frame": {"duration": 400, "redraw": True},
                                                   "fromcurrent": False,
                                                   "transition": {"duration": 0}}]}]}])
    return fig
