"""The Train form's path imports no torch (the first page shows without waiting for it),
and the registries' light entries agree with the working classes they load lazily."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtae_core.data import datasets
from mtae_core.models import autoencoders, sharing
from mtae_core.registry import Registry
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "scipy")

# What the first page does before its Train button: the modules app.py and pages/train.py
# import, every entry's options and summary (the form's widgets), a config validated and
# pre-flighted, a link's settings decoded. Run in a fresh interpreter.
FORM_PATH = """
import json, sys
import ui.classroom, ui.forms, ui.links, ui.live, ui.state, ui.train_form, ui.url_state
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
ui.url_state.decode_config(ui.url_state.encode_config(cfg))
ui.train_form.build_config(cfg.to_dict(), "x")
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""


def test_the_train_form_path_imports_no_torch(tmp_path: Path) -> None:
    env = {**os.environ, "MTAE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", FORM_PATH.replace("{HEAVY!r}", repr(HEAVY))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


LAZY: list[tuple[str, Registry]] = [("autoencoders", autoencoders), ("sharing", sharing),
                                    ("weightings", weightings)]


@pytest.mark.parametrize("registry", [r for _, r in LAZY], ids=[n for n, _ in LAZY])
def test_each_lazy_entry_loads_a_working_class_that_keeps_its_entry(registry: Registry) -> None:
    for name in registry.names():
        entry, working = registry.spec(name), registry.get(name)
        assert issubclass(working, entry) and working is not entry
        assert working.name == name
        assert working.Options is entry.Options
        assert working.summary() == entry.summary() != ""
        assert working.check.__func__ is entry.check.__func__  # type: ignore[attr-defined]
        if registry is weightings:  # the trainer asks the working class, the UI the entry
            assert working.needs_task_grads == entry.needs_task_grads


def test_light_registries_have_no_separate_working_class() -> None:
    for registry in (datasets, schedules):
        for name in (datasets.builtin_names() if registry is datasets else registry.names()):
            assert registry.get(name) is registry.spec(name)


def test_an_unknown_name_says_what_is_allowed() -> None:
    with pytest.raises(KeyError, match="unknown weighting strategy 'nope'; allowed: equal"):
        weightings.spec("nope")
    with pytest.raises(KeyError, match="unknown sharing scheme 'nope'"):
        sharing.get("nope")
