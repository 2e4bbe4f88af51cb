"""``make run``'s entry point: Streamlit's own ``streamlit run app.py``, with the engine's
imports (torch, the registries, the Train form's schemas: about 2 s) started in a
background thread as the server starts, instead of when the first browser connects.

    python -m ui.serve [streamlit options, e.g. --server.port 8502]
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
READY = "MTAE Studio: engine imported"  # printed when the warm-up is done


def _warm_imports() -> None:
    # the modules the first page run needs; Python's import locks make a page run that
    # asks for one of them meanwhile wait for this import instead of starting its own
    t0 = time.perf_counter()
    try:
        import ui.links  # noqa: F401
        import ui.state  # noqa: F401
        import ui.train_form  # noqa: F401
    except Exception:  # noqa: BLE001  (the page run imports them again and reports)
        return
    print(f"{READY} in {time.perf_counter() - t0:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    threading.Thread(target=_warm_imports, name="mtae-warm-imports", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
