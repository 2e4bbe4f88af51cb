"""``mtae serve --class [--port N]`` (and ``make class``): one computer serves a class.

It starts the app as ``make run`` does (``python -m ui.frame.serve``), but listening on the local
network, prints the students' link with this computer's network address and the link as a
QR code in the terminal, and a separate teacher's link carrying the teacher's key
(``$MTAE_TEACHER_KEY``, else one made now), which the server gets in its environment
(``store.access.check_key`` compares it). The server ends when this command ends (Ctrl-C,
SIGTERM, a closed terminal), and on Linux also if this command is killed outright.

``qr_svg(url)`` gives the UI the same link's QR code as an SVG image.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from ..store.access import KEY_ENV
from .terminal import say

DEFAULT_PORT = 8501
READY_SECONDS = 120.0  # the server answers its health check within this (a slow first start)
STOP_SECONDS = 10.0  # then it is killed
ROOT = Path(__file__).resolve().parents[2]  # where ui/ and app.py live
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address (a local question, no packet)


# ---- this computer's address on the local network ----------------------------------------------


def _interface_addresses() -> list[str]:
    """IPv4 addresses of this computer's network interfaces (Linux), asked of the kernel:
    nothing is sent."""
    try:
        import fcntl
        import struct

        names = [name for _, name in socket.if_nameindex()]
    except (ImportError, OSError, AttributeError):
        return []
    out = []
    for name in names:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR,
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:  # an interface without an IPv4 address
                continue
        out.append(socket.inet_ntoa(packed[20:24]))
    return out


def _hostname_addresses() -> list[str]:
    """IPv4 addresses the system resolves this computer's name to (its hosts file first;
    macOS and Windows list their interfaces' addresses this way)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


def _rank(address: str) -> int | None:
    """0: a private IPv4 (a school's network), 1: another usable IPv4; None: loopback,
    link-local or not an IPv4 (no student can reach it)."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return None
    return 0 if ip.is_private else 1


def network_address(candidates: list[str] | None = None) -> tuple[str, str | None]:
    """(the address students reach this computer at, a note or None). A private IPv4 of
    an interface is preferred; with none, the computer's name, with a note saying so."""
    found = candidates if candidates is not None else _interface_addresses() + _hostname_addresses()
    usable = sorted(dict.fromkeys(a for a in found if _rank(a) is not None),
                    key=lambda a: _rank(a) or 0)
    if usable:
        return usable[0], None
    name = socket.gethostname() or "localhost"
    return name, (f"No network address was found for this computer, so the link uses its name "
                  f"({name}). If students' browsers cannot open it, connect this computer to "
                  "the class's network and start again, or give them its address.")


# ---- links and QR codes -----------------------------------------------------------------------


