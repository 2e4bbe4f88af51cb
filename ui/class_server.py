"""``make class``'s entry point: a class server. It is ``make run``'s server
(``ui.serve``) listening on the local network, with a teacher's key in
``MTAE_TEACHER_KEY`` (the one set in the environment, else a new random one), and it
prints the teacher's link (with the key: keep it to yourself) and the students' link.

    python -m ui.class_server [streamlit options, e.g. --server.port 8502]
"""

from __future__ import annotations

import os
import secrets
import socket
import sys

from mtae_core.store.access import KEY_ENV

PORT = 8501


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def lan_address() -> str:
    """This computer's address on the local network (no packet is sent), else its name."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # a UDP "connect" only picks the interface
            return str(s.getsockname()[0])
    except OSError:
        return socket.gethostname()


def links(key: str, host: str, port: str) -> tuple[str, str]:
    """(the teacher's link, the students' link)."""
    base = f"http://{host}:{port}/"
    return f"{base}?teacher={key}", base


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    key = os.environ.get(KEY_ENV) or secrets.token_urlsafe(12)
    os.environ[KEY_ENV] = key
    if not any(a.startswith("--server.address") for a in args):
        args += ["--server.address", "0.0.0.0"]  # the class's computers may connect
    port = _option(args, "--server.port", str(PORT))
    teacher, students = links(key, lan_address(), port)
    print("MTAE Studio class server\n"
          f"  Teacher's link (keep it to yourself): {teacher}\n"
          f"  Students' link: {students}\n"
          "  The Class page shows the students' link with its QR code.", flush=True)
    from .serve import main as serve

    serve(args)


if __name__ == "__main__":
    main()
