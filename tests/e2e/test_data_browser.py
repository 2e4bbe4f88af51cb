"""Your own data in a real browser: upload a small CSV on the Data page, see its
relatedness, then pick it on the Train page and train on it to the end.

Uses the server and browser of ``test_browser.py``; screenshots go to
``$MTAE_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_browser import _idle, _open_app, _set_epochs, app_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def _small_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 150
    a, b = rng.normal(size=n), rng.normal(size=n)
    pd.DataFrame({"height": a, "weight": b + a, "group": np.where(a > 0, "tall", "short"),
                  "score": 2 * a - b + rng.normal(size=n) * 0.1}).to_csv(path, index=False)
    return path


def _go(page, main, expect, link: str) -> None:  # type: ignore[no-untyped-def]
    """Open a page from the sidebar and wait for its own title (exact: the Data page's
    "(before training)" heading must not pass for the Train page's)."""
    title = main.get_by_role("heading", name=link, exact=True)
    for _ in range(3):  # a click landing during a redraw can be lost: click again
        page.get_by_test_id("stSidebar").get_by_role("link", name=link, exact=True).click()
        try:
            expect(title).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            continue
    expect(title).to_be_visible()


def test_upload_a_csv_and_train_on_it(app_url: str, tmp_path: Path) -> None:  # noqa: F811
    shots = os.environ.get("MTAE_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)

    def snap(page, name: str) -> None:  # type: ignore[no-untyped-def]
        if shots:
            page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)

    csv = _small_csv(tmp_path / "class scores.csv")
    with _open_app(app_url) as (page, main, expect):
        _go(page, main, expect, "Data")
        # the built-in default first: its relatedness, read in one line
        expect(main.get_by_text("Digit and parity are strongly related").first).to_be_visible()
        main.get_by_text("Add your own table (CSV)").click()
        expect(main.get_by_text("up to 100 MB")).to_be_visible()
        main.locator("input[type=file]").set_input_files(str(csv))
        expect(main.get_by_text("150 rows × 4 columns")).to_be_visible()
        snap(page, "data-1-upload")
        _idle(page)  # the upload's rerun draws the rest of the page first
        main.get_by_role("button", name="Add data set").click()
        expect(main.get_by_text("Stored as 'class_scores'")).to_be_visible()
        expect(main.get_by_text("input values per row")).to_contain_text("150 rows")
        expect(main.locator(".js-plotly-plot", has_text="Gradient agreement")).to_be_visible()
        snap(page, "data-2-look")

        _go(page, main, expect, "Train")
        main.get_by_test_id("stSelectbox").filter(has_text="Data set").click()
        page.get_by_role("option", name="class scores", exact=True).click()
        expect(main.get_by_text("Your table 'class_scores'")).to_be_visible()
        _set_epochs(page, main, expect, 2)
        main.get_by_role("button", name="Train", exact=True).click()
        expect(main.get_by_text("Run #1").first).to_be_visible()
        expect(main.get_by_text("Finished 2 epochs").first).to_be_visible()
        expect(main.locator(".js-plotly-plot", has_text="Loss per task").first).to_contain_text("score")
        snap(page, "data-3-trained")
