"""A run's live view: progress, status, loss curves, auxiliary losses and task weights.

While the run is active, the view is an ``st.fragment`` that reruns every
``POLL_SECONDS`` and reads the store; when the run ends it reruns the page once, which
draws the finished run without polling. The run lives in a worker process, so nothing
here can stop it except the Cancel button.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mtae_core.engine.metric_names import metric_label
from mtae_core.store.access import NotAllowed, may_act
from mtae_core.store.runs import Run, RunStore
from mtae_core.weighting import weightings
from ui.frame import identity, links, notices
from ui.frame.state import get_store
from ui.train.form import auto_name
from ui.train.model_views import mixing_figures
from ui.widgets import charts, downloads
from ui.widgets.text import md

POLL_SECONDS = 0.5
FIRST_POLL_SECONDS = 0.1  # until a run's first epoch is in: the first point shows sooner

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
    automatic one, say) does not already tell them. Plain text: widgets that render
    Markdown get it through ``ui.widgets.text.md``."""
    cfg = run.config
    settings = f"{cfg.data.dataset}, {cfg.model.sharing}, {cfg.weighting.strategy}, "
    name = " ".join(run.name.split())
    return (f"#{run.id} {name} — "
            f"{'' if run.name == auto_name(cfg.to_dict()) else settings}{run.status}")


def show(run_id: int) -> None:
    """Show ``run_id`` beside the form, in this tab and its URL (a refresh keeps it)."""
    links.show_run(run_id)


def run_panel(run_id: int) -> None:
    """The run's view, polling the store while the run is active. Drawn in a container
    keyed by the run, so nothing of the run shown before (its "Finished" panel, its
    charts) lingers below a new one while it trains."""
    run = get_store().get_run(run_id)
    with st.container(key=f"run-view-{run_id}"):
        if run is None:
            st.warning(f"There is no run #{run_id} (it may have been deleted).")
            return
        if run.active and get_store().metrics(run_id).empty:
            _poll_first(run_id)
        elif run.active:
            _poll(run_id)
        else:
            _draw(run)


@st.fragment(run_every=FIRST_POLL_SECONDS)
def _poll_first(run_id: int) -> None:
    """Poll often until the first epoch is stored, then hand over to ``_poll``: Train to
    first point stays under a second without polling fast for the whole run."""
    run = get_store().get_run(run_id)
    if run is None:
        return
    _draw(run)
    if not run.active or not get_store().metrics(run_id).empty:
        st.rerun()  # the whole page, which polls at the usual pace from now on


@st.fragment(run_every=POLL_SECONDS)
def _poll(run_id: int) -> None:
    run = get_store().get_run(run_id)
    if run is None:
        return
    _draw(run)
    if not run.active:
        st.rerun()  # the whole page: draws the finished run once, without polling


DIVERGED = re.compile(r"task '(?P<task>[^']*)' became NaN or infinite at epoch (?P<epoch>\d+)")


def diverged_at(run: Run) -> tuple[int, str] | None:
    """(epoch counted from 1, task) where a diverged run's loss stopped being finite:
    from the run's info when the engine records it, else from its reason."""
    info = run.info or {}
    if "diverged_epoch" in info:
        # the engine's epochs count from 0, as the store's
        return int(info["diverged_epoch"]) + 1, str(info.get("diverged_task", "?"))
    m = DIVERGED.search(run.error or "")
    return (int(m["epoch"]), m["task"]) if m else None


def progress_state(run: Run, epochs_done: int) -> tuple[float, str]:
    """The progress bar's fraction and its text, which always agree: ``epochs_done``
    (epochs whose losses are stored) of the configured epochs."""
    epochs = run.config.training.epochs
    fraction = min(max(epochs_done / epochs, 0.0), 1.0)
    status = STATUS_TEXT.get(run.status, run.status)
    if run.status == "done":
        text = f"Finished {epochs_done} epochs"
        if run.train_seconds is not None:
            text += f" in {run.train_seconds:.1f} s" + (f" on {run.device}" if run.device else "")
    elif run.status == "diverged":
        where = diverged_at(run)
        text = (f"Diverged in epoch {where[0]} of {epochs}" if where
                else f"Diverged after epoch {epochs_done} of {epochs}")
    elif run.status == "queued":
        text = f"{status} — {epochs} epochs to go"
    else:
        text = f"{status} — epoch {epochs_done} of {epochs} done"
        if run.device and run.status == "running":
            text += f" on {run.device}"
        if run.cancel_requested and run.active:
            text += " (cancelling…)"
    return fraction, text


