"""Train: choose data, model, weighting, schedule and optimizer; press Train; watch it.
The settings live in the URL (``?cfg=``), so a link reproduces them."""

import streamlit as st

from mtae_core.config import ConfigError
from ui import live
from ui.state import ensure_app_frame, get_store, submit
from ui.train_form import (
    architecture,
    auto_name,
    build_config,
    experiment_form,
    keep_in_url,
    open_link,
)

ensure_app_frame()
st.title("Train")
form_col, run_col = st.columns([2, 3], gap="large")

with form_col:
    link = open_link()  # the settings of the link this session opened, or the defaults
    raw, diagram = experiment_form(link.config)
    name = st.text_input("Run name", value=link.name, placeholder=auto_name(raw), key="name",
                         help="empty = named after the data set, sharing and weighting")
    cfg = None
    try:
        cfg = build_config(raw, name)
    except ConfigError as e:
        st.error(f"Please fix the settings before training:\n\n{e}")
    keep_in_url(link, cfg, name)
    if cfg is not None:
        with diagram:
            architecture(cfg)
    if st.button("Train", type="primary", disabled=cfg is None, width="stretch",
                 icon=":material/play_arrow:") and cfg is not None:
        live.show(submit(cfg))
        st.rerun()  # the whole app again: the sidebar counts the new run too
    if cfg is not None:
        with st.expander("Export config"):
            st.caption("The same JSON trains from a terminal: `mtae train config.json`")
            st.download_button("Download config.json", cfg.to_json(), file_name="config.json",
                               mime="application/json")
            st.code(cfg.to_json(), language="json")

with run_col:
    run = live.shown_run(get_store())
    if run is None:
        st.info(
            "No runs yet — choose your settings on the left and press **Train**.\n\n"
            "A first lesson in three runs:\n"
            "1. Press **Train** with the defaults: one shared encoder learns to read the "
            "digit, tell odd from even and redraw the image; watch the three loss curves.\n"
            "2. In **Model**, set *Parameter sharing* to `single_task` and train again: one "
            "separate network per task, the baseline.\n"
            "3. Open **Compare**: the bars show which tasks gained from sharing and which "
            "lost.", icon=":material/school:")
    else:
        st.toggle("Log scale", key="train.log_y")
        live.run_panel(run.id)
from ui.studies import study_button_from_train  # noqa: E402, I001  (the Studies page's hook)
study_button_from_train(cfg, form_col)
