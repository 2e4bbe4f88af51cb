"""MTAE Studio: the Streamlit entry point. Page config, navigation over pages/, and the
sidebar every page shares. Run it with ``streamlit run app.py`` (or ``make run``)."""

import streamlit as st

from ui.state import device_label, get_runner, get_store

st.set_page_config(page_title="MTAE Studio", page_icon=":material/hub:", layout="wide")

get_runner()  # one store and one pool of training workers per server, started once

page = st.navigation([
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
])

with st.sidebar:
    st.markdown("### :material/hub: MTAE Studio")
    st.caption(
        "Train one autoencoder on several tasks at once, watch every task's loss, "
        "and see which sharing and loss-weighting choices help or hurt."
    )
    st.markdown(f"**Device:** `{device_label()}`")
    runs = get_store().runs()
    active = sum(r.active for r in runs)
    st.caption(f"{len(runs)} run(s) stored" + (f", {active} training now" if active else ""))

page.run()
