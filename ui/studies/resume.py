"""Resume on the Studies page: a study whose runs ended without finishing (the app was
stopped as they trained, a failure, a cancel or a Ctrl-C) says which and why, and queues
them again for the app's workers with one press (``studies.retry``; the old attempts are
kept, superseded, out of the lists of runs)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from mtae_core import studies
from mtae_core.store.runs import RunStore
from ui.frame.state import get_runner, workers_enabled
from ui.widgets.text import md

MAX_IDS = 8  # run numbers named in a line before "and N more"


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:MAX_IDS])
    return shown + (f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else "")


def _runs(n: int) -> str:
    return f"{n} run" + ("s" if n != 1 else "")


def resume_lines(left: studies.Unfinished) -> list[str]:
    """Why each run that did not finish ended, grouped, in plain words."""
    lines = []
    if left.app_stopped:
        lines.append(f"{_runs(len(left.app_stopped))} failed because the app stopped while "
                     f"they trained ({_ids(left.app_stopped)})")
    by_reason: dict[str, list[int]] = {}
    for run_id, reason in left.failed.items():
        by_reason.setdefault(reason, []).append(run_id)
    for reason, ids in by_reason.items():
        lines.append(f"{_runs(len(ids))} failed: {reason} ({_ids(ids)})")
    by_reason = {}
    for run_id, reason in left.cancelled.items():
        by_reason.setdefault(reason, []).append(run_id)
    for reason, ids in by_reason.items():
        lines.append(f"{_runs(len(ids))} cancelled: {reason} ({_ids(ids)})")
    return lines


def resume_section(store: RunStore, study_id: int) -> None:
    """Resume study, when some of its runs did not finish and none is still going."""
    left = studies.unfinished(store, study_id)
    if not left.resumable:
        return
    with st.container(border=True):
        st.markdown(f"**{_runs(len(left.runs))} of this study did not finish**")
        st.markdown("\n".join(f"- {md(line)}" for line in resume_lines(left)))
        st.caption("Resume queues them again, each as a new run: the study then shows one "
                   "run per cell and seed (the old attempts are kept, out of the lists of "
                   "runs). Diverged runs stay as they are: the same seed diverges again.")
        if st.button("Resume study", key=f"studies.resume.{study_id}", type="primary",
                     icon=":material/replay:"):
            studies.retry(store, study_id)
            if workers_enabled():
                get_runner().start()  # (already running with the app: nothing to do)
            st.rerun()
