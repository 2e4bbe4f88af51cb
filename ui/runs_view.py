"""The runs table with row selection, shared by pages that pick runs from it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import ACTIVE, RunStore

from .compare import distinguishing_names, metric_columns

FIRST = ["id", "name", "status"]  # then each task's test metrics, then the settings
# (by: who queued the run, see ui.classroom.mine_first)
SETTINGS = ["by", "dataset", "tasks", "autoencoder", "sharing", "weighting", "epochs", "seed",
            "seconds"]
DEFAULT_SELECTED = 3  # newest finished runs selected on arrival


def runs_table(runs: pd.DataFrame, key: str = "runs") -> pd.DataFrame:
    """Draw ``RunStore.runs_table()`` with multi-row selection; return the chosen rows."""
    metric_cols = metric_columns(runs)
    # the per-task test metrics right after the name, where a narrow window still shows them
    order = [c for c in FIRST if c in runs.columns] + metric_cols + \
        [c for c in SETTINGS if c in runs.columns] + \
        [c for c in runs.columns if c not in FIRST + SETTINGS and c not in metric_cols]
    config = {c: st.column_config.NumberColumn(c, format="%.4f") for c in metric_cols}
    config["seconds"] = st.column_config.NumberColumn("seconds", format="%.1f")
    config["id"] = st.column_config.NumberColumn("id", format="%d", width="small")
    done = [i for i, s in enumerate(runs["status"]) if s == "done"][:DEFAULT_SELECTED]
    # keyed on the set of runs: a new run starts a fresh selection, a status change does not
    event = st.dataframe(
        runs, column_order=order, column_config=config, hide_index=True,
        on_select="rerun", selection_mode="multi-row",
        selection_default={"selection": {"rows": done}},
        key=f"{key}-{'-'.join(map(str, runs['id']))}",
    )
    rows = list(event.selection.rows)  # type: ignore[attr-defined]
    return runs.iloc[rows]


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
    """A "Delete" popover for the ticked runs, asking once more. Runs still queued or
    training are kept (cancel them first), so no worker loses the run it writes to."""
    finished = chosen[~chosen["status"].isin(ACTIVE)]
    with st.popover(f"Delete {len(finished)} ticked run(s)", icon=":material/delete:",
                    disabled=finished.empty):
        st.markdown(f"Delete **{len(finished)}** run(s) with their curves and weights? "
                    "This cannot be undone.")
        if len(finished) < len(chosen):
            st.caption("Runs still queued or training are kept; cancel them first.")
        if st.button("Delete for good", type="primary", key="runs.delete"):
            for run_id in finished["id"]:
                store.delete_run(int(run_id))
            st.rerun()
