"""Helpers the page tests share: a tiny config, and reading an AppTest's elements as a
reader sees them."""

from __future__ import annotations

import re
from typing import Any

from streamlit.testing.v1 import AppTest

from mtae_core import ExperimentConfig

# a run of this size trains in a fraction of a second
TINY = {"training": {"epochs": 2, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def tiny(name: str, **changes: Any) -> ExperimentConfig:
    cfg = ExperimentConfig().replace(name=name, **TINY)
    return cfg.replace(**changes) if changes else cfg


def texts(elements: Any) -> list[str]:
    """The elements' text as a reader sees it (Markdown's backslash escapes removed: user
    text is shown escaped)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements]


def button(at: AppTest, label: str) -> Any:
    """The one button labelled ``label``."""
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, texts(at.button)
    return found[0]


# the Train form's tab of each config section (the form draws only its open tab)
_TAB_OF = {"data": "Data", "model": "Model", "weighting": "Weighting", "schedule": "Weighting",
           "optimizer": "Optimizer", "training": "Training", "seed": "Training"}
_KINDS = ("number_input", "selectbox", "slider", "checkbox", "text_input", "multiselect")


def _widget(at: AppTest, key: str) -> Any:
    for kind in _KINDS:
        for w in getattr(at, kind):
            if w.key == key:
                return w
    return None


def open_tab(at: AppTest, tab: str) -> AppTest:
    """Open the Train form's tab ``tab`` as a click on it would (a rerun)."""
    from ui.train_form import TAB_KEY

    at.session_state[TAB_KEY] = tab
    return at.run()


def field(at: AppTest, key: str) -> Any:
    """The Train form's widget keyed ``key``; its tab is opened first when it is closed
    (a rerun, which also applies values set before)."""
    w = _widget(at, key)
    if w is None:
        open_tab(at, _TAB_OF[key.split(".")[0]])
        w = _widget(at, key)
    assert w is not None, f"no widget keyed {key!r} on the {_TAB_OF[key.split('.')[0]]} tab"
    return w
