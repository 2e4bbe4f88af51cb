"""What a browser tab carries from page to page: the Train settings (``?cfg=``), the run
shown beside them (``?run=``), the runs this tab started, and the classroom flags: the
parts of the form a class link hides (``?hide=``), presenter mode (``?present=1``) and
the student's name (``?who=``).

``st.navigation`` drops the query string on a page switch, and a page's widgets lose
their state when another page runs. So the tab's state lives in ``st.session_state``
and every page writes it back to its URL (``carry``): a switch Train → Compare → Train,
a refresh of any page, and a link copied from any page all keep the settings and the
run. A link's parameters are read once, on the tab's first script run, and checked: a
bad one is dropped with a plain notice, never trusted.
"""

from __future__ import annotations

import secrets
import threading
import unicodedata
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mtae_core.config import ConfigError
from mtae_core.errors import whole_number
from ui.frame import notices
from ui.frame.url_state import HIDE, PRESENT, decode_config, encode_hide, parse_hide, parse_present
from ui.widgets.messages import LABELS, problems
from ui.widgets.text import md

CFG = "cfg"  # query parameter: the Train settings (ui.frame.url_state)
RUN = "run"  # query parameter: the run shown on the Train page
SETTINGS_KEY = "links.cfg"  # session: the settings text ("" = the defaults)
RUN_KEY = "links.run"  # session: the id of the run shown on the Train page
MINE_KEY = "links.mine"  # session: ids of the runs this tab started, oldest first
NOTICES_KEY = "links.notices"  # session: {param: why its value was ignored}
STARTED_KEY = "links.started"
WHO = "who"  # query parameter: the name the student typed ("Your name")
HIDE_KEY = "links.hide"  # session: the names ?hide= hides (ui.frame.url_state.hideable)
PRESENT_KEY = "links.present"  # session: presenter mode on
WHO_KEY = "links.who"  # session: the student's name ("" = none given)
TAB_KEY = "links.tab"  # session: this tab's random id (its runs' owner, with the name)
FLAGS_KEY = "links.flags"  # session: the link's classroom flags were read
MAX_NAME = 40  # characters of a student's name
MAX_RUN_ID = 2**63 - 1  # SQLite's largest integer
SHOWN_CHARS = 30  # of a bad value, in a notice
_nav = threading.local()  # this script run's menu: (pages, slot); each session runs in its thread


def parse_run_id(raw: str) -> int:
    """A run id from a URL: ASCII digits only, 1 to 2⁶³−1; else ``ValueError`` in plain
    words (``errors.whole_number`` reads every number of a link)."""
    try:
        return whole_number(raw, 1, MAX_RUN_ID)
    except ValueError as e:
        why = "is not a run number that can exist" if " too " in str(e) else "is not a run number"
        raise ValueError(why) from None


def _shown(value: str) -> str:
    value = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
    return repr(value)


def carry(labels: dict[str, str] | None = None) -> None:
    """Call at the top of every page (``ui.frame.state.page_frame`` does): on the tab's first
    run, adopt the link's parameters (checked; a bad ``?cfg=`` is named by the fields'
    labels, ``messages.LABELS`` unless ``labels`` says otherwise); on every run, write
    the tab's state back to the URL."""
    ss = st.session_state
    if STARTED_KEY not in ss:
        ss[STARTED_KEY] = True
        notices: dict[str, str] = {}
        raw_run = st.query_params.get(RUN)
        if raw_run is not None:
            try:
                ss[RUN_KEY] = parse_run_id(raw_run)
            except ValueError as e:
                notices[RUN] = f"The link's run {_shown(raw_run)} {e}, so no run is shown."
        raw_cfg = st.query_params.get(CFG)
        if raw_cfg is not None:
            try:
                decode_config(raw_cfg)
                ss[SETTINGS_KEY] = raw_cfg
            except ConfigError as e:
                notices[CFG] = "; ".join(str(p) for p in problems(
                    e.errors, LABELS if labels is None else labels))
        ss.setdefault(NOTICES_KEY, {}).update(notices)
    for param, key in ((CFG, SETTINGS_KEY), (RUN, RUN_KEY)):
        value = ss.get(key)
        want = None if value in (None, "") else str(value)
        if want is None:
            if param in st.query_params:
                del st.query_params[param]
        else:
            # written on every full run, even when Streamlit believes the URL has it: on a
            # busy machine the browser may apply a page switch's bare URL after this
            # write; the next run of the page then puts the parameters back
            st.query_params[param] = want


def params() -> dict[str, str]:
    """The tab's state as query parameters, for links to other pages."""
    out = {CFG: settings()}
    run = shown_run_id()
    if run is not None:
        out[RUN] = str(run)
    out.update(flag_params())
    return {k: v for k, v in out.items() if v}


# ---- the classroom flags ---------------------------------------------------------------------


def parse_name(raw: str) -> str:
    """A student's name as typed: spaces collapsed, control characters dropped; ``""``
    for none. ``ValueError`` in plain words when it is too long to be a name."""
    text = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if len(text) > MAX_NAME:
        raise ValueError(f"is longer than {MAX_NAME} characters")
    return text


