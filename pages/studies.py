"""Studies: vary a few settings over several seeds, against matched single-task
baselines, and read each setting's mean, spread and interval instead of one run
against one run. ``?study=ID`` in the URL opens a study."""

import streamlit as st

from ui.frame.state import get_store, page_frame
from ui.studies.form import example_button, start_section
from ui.studies.progress import pick_study, show_study, study_view

page_frame("Studies")
st.caption("A study trains every combination of the settings you vary, once per seed, "
           "next to single-task networks trained on the same data with the same budget, "
           "and reports each combination's mean, spread and 95% interval.")
store = get_store()
chosen = pick_study(store)
started = None
if chosen is None:
    st.info("No studies yet. One run against one run can mislead: the same setup trained "
            "with another seed often wins by as much as the difference you are looking at. "
            "A study repeats each setting over seeds and compares it with matched "
            "single-task baselines. Try the example (digits: hard sharing vs MMoE vs "
            "single-task networks, 3 seeds), or build your own below.",
            icon=":material/science:")
    started = example_button(store)
with st.expander("New study", expanded=chosen is None, icon=":material/add:"):
    started = start_section(store) or started
if started is not None:
    show_study(started)
    st.rerun()
if chosen is not None:
    study_view(store, chosen)
