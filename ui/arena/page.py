"""The method arena's page body: the student picks weighting methods and start points,
and sees each method's path on the contour plot of the toy's two losses, with the Pareto
set, and the same paths in loss space against the Pareto front. The engine is
``mtae_core.analysis.arena``; figure builders here are pure, ``arena_view`` draws them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mtae_core.analysis.arena import (
    BOUNDS,
    STARTS,
    TASKS,
    ArenaError,
    Toy,
    Trajectory,
    is_gradient_based,
    loss_grid,
    pareto_set,
    run_method,
)
from mtae_core.weighting import weightings
from ui.widgets import downloads, text
from ui.widgets.charts import PALETTE
from ui.widgets.forms import model_form

# a first visit runs these at once: 9 paths of 300 steps, a few seconds on a busy CPU
DEFAULT_METHODS = ["equal", "pcgrad", "mgda"]
DEFAULT_STARTS = ["top left", "top right", "left"]
DEFAULT_LR, DEFAULT_STEPS = 0.1, 300
# the paths run in the page's own script run: cap the work of one press (about a minute
# on a busy classroom server)
MAX_TOTAL_STEPS = 40_000
TASK_COLOURS = ("#4c78a8", "#f58518")  # the contour lines of task 1 and task 2
NASH_SCALES = (0.1, 1.0)


def method_colour(methods: Sequence[str], method: str) -> str:
    return str(PALETTE[list(methods).index(method) % len(PALETTE)])


def method_label(name: str) -> str:
    kind = "gradients" if is_gradient_based(name) else "losses"
    summary = weightings.get(name).summary()
    return f"{name} ({kind}) — {summary.split(':')[0].split('(')[0].strip()}"


@st.cache_data(show_spinner=False, max_entries=256)
def _trajectory(method: str, start: tuple[float, float], steps: int, lr: float, optimizer: str,
                scales: tuple[float, float], options_json: str) -> Trajectory:
    return run_method(method, start, steps, lr, optimizer,  # type: ignore[arg-type]
                      options=json.loads(options_json), toy=Toy(scales))


@st.cache_data(show_spinner=False, max_entries=4)
def _landscape(scales: tuple[float, float]) -> tuple[Any, ...]:
    xs, ys, losses = loss_grid(Toy(scales), n=120)
    pts, front = pareto_set(Toy(scales))
    return xs, ys, losses, pts, front


def parameter_figure(trajs: Sequence[Trajectory], methods: Sequence[str], xs: np.ndarray,
                     ys: np.ndarray, losses: np.ndarray, pareto: np.ndarray) -> go.Figure:
    """θ-space: contour lines of each loss, the Pareto set, each method's paths."""
    fig = go.Figure()
    for t, colour in enumerate(TASK_COLOURS):
        fig.add_trace(go.Contour(
            x=xs, y=ys, z=losses[t], ncontours=18, showscale=False, name=f"{TASKS[t]} loss",
            contours={"coloring": "lines"}, colorscale=[[0, colour], [1, colour]],
            line={"width": 1}, opacity=0.55, showlegend=True,
            hovertemplate=f"{TASKS[t]} loss %{{z:.2f}}<br>x %{{x:.2f}}, y %{{y:.2f}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=pareto[:, 0], y=pareto[:, 1], mode="markers", name="Pareto set",
                             marker={"color": "black", "size": 2}, hoverinfo="skip"))
    _paths(fig, trajs, methods, lambda tr: (tr.points[:, 0], tr.points[:, 1]))
    fig.update_xaxes(title_text="x (θ₁)", range=list(BOUNDS), constrain="domain")
    fig.update_yaxes(title_text="y (θ₂)", range=list(BOUNDS), scaleanchor="x", scaleratio=1)
    fig.update_layout(title="Paths in parameter space", height=620,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"itemsizing": "constant"})
    return fig


