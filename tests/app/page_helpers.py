"""Helpers the page tests share: a tiny config, opening a page, reading an AppTest's
elements as a reader sees them, ticking runs on Compare, and made-up finished runs."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from mtae_core import ExperimentConfig
from mtae_core.store.runs import RunStore

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
    from ui.train.form import TAB_KEY

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


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the app once (the default page is Train), then switch to ``page``."""
    at.run()
    if page != "pages/train.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def selectbox(at: AppTest, label: str) -> Any:
    found = [s for s in at.selectbox if s.label == label]
    assert len(found) == 1, [s.label for s in at.selectbox]
    return found[0]


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def exported_config(at: AppTest) -> ExperimentConfig:
    """The config the Train form describes, as its "Export config" shows it."""
    return ExperimentConfig.from_json(at.code[0].value)


def runs_frame(at: AppTest) -> Any:
    return at.dataframe[0]


def select_runs(at: AppTest, filled: Any, names: list[str]) -> AppTest:
    """Tick rows of the runs table. AppTest cannot click dataframe rows, but a
    dataframe's selection accepts writes through session state, as a click would."""
    table = runs_frame(at)
    ids = list(table.value["id"])
    rows = [ids.index(filled.ids[n]) for n in names]
    at.session_state[table.key] = {"selection": {"rows": rows, "columns": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def comparison(at: AppTest) -> pd.DataFrame:
    assert len(at.dataframe) >= 2, "no comparison table"
    frame = at.dataframe[1].value
    return frame.set_index("run") if "run" in frame.columns else frame


def array(values: Any) -> list[Any]:
    """An array of a figure's JSON; plotly may write numbers as typed base64."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


SCORES = {"digit": {"accuracy": 0.9, "loss": 0.3}, "parity": {"accuracy": 0.95, "loss": 0.1},
          "reconstruction": {"mse": 0.4, "loss": 0.4}}


def finished(store: RunStore, cfg: ExperimentConfig, scale: float = 1.0) -> int:
    """A finished run with made-up test metrics (the page only reads them)."""
    run_id = store.create_run(cfg)
    store.finish(run_id, "done", None, {t: {m: v * scale for m, v in ms.items()}
                                        for t, ms in SCORES.items()}, 1.0)
    return run_id
