"""Classroom mode: a class link that sets up the Train page and hides parts of it
(``?hide=``), a presenter mode for a projector (``?present=1``), and many students on one
server: each run records its owner (the browser tab and the name its student typed), each
tab sees its own runs first, and the teacher's Class page lists every run by student.

The flags live in ``ui.frame.links`` (carried by the app's own page links); the names ``?hide=``
takes, and what they hide, in ``ui.frame.url_state`` (``hideable``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pandas as pd
import streamlit as st

from mtae_core.store.access import class_mode, owner_of, owner_role, owner_text
from mtae_core.store.runs import Run
from ui.frame import identity, links
from ui.frame.url_state import GROUPS, HIDE, PARAM, PRESENT, SECTIONS, encode_hide, hideable
from ui.widgets.text import md

NAME_WIDGET = "classroom.who"  # the sidebar's "Your name"
PRESENT_WIDGET = "classroom.present"  # the sidebar's presenter toggle
FALLBACK_URL = "http://localhost:8501/"  # when the server's address is unknown (tests)

# Presenter mode: larger text for a projector. The only HTML the app writes itself: a
# fixed style sheet, no user text in it. Streamlit sizes its text in rem, so the root
# size scales headings, widgets, tables and captions together.
PRESENTER_CSS = "<style>html { font-size: 21px !important; }</style>"  # (default: 16px)


# ---- owners ------------------------------------------------------------------------------------


def owner() -> str:
    """This session's owner text for a run, study or table it makes: the browser tab,
    the name typed, and the actor (``ui.frame.identity``: an id the server made, never the name)
    with its role (``mtae_core.store.access.owner_text``)."""
    return owner_text(identity.actor(), links.tab_id())


def parse_owner(text: object) -> tuple[str | None, str]:
    """A stored owner → (tab id or None, name). Anything else a run's owner may hold (a
    plain name from another client, nothing) is a name without a tab."""
    if not isinstance(text, str) or not text:
        return None, ""
    try:
        data = json.loads(text)
    except ValueError:
        return None, text
    if not isinstance(data, dict):
        return None, text
    tab = data.get("tab")
    return (str(tab) if tab else None), str(data.get("name") or "")


def _ranks(ids: Iterable[Any], owners: Iterable[object]) -> list[tuple[int, str]]:
    """Per run: (0 this tab's, 1 this browser's or the same name's, 2 anyone's; the
    owner's name)."""
    mine, tab, name, me = set(links.mine()), links.tab_id(), links.who(), identity.actor_id()
    out = []
    for i, text in zip(ids, owners, strict=True):
        t, n = parse_owner(text)
        a, _ = owner_of(text)
        out.append((0 if int(i) in mine or t == tab else
                     1 if a == me or (name and n == name) else 2, n))
    return out


def mine_first(runs: pd.DataFrame) -> pd.DataFrame:
    """``RunStore.runs_table()`` with this tab's runs first, then the runs of the same
    name (the student's, from before a refresh), then everyone's, each newest first; the
    ``owner`` column becomes ``by`` (the name, "this tab" marked)."""
    if runs.empty or "owner" not in runs.columns:
        return runs
    ranks = _ranks(runs["id"], runs["owner"])
    by = [(n or "unnamed") + " (this tab)" if r == 0 else n for r, n in ranks]
    out = runs.drop(columns="owner").assign(by=by, _rank=[r for r, _ in ranks])
    return out.sort_values(["_rank", "id"], ascending=[True, False],
                           kind="stable").drop(columns="_rank").reset_index(drop=True)


def runs_mine_first(runs: Sequence[Run]) -> list[Run]:
    """Runs (for a picker) in the order of ``mine_first``: this tab's, the same name's,
    then anyone's, each in the order given."""
    ranks = _ranks([r.id for r in runs], [r.owner for r in runs])
    return [run for _, run in sorted(zip(ranks, runs, strict=True), key=lambda x: x[0][0])]


# ---- the sidebar and presenter mode -------------------------------------------------------------


def frame() -> None:
    """app.py calls this before drawing the menu: adopt the link's flags, draw "Your
    name" and the presenter switch in the sidebar, keep the flags in the URL, and apply
    presenter mode."""
    identity.adopt()  # first: the teacher key leaves the URL before any link is drawn
    links.adopt_flags()
    locked_hide()
    ss = st.session_state
    if NAME_WIDGET not in ss:
        ss[NAME_WIDGET] = links.who()
    if PRESENT_WIDGET not in ss:
        ss[PRESENT_WIDGET] = links.presenting()
    with st.sidebar:
        typed = st.text_input("Your name", key=NAME_WIDGET, max_chars=links.MAX_NAME,
                              placeholder="so your teacher sees whose runs these are",
                              help="kept with every run you start from this tab, and in "
                                   "the page's link")
        try:
            links.set_who(links.parse_name(typed))
        except ValueError as e:
            st.error(f"Your name {e}.", icon=":material/error:")
        links.set_presenting(st.toggle("Presenter mode", key=PRESENT_WIDGET,
                                       help="large text for a projector; the page's link "
                                            "keeps it (?present=1)"))
        role_line()
    links.write_flags()
    if links.presenting():
        st.html(PRESENTER_CSS)


def role_line() -> None:
    """On a class server, the sidebar says whose rights this tab has."""
    if not class_mode():
        return
    if identity.is_teacher():
        st.caption(":material/key: **Teacher** in this tab: the **Class** page has your "
                   "controls. A refresh needs the teacher link again.")
    else:
        st.caption(":material/person: Student: you may cancel and delete only the runs "
                   "you started in this browser.")


def locked_hide() -> None:
    """A student's tab on a class whose teacher locked its settings hides what the
    teacher chose, whatever its link's ``?hide=`` says (editing the link unhides
    nothing)."""
    if identity.is_teacher():
        return
    from ui.frame.state import get_store  # (not at import: ui.state imports the engine's runner)

    try:
        settings = get_store().class_settings()
    except Exception:  # a damaged store: its own page says so; the link's flags stay
        return
    if settings.locked:
        st.session_state[links.HIDE_KEY] = tuple(settings.hide)


# ---- the class link --------------------------------------------------------------------------


def class_link(base: str, cfg_text: str, hide: list[str], present: bool) -> str:
    """The link that opens the Train page at ``base`` with these settings and flags."""
    parts = urlsplit(base or FALLBACK_URL)
    query = {PARAM: cfg_text, HIDE: encode_hide(hide), PRESENT: "1" if present else ""}
    text = urlencode({k: v for k, v in query.items() if v}, safe=",")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", text, ""))


def _base_url() -> str:
    """The address this page was opened at, without its query (the Train page's)."""
    try:
        url = st.context.url
    except Exception:  # an older Streamlit or no browser (tests)
        return FALLBACK_URL
    return url.split("?", 1)[0] if url else FALLBACK_URL


# the checkboxes: the sections and the groups (every other name is in the multiselect)
CHECKBOXES = [*SECTIONS, *GROUPS]


def class_link_button(cfg_text: str) -> None:
    """A "Copy class link" button (Train page): pick what to hide, get the link."""
    names = hideable()
    current = links.hidden()
    with st.popover("Copy class link", icon=":material/share:", width="stretch"):
        st.markdown("One link that opens **this setup** for every student. Tick what "
                    "they should not see: hidden settings keep the values set here.")
        cols = st.columns(2)
        hide = [name for i, name in enumerate(CHECKBOXES)
                if cols[i % 2].checkbox(names[name], value=name in current,
                                        key=f"classlink.hide.{name}")]
        singles = [n for n in names if n not in CHECKBOXES]
        hide += st.multiselect(
            "Also hide single settings", singles, key="classlink.singles",
            default=[n for n in current if n in singles],
            format_func=lambda n: f"{names[n]} ({n})")
        present = st.checkbox("Presenter mode (large text)", value=links.presenting(),
                              key="classlink.present")
        st.code(class_link(_base_url(), cfg_text, hide, present), language=None,
                wrap_lines=True)
        st.caption("Copy it with the button at its right. Students type their name in the "
                   "sidebar; the **Class** page lists every student's runs.")


def hidden_note() -> None:
    """Say that the class link hides parts of the form (they keep the link's values)."""
    names = links.hidden()
    if names:
        labels = hideable()
        st.caption(":material/visibility_off: Hidden by the class link, with its values: "
                   + ", ".join(md(labels[n]) for n in names) + ".")


# ---- the teacher's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """The runs of one student (by the name typed, over all their tabs: a refresh starts a
    new tab), of one tab with no name given, or of no tab."""

    name: str  # the student's name ("" if none given)
    tabs: tuple[str, ...]  # the browser tabs the runs came from; () = runs queued elsewhere
    runs: pd.DataFrame
    teacher: bool = False  # the teacher's runs (their tab gave no name)

    @property
    def title(self) -> str:
        if not self.tabs:
            return "Not from a class tab (command line, studies, older runs)"
        return self.name or ("The teacher" if self.teacher else "No name given")


def group_runs(runs: pd.DataFrame) -> list[Group]:
    """``RunStore.runs_table()`` grouped by owner: students by name (A to Z), then tabs
    without a name, then runs not queued from a tab; each group's runs newest first."""
    rows: dict[tuple[str, str], list[int]] = {}
    tabs: dict[tuple[str, str], dict[str, None]] = {}
    owners = runs["owner"] if "owner" in runs.columns else [None] * len(runs)
    for i, text in enumerate(owners):
        tab, name = parse_owner(text)
        key = ("~none", "") if tab is None else ("name", name) if name else (
            ("teacher", "") if owner_role(text) == "teacher" else ("tab", tab))
        rows.setdefault(key, []).append(i)
        if tab is not None:
            tabs.setdefault(key, {})[tab] = None
    groups = [(key, Group(key[1] if key[0] == "name" else "", tuple(tabs.get(key, {})),
                          runs.iloc[at].sort_values("id", ascending=False),
                          teacher=key[0] == "teacher"))
              for key, at in rows.items()]
    # named students first (A to Z), then tabs without a name, then the rest
    return [g for _, g in sorted(groups, key=lambda kg: (kg[0][0] != "name", kg[0][0],
                                                         kg[0][1].casefold(), kg[0][1]))]


