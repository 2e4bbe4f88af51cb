"""The live progress grid of a study: cells × seeds (and the matched baselines), one
square per run coloured by its status and linking to the run, polled from the store
while any run is active, with a Cancel-study button and a run picker."""

from __future__ import annotations

import functools
import html
import json
from typing import Any

import pandas as pd
import streamlit as st

from mtae_core import studies
from mtae_core.store import ACTIVE, RunStore

from .state import get_store
from .study_results import cell_name

BASELINE_ROW = "single-task baseline"
GRID_SECONDS = 0.5  # the grid polls the store twice a second while runs are active
STATUS_COLOUR = {"queued": "#c9ced6", "running": "#4c8dff", "done": "#21a453",
                 "failed": "#e5484d", "diverged": "#f08c00", "cancelled": "#6b7280"}
STATUS_WORD = {"queued": "waiting", "running": "training", "done": "done", "failed": "failed",
               "diverged": "diverged", "cancelled": "cancelled"}


# ---- the live progress grid ------------------------------------------------------------------------


def grid_frame(store: RunStore, study_id: int, spec: studies.StudySpec) -> pd.DataFrame:
    """One row per run of the study: row (cell label, or "single-task baseline"), seed,
    run_id, status, progress."""
    links = store.study_runs(study_id)
    cols = ["row", "seed", "run_id", "status", "progress"]
    if links.empty:
        return pd.DataFrame(columns=cols)
    labels = {c.index: cell_name(c.settings) for c in spec.cells()}
    runs = store.runs_by_id([int(i) for i in links["run_id"]])
    rows = []
    for link in links.itertuples():
        run = runs.get(int(link.run_id))
        row = BASELINE_ROW if link.role == "baseline" else labels.get(int(link.cell), "?")
        rows.append((row, int(link.seed), int(link.run_id),
                     run.status if run else "deleted", run.progress if run else 0.0))
    # a single-task cell is its own baseline: one run, shown once in its cell's row
    return pd.DataFrame(rows, columns=cols).drop_duplicates(["row", "seed", "run_id"])


def grid_html(frame: pd.DataFrame) -> str:
    """Cells × seeds as coloured squares (one per run, a link to it on the Train page),
    the baselines in the last row; squares carry their status for tests and tooltips."""
    if frame.empty:
        return ""
    seeds = sorted(frame["seed"].unique())
    rows = list(dict.fromkeys(frame["row"]))
    head = "".join(f"<th style='padding:2px 6px;font-weight:500'>seed {s}</th>" for s in seeds)
    body = []
    for r in rows:
        cells = []
        for s in seeds:
            runs = frame[(frame["row"] == r) & (frame["seed"] == s)]
            squares = "".join(_square(x) for _, x in runs.iterrows())
            cells.append(f"<td style='padding:2px 6px'>{squares}</td>")
        body.append(f"<tr><td style='padding:2px 8px;text-align:right'>{html.escape(r)}</td>"
                    + "".join(cells) + "</tr>")
    legend = " ".join(
        f"<span style='white-space:nowrap'><span style='display:inline-block;width:0.8em;"
        f"height:0.8em;border-radius:2px;background:{c}'></span> {STATUS_WORD[s]}</span>"
        for s, c in STATUS_COLOUR.items())
    return (f"<table class='study-grid' style='border-collapse:collapse;border:none'>"
            f"<tr><th></th>{head}</tr>{''.join(body)}</table>"
            f"<div style='font-size:0.8em;color:#666;margin-top:4px'>{legend}</div>")


def _square(x: pd.Series) -> str:
    status = str(x["status"])
    colour = STATUS_COLOUR.get(status, "#999")
    word = STATUS_WORD.get(status, status)
    if status == "running":
        word += f" {x['progress']:.0%}"
    title = html.escape(f"{x['row']}, seed {x['seed']}: run #{x['run_id']} {word}")
    return (f"<a href='./?run={int(x['run_id'])}' title='{title}' data-status='{status}' "
            f"class='study-run' style='display:inline-block;min-width:3.2em;padding:4px 6px;"
            f"margin:1px;border-radius:4px;background:{colour};color:white;font-size:0.8em;"
            f"text-align:center;text-decoration:none'>#{int(x['run_id'])}</a>")


def progress_words(frame: pd.DataFrame) -> str:
    counts = frame["status"].value_counts()
    parts = [f"{int(counts.get('done', 0))} of {len(frame)} runs done"]
    for status in ("running", "queued", "failed", "diverged", "cancelled"):
        if counts.get(status, 0):
            parts.append(f"{int(counts[status])} {STATUS_WORD[status]}")
    return ", ".join(parts)


def progress_section(store: RunStore, study_id: int, spec: Any) -> None:
    """The grid, polling the store while any of the study's runs is active; when the last
    one ends, the whole page reruns once to draw the results."""
    frame = grid_frame(store, study_id, spec)
    if frame["status"].isin(ACTIVE).any():
        _poll_grid(study_id)
    else:
        _draw_grid(store, study_id, frame)


@st.fragment(run_every=GRID_SECONDS)
def _poll_grid(study_id: int) -> None:
    store = get_store()
    study = store.get_study(study_id)
    if study is None:
        return
    frame = grid_frame(store, study_id, spec_of(study))
    _draw_grid(store, study_id, frame)
    if not frame["status"].isin(ACTIVE).any():
        st.rerun()  # the whole page: results drawn once, without polling


def spec_of(study: Any) -> studies.StudySpec:
    """A stored study's spec (parsed once per text: the grid polls it often)."""
    return _parse(json.dumps(study.spec, sort_keys=True))


@functools.lru_cache(maxsize=32)
def _parse(text: str) -> studies.StudySpec:
    return studies.StudySpec.parse(json.loads(text), check_size=False)


def _draw_grid(store: RunStore, study_id: int, frame: pd.DataFrame) -> None:
    active = bool(frame["status"].isin(ACTIVE).any()) if not frame.empty else False
    head, button = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"**Progress** — {progress_words(frame) if not frame.empty else 'no runs'}")
    if active and button.button("Cancel study", key=f"studies.cancel.{study_id}",
                                icon=":material/cancel:", width="stretch",
                                help="cancel every run of this study not yet finished"):
        studies.cancel(store, study_id)
        st.rerun()  # the whole page: the grid stops polling, the results redraw
    st.markdown(grid_html(frame), unsafe_allow_html=True)
    _open_run(frame, study_id)


def _open_run(frame: pd.DataFrame, study_id: int) -> None:
    if frame.empty:
        return
    labels: dict[int, str] = {int(r["run_id"]): f"#{int(r['run_id'])} {r['row']}, seed {int(r['seed'])} — "
              f"{STATUS_WORD.get(r['status'], r['status'])}" for _, r in frame.iterrows()}
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    run_id = c1.selectbox("Open a run of this study", list(labels),
                          format_func=lambda i: labels[i],
                          key=f"studies.open.{study_id}")
    c2.page_link("pages/train.py", label="Open on Train", icon=":material/open_in_new:",
                 query_params={"run": str(run_id)})