def loss_figure(trajs: Sequence[Trajectory], methods: Sequence[str], front: np.ndarray) -> go.Figure:
    """Loss space: each path as (task 1 loss, task 2 loss), and the Pareto front."""
    fig = go.Figure(go.Scatter(x=front[:, 0], y=front[:, 1], mode="lines", name="Pareto front",
                               line={"color": "black", "width": 2}))
    _paths(fig, trajs, methods, lambda tr: (tr.losses[:, 0], tr.losses[:, 1]))
    fig.update_xaxes(title_text=f"{TASKS[0]} loss")
    fig.update_yaxes(title_text=f"{TASKS[1]} loss")
    fig.update_layout(title="The same paths in loss space", height=620,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def _paths(fig: go.Figure, trajs: Sequence[Trajectory], methods: Sequence[str], xy: Any) -> None:
    """A line per trajectory (one legend entry per method), a circle at its start and a
    star where it ends."""
    shown: set[str] = set()
    for tr in trajs:
        x, y = xy(tr)
        colour = method_colour(methods, tr.method)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", name=tr.method, legendgroup=tr.method,
            showlegend=tr.method not in shown, line={"color": colour, "width": 2},
            hovertemplate=f"{tr.method} from {tr.start}<br>%{{x:.2f}}, %{{y:.2f}}<extra></extra>"))
        shown.add(tr.method)
        fig.add_trace(go.Scatter(
            x=[x[0], x[-1]], y=[y[0], y[-1]], mode="markers", legendgroup=tr.method,
            showlegend=False, name=f"{tr.method} start/end", hoverinfo="skip",
            marker={"color": ["white", colour], "size": [9, 14], "symbol": ["circle", "star"],
                    "line": {"color": colour, "width": 2}}))


