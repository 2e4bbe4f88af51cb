"""One study on the Studies page: the picker (newest first, ``?study=ID``), the live
progress grid (cells × seeds and the matched baselines, one square per run coloured by
its status and linking to the run, polled from the store while any run is active, with
Cancel study and a run picker), then the results (``ui.studies.results``) and the spec."""

from __future__ import annotations

import functools
import html
import json
from typing import Any

import pandas as pd
import streamlit as st

from mtae_core import studies
from mtae_core.errors import cut, whole_number
from mtae_core.store.access import NotAllowed
from mtae_core.store.runs import ACTIVE, RunStore
from ui.frame import identity, links, notices
from ui.frame.state import get_store
from ui.studies.results import cell_name, results_section, spec_download
from ui.studies.resume import resume_section
from ui.widgets.text import md

STUDY_PARAM = "study"  # query parameter: the study shown
BASELINE_ROW = "single-task baseline"
GRID_SECONDS = 0.5  # the grid polls the store twice a second while runs are active
STATUS_COLOUR = {"queued": "#c9ced6", "running": "#4c8dff", "done": "#21a453",
                 "failed": "#e5484d", "diverged": "#f08c00", "cancelled": "#6b7280"}
STATUS_WORD = {"queued": "waiting", "running": "training", "done": "done", "failed": "failed",
               "diverged": "diverged", "cancelled": "cancelled"}


# ---- the live progress grid ------------------------------------------------------------------------


def grid_frame(store: RunStore, study_id: int, spec: studies.StudySpec) -> pd.DataFrame:
    """One row per run of the study: row (cell label, or "single-task baseline"), seed,
    run_id, status, progress, seeds (how its seeds trained: ``seeds_path``)."""
    links = store.study_runs(study_id)
    cols = ["row", "seed", "run_id", "status", "progress", "seeds"]
    if links.empty:
        return pd.DataFrame(columns=cols)
    labels = {c.index: cell_name(c.settings) for c in spec.cells()}
    runs = store.runs_by_id([int(i) for i in links["run_id"]])
    rows = []
    for link in links.itertuples():
        run = runs.get(int(link.run_id))
        row = BASELINE_ROW if link.role == "baseline" else labels.get(int(link.cell), "?")
        rows.append((row, int(link.seed), int(link.run_id),
                     run.status if run else "deleted", run.progress if run else 0.0,
                     seeds_path(run.info, run.status) if run else ""))
    # a single-task cell is its own baseline: one run, shown once in its cell's row
    return pd.DataFrame(rows, columns=cols).drop_duplicates(["row", "seed", "run_id"])


_GRID_CSS = (
    "<style>"
    "table.study-grid{border-collapse:collapse;border:none}"
    "table.study-grid th{padding:2px 6px;font-weight:500}"
    "table.study-grid td{padding:2px 6px}"
    "table.study-grid td.row{padding:2px 8px;text-align:right}"
    "a.study-run{display:inline-block;min-width:3.2em;padding:4px 6px;margin:1px;"
    "border-radius:4px;color:white;font-size:0.8em;text-align:center;text-decoration:none}"
    + "".join(f"a.study-run.{s}{{background:{c}}}" for s, c in STATUS_COLOUR.items())
    + "</style>")


def grid_html(frame: pd.DataFrame) -> str:
    """Cells × seeds as coloured squares (one per run, a link to it on the Train page),
    the baselines in their own row; squares carry their status for tests and tooltips.
    Built in one pass over plain records: it is redrawn twice a second."""
    if frame.empty:
        return ""
    records = frame.to_dict("records")
    seeds = sorted({int(x["seed"]) for x in records})
    by_place: dict[tuple[str, int], list[str]] = {}
    for x in records:
        by_place.setdefault((str(x["row"]), int(x["seed"])), []).append(_square(x))
    rows = list(dict.fromkeys(str(x["row"]) for x in records))
    head = "".join(f"<th>seed {s}</th>" for s in seeds)
    body = "".join(
        f"<tr><td class='row'>{html.escape(r)}</td>"
        + "".join(f"<td>{''.join(by_place.get((r, s), []))}</td>" for s in seeds) + "</tr>"
        for r in rows)
    legend = " ".join(
        f"<span style='white-space:nowrap'><span style='display:inline-block;width:0.8em;"
        f"height:0.8em;border-radius:2px;background:{c}'></span> {STATUS_WORD[s]}</span>"
        for s, c in STATUS_COLOUR.items())
    return (f"{_GRID_CSS}<table class='study-grid'><tr><th></th>{head}</tr>{body}</table>"
            f"<div style='font-size:0.8em;color:#666;margin-top:4px'>{legend}</div>")


