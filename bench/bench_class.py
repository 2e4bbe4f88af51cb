"""A class on one server: how long each student waits for their run's first epoch.

Starts the app as ``mtae serve --class`` does (``python -m ui.frame.serve`` with a teacher's key),
on 127.0.0.1 and a free port, with its own temporary ``$MTAE_HOME`` and the default 2
training workers. One student's 40-run study (20 seeds of the default config and their
single-task baselines, queued through the engine as that student, as the Studies page
queues it) is queued first and starts training; then ``--students`` students, each in
their own headless Chromium context (a browser session of their own), open the Train page
with their name in the link (``?who=``) and press Train once on the default config (the
20-epoch digits run). The wait of each is from their press to their run's first stored
epoch (``runs.first_epoch``, the store's own timestamp). The last line:

    students N, first epoch wait: median X s, worst Y s

Bounded: ``--students`` at most 40, everything within ``--timeout`` seconds. It stops the
browser and the server (its whole process group) at the end, on every way out.

    .venv/bin/python bench/bench_class.py [--students 20] [--timeout 600]
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
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mtae_core.runner.jobs import process_group  # noqa: E402
from mtae_core.store.access import CLI, Actor, owner_text  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_STUDENTS = 40
STUDY_SEEDS = 20  # 20 cells and their 20 matched baselines: 40 runs
TARGET_WORST = 15.0

_TRAIN_VISIBLE = """() => [...document.querySelectorAll('[data-testid="stMain"] button')]
    .some(b => b.innerText.trim().endsWith('Train') && b.offsetParent !== null && !b.disabled)"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Path, log: Any) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MTAE_HOME": str(home), "MTAE_WORKERS": "2",
           "MTAE_TEACHER_KEY": "bench-teacher-key", "PYTHONPATH": str(ROOT)}
    env.pop("MTAE_NO_WORKERS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.frame.serve", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited at start; see its log")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not answer within 90 s")


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End the server, then whatever is left of its process group (its workers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while process_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_group(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)


def _queue_study(db: Path) -> list[int]:
    """The study student's 40 runs, queued through the engine as that student."""
    from mtae_core.store.runs import RunStore
    from mtae_core.studies import StudySpec, start

    store = RunStore(db)
    spec = StudySpec.parse({"name": "a long study", "base": {},
                            "seeds": list(range(STUDY_SEEDS))})
    who = Actor("student", "bench-study-student", "Study student")
    sid = start(store, spec, owner=owner_text(who, "bench-study-tab"), actor=CLI)
    return [int(i) for i in store.study_runs(sid).run_id]


def _student_runs(db: Path, names: list[str]) -> dict[str, tuple[int, float | None]]:
    """name → (run id, first epoch time) of each student's run (by the name in its owner)."""
    return {k: (v[0], v[3]) for k, v in _times(db, names).items()}


def _times(db: Path, names: list[str]
           ) -> dict[str, tuple[int, float, float | None, float | None]]:
    """name → (run id, queued, claimed, first epoch stored), the store's own times."""
    import json

    out: dict[str, tuple[int, float, float | None, float | None]] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as c:
        for run_id, owner, created, started, first in c.execute(
                "SELECT id, owner, created, started, first_epoch FROM runs"):
            try:
                name = json.loads(owner or "{}").get("name")
            except (ValueError, AttributeError):
                continue
            if name in names and name not in out:
                out[name] = (int(run_id), created, started, first)
    return out


def _phases(times: dict[str, tuple[int, float, float | None, float | None]],
            pressed: dict[str, float]) -> str:
    """Median and worst of each part of the wait: the press to the run queued (the page's
    script run), queued to claimed by a worker, claimed to its first epoch stored."""
    parts: dict[str, list[float]] = {"press->queued": [], "queued->claimed": [],
                                     "claimed->first epoch": []}
    for name, (_, created, started, first) in times.items():
        if name not in pressed or started is None or first is None:
            continue
        parts["press->queued"].append(created - pressed[name])
        parts["queued->claimed"].append(started - created)
        parts["claimed->first epoch"].append(first - started)
    return "; ".join(f"{k} median {statistics.median(v):.1f} s, worst {max(v):.1f} s"
                     for k, v in parts.items() if v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds for the whole bench at most")
    args = ap.parse_args()
    n = max(1, min(MAX_STUDENTS, args.students))
    end = time.monotonic() + args.timeout

    def left_ms() -> float:
        return max(1_000.0, (end - time.monotonic()) * 1000)

    from playwright.sync_api import sync_playwright

    names = [f"Student{k:02d}" for k in range(1, n + 1)]
    with tempfile.TemporaryDirectory(prefix="mtae-bench-class-") as tmp:
        home = Path(tmp)
        db = home / "runs.db"
        log = open(home / "server.log", "wb")  # noqa: SIM115
        proc, url = _start_server(home, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    pages = []
                    for name in names:  # each student: a browser session of their own
                        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                        page = ctx.new_page()
                        page.set_default_timeout(left_ms())
                        page.goto(f"{url}/?who={name}")
                        pages.append(page)
                    for page in pages:
                        page.wait_for_function(_TRAIN_VISIBLE, timeout=left_ms())
                    study = _queue_study(db)
                    print(f"server up, {n} students on the Train page; a {len(study)}-run "
                          "study queued", flush=True)
                    pressed: dict[str, float] = {}
                    for name, page in zip(names, pages, strict=True):
                        button = page.get_by_test_id("stMain").get_by_role(
                            "button", name="Train", exact=True)
                        button.wait_for(state="visible", timeout=left_ms())
                        pressed[name] = time.time()
                        button.click(timeout=left_ms())
                    while time.monotonic() < end:
                        runs = _student_runs(db, names)
                        if len(runs) == n and all(f is not None for _, f in runs.values()):
                            break
                        time.sleep(0.2)
                finally:
                    browser.close()
        finally:
            _stop_server(proc)
            log.close()
        times = _times(db, names)
        runs = _student_runs(db, names)
        waits = sorted(runs[k][1] - pressed[k] for k in names  # type: ignore[operator]
                       if k in runs and runs[k][1] is not None)
    missing = n - len(waits)
    if missing:
        print(f"{missing} student(s) saw no first epoch within {args.timeout:.0f} s")
    if not waits:
        print(f"students {n}, first epoch wait: none within {args.timeout:.0f} s")
        return
    print("waits (s): " + " ".join(f"{w:.1f}" for w in waits))
    print(_phases(times, pressed))
    print(f"aim: worst <= {TARGET_WORST:.0f} s; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    worst = f">{args.timeout:.0f}" if missing else f"{waits[-1]:.1f}"
    print(f"students {n}, first epoch wait: median {statistics.median(waits):.1f} s, "
          f"worst {worst} s")


if __name__ == "__main__":
    main()