def trajectory_frame(trajs: Sequence[Trajectory]) -> pd.DataFrame:
    """Every step of every path: method, start, step, x, y, both losses, both weights."""
    parts = []
    for tr in trajs:
        n = len(tr.points)
        w = np.vstack([tr.weights, np.full((n - len(tr.weights), 2), np.nan)])
        parts.append(pd.DataFrame({
            "method": tr.method, "start_x": tr.start[0], "start_y": tr.start[1],
            "step": np.arange(n), "x": tr.points[:, 0], "y": tr.points[:, 1],
            f"{TASKS[0]} loss": tr.losses[:, 0], f"{TASKS[1]} loss": tr.losses[:, 1],
            f"{TASKS[0]} weight": w[:, 0], f"{TASKS[1]} weight": w[:, 1]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def ends_table(trajs: Sequence[Trajectory], pareto: np.ndarray) -> pd.DataFrame:
    """Where each path ended and how far that is from the Pareto set (in θ)."""
    rows = []
    for tr in trajs:
        end = tr.points[-1]
        rows.append({"method": tr.method, "start": f"({tr.start[0]:g}, {tr.start[1]:g})",
                     "end x": end[0], "end y": end[1],
                     f"{TASKS[0]} loss": tr.losses[-1, 0], f"{TASKS[1]} loss": tr.losses[-1, 1],
                     "distance to the Pareto set": float(np.min(np.linalg.norm(pareto - end, axis=1)))})
    return pd.DataFrame(rows)


def _settings() -> dict[str, Any] | None:
    """The form; returns the submitted (or default) settings."""
    names = weightings.names()
    with st.form("arena.form", border=True):
        methods = st.multiselect("Methods", names, default=DEFAULT_METHODS, format_func=method_label,
                                 help="the weighting strategies training uses, the same classes")
        options = _options(methods)
        c1, c2, c3 = st.columns([3, 2, 2])
        starts = c1.multiselect("Start points", list(STARTS), default=DEFAULT_STARTS,
                                format_func=lambda k: f"{k} {STARTS[k]}")
        own = c1.checkbox("Add my own start point")
        x = c2.number_input("Start x", min_value=BOUNDS[0], max_value=BOUNDS[1], value=-5.0, step=0.5)
        y = c3.number_input("Start y", min_value=BOUNDS[0], max_value=BOUNDS[1], value=5.0, step=0.5)
        c4, c5, c6 = st.columns([2, 2, 3])
        optimizer = c4.radio("Optimizer", ["adam", "sgd"], horizontal=True,
                             format_func={"adam": "Adam", "sgd": "SGD"}.get)
        lr = c5.number_input("Learning rate", min_value=0.0001, max_value=1.0, value=DEFAULT_LR,
                             step=0.01, format="%.4f")
        steps = c6.slider("Steps", 50, 3000, DEFAULT_STEPS, 50, help="each step sees the whole toy: "
                          "it is an epoch for DWA and curriculum")
        nash = st.checkbox("Make task 1's loss 10× smaller (as in the Nash-MTL paper's figure)",
                           help="methods that follow the larger loss drift towards task 2's minimum")
        st.form_submit_button("Run the methods", type="primary")
    points = [STARTS[k] for k in starts] + ([(float(x), float(y))] if own else [])
    if not methods or not points:
        st.info("Pick at least one method and one start point.")
        return None
    total = len(methods) * len(points) * int(steps)
    if total > MAX_TOTAL_STEPS:
        st.error(f"That is {total:,} steps in all ({len(methods)} methods × {len(points)} start "
                 f"points × {int(steps):,} steps); at most {MAX_TOTAL_STEPS:,} run at once. Pick "
                 "fewer methods, start points or steps.")
        return None
    return {"methods": methods, "points": points, "steps": int(steps), "lr": float(lr),
            "optimizer": optimizer, "scales": NASH_SCALES if nash else (1.0, 1.0),
            "options": options}


def _options(methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The options of the chosen methods that have any, with the widgets the Train page
    builds from the same schemas (fixed λ: a slider per task). Inside the form they
    follow the methods of the last run; a method added just now starts at its defaults."""
    with_options = [m for m in methods if weightings.get(m).Options.model_fields]
    if not with_options:
        return {}
    out: dict[str, dict[str, Any]] = {}
    with st.expander("Options of the chosen methods (" + ", ".join(with_options) + ")"):
        for m in with_options:
            st.markdown(f"**{m}**")
            out[m] = model_form(weightings.get(m).Options, f"arena.options.{m}", TASKS)
    return out


def arena_view() -> None:
    st.caption("Two tasks share two parameters θ = (x, y); their losses have different "
               "minima, so no point is best for both. The black points are the Pareto set: "
               "where one task can only improve if the other gets worse. Each method starts "
               "from the circles and ends at the stars; the same classes train the networks "
               "on the Train page. (The toy of the CAGrad and Nash-MTL papers.)")
    s = _settings()
    if s is None:
        return
    xs, ys, losses, pareto, front = _landscape(s["scales"])
    trajs: list[Trajectory] = []
    n = len(s["methods"]) * len(s["points"])
    progress = st.progress(0.0, text="Running the methods…") if n > 4 else None
    try:
        for method in s["methods"]:
            for point in s["points"]:
                trajs.append(_trajectory(method, tuple(point), s["steps"], s["lr"], s["optimizer"],
                                         s["scales"], json.dumps(s["options"].get(method, {}))))
                if progress is not None:
                    progress.progress(len(trajs) / n, text=f"Running the methods… {method}")
    except ArenaError as e:
        st.error(text.md(str(e)))
        return
    finally:
        if progress is not None:
            progress.empty()
    for tr in trajs:
        if tr.error:
            st.warning(f"{tr.method} from {tr.start} stopped: {tr.error}.")
    left, right = st.columns([3, 2])
    data = trajectory_frame(trajs)
    downloads.chart(parameter_figure(trajs, s["methods"], xs, ys, losses, pareto), "arena-paths",
                    data=data, key="arena.paths", where=left)
    downloads.chart(loss_figure(trajs, s["methods"], front), "arena-loss-space", data=data,
                    key="arena.losses", where=right)
    st.subheader("Where each method ended")
    ends = ends_table(trajs, pareto)
    st.dataframe(ends.style.format(precision=3), hide_index=True)
    st.caption("A method that ends far from the Pareto set stopped before it (stuck, or too "
               "few steps); methods that end on it differ in *where*: which trade-off between "
               "the tasks they settle for from each start.")
