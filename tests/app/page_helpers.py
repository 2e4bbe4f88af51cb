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
