"""One run store and one job runner per server process, shared by every session.

Nothing here is tied to a browser session: training runs in worker processes, so a
click, a page switch or a refresh never stops or restarts a run.

``MTAE_NO_WORKERS=1`` keeps the app from starting worker processes (the app tests use
it): Train then only queues the run in the store, where a worker would find it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, NoReturn

import streamlit as st

from mtae_core.config import ExperimentConfig
from mtae_core.errors import StoreError
from mtae_core.runner.jobs import JobRunner
from mtae_core.store.runs import RunStore, default_path
from mtae_core.store.tables import attach, attached
from ui.frame import links

_frame_seen = threading.Event()  # app.py's frame (and so st.navigation) ran in this process
# a page has been drawn to its end in this process: ui.frame.serve's engine warm-up waits for it
# (a little), so it does not slow the first visitor's form down with torch's import
page_drawn = threading.Event()


def run_in_frame(page: Any) -> None:
    """app.py runs the chosen page through this (after ``store_or_stop``). A store that
    goes bad while the page draws (the file replaced, the disk made read-only) shows the
    same plain page as one that cannot be opened, not a traceback."""
    _frame_seen.set()
    # configs may name the store's users' tables: list them afresh once per page draw (a
    # table added by `mtae data add` meanwhile shows up; validating never reads the store)
    attach(default_path())
    try:
        page.run()
    except StoreError as e:
        store_problem(e)


STORE_NOTICE_SEEN = "mtae.store_notice_seen"


def store_or_stop() -> RunStore:
    """The store, for app.py to call before any page draws. One that cannot be used
    (damaged, not a database, a folder, read-only, of a newer version, a home that is a
    file) draws a page saying so and what to do, and stops there; every page draw tries
    again, so moving the file aside and reloading is enough. A 0-byte file taken as a new
    store is said once per browser tab."""
    store = get_store()
    if store.notice and not st.session_state.get(STORE_NOTICE_SEEN):
        st.session_state[STORE_NOTICE_SEEN] = True
        st.info(store.notice, icon=":material/info:")
    return store


def store_problem(e: StoreError) -> NoReturn:
    """The page shown instead of any page while the run store cannot be used."""
    st.title("The run store cannot be used")
    st.error(str(e), icon=":material/error:")
    st.markdown("Nothing in it was changed. Once the file is moved aside or the folder can "
                "be written (or MTAE Studio is started with `MTAE_HOME` pointing at another "
                "folder), reload this page.")
    st.stop()


def ensure_app_frame() -> None:
    """Call first in every page (``page_frame`` does): a page run before app.py's frame
    ever ran in this process turns Streamlit's page-folder mode off and reruns through
    app.py."""
    # Why a private flag: Streamlit 1.67.0 sets PagesManager.uses_pages_directory when the
    # server's first session starts, because app.py has a folder named pages/ beside it,
    # and until some script run reaches st.navigation (which clears it) it runs a URL such
    # as /compare (a bookmark, a tab reconnecting after a restart) as that file alone
    # (script_runner._mpa_v1), without app.py: no sidebar, no menu, no device line (the
    # browser test test_a_page_opened_first_on_a_fresh_server_gets_the_app_frame fails
    # without this). No public setting stops it: client.showSidebarNavigation=false only
    # hides that mode's menu (tried: the test still fails), and the folder must keep its
    # name. If a later version drops the flag, getattr finds none and this does nothing.
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if not _frame_seen.is_set() and getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_frame(title: str, notices: bool = True) -> None:
    """The top of every page, one call: the app's frame (``ensure_app_frame``), the tab's
    settings and run carried in the URL (``links.carry``), the page's title, then —
    unless the page has its own places for them (``notices=False``: Train shows each
    beside what it concerns) — the warnings about link parameters that were ignored."""
    ensure_app_frame()
    links.carry()
    st.title(title)
    if notices:
        links.show_notices()


def workers_enabled() -> bool:
    return os.environ.get("MTAE_NO_WORKERS", "") in ("", "0")


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RunStore:
    return RunStore(path)


@st.cache_resource(show_spinner=False)
def _runner(path: str, start: bool) -> JobRunner:
    runner = JobRunner(_store(path))
    if start:
        runner.start()  # workers warm up now, so the first Train starts at once
    return runner


def get_store() -> RunStore:
    """The store at ``$MTAE_HOME/runs.db``; cached per path, so tests with their own
    ``MTAE_HOME`` never share one. One that cannot be used draws ``store_problem``'s page
    and stops the script run there."""
    path = default_path()
    if attached(path) is None:
        attach(path)
    try:
        store = _store(str(path))
        store.check()  # the file may have gone bad (or been moved aside) since it opened
    except StoreError as e:  # whichever way the page runs, the plain page instead of it
        store_problem(e)
    return store


def get_runner() -> JobRunner:
    return _runner(str(default_path()), workers_enabled())


def workers_problem() -> str | None:
    """Why the training workers cannot serve the store (they stopped over it), else None."""
    return get_runner().problem if workers_enabled() else None


def submit(cfg: ExperimentConfig, owner: str | None = None, actor: Any = None) -> int:
    """Queue a run (``owner``: who queued it, see ``ui.classroom.roles.owner``; ``actor``: the
    session asking, ``ui.frame.identity.actor``, whose cap the engine checks: ``QueueFull``);
    with workers enabled, make sure they are running."""
    kw = {} if actor is None else {"actor": actor}
    run_id = get_store().create_run(cfg, owner=owner, **kw)
    if workers_enabled():
        get_runner().start()  # (already started with the app: then nothing to do)
    return run_id


DETECTING = "detecting…"


def device_label() -> str:
    """The device an "auto" run trains on — "cuda (name)", "mps" or "cpu" — as the
    workers report it once warm, so this server never waits for torch nor initialises
    CUDA to show it; ``DETECTING`` until then."""
    if workers_enabled():
        return get_runner().device or DETECTING
    return _local_device.get()


DEVICE_POLL_SECONDS = 2.0


def device_line() -> None:
    """The sidebar's "Device:" line. While the workers are still warming up it says
    "detecting…" and looks again every ``DEVICE_POLL_SECONDS`` on its own (a fragment:
    nothing else on the page reruns), so the device shows without a click; once known it
    is drawn plainly, with no timer, from the page's next run on."""
    if device_label() == DETECTING:
        _device_poll()
    else:
        _draw_device()


def _draw_device() -> None:
    st.markdown(f"**Device:** `{device_label()}`")


@st.fragment(run_every=DEVICE_POLL_SECONDS)
def _device_poll() -> None:
    _draw_device()


class _LocalDevice:
    """Without workers (the app tests): detect the device here, in a background thread."""

    def __init__(self) -> None:
        self.label: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self) -> str:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._detect, name="mtae-device",
                                                daemon=True)
                self._thread.start()
        return self.label or DETECTING

    def _detect(self) -> None:
        from mtae_core.engine.training import describe_device, resolve_device

        try:
            self.label = describe_device(resolve_device("auto"))
        except Exception as e:  # a broken driver: say so in the sidebar
            self.label = f"unknown ({type(e).__name__})"


_local_device = _LocalDevice()