def _draw(run: Run) -> None:
    store = get_store()
    metrics = store.metrics(run.id)
    epochs_done = int(metrics["epoch"].max()) + 1 if not metrics.empty else 0

    head, button = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {STATUS_ICON.get(run.status, '')} Run #{run.id} · {md(run.name)}")
    refused = None
    if run.active:
        allowed = may_act(identity.actor(), run.owner)
        if button.button("Cancel", key=f"cancel-{run.id}", disabled=run.cancel_requested or not allowed,
                         help="stop this run after its current step" if allowed else
                         "only the student who started it, or the teacher, may cancel it",
                         width="stretch"):
            refused = cancel(run.id)
            if refused is None:  # (a fragment's own rerun, or the page's in a full run)
                ctx = get_script_run_ctx()
                st.rerun(scope="fragment" if ctx is not None and ctx.fragment_ids_this_run
                         else "app")
    fraction, text = progress_state(run, epochs_done)
    if run.status == "queued":
        place = queue_text(store, run)
        if place:
            text = f"{place} — {run.config.training.epochs} epochs to go"
    st.progress(fraction, text=text)
    if refused:
        st.warning(md(refused), icon=":material/block:")
    _outcome(run, epochs_done)

    log_y = st.session_state.get("train.log_y", False)
    if metrics.empty:
        if run.active:
            # the loss chart's place, drawn from the moment the run is queued: the browser
            # loads plotly's script while the worker starts (the Train form may have drawn
            # no chart yet), and the first point then updates this chart in place
            st.plotly_chart(waiting_chart(log_y), key=f"loss-{run.id}",
                            config=charts.chart_config(f"run-{run.id}-losses"))
        return
    downloads.chart(charts.loss_curves(metrics, log_y=log_y), f"run-{run.id}-losses",
                    data=charts.task_losses(metrics), key=f"loss-{run.id}")
    run_insights(run, metrics, store.extras(run.id))
    if run.status == "done":
        from ui.latent.pictures import (
            weights_download,  # (loads the engine; the form's path must not)
        )
        weights_download(store, run)


WAITING_TEXT = "The first epoch's losses appear here as soon as it ends."


def waiting_chart(log_y: bool = False) -> go.Figure:
    """The loss chart of a run with no epoch yet: its axes and a line saying what comes."""
    fig = charts.loss_curves(pd.DataFrame(), log_y=log_y)
    fig.add_annotation(text=WAITING_TEXT, showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5, font={"size": 14})
    fig.update_xaxes(range=[0, 1], showticklabels=False)  # (no epochs yet to count)
    fig.update_yaxes(showticklabels=False)
    return fig


def insight_figures(run: Run, metrics: pd.DataFrame, extras: list[dict[str, Any]]
                    ) -> list[tuple[go.Figure, str]]:
    """What a run learned besides its losses, each figure with a one-line reading guide:
    task weights, auxiliary losses, gradient conflict, learned mixing (gates, α, soft
    distance). Only the figures that apply to the run's scheme and strategy."""
    tasks = list(run.config.data.tasks)
    gradient_based = weightings.spec(run.config.weighting.strategy).needs_task_grads
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
    # gates and α of every epoch on a slider (it opens on the latest); the rest as before
    animated = charts.mixing_animation(extras)
    if animated is not None:
        out.append((animated, "what the model learned to mix between tasks; drag the slider "
                    "or press play to see how it changed over the epochs"))
    others = mixing_figures([{k: v for k, v in e.items() if k not in ("gates", "cross_stitch")}
                             for e in extras])
    out += [(f, "what the model learned to mix between tasks") for f in others]
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
            title = fig.layout.title.text or f"chart {r + 1}-{i + 1}"
            downloads.chart(fig, f"run-{run.id}-{title}", key=f"{key}-{run.id}-{r}-{i}", where=col)
            col.caption(why)


def _outcome(run: Run, epochs_done: int) -> None:
    """How the run ended, in plain words."""
    if run.status == "failed":
        st.error(f"This run failed: {md(run.error or 'no reason was recorded')}.")
    elif run.status == "diverged":
        where = diverged_at(run)
        if where is not None:
            epoch, task = where
            st.error(f"Training diverged in epoch {epoch}: the loss of task {md(task)} "
                     "became NaN or infinite. "
                     + (f"The curves show the {epochs_done} epoch(s) before it. "
                        if epochs_done else "No epoch finished before it, so there are no "
                        "curves. ")
                     + "Try a lower learning rate or gradient clipping.")
        st.caption(f"Training stopped because it diverged: {md(run.error)}.")
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
        col.metric(f"{task} · {key}", f"{value:.1%}" if key == "accuracy" else f"{value:.4g}",
                   help=_beside_accuracy(ms))


