"""The teacher's controls on the Class page (drawn for the teacher's session only): the
students' link with its QR code, the class's locked settings, the cap on each student's
waiting runs, pausing and clearing the queue, deleting a student's runs, and the audit
log. Every control goes through the engine's checked methods with this session's actor
(``ui.frame.identity.actor``), which record each action in the audit log; a refusal is a plain
notice. The key is never part of the students' link."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import streamlit as st

from mtae_core.store import access
from mtae_core.store.access import NotAllowed, owner_of
from mtae_core.store.runs import RunStore
from ui.classroom.roles import CHECKBOXES, _base_url, class_link
from ui.frame import identity, links, notices
from ui.frame.url_state import hideable
from ui.widgets.text import md

AUDIT_ROWS = 200


def teacher_panel(store: RunStore) -> None:
    """The teacher's controls, or nothing for a student."""
    if not identity.is_teacher():
        return
    with st.expander("Teacher's controls", expanded=access.class_mode(), icon=":material/key:"):
        if access.class_mode():
            students_link(store)
            st.divider()
        settings_controls(store)
        st.divider()
        queue_controls(store)
        st.divider()
        student_runs_control(store)


def students_link(store: RunStore) -> None:
    """The link students open (this tab's settings; what the class's locked settings hide,
    else what this tab hides; never the teacher's key), with a QR code to scan from the
    projector."""
    settings = store.class_settings()
    hide = list(settings.hide) if settings.locked else list(links.hidden())
    url = class_link(root_url(), links.settings(), hide, False)
    st.markdown("**Students' link** — it opens this setup with a student's rights:")
    left, right = st.columns([3, 1])
    left.code(url, language=None, wrap_lines=True)
    svg = _qr_svg(url)
    if svg is not None:
        right.image(svg, caption="scan to open", width=160)
    else:
        right.caption("(no QR code for this link: it is too long, or segno is missing)")


def root_url() -> str:
    """The app's front page (the Train page) at the address this page was opened at: a
    link to the Class page itself would open it for the students."""
    parts = urlsplit(_base_url())
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return urlunsplit((parts.scheme, parts.netloc, f"/{base}/" if base else "/", "", ""))


def _qr_svg(url: str) -> str | None:
    """The engine's QR code of ``url`` as SVG text (``mtae serve --class``'s own)."""
    try:
        from mtae_core.cli.serve import qr_svg

        return qr_svg(url)
    except Exception:  # segno missing, or a link too long for a QR code: the link alone
        return None


def settings_controls(store: RunStore) -> None:
    """Lock the class's settings (what students' forms hide, whatever their link says)
    and the cap on each student's waiting runs."""
    current = store.class_settings()
    names = hideable()
    st.markdown("**The class's settings**")
    locked = st.toggle("Lock what students' forms hide", value=current.locked,
                       key="class.locked",
                       help="students' forms hide these parts whatever their link's ?hide= "
                            "says; editing the link unhides nothing")
    hide = st.multiselect("Hidden from students", list(names), key="class.hide",
                          default=[n for n in current.hide if n in names] or
                          [n for n in links.hidden() if n in names],
                          format_func=lambda n: names[n] if n in CHECKBOXES else f"{names[n]} ({n})")
    cap = st.number_input("Runs one student may have waiting (0 = no limit)", min_value=0,
                          max_value=100, value=int(current.cap), step=1, key="class.cap")
    changes = {k: v for k, v in (("locked", locked), ("hide", tuple(hide)), ("cap", int(cap)))
               if getattr(current, k) != v}
    if changes and st.button("Save the class's settings", type="primary", key="class.save"):
        _act(lambda: store.set_class_settings(identity.actor(), **changes),
             "Saved the class's settings.")
    if current.locked:
        st.caption(":material/lock: Locked: students' forms hide "
                   + (", ".join(md(names.get(n, n)) for n in current.hide) or "nothing") + ".")


def queue_controls(store: RunStore) -> None:
    """Pause the class's queue (workers start no new run) and clear it."""
    current = store.class_settings()
    waiting = len(store.runs(["queued"]))
    st.markdown(f"**The queue** — {waiting} run(s) waiting"
                + (", **paused**" if current.paused else ""))
    pause, clear = st.columns(2)
    if current.paused:
        if pause.button("Resume the queue", icon=":material/play_arrow:", key="class.resume",
                        width="stretch"):
            _act(lambda: store.set_class_settings(identity.actor(), paused=False),
                 "The queue runs again.")
    elif pause.button("Pause the queue", icon=":material/pause:", key="class.pause",
                      width="stretch", help="runs training now finish; no new one starts"):
        _act(lambda: store.set_class_settings(identity.actor(), paused=True),
             "The queue is paused: runs training now finish, no new one starts.")
    with clear.popover("Clear the queue", icon=":material/clear_all:", width="stretch",
                       disabled=not waiting):
        st.markdown(f"Cancel every run still waiting (**{waiting}**)? Runs training now "
                    "go on.")
        if st.button("Cancel them", type="primary", key="class.clear"):
            _act(lambda: store.clear_queue(identity.actor()), "Cleared the queue.")


def students(runs: pd.DataFrame) -> dict[str, str]:
    """Actor id → a label ("Ada (4 run(s))") of every student who queued a run."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    for text in runs.get("owner", pd.Series(dtype=object)):
        actor, name = owner_of(text)
        if actor is None or access.owner_role(text) != "student":
            continue  # (the command line's, the teacher's own, or runs from before owners)
        counts[actor] = counts.get(actor, 0) + 1
        if name:
            names[actor] = name
    return {a: f"{names.get(a, 'no name given')} ({n} run(s))" for a, n in counts.items()}


def student_runs_control(store: RunStore) -> None:
    """Delete every run of one student (asking once more)."""
    who = students(store.runs_table())
    st.markdown("**A student's runs**")
    if not who:
        st.caption("No student has started a run yet.")
        return
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    ids: list[str] = list(who)
    chosen = pick.selectbox("Student", ids, format_func=lambda a: who[str(a)],
                            key="class.student")
    with go.popover("Delete their runs", icon=":material/delete:", width="stretch"):
        st.markdown(f"Delete every finished run of **{md(who[str(chosen)])}** with its curves "
                    "and weights? Runs still waiting or training are cancelled first. This "
                    "cannot be undone.")
        force = st.checkbox("Also runs that studies use", key="class.student.force")
        if st.button("Delete for good", type="primary", key="class.student.delete"):
            _act(lambda: store.delete_owner_runs(identity.actor(), str(chosen), force=force),
                 "Deleted the student's runs.")


def audit_view(store: RunStore) -> None:
    """Who cancelled or deleted what, and when (newest first)."""
    log = store.audit_log(limit=AUDIT_ROWS)
    with st.expander(f"Audit log ({len(log)})", icon=":material/history:",
                     expanded=access.class_mode() and not log.empty):
        if log.empty:
            st.caption("Nothing cancelled or deleted yet: each cancel, delete and class "
                       "action is listed here, with who did it and when.")
            return
        shown = log.copy()
        if "when" in shown.columns and pd.api.types.is_datetime64_any_dtype(shown["when"]):
            shown["when"] = shown["when"].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
        st.dataframe(shown, hide_index=True)


def _act(action: Any, done: str) -> None:
    """Run a teacher's action through the engine; its refusal is a plain notice."""
    try:
        action()
    except NotAllowed as e:
        notices.flash(str(e))
    else:
        st.toast(done)
    st.rerun()
