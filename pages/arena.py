"""Method arena: weighting methods race on a two-task toy with conflicting minima."""

import streamlit as st

from ui import links
from ui.arena import arena_view
from ui.state import ensure_app_frame
from ui.train_form import LABELS

ensure_app_frame()
links.carry(LABELS)  # the tab's Train settings and run stay in the URL
st.title("Method arena")
links.show_notices()
arena_view()
