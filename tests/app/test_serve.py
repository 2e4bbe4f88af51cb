"""``make run``'s launcher imports the engine as the server starts, before any browser
connects, so the first visitor does not wait for torch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ui.frame.serve import READY

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_launcher_imports_the_engine_before_any_browser_connects(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {**os.environ, "MTAE_HOME": str(tmp_path / "home")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.frame.serve", "--server.headless", "true",
             "--server.port", str(_free_port()), "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # a busy machine imports torch slowly
        while READY not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_settling_the_collector_takes_the_imported_objects_out_of_full_collections() -> None:
    """What is alive after the warm-up (the imported engine) is frozen: a full collection
    no longer walks it, while garbage made before is collected first, not kept."""
    import gc
    import weakref

    import pandas  # noqa: F401  (something sizeable imported, as the engine is)

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    from ui.frame.serve import settle_garbage_collector

    gc.disable()  # (no collection of its own may free the cycle first)
    try:
        cycle = Cycle()  # garbage in a reference cycle: only the collector frees it
        gone = weakref.ref(cycle)
        del cycle
        assert gone() is not None
        settle_garbage_collector()
        assert gone() is None  # collected, not frozen for ever
        assert gc.get_freeze_count() > 50_000  # the imported modules' objects
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10  # out of full collections
    finally:
        gc.enable()
        gc.unfreeze()  # (the test process goes on as before)
