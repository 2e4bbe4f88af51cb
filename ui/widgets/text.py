"""User text (run names, values echoed in messages) shown as text, never as Markdown or
HTML: a run named ``![x](http://example.invalid/x.png)`` must not make every browser
that opens a page fetch that address. Streamlit renders Markdown in headers, captions,
alerts and widget labels, and plotly renders a few HTML tags in legends and titles."""

from __future__ import annotations

import html
import re

# every character Markdown (CommonMark, GitHub's extensions, Streamlit's :colour[...]
# directives and $math$) gives a meaning; a backslash makes each one literal
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=^\"'&])")


_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)")
WORD_JOINER = "\u2060"  # invisible; splits "http://" and "www." so no link is made of them


def md(text: object) -> str:
    """``text`` escaped for any Streamlit element that renders Markdown, on one line.
    GitHub-style Markdown also turns bare addresses into links, escaped or not: an
    invisible word joiner keeps them text."""
    flat = " ".join(str(text).split())  # a newline could start a block (a heading, a list)
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, flat))


def plotly(text: object) -> str:
    """``text`` for a plotly legend, title or hover text (which render some HTML tags)."""
    return html.escape(" ".join(str(text).split()), quote=False)
