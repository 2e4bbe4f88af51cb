"""The Train form's path imports no torch, scikit-learn or SciPy: the first page shows
without waiting for them (the registries' light entries: tests/unit/test_light_imports.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "scipy")

# What the first page does before its Train button: the modules app.py and pages/train.py
# import, every entry's options and summary (the form's widgets), a config validated and
# pre-flighted, a link's settings decoded. Run in a fresh interpreter.
FORM_PATH = """
import json, sys
import ui.classroom.roles, ui.widgets.forms, ui.frame.links, ui.train.live, ui.frame.state, ui.train.form, ui.frame.url_state
from mtae_core.config import ExperimentConfig
from mtae_core.engine.preflight import preflight
from mtae_core.data import datasets
from mtae_core.models import autoencoders, sharing
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings

for registry in (datasets, autoencoders, sharing, weightings, schedules):
    for name in registry.names():
        entry = registry.spec(name)
        entry.Options.model_json_schema(), entry.summary()
cfg = ExperimentConfig.parse({"model": {"sharing": "mmoe"}, "weighting": {"strategy": "pcgrad"},
                              "schedule": {"kind": "cyclic"}})
preflight(cfg)
ui.frame.url_state.decode_config(ui.frame.url_state.encode_config(cfg))
ui.train.form.build_config(cfg.to_dict(), "x")
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""


def test_the_train_form_path_imports_no_torch(tmp_path: Path) -> None:
    env = {**os.environ, "MTAE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", FORM_PATH.replace("{HEAVY!r}", repr(HEAVY))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
