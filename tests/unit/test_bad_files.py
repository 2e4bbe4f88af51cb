"""Bad CSV files (issue 20, items 10 and 11): a value over the csv module's field limit,
a file over the size cap, a NUL byte deep in the file. Each is refused in plain words
(``mtae data add`` exits 2), a file over the cap before any of it is read; a file under
the cap is read as a stream, its peak memory a small multiple of its size."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from mtae_core.cli import main
from mtae_core.data import csv_import
from mtae_core.data.csv_import import CsvError, read_table

ROOT = Path(__file__).resolve().parents[2]
GOOD = "a,b,label\n" + "".join(f"{i},{i * 0.5},{'xy'[i % 2]}\n" for i in range(20))


def _add(store, path: Path, capsys) -> tuple[int, str]:
    rc = main(["--db", str(store.path), "data", "add", str(path), "--name", "t"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "_csv.Error" not in err, err
    return rc, err


@pytest.mark.parametrize("text", [
    GOOD.replace("0,0.0,x", "0,0.0," + "x" * 200_000),  # one cell of 200 kB
    GOOD.replace("3,1.5,y", '3,1.5,"never closed') + "x" * 140_000,  # the rest is one value
])
def test_a_value_over_the_field_limit_is_a_plain_refusal(tmp_path, store, capsys, text):
    with pytest.raises(CsvError, match="holds a value longer than 131,072 characters"):
        read_table(text.encode())
    path = tmp_path / "long.csv"
    path.write_text(text)
    rc, err = _add(store, path, capsys)
    assert rc == 2 and "holds a value longer than" in err
    assert store.stored_datasets() == []


def test_a_nul_byte_anywhere_is_binary(tmp_path, store, capsys):
    text = GOOD + "".join(f"{i},{i},x\n" for i in range(20_000))  # well past 64 KiB
    data = text.encode()
    at = len(data) - 10
    assert at > 65536
    bad = data[:at] + b"\x00" + data[at + 1:]
    with pytest.raises(CsvError, match="not text"):
        read_table(bad)
    path = tmp_path / "nul.csv"
    path.write_bytes(bad)
    rc, err = _add(store, path, capsys)
    assert rc == 2 and "not text" in err and store.stored_datasets() == []
    utf16 = ("\ufeff" + GOOD + "1,2,\x00\n").encode("utf-16-le")
    with pytest.raises(CsvError, match="not text"):
        read_table(utf16)


def test_old_mac_line_ends_are_rows(tmp_path):
    parsed = read_table(GOOD.replace("\n", "\r").encode())
    assert len(parsed.frame) == 20 and list(parsed.frame.columns) == ["a", "b", "label"]


def test_a_file_over_the_cap_is_refused_unread(tmp_path, store, capsys):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:  # sparse: 1 GiB on paper, no disk
        f.truncate(2**30)
    tracemalloc.start()
    try:
        rc, err = _add(store, path, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 2 and "the limit is 100.0 MB" in err and "1024.0 MB" in err
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB allocated to refuse it"


def test_a_pipe_is_read_no_further_than_the_cap(monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1000)
    writer = subprocess.Popen([sys.executable, "-c", "import sys\nfor _ in range(100): "
                               "sys.stdout.buffer.write(b'x' * 1000)"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert writer.stdout is not None
    try:
        with pytest.raises(CsvError, match="the limit is"):
            csv_import.read_file(f"/dev/fd/{writer.stdout.fileno()}")
    finally:
        writer.stdout.close()
        writer.wait(timeout=60)


# ---- peak memory (a subprocess, measured by the kernel) -------------------------------------------

PROBE = textwrap.dedent("""
    import sys
    import mtae_core.cli.commands as cli
    from mtae_core.data import csv_import

    def peak_mb():  # the process's peak resident memory so far
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024

    csv_import.MAX_BYTES = int(sys.argv[3])
    db, path = sys.argv[1], sys.argv[2]
    cli.main(["--db", db, "data", "add", "/no/such/file.csv", "--name", "warm"])  # imports
    before = peak_mb()
    rc = cli.main(["--db", db, "data", "add", path, "--name", "t"])
    print(rc, before, peak_mb(), file=sys.stderr)
""")


def _csv_of(path: Path, n_bytes: int) -> None:
    """A numeric table of about ``n_bytes`` (10 columns, a 3-class label)."""
    block = "".join(",".join(f"{(i * 7 + j) % 997 / 997:.4f}" for j in range(9)) + f",{i % 3}\n"
                    for i in range(5000))
    with open(path, "w") as f:
        f.write(",".join(f"x{j}" for j in range(9)) + ",y\n")
        for _ in range(max(1, n_bytes // len(block))):
            f.write(block)


def _peak(tmp_path: Path, path: Path, cap: int) -> tuple[int, float]:
    """(exit code, MB the command's peak memory grew by) of ``mtae data add path``."""
    r = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "runs.db"), str(path),
                        str(cap)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "MTAE_HOME": str(tmp_path)})
    rc, before, after = r.stderr.strip().splitlines()[-1].split()
    print(f"{path.name}: {path.stat().st_size / 2**20:.0f} MB, peak grew {float(after) - float(before):.0f} MB")
    return int(rc), float(after) - float(before)


@pytest.mark.slow
def test_peak_memory_of_a_file_just_over_and_just_under_the_cap(tmp_path):
    cap = 30 * 2**20  # a smaller cap than the app's: the bound is a ratio, at any cap
    under = tmp_path / "under.csv"
    _csv_of(under, cap - 2**20)
    size = under.stat().st_size
    assert cap - 2 * 2**20 < size <= cap
    rc, grew = _peak(tmp_path, under, cap)
    assert rc == 0
    # the bytes, the frame of floats and the parser's buffers: yesterday 11× the file
    assert grew < 7 * size / 2**20, f"{grew:.0f} MB for a {size / 2**20:.0f} MB file"
    over = tmp_path / "over.csv"
    _csv_of(over, cap + 2 * 2**20)
    assert over.stat().st_size > cap
    rc, grew = _peak(tmp_path, over, cap)
    assert rc == 2
    assert grew < 5, f"{grew:.0f} MB to refuse a file over the cap"  # it is never read


def test_names_and_values_from_a_file_are_cut_in_messages(tmp_path, store, capsys):
    long = "c" * 10_000
    with pytest.raises(CsvError) as e:  # a column named twice
        read_table(f"{long},{long}\n".encode() + b"1,2\n" * 10)
    assert "appears twice" in str(e.value) and len(str(e.value)) < 300
    path = tmp_path / "t.csv"
    path.write_text("".join(f"col{i}{long}," for i in range(30)) + "y\n"
                    + "".join(",".join(["1"] * 30) + f",{i % 2}\n" for i in range(20)))
    for extra in (["--task", "z" * 10_000], ["--input", "\x1b[2J" + long]):
        rc, err = _add(store, path, capsys)  # (the file itself is fine)
        assert rc == 0
        rc = main(["--db", str(store.path), "data", "add", str(path), "--name", "u", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and "No column" in err and len(err) < 1000 and "\x1b" not in err, err[:300]
        main(["--db", str(store.path), "data", "delete", "t"])
        capsys.readouterr()
