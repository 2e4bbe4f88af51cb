"""What the commands print goes through ``say``: names and values come from users (a
run's or a study's name, a CSV file's column names and labels), and a control character
in one (an ANSI escape, a carriage return) would clear the terminal or print fake text.
``say`` writes each such character as its escape (``\\u001b``); the command's own line
breaks stay."""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import printable


def say(text: object = "", *, err: bool = False, file: TextIO | None = None,
        flush: bool = False) -> None:
    """Print ``text`` (to ``file``, else standard error if ``err``, else standard output),
    its control characters escaped."""
    lines = str(text).split("\n")
    out = file if file is not None else sys.stderr if err else sys.stdout
    print("\n".join(map(printable, lines)), file=out, flush=flush)


__all__ = ["say"]
