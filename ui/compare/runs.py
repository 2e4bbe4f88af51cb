"""The runs table with row selection, shared by pages that pick runs from it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtae_core.config import ExperimentConfig
from mtae_core.store.access import Actor, NotAllowed
from mtae_core.store.runs import ACTIVE, RunStore
from ui.compare.tables import distinguishing_names, metric_columns
from ui.frame import identity, notices
from ui.widgets.text import md

FIRST = ["id", "name", "status"]  # then each task's test metrics, then the settings
# (by: who queued the run, see ui.classroom.roles.mine_first)
SETTINGS = ["by", "dataset", "tasks", "autoencoder", "sharing", "weighting", "epochs", "seed",
            "seconds"]
TICKED_KEY = "runs.ticked"  # session: the run ids ticked on the last run of the table
DEFAULT_SHOWN = 3  # newest finished runs compared while no row is ticked (none is ticked)


def runs_table(runs: pd.DataFrame, key: str = "runs") -> pd.DataFrame:
    """Draw ``RunStore.runs_table()`` with multi-row selection; return the ticked rows.
    No row starts ticked: a tick is always the reader's own (the delete button acts on
    the ticked runs)."""
    metric_cols = metric_columns(runs)
    # the per-task test metrics right after the name, where a narrow window still shows them
    order = [c for c in FIRST if c in runs.columns] + metric_cols + \
        [c for c in SETTINGS if c in runs.columns] + \
        [c for c in runs.columns if c not in FIRST + SETTINGS and c not in metric_cols]
    config = {c: st.column_config.NumberColumn(c, format="%.4f") for c in metric_cols}
    config["seconds"] = st.column_config.NumberColumn("seconds", format="%.1f")
    config["id"] = st.column_config.NumberColumn("id", format="%d", width="small")
    # keyed on the set of runs: a new run starts a fresh selection, a status change does not
    event = st.dataframe(
        runs, column_order=order, column_config=config, hide_index=True,
        on_select="rerun", selection_mode="multi-row",
        key=f"{key}-{'-'.join(map(str, runs['id']))}",
    )
    rows = list(event.selection.rows)  # type: ignore[attr-defined]
    _say_gone(runs)
    st.session_state[TICKED_KEY] = [int(i) for i in runs.iloc[rows]["id"]]
    return runs.iloc[rows]


def _say_gone(runs: pd.DataFrame) -> None:
    """Ticked runs that someone else (another student, the teacher, another tab) deleted
    since: say so, plainly, instead of silently dropping the ticks."""
    there = {int(i) for i in runs["id"]}
    gone = [i for i in st.session_state.get(TICKED_KEY, []) if i not in there]
    if gone:
        st.info("Already deleted, by someone else: " + ", ".join(f"#{i}" for i in gone)
                + ". The table shows the runs still stored.", icon=":material/info:")


def newest_finished(runs: pd.DataFrame, n: int = DEFAULT_SHOWN) -> pd.DataFrame:
    """What Compare shows while nothing is ticked: the first ``n`` finished runs in the
    table's order (this tab's newest first), for looking only: nothing is ticked."""
    return runs[runs["status"] == "done"].head(n)


def selected_metrics(store: RunStore, chosen: pd.DataFrame,
                     configs: dict[int, ExperimentConfig] | None = None
                     ) -> tuple[pd.DataFrame, dict[int, str]]:
    """The per-epoch metrics of the chosen runs and a legend label per run: its id and
    the settings that tell it apart from the other chosen runs (else its name)."""
    ids = [int(i) for i in chosen["id"]]
    names = dict(zip(ids, chosen["name"], strict=True))
    distinct = distinguishing_names({i: configs[i] for i in ids if i in configs}) \
        if configs and len(ids) > 1 else {}
    labels = {i: f"#{i} {distinct.get(i) or ' '.join(str(names[i]).split())}" for i in ids}
    return store.metrics(ids), labels


def delete_control(store: RunStore, chosen: pd.DataFrame) -> None:
    """A "Delete" popover for the ticked runs (none is ever ticked for you) that says
    what the delete would do before it does it, from the engine's ``delete_preview``:
    how many runs, whose, and which studies use them; runs this session may not delete
    (another student's, or, for a student, runs a study uses) are named and kept. The
    teacher may also delete runs a study uses, after ticking that they mean it. Runs
    still queued or training are kept (cancel them first), so no worker loses the run it
    writes to. The engine checks every run again when the button is pressed."""
    me = identity.actor()
    finished = chosen[~chosen["status"].isin(ACTIVE)]
    ids = [int(i) for i in finished["id"]]
    with st.popover(f"Delete {len(ids)} ticked run(s)", icon=":material/delete:",
                    disabled=not ids):
        if not ids:
            return
        preview = store.delete_preview(ids, me)
        whose = ", ".join(f"{name}: {n}" for name, n in preview.by_owner.items())
        st.markdown(f"Delete **{preview.runs}** run(s) ({md(whose)}) with their curves and "
                    "weights? This cannot be undone.")
        if len(finished) < len(chosen):
            st.caption("Runs still queued or training are kept; cancel them first.")
        force = False
        in_studies: list[int] = []
        if preview.studies:
            used = "; ".join(f"#{i} {name}" for i, name in preview.studies)
            st.warning(f"Some of these runs belong to studies: {md(used)}. Their results "
                       "would lose those runs.", icon=":material/science:")
            if me.is_teacher:
                force = st.checkbox("Delete them too (the studies lose those runs)",
                                    key="runs.delete.force")
                in_studies = [i for i in ids if store.delete_preview([i], me).studies]
        refused = sorted({*preview.refused, *([] if force else in_studies)})
        if refused:
            st.caption("Kept: " + ", ".join(f"#{i}" for i in refused)
                       + (" (a study uses them: tick the box above to delete them too)"
                          if me.is_teacher else
                          " (you may delete only your own runs, and none a study uses)")
                       + ".")
        allowed = [i for i in ids if i not in refused]
        if st.button("Delete for good", type="primary", help=f"delete {len(allowed)} run(s)",
                     key="runs.delete", disabled=not allowed):
            _delete(store, allowed, me, force)


def _delete(store: RunStore, ids: list[int], me: Actor, force: bool) -> None:
    """Delete through the engine's checked method; a refusal or a run someone else has
    just deleted is a plain notice (shown after the rerun)."""
    st.session_state.pop(TICKED_KEY, None)  # (these go now: not "deleted by someone else")
    gone = [i for i in ids if store.get_run(i) is None]
    try:
        store.delete_runs([i for i in ids if i not in gone], actor=me, force=force)
    except NotAllowed as e:
        notices.flash(str(e))
    else:
        if gone:
            notices.flash("Already deleted, by someone else: "
                           + ", ".join(f"#{i}" for i in gone) + ".")
    st.rerun()
