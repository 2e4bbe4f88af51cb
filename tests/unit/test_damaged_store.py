"""A run store that cannot be used (issue 20, item 7): truncated, garbage in its header,
not a database, a folder named ``runs.db``, read-only, a home that is a file, a newer
version. Each gives one plain line naming the file and what to do, the CLI exits 2, the
file is left as it was; a worker over such a store ends with that line, not a
traceback loop. A 0-byte store is taken as new, and said so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_damage import CASES, RAW, snapshot

from mtae_core.cli import main
from mtae_core.errors import StoreError
from mtae_core.runner.jobs import STORE_EXIT, JobRunner
from mtae_core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MTAE_HOME", str(tmp_path))
    return tmp_path


def _plain(text: str, where: Path, words: tuple[str, ...]) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ") and str(where) in lines[0], text
    for w in words:
        assert w in lines[0], (w, text)
    for raw in RAW:
        assert raw not in text, (raw, text)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", [["runs"], ["studies"], ["study", "show", "1"]])
def test_the_cli_says_what_is_wrong_and_exits_2(home, monkeypatch, capsys, case, command):
    make, words = CASES[case]
    where = make(home, monkeypatch)
    before = snapshot(where)
    assert main(command) == 2
    out = capsys.readouterr()
    _plain(out.err, where, words)
    assert out.out == ""
    assert snapshot(where) == before  # nothing lost, nothing "repaired" away


@pytest.mark.parametrize("case", list(CASES))
def test_opening_raises_one_store_error(home, monkeypatch, case):
    make, words = CASES[case]
    where = make(home, monkeypatch)
    with pytest.raises(StoreError) as e:
        RunStore()
    assert str(where) in str(e.value) and "\n" not in str(e.value)
    assert e.value.__cause__ is None  # (no chained sqlite3 or OS error to show)
    assert e.value.__context__ is None or e.value.__suppress_context__


def test_a_cli_command_through_a_real_process_shows_no_traceback(home):
    (home / "runs.db").write_text("not a database at all\n" * 50)
    env = {**os.environ, "MTAE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "mtae_core.cli", "runs"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    _plain(p.stderr, home / "runs.db", ("not a database", "Move it aside"))


def test_a_zero_byte_store_is_taken_as_new_and_said_so(home, capsys):
    (home / "runs.db").write_bytes(b"")
    assert main(["runs"]) == 0
    out = capsys.readouterr()
    assert "no runs yet" in out.out
    assert "0 bytes" in out.err and str(home / "runs.db") in out.err
    assert RunStore().notice is None  # said once: it is a store now
    assert main(["runs"]) == 0 and capsys.readouterr().err == ""


def test_a_worker_over_a_damaged_store_ends_with_the_message(home):
    (home / "runs.db").write_bytes(b"\x00garbage" * 500)
    read_end, write_end = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "mtae_core.runner.worker", "--db",
                        str(home / "runs.db"), "--report-fd", str(write_end)],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                       pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as f:
        reported = f.read()
    assert p.returncode == STORE_EXIT
    assert "Traceback" not in p.stderr and "not a database" in p.stderr, p.stderr
    assert reported.startswith("store-error The run store ") and "Move it aside" in reported


def test_a_runner_stops_starting_workers_over_a_store_gone_bad(home):
    store = RunStore()
    runner = JobRunner(store, n_workers=1)
    runner.start()
    try:
        store.path.write_bytes(b"\x00garbage" * 500)  # e.g. replaced by another program
        for extra in ("-wal", "-shm"):
            store.path.with_name(store.path.name + extra).unlink(missing_ok=True)
        deadline = time.monotonic() + 120
        while runner.problem is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.problem is not None and "not a database" in runner.problem
        deadline = time.monotonic() + 60
        while runner.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not runner.alive  # ended, and no other started in its place
        assert len(runner.procs) <= 1
    finally:
        runner.stop()
    log = runner.log_path.read_text() if runner.log_path.exists() else ""
    assert "Traceback" not in log, log
