"""MTAE Studio: the Streamlit entry point. Page config, navigation over pages/, and the
sidebar every page shares. Run it with ``streamlit run app.py`` (or ``make run``)."""

import streamlit as st

st.set_page_config(page_title="MTAE Studio", page_icon=":material/hub:", layout="wide")

# Navigation first: until a server's first script run reaches st.navigation, Streamlit
# treats pages/ as an old-style page folder, and a browser opening /compare meanwhile
# would get that page without this frame.
PAGES = [
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/studies.py", title="Studies", icon=":material/science:"),
    st.Page("pages/data.py", title="Data", icon=":material/table:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/arena.py", title="Method arena", icon=":material/stadia_controller:"),
    st.Page("pages/class.py", title="Class", icon=":material/groups:"),
]
# The page links are our own (ui.frame.links.nav_links): each carries the tab's settings and run
# in its URL, so a page switch never shows a bare URL that a refresh or a copied link
# would lose (Streamlit's own menu drops the query string).
page = st.navigation(PAGES, position="hidden")
nav = st.sidebar.empty()

# The frame's static part. Nothing before the page imports torch (the Train form needs
# only the registries' light entries), so a fresh server shows the form at once; the
# engine's imports run in the background (ui.frame.serve) and where a page draws a model.
with st.sidebar:
    st.markdown("### :material/hub: MTAE Studio")
    st.caption(
        "Train one autoencoder on several tasks at once, watch every task's loss, "
        "and see which sharing and loss-weighting choices help or hurt."
    )
    status_line = st.empty()

from mtae_core.errors import StoreError  # noqa: E402  (see above)
from ui.classroom.roles import frame as classroom_frame  # noqa: E402  (see above)
from ui.frame import notices  # noqa: E402  (see above)
from ui.frame.links import nav_links  # noqa: E402  (see above)
from ui.frame.state import (  # noqa: E402  (see above)
    device_line,
    get_runner,
    page_drawn,
    run_in_frame,
    store_or_stop,
    store_problem,
    workers_problem,
)

store = store_or_stop()  # a store that cannot be used: a page saying so, and no other
classroom_frame()  # the link's ?hide=/?present=/?who=, "Your name", presenter mode
nav_links(PAGES, nav)  # drawn again whenever the page changes the tab's settings or run
run_in_frame(page)
notices.shown()  # (the page reached its end: its notices were on screen)

# After the page: the workers (each imports torch, seconds of CPU) start once the first
# page is on screen, and the counts include a run the page has just queued (Train needs
# no second full rerun to show it). A page that reruns or switches skips this; the next
# run draws it.
page_drawn.set()
try:
    get_runner()  # one store and one pool of training workers per server, started once
    runs = store.runs()
    unreadable = store.count_runs() - len(runs)  # rows whose settings no longer read
except StoreError as e:  # the store went bad since the page drew
    store_problem(e)
with status_line.container():
    # "detecting…" until a worker is warm (seconds after the server starts), then the
    # device: the line polls on its own only while it says "detecting…"
    device_line()
    problem = workers_problem()
    if problem:
        st.error(f"Training is stopped: {problem}", icon=":material/error:")
    active = sum(r.active for r in runs)
    st.caption(f"{len(runs)} run(s) stored" + (f", {active} training now" if active else "")
               + (f"; {unreadable} more cannot be read by this version (`mtae runs` names "
                  "them)" if unreadable > 0 else ""))