def _square(x: dict[str, Any]) -> str:
    status = str(x["status"])
    word = STATUS_WORD.get(status, status)
    if status == "running":
        word += f" {float(x['progress']):.0%}"
    run_id = int(x["run_id"])
    title = html.escape(f"{x['row']}, seed {x['seed']}: run #{run_id} {word}", quote=True)
    return (f"<a href='./?run={run_id}' title='{title}' data-status='{html.escape(status)}' "
            f"class='study-run {html.escape(status)}'>#{run_id}</a>")


def seeds_path(info: dict[str, Any], status: str) -> str:
    """How a run's seed trained: "together" (with the other seeds of its cell, as one
    batched model), "separately: <reason>", or "" while that is not known yet."""
    if info.get("seeds_path") == "together":
        cells = int(info.get("cells_together") or 1)
        if cells > 1:  # cells batched too (fixed λ, a strategy's options): say how many
            return (f"together: {info.get('seeds_together')} runs of {cells} settings "
                    "trained as one batched model")
        return "together"
    if info.get("seeds_path") == "separately":
        return f"separately: {info.get('seeds_reason') or 'one run per seed'}"
    return "" if status in ACTIVE else "separately"


def seeds_lines(frame: pd.DataFrame) -> list[str]:
    """One line per row of the grid: how its seeds trained ("seeds trained together", or
    "separately: <reason>"); rows whose runs have not started yet are left out."""
    lines = []
    for row, group in frame.groupby("row", sort=False):
        paths = [p for p in dict.fromkeys(group["seeds"]) if p]
        if not paths:
            continue
        words = "; ".join("seeds trained together" if p == "together"
                          else f"seeds trained {p}" if p.startswith("together:") else p
                          for p in paths)
        lines.append(f"{row}: {words}")
    return lines


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
    return _parse(json.dumps(study.spec))  # key order kept: cells are numbered in the axes' order


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
        try:
            studies.cancel(store, study_id, actor=identity.actor())
        except NotAllowed as e:
            notices.flash(str(e))
        st.rerun()  # the whole page: the grid stops polling, the results redraw
    st.markdown(grid_html(frame), unsafe_allow_html=True)
    lines = seeds_lines(frame) if not frame.empty else []
    if lines:  # which path each cell took: one batched model, or a run per seed
        st.caption("  \n".join(md(line) for line in lines))
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
    if c2.button("Open on Train", icon=":material/open_in_new:", key=f"studies.go.{study_id}"):
        links.show_run(int(run_id))  # the run the Train page shows in this tab
        st.switch_page("pages/train.py")


# ---- picking a study ---------------------------------------------------------------------------------


def show_study(study_id: int) -> None:
    st.query_params[STUDY_PARAM] = str(study_id)


def link_study(raw: str) -> int | None:
    """The study id a link's ``?study=`` asks for (ASCII digits, 1 to SQLite's largest
    integer), or None when it cannot be one."""
    try:
        return whole_number(raw, 1, 2**63 - 1)
    except ValueError:
        return None


def pick_study(store: RunStore) -> int | None:
    """A selectbox over the stored studies, newest first, following ``?study=ID``."""
    items = sorted(store.studies(), key=lambda s: s.id, reverse=True)
    if not items:
        return None
    ids = [s.id for s in items]
    names = {s.id: s.name for s in items}
    wanted = st.query_params.get(STUDY_PARAM)
    index = 0
    if wanted is not None:
        asked = link_study(wanted)
        if asked in ids:
            index = ids.index(asked)
        else:
            st.warning(md(f"The link's study '{cut(wanted, 30)}' is not a study here, so the "
                          "newest study is shown."), icon=":material/link_off:")
    # keyed on the list, so a new study (or ?study=) starts a fresh selection
    chosen = st.selectbox("Study", ids, index=index, format_func=lambda i: f"#{i} {names[i]}",
                          key=f"studies.pick.{ids[0]}.{wanted}")
    if str(chosen) != wanted:
        show_study(int(chosen))
    return int(chosen)


# ---- one study ----------------------------------------------------------------------------------------


def study_view(store: RunStore, study_id: int) -> None:
    """A study's heading, progress grid, results so far and spec."""
    study = store.get_study(study_id)
    if study is None:
        st.warning(f"There is no study #{study_id} (it may have been deleted).")
        return
    spec = spec_of(study)
    st.subheader(f"#{study.id} {md(study.name)}")
    seeds = ", ".join(map(str, spec.seeds))
    varied = ", ".join(f"{p} over {len(v)} values" for p, v in spec.axes.items()) or "nothing"
    summary = studies.summarize(store, study_id)
    st.caption(f"{len(spec.cells())} cell(s) × {len(spec.seeds)} seed(s) ({seeds}); varies "
               f"{varied}. Seeds: " + "; ".join(summary.notes[:1]) + ".")
    progress_section(store, study_id, spec)
    resume_section(store, study_id)  # runs that did not finish: why, and Resume
    results_section(store, summary, studies.axis_fields(spec.base))
    spec_download(spec, key=f"studies.spec.{study_id}")
