"""Plain notices that outlive a rerun: a refused cancel or delete (the engine's
``NotAllowed``, in its own words), a run someone else deleted first. A button's handler
calls ``flash`` and reruns; app.py's frame draws them once, at the top of the next page.
"""

from __future__ import annotations

import streamlit as st

from ui.widgets.text import md

KEY = "notices.flash"  # session: notices waiting to be shown


def flash(text: str) -> None:
    """Show ``text`` (plain words) at the top of the page on the next run."""
    waiting: list[str] = st.session_state.setdefault(KEY, [])
    if text not in waiting:
        waiting.append(text)


def show() -> None:
    """Draw the waiting notices (app.py's frame, before the page)."""
    for text in st.session_state.get(KEY, []):
        st.warning(md(text), icon=":material/block:")


def shown() -> None:
    """Forget the notices once a page has been drawn to its end with them (app.py, after
    the page): a page that reruns or switches before its end shows them again."""
    st.session_state.pop(KEY, None)
