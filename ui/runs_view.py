"""The runs table with row selection, shared by pages that pick runs from it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtae_core.store import ACTIVE, RunStore

from .compare import metric_columns

FIRST = ["id", "name", "status", "dataset", "tasks", "autoencoder", "sharing", "weighting",
         "epochs", "seed", "seconds"]
DEFAULT_SELECTED = 3  # newest finished runs selected on arrival


def runs_table(runs: pd.DataFrame, key: str = "runs") -> pd.DataFrame:
    """Draw ``RunStore.runs_table()`` with multi-row selection; return the chosen rows."""
    metric_cols = metric_columns(runs)
    order = [c for c in FIRST if c in runs.columns] + metric_cols + \
        [c for c in runs.columns if c not in FIRST and c not in metric_cols]
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


def selected_metrics(store: RunStore, chosen: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """The per-epoch metrics of the chosen runs and a legend label per run."""
    labels = {int(r["id"]): f"#{r['id']} {r['name']}" for _, r in chosen.iterrows()}
    return store.metrics(list(labels)), labels


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