def students_link(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/"


def teacher_link(address: str, port: int, key: str) -> str:
    return f"{students_link(address, port)}?teacher={quote(key, safe='')}"


def teacher_key() -> str:
    """``$MTAE_TEACHER_KEY`` if set, else a new random key."""
    return os.environ.get(KEY_ENV) or secrets.token_urlsafe(18)


def qr_svg(url: str, scale: int = 6) -> str:
    """The QR code of ``url`` as an SVG document (dark modules on white, with its quiet
    zone), for a page to show."""
    import segno

    qr = segno.make(url, error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, dark="#000", light="#fff", xmldecl=False,
            svgns=True, nl=False)
    return buf.getvalue().decode()


def qr_text(url: str) -> str:
    """The QR code of ``url`` as text for a terminal, no colour codes: two modules per
    character (Unicode half blocks), light modules and the quiet zone drawn as blocks, as
    a terminal's light text on dark shows a dark-on-light code."""
    import segno

    buf = io.StringIO()
    segno.make(url, error="m").terminal(out=buf, compact=True)
    return buf.getvalue().rstrip("\n")


# ---- the server ---------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def server_command(port: int, address: str) -> list[str]:
    """``make run``'s server on every interface. ``browser.serverAddress``: the address
    Streamlit prints (otherwise a headless server on 0.0.0.0 asks a web service for this
    computer's public address: a request to the internet, from a classroom)."""
    return [sys.executable, "-m", "ui.frame.serve", "--server.headless", "true",
            "--server.port", str(port), "--server.address", "0.0.0.0",
            "--browser.serverAddress", address, "--browser.gatherUsageStats", "false"]


def _end_with_parent() -> None:  # (runs in the child, before it starts Python's server)
    from ..runner.worker import set_parent_death_signal

    set_parent_death_signal(signal.SIGTERM)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class _Stop(Exception):  # noqa: N818  (SIGTERM or SIGHUP, turned into a way out of the wait)
    pass


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise _Stop()

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End the server (its workers end with it) and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def banner(address: str, note: str | None, port: int, key: str, out: TextIO) -> None:
    link = students_link(address, port)
    say("", file=out)
    say("MTAE Studio is serving your class.", file=out)
    say("", file=out)
    say(f"Students' link:  {link}", file=out)
    say("(students open it on the same network, or scan this code)", file=out)
    say("", file=out)
    say(qr_text(link), file=out)
    say("", file=out)
    say(f"Teacher's link:  {teacher_link(address, port, key)}", file=out)
    say("(keep it to yourself: it lets whoever opens it cancel and delete anyone's runs)",
          file=out)
    if note:
        say("", file=out)
        say(f"Note: {note}", file=out)
    say("", file=out)
    say("Press Ctrl-C to stop the server.", file=out, flush=True)


def serve_class(port: int = DEFAULT_PORT, out: TextIO | None = None,
                env: dict[str, str] | None = None) -> int:
    """Serve the app to a class until interrupted; the exit status."""
    out = out or sys.stdout
    if not 1 <= port <= 65535:
        say(f"error: the port must be a number from 1 to 65535, not {port}.", file=sys.stderr)
        return 2
    if not port_free(port):
        say(f"error: port {port} is already in use (is MTAE Studio already running?). "
              "Stop it, or choose another port with --port.", file=sys.stderr)
        return 1
    key = teacher_key()
    address, note = network_address()
    child_env = {**os.environ, **(env or {}), KEY_ENV: key}
    child_env.pop("MTAE_NO_WORKERS", None)
    say(f"Starting the class server on port {port}…", file=out, flush=True)
    proc = subprocess.Popen(server_command(port, address), cwd=ROOT, env=child_env,
                            preexec_fn=_end_with_parent if sys.platform.startswith("linux")
                            else None)
    try:
        with _stop_on_signals():
            deadline = time.monotonic() + READY_SECONDS
            while not healthy(port):
                if proc.poll() is not None:
                    say(f"error: the server stopped as it started (exit status "
                          f"{proc.returncode}); its messages are above.", file=sys.stderr)
                    return 1
                if time.monotonic() > deadline:
                    say(f"error: the server did not answer within {READY_SECONDS:.0f} s.",
                          file=sys.stderr)
                    return 1
                time.sleep(0.2)
            banner(address, note, port, key, out)
            return 0 if proc.wait() == 0 else 1  # (it stopped by itself)
    except (KeyboardInterrupt, _Stop):
        say("\nStopping the class server…", file=out, flush=True)
        return 0
    finally:
        stop_server(proc)


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.class_:
        say("error: `mtae serve` serves a class: run `mtae serve --class` (for this computer "
              "alone, `make run`).", file=sys.stderr)
        return 2
    env: dict[str, str] = {}
    if args.db:
        db = Path(args.db)
        if db.name != "runs.db":
            say("error: the class server keeps its runs in a file named runs.db: give --db "
                  "a path ending in runs.db, or set MTAE_HOME.", file=sys.stderr)
            return 2
        env["MTAE_HOME"] = str(db.resolve().parent)
    return serve_class(args.port, env=env)


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("serve", help="serve the app to a class on the local network")
    s.add_argument("--class", dest="class_", action="store_true",
                   help="serve a class: students' link, QR code and teacher's link")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"the port to listen on (default {DEFAULT_PORT})")
    s.set_defaults(fn=cmd_serve)


__all__ = ["add_parsers", "network_address", "qr_svg", "qr_text", "serve_class",
           "students_link", "teacher_key", "teacher_link"]
