"""Every registry entry can be chosen on the Train page and trains as it comes: picking it
shows its summary and option widgets, no error, an enabled Train button, and the exported
config names it. A new scheme or strategy is covered here without a new test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from page_helpers import field
from streamlit.testing.v1 import AppTest

from mtae_core.models import autoencoders, sharing
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings

# (selectbox key on the Train page, registry, where the choice lands in the config)
APP = Path(__file__).resolve().parents[2] / "app.py"
PICKERS = [
    ("model.autoencoder.name", autoencoders, ("model", "autoencoder")),
    ("model.sharing.name", sharing, ("model", "sharing")),
    ("weighting.name", weightings, ("weighting", "strategy")),
    ("schedule.name", schedules, ("schedule", "kind")),
]
CASES = [(key, reg, name, path) for key, reg, path in PICKERS for name in reg.names()]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """One Train page for the whole module (each case changes one picker, then puts it
    back), so the cases cost one rerun each instead of one app start each."""
    home = tmp_path_factory.mktemp("home")
    old = {k: os.environ.get(k) for k in ("MTAE_HOME", "MTAE_NO_WORKERS")}
    os.environ.update(MTAE_HOME=str(home), MTAE_NO_WORKERS="1")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    yield at
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.parametrize(("key", "registry", "name", "path"), CASES,
                         ids=[f"{p[0]}-{n}" for _, _, n, p in CASES])
def test_every_entry_is_reachable_and_valid_by_default(page, key, registry, name, path):
    box = field(page, key)  # (its tab opened: the form draws only the open tab)
    default = box.value
    try:
        box.set_value(name).run()
        assert not page.exception, [e.value for e in page.exception]
        assert not page.error, [e.value for e in page.error]
        train = next(b for b in page.button if b.label == "Train")
        assert not train.disabled
        exported = json.loads(page.code[0].value)
        assert exported[path[0]][path[1]] == name
        # the one-line summary (with its paper) stands under the picker
        assert registry.get(name).summary() in [c.value for c in page.caption]
    finally:
        field(page, key).set_value(default).run()
