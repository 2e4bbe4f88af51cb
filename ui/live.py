"""A run's live view: progress, status, loss curves, auxiliary losses and task weights.

While the run is active, the view is an ``st.fragment`` that reruns every
``POLL_SECONDS`` and reads the store; when the run ends it reruns the page once, which
draws the finished run without polling. The run lives in a worker process, so nothing
here can stop it except the Cancel button.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mtae_core.store import Run, RunStore
from mtae_core.weighting import weightings

from . import charts
from .model_views import mixing_figures
from .state import get_runner, get_store
from .train_form import auto_name

POLL_SECONDS = 0.5
RUN_PARAM = "run"  # query parameter holding the run shown on the Train page

STATUS_TEXT = {
    "queued": "Waiting for a worker to start it…",
    "running": "Training",
    "done": "Finished",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "diverged": "Diverged",
}
STATUS_ICON = {"queued": ":material/hourglass_top:", "running": ":material/directions_run:",
               "done": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "diverged": ":material/warning:"}


def run_label(run: Run) -> str:
    """``#7 my run — digits, hard, equal, done``; the settings only when the name (an
    automatic one, say) does not already tell them."""
    cfg = run.config
    settings = f"{cfg.data.dataset}, {cfg.model.sharing}, {cfg.weighting.strategy}, "
    return (f"#{run.id} {run.name} — "
            f"{'' if run.name == auto_name(cfg.to_dict()) else settings}{run.status}")


def shown_run(store: RunStore) -> Run | None:
    """The run named in the URL (``?run=ID``); else the latest active run; else the latest."""
    raw = st.query_params.get(RUN_PARAM)
    if raw is not None:
        try:
            run = store.get_run(int(raw))
        except ValueError:
            run = None
        if run is not None:
            return run
    return store.latest_run(active_only=True) or store.latest_run()


def show(run_id: int) -> None:
    """Remember ``run_id`` in the URL, so a refresh keeps showing it."""
    st.query_params[RUN_PARAM] = str(run_id)


def run_panel(run_id: int) -> None:
    """The run's view, polling the store while the run is active."""
    run = get_store().get_run(run_id)
    if run is None:
        st.warning(f"There is no run #{run_id} (it may have been deleted).")
        return
    if run.active:
        _poll(run_id)
    else:
        _draw(run)


@st.fragment(run_every=POLL_SECONDS)
def _poll(run_id: int) -> None:
    run = get_store().get_run(run_id)
    if run is None:
        return
    _draw(run)
    if not run.active:
        st.rerun()  # the whole page: draws the finished run once, without polling


def _draw(run: Run) -> None:
    store = get_store()
    cfg = run.config
    metrics = store.metrics(run.id)
    epochs_done = int(metrics["epoch"].max()) + 1 if not metrics.empty else 0
    epochs = cfg.training.epochs

    head, button = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {STATUS_ICON.get(run.status, '')} Run #{run.id} · {run.name}")
    if run.active:
        if button.button("Cancel", key=f"cancel-{run.id}", help="stop this run after its current step",
                         disabled=run.cancel_requested, width="stretch"):
            get_runner().cancel(run.id)
            st.rerun(scope="fragment")
    text = f"{STATUS_TEXT.get(run.status, run.status)} — epoch {epochs_done} of {epochs}"
    if run.device and run.status == "running":
        text += f" on {run.device}"
    if run.cancel_requested and run.active:
        text += " (cancelling…)"
    if run.status == "done" and run.train_seconds is not None:
        text = f"Finished {epochs_done} epochs in {run.train_seconds:.1f} s on {run.device}"
    st.progress(min(max(run.progress, 0.0), 1.0), text=text)
    _outcome(run)

    if metrics.empty:
        if run.active:
            st.info("The first epoch's losses appear here as soon as it ends.")
        return
    log_y = st.session_state.get("train.log_y", False)
    st.plotly_chart(charts.loss_curves(metrics, log_y=log_y), key=f"loss-{run.id}",
                    config={"displaylogo": False})
    run_insights(run, metrics, store.extras(run.id))


def insight_figures(run: Run, metrics: pd.DataFrame, extras: list[dict[str, Any]]
                    ) -> list[tuple[go.Figure, str]]:
    """What a run learned besides its losses, each figure with a one-line reading guide:
    task weights, auxiliary losses, gradient conflict, learned mixing (gates, α, soft
    distance). Only the figures that apply to the run's scheme and strategy."""
    tasks = list(run.config.data.tasks)
    gradient_based = weightings.get(run.config.weighting.strategy).needs_task_grads
    out: list[tuple[go.Figure | None, str]] = [
        (charts.weights_figure(charts.weights_frame(extras),
                               "Task weights" + (" (effective)" if gradient_based else "")),
         "how much each task's loss counts in the update"
         + (": the weights that give the method's update direction" if gradient_based else "")),
        (charts.aux_curves(metrics), "losses the model adds itself: KL, sparsity, contraction, "
         "soft-sharing penalty"),
        (charts.cosine_figure(extras, tasks),
         "cosine between task gradients on the shared layers, from −1 (red: the tasks pull "
         "the shared layers apart) to +1 (blue: they pull the same way)"),
    ]
    out += [(f, "what the model learned to mix between tasks") for f in mixing_figures(extras)]
    return [(f, why) for f, why in out if f is not None]


def run_insights(run: Run, metrics: pd.DataFrame, extras: list[dict[str, Any]],
                 key: str = "live") -> None:
    """Draw ``insight_figures``: line charts two to a row, heatmaps (many labels) a row each."""
    rows: list[list[tuple[go.Figure, str, bool]]] = []
    for fig, why in insight_figures(run, metrics, extras):
        wide = any(isinstance(t, go.Heatmap) for t in fig.data)
        if wide or not rows or len(rows[-1]) == 2 or rows[-1][0][2]:
            rows.append([])
        rows[-1].append((fig, why, wide))
    for r, row in enumerate(rows):
        for i, (col, (fig, why, _)) in enumerate(zip(st.columns(len(row)), row, strict=True)):
            col.plotly_chart(fig, key=f"{key}-{run.id}-{r}-{i}", config={"displaylogo": False})
            col.caption(why)


def _outcome(run: Run) -> None:
    """How the run ended, in plain words."""
    if run.status == "failed":
        st.error(f"This run failed: {run.error or 'no reason was recorded'}.")
    elif run.status == "diverged":
        st.error(f"Training stopped because it diverged: {run.error}.")
    elif run.status == "cancelled":
        st.warning("This run was cancelled; its curves stop where it stopped.")
    elif run.status == "done":
        if run.error:  # e.g. early stopping
            st.info(run.error[:1].upper() + run.error[1:] + ".")
        _test_metrics(run)


def _test_metrics(run: Run) -> None:
    if not run.test_metrics:
        return
    st.caption("Test-set results")
    cols = st.columns(len(run.test_metrics))
    for col, (task, ms) in zip(cols, run.test_metrics.items(), strict=True):
        key = next((k for k in ("accuracy", "r2", "mse") if k in ms), None)
        if key is None:
            continue
        value = ms[key]
        col.metric(f"{task} · {key}", f"{value:.1%}" if key == "accuracy" else f"{value:.4g}")
