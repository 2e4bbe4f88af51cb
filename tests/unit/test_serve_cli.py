"""``mtae serve --class``: the students' link with a network address, its QR code, the
teacher's link, and a server that ends with the command."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from mtae_core.cli import serve

ROOT = Path(__file__).resolve().parents[2]


def _wait(cond: Callable[[], object], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return bool(cond())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone, only not yet reaped
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_address_is_a_private_ipv4_and_never_loopback():
    assert serve.network_address(["127.0.0.1", "8.8.8.8", "192.168.1.20"]) == ("192.168.1.20", None)
    assert serve.network_address(["127.0.1.1", "169.254.3.4", "10.0.0.7"])[0] == "10.0.0.7"
    assert serve.network_address(["127.0.0.1", "fe80::1", "8.8.4.4"]) == ("8.8.4.4", None)
    name, note = serve.network_address(["127.0.0.1"])
    assert name == socket.gethostname() and note and "name" in note
    found, _ = serve.network_address()  # this machine, asked without sending anything
    assert not found.startswith("127.")


def test_links_and_key(monkeypatch):
    assert serve.students_link("10.0.0.7", 8501) == "http://10.0.0.7:8501/"
    assert serve.teacher_link("10.0.0.7", 8501, "a b/c") == "http://10.0.0.7:8501/?teacher=a%20b%2Fc"
    monkeypatch.setenv("MTAE_TEACHER_KEY", "given")
    assert serve.teacher_key() == "given"
    monkeypatch.delenv("MTAE_TEACHER_KEY")
    a, b = serve.teacher_key(), serve.teacher_key()
    assert a != b and len(a) >= 20 and re.fullmatch(r"[A-Za-z0-9_-]+", a)


def test_qr_codes():
    svg = serve.qr_svg("http://10.0.0.7:8501/")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and int(root.get("width") or 0) > 100
    text = serve.qr_text("http://10.0.0.7:8501/")
    lines = text.splitlines()
    assert len(lines) > 10 and len({len(line) for line in lines}) == 1
    assert "\x1b" not in text and set(text) <= set("\u2588\u2580\u2584 \n")


def test_serve_needs_class_and_a_free_port(capsys):
    from mtae_core.cli.commands import main

    assert main(["serve"]) == 2
    assert "--class" in capsys.readouterr().err
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--class", "--port", str(port)]) == 1
    assert f"port {port} is already in use" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_class_prints_links_and_its_server_ends_with_it(tmp_path, sig):
    port = _free_port()
    env = {**os.environ, "MTAE_HOME": str(tmp_path), "MTAE_WORKERS": "1",
           "MTAE_TEACHER_KEY": "k3y-for-the-test", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mtae_core.cli", "serve", "--class",
                             "--port", str(port)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def banner_done() -> bool:
        while not lines.empty():
            out.append(lines.get())
        return any("Press Ctrl-C" in line for line in out) or proc.poll() is not None

    server: list[int] = []
    try:
        assert _wait(banner_done, 120), "".join(out)
        text = "".join(out)
        assert proc.poll() is None, text
        students = re.search(r"Students' link:\s+(http://\S+)", text)
        teacher = re.search(r"Teacher's link:\s+(http://\S+)", text)
        assert students and teacher, text
        host = students.group(1).split("//")[1].split(":")[0]
        assert host not in ("localhost", "127.0.0.1", "0.0.0.0") and not host.startswith("127.")
        assert students.group(1) == f"http://{host}:{port}/"
        assert teacher.group(1) == f"http://{host}:{port}/?teacher=k3y-for-the-test"
        assert sum("\u2588" in line for line in out) > 10  # the QR code's block
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        server = _children(proc.pid)
        assert server, "no server process"
        proc.send_signal(sig)
        assert proc.wait(30) == 0
        assert _wait(lambda: not any(_alive(p) for p in server), 15), server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in server:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
