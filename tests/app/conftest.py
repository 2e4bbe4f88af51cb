"""Fixtures of the page tests: a fresh ``$MTAE_HOME`` per test (so ``ui.frame.state`` caches a
fresh store for it), no worker processes, and a store of real finished runs trained once
per session in this process, the way a worker trains them (``mtae_core.runner.jobs.execute``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from page_helpers import tiny
from streamlit.testing.v1 import AppTest

from mtae_core.runner.jobs import execute
from mtae_core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TIMEOUT = 60  # seconds per script run; the first run of a session imports torch & co.

# name -> changes to the tiny config; each is trained for real into the store
FINISHED: dict[str, dict[str, Any]] = {
    "hard": {},
    "single": {"model": {"sharing": "single_task"}},
    "mmoe": {"model": {"sharing": "mmoe"}},
    "cross": {"model": {"sharing": "cross_stitch"}},
    "soft": {"model": {"sharing": "soft"}},
    "pcgrad": {"weighting": {"strategy": "pcgrad"}},
    "uncert": {"weighting": {"strategy": "uncertainty"}},
    "synth": {"data": {"dataset": "synthetic_correlated", "options": {"n": 400, "d": 10}}},
    # SGD at the largest allowed rate with heavy momentum: the loss turns NaN in epoch 1
    "diverge": {"optimizer": {"kind": "sgd", "lr": 10.0, "momentum": 0.99}},
}
FAIL_REASON = "RuntimeError: worker lost its GPU"


@dataclass(frozen=True)
class Built:
    path: Path
    ids: dict[str, int]  # run name -> id
    done: tuple[str, ...] = tuple(n for n in FINISHED if n != "diverge")  # status "done"
    fail_reason: str = FAIL_REASON


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Runs trained once for the whole session (about a second and a half in all)."""
    path = tmp_path_factory.mktemp("built") / "runs.db"
    store = RunStore(path)
    ids: dict[str, int] = {}
    for name, changes in FINISHED.items():
        cfg = tiny(name, **changes)
        ids[name] = store.create_run(cfg)
        execute(store, ids[name], cfg)
    # how a worker that died mid-run leaves it (see RunStore.fail_orphans)
    ids["failed"] = store.create_run(tiny("failed"))
    store.finish(ids["failed"], "failed", FAIL_REASON)
    ids["queued"] = store.create_run(tiny("queued"))  # waiting for a worker
    status = {r.name: r.status for r in store.runs()}
    expected = {n: "done" for n in FINISHED} | {"diverge": "diverged", "failed": "failed",
                                                "queued": "queued"}
    assert status == expected, status
    return Built(path, ids)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$MTAE_HOME`` of this test's own; no worker processes start."""
    monkeypatch.setenv("MTAE_HOME", str(tmp_path))
    monkeypatch.setenv("MTAE_NO_WORKERS", "1")
    return tmp_path


@pytest.fixture
def filled(home: Path, built_store: Built) -> Built:
    """This test's ``$MTAE_HOME`` holds a copy of the session's store of runs."""
    for f in built_store.path.parent.glob("runs.db*"):  # the database and its WAL files
        shutil.copy(f, home / f.name)
    return Built(home / "runs.db", built_store.ids)


@pytest.fixture
def app(home: Path) -> Callable[[], AppTest]:
    """``app()`` → an AppTest of ``app.py`` (not yet run) against this test's home."""
    def make() -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    return make


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The files a page's download buttons serve, by their file name."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self: Any, data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename and isinstance(data, bytes):
            served[filename] = data
        return real(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return served
