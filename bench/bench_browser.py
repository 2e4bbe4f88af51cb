"""Waiting times a person sees, measured in a real browser (headless Chromium).

Starts the dashboard the way ``make run`` does (``python -m ui.frame.serve``: ``streamlit run
app.py`` with the engine imported as the server starts, from the
repository root, so ``.streamlit/config.toml`` applies) on a free port with a fresh,
temporary ``$MTAE_HOME``, drives ``/usr/bin/chromium`` with Playwright and prints:

- first view: a fresh server's first page load, until the Train button is visible;
- reload: a browser reload of the Train page until the Train button is visible again
  (median of ``--reloads``);
- Train → first point: from the click on Train (on an idle page, 1 s after the last run
  was cancelled) until a chart in the new run's view holds its first epoch (median of
  ``--trains``; worst case printed too), split up with the
  store's own times: the click to the run queued (the page's script run), queued to
  claimed by a worker, claimed to its first epoch stored (seen by polling the store
  every 10 ms), and stored to drawn (the live view's poll, its charts, the browser);

each over ``--rounds`` fresh servers (median and worst of all). Besides wall-clock times
it prints the CPU time the server and the browser used for the first view and each reload,
which other load on the machine moves less, and the load average before and after, so
a figure from a busy machine can be told from one from a quiet machine.

It stops everything it started: the server runs in its own process group, which is
ended as a whole (so a training worker that outlived its app would be caught and
reported, then ended).

    .venv/bin/python bench/bench_browser.py [--rounds 1] [--reloads 5] [--trains 3]
    .venv/bin/python bench/bench_browser.py --app bench/bare_app.py --trains 0  # bare page
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from mtae_core.runner.jobs import process_group

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
TARGETS = {"first view": 2.0, "reload": 0.5, "Train -> first point": 1.0}

# The Train button is on screen (the form has rendered).
_TRAIN_VISIBLE = """() => [...document.querySelectorAll('[data-testid="stMain"] button')]
    .some(b => b.innerText.trim().endsWith('Train') && b.offsetParent !== null)"""
# Run ``n``'s view (its container is keyed ``run-view-n``) says at least one epoch is
# done, and a plotly chart in it holds a point (``gd.data``: what plotly has drawn; the
# Model tab's network diagram, also a plotly chart, is outside the view).
_FIRST_POINT = """(n) => {
    const view = document.querySelector('.st-key-run-view-' + n);
    if (!view) return false;
    return [...view.querySelectorAll('[data-testid="stProgress"]')].some(
        p => /epoch [1-9]\\d* of|Finished \\d+ epochs/.test(p.innerText))
        && [...view.querySelectorAll('.js-plotly-plot')].some(
            g => (g.data || []).some(t => t.x && t.x.length > 0));
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Path, log: Any, app: str | None = None
                  ) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MTAE_HOME": str(home)}
    env.pop("MTAE_NO_WORKERS", None)
    serve = ["-m", "ui.frame.serve"] if app is None else ["-m", "streamlit", "run", app]
    proc = subprocess.Popen(
        [sys.executable, *serve, "--server.headless", "true", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited at start; see its log")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("streamlit did not answer within 60 s")


def _stop_server(proc: subprocess.Popen[bytes]) -> list[int]:
    """End the server, then its whole process group; return pids that were still alive
    10 s after the server ended (workers that outlived their app)."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    left: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = process_group(proc.pid)
        if not left:
            return []
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    return left


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process ``pid`` has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _browser_cpu(server: int) -> float:
    """CPU time used so far by this process's descendants but the server and its workers
    (so: Playwright's driver and the Chromium processes it started), from Linux's /proc."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(d.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    me, total = os.getpid(), 0.0
    for pid, seconds in cpu.items():
        p = parent.get(pid)
        if pid == server:
            continue
        while p is not None and p not in (0, 1, me, server):
            p = parent.get(p)
        if p == me:
            total += seconds
    return total


def _visible_train(page: Any) -> None:
    page.wait_for_function(_TRAIN_VISIBLE, polling="raf", timeout=TIMEOUT_MS)


def _wait_no_active_run(db: Path, timeout: float = 180.0) -> None:
    """Wait until the store has no queued or running run (read-only, straight from SQLite:
    the page's wording may change, the store's statuses do not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            if not c.execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued','running')"
                             ).fetchone()[0]:
                return
        time.sleep(0.05)
    raise TimeoutError(f"a cancelled run did not end within {timeout:.0f} s")


class _FirstEpoch:
    """Watches the store (read-only, every 10 ms) in a thread and notes the wall-clock time
    at which run ``n``'s first epoch row appears."""

    def __init__(self, db: Path, n: int) -> None:
        self.db, self.n, self.at = db, n, float("nan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as c:
            while not self._stop.is_set():
                if c.execute("SELECT 1 FROM epoch_metrics WHERE run_id=? LIMIT 1",
                             (self.n,)).fetchone():
                    self.at = time.time()
                    return
                self._stop.wait(0.01)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.at


def _split(db: Path, n: int, click: float, stored: float, drawn: float) -> dict[str, float]:
    """Train -> first point of run ``n``, split at the store's times (all wall clock)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        created, started = c.execute("SELECT created, started FROM runs WHERE id=?",
                                     (n,)).fetchone()
    return {" click -> queued": created - click, " queued -> claimed": started - created,
            " claimed -> epoch stored": stored - started, " stored -> drawn": drawn - stored}


def measure(url: str, reloads: int, trains: int, server: int, db: Path) -> dict[str, list[float]]:
    """Wall-clock times of each phase, and the server's CPU time for the first view and
    each reload (less sensitive to other load on the machine than wall-clock time)."""
    from playwright.sync_api import sync_playwright

    res: dict[str, list[float]] = {"first view": [], "reload": [], "Train -> first point": [],
                                   "server CPU, first view": [], "server CPU, reload": [],
                                   "browser CPU, first view": [], "browser CPU, reload": [],
                                   " click -> queued": [], " queued -> claimed": [],
                                   " claimed -> epoch stored": [], " stored -> drawn": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            t0, c0, b0 = time.perf_counter(), _cpu_seconds(server), _browser_cpu(server)
            page.goto(url, wait_until="commit")
            _visible_train(page)
            res["first view"].append(time.perf_counter() - t0)
            res["server CPU, first view"].append(_cpu_seconds(server) - c0)
            res["browser CPU, first view"].append(_browser_cpu(server) - b0)

            for _ in range(reloads):
                time.sleep(1.0)  # let the last view's leftover work (polls, charts) settle
                t0, c0, b0 = time.perf_counter(), _cpu_seconds(server), _browser_cpu(server)
                page.reload(wait_until="commit")
                _visible_train(page)
                res["reload"].append(time.perf_counter() - t0)
                res["server CPU, reload"].append(_cpu_seconds(server) - c0)
                res["browser CPU, reload"].append(_browser_cpu(server) - b0)

            if not trains:
                return res
            main = page.get_by_test_id("stMain")
            main.get_by_role("tab", name="Training").click()
            epochs = main.get_by_label("Epochs")
            epochs.fill("300")  # long enough to be training when the first point shows
            epochs.press("Enter")
            page.wait_for_function(
                "() => [...document.querySelectorAll('input')].some(i => i.value === '300')")
            for n in range(1, trains + 1):
                button = main.get_by_role("button", name="Train", exact=True)
                button.wait_for(state="visible")
                # as a person would: press when the page is idle, not while the browser
                # still draws the page's rerun after the last run was cancelled
                time.sleep(1.0)
                watch = _FirstEpoch(db, n)
                t0, click = time.perf_counter(), time.time()
                button.click()
                page.wait_for_function(_FIRST_POINT, arg=n, polling="raf", timeout=TIMEOUT_MS)
                res["Train -> first point"].append(time.perf_counter() - t0)
                for part, seconds in _split(db, n, click, watch.stop(), time.time()).items():
                    res[part].append(seconds)
                # end this run before the next, so each press finds an idle worker
                main.get_by_role("button", name="Cancel").first.click()
                _wait_no_active_run(db)
        finally:
            browser.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1, help="fresh servers, one after another")
    ap.add_argument("--reloads", type=int, default=5)
    ap.add_argument("--trains", type=int, default=3)
    ap.add_argument("--app", help="another Streamlit script to time instead of the dashboard "
                    "(run with --trains 0), e.g. bench/bare_app.py: a page with only a Train "
                    "button, to tell the browser's own cost of a Streamlit page")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is not installed (apt-get install chromium)")
    load_before = os.getloadavg()
    res: dict[str, list[float]] = {}
    overflows, left = 0, []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="mtae-bench-") as tmp:
            log_path = Path(tmp) / "streamlit.log"
            with open(log_path, "wb") as log:
                proc, url = _start_server(Path(tmp) / "home", log, args.app)
                try:
                    one = measure(url, args.reloads, args.trains, proc.pid,
                                  Path(tmp) / "home" / "runs.db")
                finally:
                    left += _stop_server(proc)
            overflows += log_path.read_text(errors="replace").count("Inotify queue overflow")
        for name, xs in one.items():
            res.setdefault(name, []).extend(xs)
    what = "python -m ui.frame.serve (as make run)" if args.app is None else f"streamlit run {args.app}"
    print(f"dashboard: {what}, {os.cpu_count()} CPU(s), "
          f"MTAE_WORKERS={os.environ.get('MTAE_WORKERS', 'default')}, {args.rounds} fresh "
          f"server(s); load average (1 min) {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    for name, all_xs in res.items():
        xs = [x for x in all_xs if x == x]  # (nan: the store watcher missed that epoch)
        if not xs:
            continue
        extra = (f" (median of {len(xs)}, min {min(xs):.2f}, max {max(xs):.2f})"
                 if len(xs) > 1 else "")
        target = f"; target <= {TARGETS[name]} s" if name in TARGETS else ""
        print(f"{name:24s} {statistics.median(xs):6.2f} s{extra}{target}")
    reloads = res.get("reload", [])
    if reloads and args.reloads:
        print("reload, each in order (one line per server): ")
        for r in range(0, len(reloads), args.reloads):
            print("  " + " ".join(f"{x:.2f}" for x in reloads[r:r + args.reloads]))
    presses = res.get("Train -> first point", [])
    if presses and args.trains:
        print("Train -> first point, each press in order (one line per server): ")
        for r in range(0, len(presses), args.trains):
            print("  " + " ".join(f"{x:.2f}" for x in presses[r:r + args.trains]))
    print(f"inotify overflow warnings in the server logs: {overflows}")
    if left:
        print(f"processes still alive 10 s after the server ended (killed now): {left}")


if __name__ == "__main__":
    main()
