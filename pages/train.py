"""Train: choose data, model, weighting, schedule and optimizer; press Train; watch it.
The settings live in the tab and its URL (``?cfg=``), so a page switch, a refresh and a
link all keep them; the run shown beside them is one this tab started or opened."""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.store.access import NotAllowed
from ui.classroom import roles as classroom
from ui.frame import identity, links
from ui.frame.preload import plotly_when_idle
from ui.frame.state import get_store, page_frame, submit
from ui.frame.url_state import hidden_paths
from ui.train import live
from ui.train.form import (
    architecture,
    auto_name,
    build_config,
    config_problems,
    experiment_form,
    keep_in_url,
    open_link,
    preflight_problems,
    show_problems,
)
from ui.widgets.text import md

PENDING = "train.pending"  # session: the config JSON waiting for "queue it after?"
PRESSED = "train.pressed"  # session: which of Train / Queue it / Not now was pressed

page_frame("Train", notices=False)
form_col, run_col = st.columns([2, 3], gap="large")


def start(cfg: ExperimentConfig) -> None:
    """Queue ``cfg``: show it unless the run shown is still training (both stay listed).
    No rerun: the rest of this script run draws the run beside the form, and app.py
    counts it in the sidebar after the page (a rerun would delay its first point). A
    student over the class's cap of waiting runs gets the engine's plain refusal."""
    try:
        run_id = submit(cfg, owner=classroom.owner(), actor=identity.actor())
    except NotAllowed as e:  # (QueueFull: too many runs waiting)
        st.warning(md(str(e)), icon=":material/queue:")
        return
    links.remember(run_id)
    shown = links.shown_run_id()
    current = get_store().get_run(shown) if shown is not None else None
    if current is None or not current.active:
        live.show(run_id)


def pressed(which: str) -> None:
    """The callback of Train, Queue it and Not now: note the press; the page acts on it
    once, in its next full run (with the settings the form then describes).

    Streamlit runs a widget's callback exactly once per press, in whichever script run
    the press arrives. A button's *return value* is less sure while the live view's
    fragments poll (``st.fragment(run_every=...)``): a press that lands in a fragment's
    rerun (when it is coalesced with one) runs only that fragment, so the page's body
    never sees the button True and the press is lost ("nothing happened"); and the
    trigger, kept for replay, may then be seen by the body of the next run as well as of
    the one after, so one later press queued a run and at once asked whether to queue
    another. Here a press in a fragment's run asks for a full run, which acts on it."""
    st.session_state[PRESSED] = which
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        st.rerun()  # the whole page: only it draws the form and acts on the press


with form_col:
    links.show_flag_notices()
    link = open_link()  # the settings this visit starts from: the tab's, the link's, or defaults
    hidden = hidden_paths(links.hidden())  # a class link's ?hide=: those keep the link's values
    raw, diagram, fields = experiment_form(link.values, hidden)  # only its open tab drawn
    link.keep(raw)
    if "name" in hidden:
        name = link.name
    else:
        name = st.text_input("Run name", value=link.name, placeholder=auto_name(raw), key="name",
                             help="empty = named after the data set, sharing and weighting")
        fields.labels["name"], fields.slots["name"] = "Run name", st.empty()
    classroom.hidden_note()
    cfg: ExperimentConfig | None = None
    errors = []
    try:
        cfg = build_config(raw, name)
    except ConfigError as e:
        errors = config_problems(e, fields)
    if cfg is not None:  # valid, but would this data and machine train it?
        errors = preflight_problems(cfg, fields)
    keep_in_url(link, cfg if not errors else None, name)
    summary = st.empty()
    show_problems(errors, fields, summary)
    ready = cfg if not errors else None
    busy = live.active_run_of_tab()
    pending = st.session_state.get(PENDING)
    if pending is not None and (ready is None or pending != ready.to_json()):
        st.session_state.pop(PENDING)  # the settings changed: ask again on the next press
        pending = None
    # A press is taken in its button's callback (``pressed``), never from the button's
    # return value, and acted on here, once: see ``pressed`` for why.
    press = st.session_state.pop(PRESSED, None)
    if press == "train" and ready is not None:
        if busy is not None:
            st.session_state[PENDING] = pending = ready.to_json()  # say what will happen first
        else:
            start(ready)
            busy = live.active_run_of_tab()
    elif press == "queue" and pending is not None and ready is not None:
        st.session_state.pop(PENDING)
        pending = None
        start(ready)
    elif press == "not-now":
        st.session_state.pop(PENDING, None)
        pending = None
    if pending is not None and busy is not None and ready is not None:
        with st.container(border=True):
            st.warning(f"Run #{busy.id} is still {'training' if busy.status == 'running' else 'waiting'}: "
                       "queue this one to start after it? Both stay listed under "
                       "*Runs of this tab*.", icon=":material/queue:")
            yes, no = st.columns(2)
            yes.button("Queue it", type="primary", width="stretch", key="train.queue",
                       on_click=pressed, args=("queue",))
            no.button("Not now", width="stretch", key="train.not-now",
                      on_click=pressed, args=("not-now",))
    else:
        st.button("Train", type="primary", disabled=ready is None, width="stretch",
                  icon=":material/play_arrow:", on_click=pressed, args=("train",))
    if ready is not None:
        # a popover, not an expander: a browser draws its content (the highlighted JSON,
        # about a fifth of a reload's work in the browser) only when it is opened
        with st.popover("Export config", icon=":material/download:", width="stretch"):
            st.caption("The same JSON trains from a terminal: `mtae train config.json`")
            st.download_button("Download config.json", ready.to_json(), file_name="config.json",
                               mime="application/json")
            st.code(ready.to_json(), language="json")
        if diagram is not None:  # (None when a class link hides the Model tab)
            with diagram:  # (in the Model tab) after the Train button: it imports torch
                architecture(ready)
    classroom.class_link_button(links.settings())

with run_col:
    notice = links.notice(links.RUN)
    if notice:
        st.warning(md(notice), icon=":material/link_off:")
    shown = links.shown_run_id()
    live.tab_runs("train.tab")
    if shown is None:
        empty = not get_store().runs()
        st.info(
            ("No runs yet" if empty else "No run opened in this tab yet") + " — choose your "
            "settings on the left and press **Train**. Other runs are on **Compare**.\n\n"
            "A first lesson in three runs:\n"
            "1. Press **Train** with the defaults: one shared encoder learns to read the "
            "digit, tell odd from even and redraw the image; watch the three loss curves.\n"
            "2. In **Model**, set *Parameter sharing* to `single_task` and train again: one "
            "separate network per task, the baseline.\n"
            "3. Open **Compare**: the bars show which tasks gained from sharing and which "
            "lost.\n\n"
            "One run against one run can mislead: the **Lessons** page has five lessons, "
            "each a study over several seeds whose claim is checked on its results.",
            icon=":material/school:")
    else:
        st.toggle("Log scale", key="train.log_y")
        live.run_panel(shown)
from ui.studies.form import study_button_from_train  # noqa: E402, I001  (the Studies page's hook)
study_button_from_train(cfg, form_col)
plotly_when_idle()  # the live chart's script, loaded after the form is drawn
