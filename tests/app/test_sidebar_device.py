"""The sidebar's "Device:" line (ui.frame.state.device_label): never waits for the device."""

from __future__ import annotations

import time
from collections.abc import Callable

from mtae_core.engine.training import describe_device, resolve_device


def _wait(pred: Callable[[], bool], timeout: float = 30.0, every: float = 0.05) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


def test_the_app_shows_detecting_until_the_device_is_known(monkeypatch):
    """Without workers (as in the app tests) the server detects the device itself, in a
    background thread: the sidebar never waits for it."""
    monkeypatch.setenv("MTAE_NO_WORKERS", "1")
    from ui.frame.state import DETECTING, device_label

    first = device_label()
    assert first in (DETECTING, describe_device(resolve_device("auto")))
    assert _wait(lambda: device_label() != DETECTING, 10)
    assert device_label() == describe_device(resolve_device("auto"))
