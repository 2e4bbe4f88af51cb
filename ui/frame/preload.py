"""Load the browser's chart code before the first chart needs it.

Streamlit loads plotly's script (one 4.7 MB module) the first time a page draws a plotly
chart. The Train form draws none until its Model tab is opened, so without this the first
Train press of a visit paid for it: its first point took 1.6-2.0 s instead of 0.3-0.4 s
(``bench/bench_browser.py``). ``plotly_when_idle`` asks the browser to import that module
once the page is idle, after the form is drawn (a reload does not wait for it), so the
live chart later finds it ready. The module is Streamlit's own, imported from the address
its main script came from, so Streamlit's later import finds the same, evaluated module.
Where Streamlit's files are not as expected, nothing is drawn and charts load as before.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

_SCRIPT = """<script>
(() => {
  if (window.mtaePlotlyPreload) return;  // once per page load, whatever the reruns
  window.mtaePlotlyPreload = true;
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!main) return;
  const load = () => import(new URL("CHUNK", main.src).href).catch(() => {});
  if ("requestIdleCallback" in window) requestIdleCallback(load, {timeout: 3000});
  else setTimeout(load, 500);
})();
</script>"""


@functools.cache
def plotly_chunk() -> str | None:
    """The file name of Streamlit's plotly chart module, or None if there is not one."""
    js = Path(st.__file__).parent / "static" / "static" / "js"
    found = sorted(p.name for p in js.glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


def plotly_when_idle() -> None:
    """Have the browser import the plotly chart module when the page is idle (see above)."""
    chunk = plotly_chunk()
    if chunk is not None:
        st.html(_SCRIPT.replace("CHUNK", chunk), unsafe_allow_javascript=True, width="content")