COLUMNS = ["id", "name", "status"]  # then the group's metrics, then these settings
SETTINGS = ["dataset", "sharing", "weighting", "epochs", "seconds"]


def _group_table(group: Group) -> None:
    rows = group.runs
    from ui.compare.tables import metric_columns  # (here: the Train form's path imports no torch)

    metrics = [c for c in metric_columns(rows) if rows[c].notna().any()]
    config = {c: st.column_config.NumberColumn(c, format="%.4f") for c in metrics}
    config["id"] = st.column_config.NumberColumn("id", format="%d", width="small")
    config["seconds"] = st.column_config.NumberColumn("seconds", format="%.1f")
    st.dataframe(rows, hide_index=True, column_config=config,
                 column_order=COLUMNS + metrics + [c for c in SETTINGS if c in rows.columns])


def _status_counts(rows: pd.DataFrame) -> str:
    counts = rows["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def class_tables(runs: pd.DataFrame) -> None:
    """Every group's runs with their status and final test metrics."""
    for group in group_runs(runs):
        st.subheader(md(group.title), divider="gray")
        where = (f" · browser tab {group.tabs[0]}" if len(group.tabs) == 1 else
                 f" · from {len(group.tabs)} browser tabs" if group.tabs else "")
        st.caption(md(f"{len(group.runs)} run(s): {_status_counts(group.runs)}{where}"))
        _group_table(group)


def run_choice_label(row: pd.Series) -> str:
    """``#7 my run — Ada, done`` (plain text: a selectbox shows it as text)."""
    _, name = parse_owner(row.get("owner"))
    return f"#{int(row['id'])} {' '.join(str(row['name']).split())} — {name or 'no name'}, {row['status']}"
