"""What the commands print goes through ``say``: names and values come from users (a
run's or a study's name, a CSV file's column names and labels), and a control character
in one (an ANSI escape, a carriage return) would clear the terminal or print fake text.
``say`` writes each such character as its escape (``\\u001b``); the command's own line
breaks stay."""

from __future__ import annotations

import sys

from ..errors import printable


def say(text: object = "", *, err: bool = False) -> None:
    """Print ``text`` (to standard error if ``err``), its control characters escaped."""
    lines = str(text).split("\n")
    print("\n".join(map(printable, lines)), file=sys.stderr if err else sys.stdout)


__all__ = ["say"]