def _beside_accuracy(ms: dict[str, float]) -> str | None:
    """What a classification task's accuracy is read against: ROC AUC and average
    precision (a binary task's; AUC is its headline, the one Δm uses) and the accuracy
    of always guessing the training split's most common class."""
    parts = [f"{metric_label(k)} {ms[k]:.3f}" for k in ("auc", "average_precision") if k in ms]
    if "majority_accuracy" in ms:
        parts.append(f"always guessing the most common class: {ms['majority_accuracy']:.1%}")
    return "; ".join(parts) or None


# ---- the runs of this tab ------------------------------------------------------------------


def tab_runs(key: str, on_train_page: bool = True) -> None:
    """The runs this browser tab started, newest first, with their status: open one
    beside the form (from another page: go to Train with it) or cancel it. While one
    is active the list refreshes itself."""
    ids = links.mine()
    if not ids:
        return
    runs = [r for r in (get_store().get_run(i) for i in reversed(ids)) if r is not None]
    if any(r.active for r in runs):
        _tab_runs_live(key, on_train_page, tuple((r.id, r.status) for r in runs))
    else:
        _tab_runs(runs, key, on_train_page)


@st.fragment(run_every=1.0)
def _tab_runs_live(key: str, on_train_page: bool, drawn: tuple[tuple[int, str], ...]) -> None:
    runs = [r for r in (get_store().get_run(i) for i, _ in drawn) if r is not None]
    if tuple((r.id, r.status) for r in runs) != drawn and not any(r.active for r in runs):
        st.rerun()  # the whole page once, then the list stops polling
    _tab_runs(runs, key, on_train_page)


def _tab_runs(runs: list[Run], key: str, on_train_page: bool) -> None:
    shown = links.shown_run_id()
    with st.expander(f"Runs of this tab ({len(runs)})", expanded=any(r.active for r in runs),
                     icon=":material/list:"):
        for run in runs:
            name, status, open_, cancel_button = st.columns([4, 2, 2, 2], vertical_alignment="center")
            name.text(f"#{run.id} {' '.join(run.name.split())}")  # st.text: never Markdown
            status.markdown(f"{STATUS_ICON.get(run.status, '')} {run.status}"
                            + (" (cancelling…)" if run.cancel_requested and run.active else ""))
            here = on_train_page and run.id == shown
            if open_.button("Open", key=f"{key}-open-{run.id}", disabled=here,
                            help="show this run beside the Train form"):
                show(run.id)
                if on_train_page:
                    st.rerun()
                st.switch_page("pages/train.py", query_params=links.page_params())
            if run.active and cancel_button.button("Cancel", key=f"{key}-cancel-{run.id}",
                                                   disabled=run.cancel_requested,
                                                   help="stop this run after its current step"):
                refused = cancel(run.id)
                if refused:
                    notices.flash(refused)
                st.rerun()


def cancel(run_id: int) -> str | None:
    """Ask the engine to cancel ``run_id`` for this session's actor; the refusal in plain
    words (not this student's run, or already gone), else None."""
    try:
        get_store().request_cancel(run_id, actor=identity.actor())
    except NotAllowed as e:
        return str(e)
    except KeyError:
        return f"Run #{run_id} is not there any more: someone deleted it."
    return None


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st…"""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_text(store: RunStore, run: Run) -> str | None:
    """Where a queued run stands: "3rd in the queue, about 20 s", from the engine's fair
    order (``RunStore.queue_position``); None when the engine cannot say."""
    try:
        place, seconds = store.queue_position(run.id)
    except Exception:  # (a run that just left the queue; the status line says the rest)
        return None
    if place < 1:
        return None
    text = "Next in the queue" if place == 1 else f"{ordinal(place)} in the queue"
    if seconds is not None:
        text += f", about {_about(seconds)} to wait"
    paused = _paused(store)
    return text + (" (the teacher has paused the queue)" if paused else "")


def _about(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


def _paused(store: RunStore) -> bool:
    try:
        return bool(store.class_settings().paused)
    except Exception:
        return False


def active_run_of_tab() -> Run | None:
    """The newest run of this tab still queued or training, if any."""
    for run_id in reversed(links.mine()):
        run = get_store().get_run(run_id)
        if run is not None and run.active:
            return run
    return None