def adopt_flags() -> None:
    """Call before the page runs (app.py's frame): on the tab's first run, adopt the
    link's ``?hide=``, ``?present=`` and ``?who=`` (checked: what cannot be used is
    ignored with a notice, as ``carry`` does for the settings and the run)."""
    ss = st.session_state
    if FLAGS_KEY in ss:
        return
    ss[FLAGS_KEY] = True
    ss.setdefault(TAB_KEY, secrets.token_hex(4))
    notices: dict[str, str] = {}
    raw_hide = st.query_params.get(HIDE)
    if raw_hide is not None:
        names, unknown = parse_hide(raw_hide)
        ss[HIDE_KEY] = names
        if unknown:
            listed = ", ".join(_shown(u) for u in unknown[:5]) + (" …" if len(unknown) > 5 else "")
            notices[HIDE] = (f"This link hides {listed}, which "
                             + ("is not a part" if len(unknown) == 1 else "are not parts")
                             + " of the Train form: ignored.")
    raw_present = st.query_params.get(PRESENT)
    if raw_present is not None:
        try:
            ss[PRESENT_KEY] = parse_present(raw_present)
        except ValueError as e:
            notices[PRESENT] = (f"The link's presenter mode {_shown(raw_present)} {e}, so "
                                "presenter mode stays off.")
    raw_who = st.query_params.get(WHO)
    if raw_who is not None:
        try:
            ss[WHO_KEY] = parse_name(raw_who)
        except ValueError as e:
            notices[WHO] = (f"The link's name {_shown(raw_who)} {e}: type your name in "
                            "the sidebar.")
    ss.setdefault(NOTICES_KEY, {}).update(notices)


def flag_params() -> dict[str, str]:
    """The classroom flags as query parameters (those not set are left out)."""
    out = {HIDE: encode_hide(hidden()), PRESENT: "1" if presenting() else "", WHO: who()}
    return {k: v for k, v in out.items() if v}


def write_flags() -> None:
    """Keep the classroom flags in the URL (on every full run, as ``carry`` does)."""
    want = flag_params()
    for param in (HIDE, PRESENT, WHO):
        if param in want:
            st.query_params[param] = want[param]
        elif param in st.query_params:
            del st.query_params[param]


def hidden() -> tuple[str, ...]:
    """The names of the Train form's parts this tab hides (``?hide=``)."""
    return tuple(st.session_state.get(HIDE_KEY, ()))


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def set_presenting(on: bool) -> None:
    """(Call before ``nav_links`` draws the menu, as app.py's frame does.)"""
    st.session_state[PRESENT_KEY] = on


def who() -> str:
    """The name the student gave ("" = none)."""
    return str(st.session_state.get(WHO_KEY, ""))


def set_who(name: str) -> None:
    """(Call before ``nav_links`` draws the menu, as app.py's frame does.)"""
    st.session_state[WHO_KEY] = name


def tab_id() -> str:
    """This browser tab's id: random, kept for the session (never in a link, so a
    copied link never makes two students one)."""
    return str(st.session_state.setdefault(TAB_KEY, secrets.token_hex(4)))


def nav_links(pages: list[Any], slot: DeltaGenerator) -> None:
    """The app's menu in ``slot``: a link per page that carries the tab's settings and
    run. Drawn before the page runs, and again (``_redraw_nav``) when the page changes
    the settings or the run, so the links never carry a stale state."""
    _nav.pages, _nav.slot = pages, slot
    _redraw_nav()


def _redraw_nav() -> None:
    slot = getattr(_nav, "slot", None)
    ctx = get_script_run_ctx()
    if slot is None or ctx is None or ctx.fragment_ids_this_run:
        return  # a fragment may not write outside itself; the next full run draws the menu
    here = params()
    with slot.container():
        for page in _nav.pages:
            st.page_link(page, label=page.title, icon=page.icon, query_params=here,
                         width="stretch")
        st.divider()


def notice(param: str) -> str | None:
    """Why the link's ``param`` was ignored (None if it was fine), once."""
    notices: dict[str, str] = st.session_state.get(NOTICES_KEY, {})
    return notices.pop(param, None)


def show_flag_notices() -> None:
    """Warn about the classroom flags the link had that could not be used, and show the
    notices waiting (``ui.frame.notices``: a refused cancel or delete, a wrong teacher key)."""
    notices.show()
    for param in (HIDE, PRESENT, WHO):
        text = notice(param)
        if text:
            st.warning(md(text), icon=":material/link_off:")


def show_notices() -> None:
    """Warn about every ignored link parameter (pages without their own place for it)."""
    show_flag_notices()
    for param in (RUN, CFG):
        text = notice(param)
        if text:
            what = "settings" if param == CFG else "run"
            st.warning(md(text) if param == RUN else
                       f"This link's {what} could not be used: {md(text)}",
                       icon=":material/link_off:")


def settings() -> str:
    """The tab's Train settings as ``?cfg=`` text ("" = the defaults)."""
    return str(st.session_state.get(SETTINGS_KEY, ""))


def set_settings(text: str) -> None:
    changed = text != settings()
    st.session_state[SETTINGS_KEY] = text
    if text:
        st.query_params[CFG] = text
    elif CFG in st.query_params:
        del st.query_params[CFG]
    if changed:
        _redraw_nav()


def shown_run_id() -> int | None:
    """The run the Train page shows: the last one this tab opened or started, or the
    one in the link it was opened with; never "the latest run of anyone"."""
    value = st.session_state.get(RUN_KEY)
    return int(value) if value is not None else None


def show_run(run_id: int | None) -> None:
    changed = run_id != shown_run_id()
    st.session_state[RUN_KEY] = run_id
    if changed:
        _redraw_nav()
    if run_id is None:
        if RUN in st.query_params:
            del st.query_params[RUN]
    else:
        st.query_params[RUN] = str(run_id)


def mine() -> list[int]:
    """The runs this tab started, oldest first."""
    return list(st.session_state.get(MINE_KEY, []))


def remember(run_id: int) -> None:
    st.session_state[MINE_KEY] = [*mine(), run_id]


def page_params() -> dict[str, Any]:
    """The query parameters a link to another page carries."""
    return dict(params())
