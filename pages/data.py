"""Data: add your own table, and look at a data set's tasks before training them."""

import streamlit as st

from ui.data.page import add_table, look, stored_tables
from ui.frame.state import get_store, page_frame

page_frame("Data")
st.caption("Look at a data set before training: its labels, its inputs in 2-D, and how related "
           "its tasks are. Sharing tends to help related tasks and hurt unrelated ones: "
           "predict here, then check on Compare.")
store = get_store()
with st.expander("Add your own table (CSV)", icon=":material/upload_file:"):
    add_table(store)
with st.expander("Your tables", icon=":material/table:"):
    stored_tables(store)
look(store)
