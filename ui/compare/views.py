"""Streamlit parts of the Compare page that go with ``ui.compare.tables``'s tables: which
single-task run each Δm used, whether it is a fair one, and a button that queues the
matched baseline (``mtae_core.analysis.baselines.baseline_config``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from mtae_core.analysis.baselines import baseline_config
from mtae_core.analysis.comparison import Baseline
from mtae_core.config import ExperimentConfig, run_key
from mtae_core.store.access import NotAllowed
from ui.classroom.roles import owner
from ui.compare.tables import flatten
from ui.frame import identity, links, notices
from ui.frame.state import get_store, submit
from ui.widgets.messages import LABELS, label_of
from ui.widgets.text import md


def describe_differences(base: ExperimentConfig, cfg: ExperimentConfig,
                         paths: Sequence[str]) -> str:
    """``"Epochs (baseline 5, this run 20), Seed (baseline 1, this run 0)"``."""
    fb, fc = flatten(base.to_dict()), flatten(cfg.to_dict())
    parts = []
    for path in paths:
        _, label = label_of(path, LABELS)
        parts.append(f"{label} (baseline {_value(fb.get(path))}, this run {_value(fc.get(path))})")
    return ", ".join(parts)


def _value(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, tuple):
        return ", ".join(map(str, v)) or "none"
    return str(v)


def baseline_notes(notes: Sequence[tuple[pd.Series, Baseline | None]],
                   configs: Mapping[int, ExperimentConfig]) -> None:
    """Under the table: for each finished multi-task run, the single-task run its Δm and
    gains use, a warning when that one differs in more than the sharing scheme, a plain
    word when there is none, and a button queueing the matched baseline."""
    if not notes:
        return
    offered: set[str] = set()
    for row, base in notes:
        run_id = int(row["id"])
        cfg = configs.get(run_id)
        who = f"#{run_id} {md(row['name'])}"
        if base is None:
            st.info(f"{who} has no Δm: there is no finished single-task run on "
                    f"{md(row['dataset'])} with the tasks {md(row['tasks'])} yet.",
                    icon=":material/info:")
        elif base.matched:
            st.caption(f"Δm of {who} is against #{base.id} {md(base.name)}, a matched "
                       "single-task run: same data, split, model size, training budget, "
                       "optimizer and seed.")
            continue
        else:
            base_cfg = configs.get(base.id)
            what = (md(describe_differences(base_cfg, cfg, base.differs))
                    if base_cfg is not None and cfg is not None and base.differs
                    else "settings that could not be read")
            st.warning(f"Δm of {who} is against #{base.id} {md(base.name)}, the newest "
                       f"single-task run on the same data and tasks, which differs in "
                       f"{what}. That is not a like-for-like comparison: queue the matched "
                       "baseline for a fair one.", icon=":material/warning:")
        if cfg is not None:
            _queue_button(cfg, offered)


def _queue_button(cfg: ExperimentConfig, offered: set[str]) -> None:
    """One button per distinct matched baseline; none when it is already queued."""
    base = baseline_config(cfg)
    key = run_key(base)
    if key in offered:
        return
    offered.add(key)
    waiting = next((r for r in get_store().runs(["queued", "running"])
                    if run_key(r.config) == key), None)
    if waiting is not None:
        st.caption(f"The matched baseline is run #{waiting.id} ({waiting.status}); Δm uses "
                   "it once it has finished.")
        return
    if st.button("Queue the matched baseline", key=f"compare.baseline-{key}",
                 icon=":material/add_task:",
                 help="a single_task run with exactly this run's data, split, model size, "
                      "training budget, optimizer and seed"):
        try:  # the Class page lists it with this tab's runs
            run_id = submit(base, owner=owner(), actor=identity.actor())
        except NotAllowed as e:  # (QueueFull: too many runs waiting)
            notices.flash(str(e))
            st.rerun()
        links.remember(run_id)
        st.toast(f"Queued the matched baseline as run #{run_id}.")
        st.rerun()
