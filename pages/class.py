"""Class: the teacher's view of every run on this server, grouped by the browser tab
(and the name its student typed) that started it, with status and final test metrics;
any run opens on the Train page."""

import streamlit as st

from ui.classroom.admin import audit_view, teacher_panel
from ui.classroom.roles import class_tables, run_choice_label
from ui.frame import identity, links
from ui.frame.state import get_store, page_frame

page_frame("Class")
st.caption("Every run on this server, by student: each browser tab's runs under the name "
           "its student typed in the sidebar (*Your name*).")
REFRESH_SECONDS = 3.0
teacher_panel(get_store())  # (the teacher's session only)


@st.fragment(run_every=REFRESH_SECONDS)
def _class() -> None:
    """Redrawn every few seconds: runs appear as students press Train, and their status
    and metrics follow (one query of the store each time)."""
    if identity.is_teacher():
        audit_view(get_store())  # each cancel and delete shows up as it happens
    runs = get_store().runs_table()
    if runs.empty:
        st.info("No runs yet — when students press **Train**, their runs appear here by name.")
        return
    rows = {int(r["id"]): run_choice_label(r) for _, r in runs.iterrows()}
    pick, go = st.columns([4, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("Open a run", list(rows), format_func=rows.get, key="class.open")
    if go.button("Open on Train", icon=":material/open_in_new:", width="stretch",
                 key="class.open-button"):
        links.show_run(int(chosen))
        st.switch_page("pages/train.py", query_params=links.page_params())
    class_tables(runs)


_class()
