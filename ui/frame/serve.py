"""``make run``'s entry point: Streamlit's own ``streamlit run app.py``, with the app's
imports started in a background thread as the server starts, instead of when the first
browser connects: first the modules of the first page (light: the Train form imports no
torch), then — once a first page is drawn, or after ``PAGE_WAIT_SECONDS`` — the engine
(torch, the registries' models and strategies, scikit-learn, SciPy: about 2 s), which a
page needs only once its form is on screen (the model diagram, the study button). Then
the imported objects are moved out of the garbage collector's sight
(``settle_garbage_collector``).

    python -m ui.frame.serve [streamlit options, e.g. --server.port 8502]
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"  # ui/frame/serve.py -> the repository root
READY = "MTAE Studio: engine imported"  # printed when the warm-up is done
PAGE = ["ui.frame.links", "ui.frame.state", "ui.classroom.roles", "ui.train.form", "ui.train.live"]  # (no torch)
ENGINE = ["mtae_core.engine.training", "ui.train.model_views", "ui.studies.form"]  # torch, sklearn, scipy
# the engine's import waits this long for a first visitor's page to be drawn: two
# threads importing at once share one interpreter lock, and the form would wait longer
PAGE_WAIT_SECONDS = 3.0


def _warm_imports() -> None:
    # Python's import locks make a page run that asks for one of these meanwhile wait
    # for this import instead of starting its own
    t0 = time.perf_counter()
    try:
        for module in PAGE:
            importlib.import_module(module)
        from ui.frame.state import page_drawn

        page_drawn.wait(PAGE_WAIT_SECONDS)
        for module in ENGINE:
            importlib.import_module(module)
        from mtae_core.models import autoencoders, sharing
        from mtae_core.weighting import weightings

        for registry in (autoencoders, sharing, weightings):
            registry.items()  # each entry's working class, imported on first use
        from ui.frame.state import get_runner

        get_runner()  # the training workers warm up before anyone presses Train
    except Exception:  # noqa: BLE001  (the page run imports them again and reports)
        return
    settle_garbage_collector()
    print(f"{READY} in {time.perf_counter() - t0:.1f} s", flush=True)


def settle_garbage_collector() -> None:
    """Move every object alive now (the imported engine: torch, pandas, scikit-learn,
    plotly, Streamlit) out of the garbage collector's sight. Python's full collection
    walks every tracked object; with the engine imported that is about 0.2 s, and a
    server busy with a page ran one several times a second (measured with
    ``gc.callbacks``: dozens of 0.18-0.29 s collections in a 30 s session, a first live
    point now and then 0.5 s late). Objects made later are still collected; the
    imported modules live as long as the server anyway. (``gc.freeze``, from Python
    3.7; the full collections after it took 26-28 ms, a few per session.)"""
    gc.collect()  # what is garbage now is not kept for ever
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    threading.Thread(target=_warm_imports, name="mtae-warm-imports", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
