"""The Studies page in a real browser (``streamlit run app.py`` with a real worker, driven
by Playwright with Debian's Chromium): build a 2-cell × 2-seed study of tiny runs in the
form, watch the progress grid fill, and read a "mean ± std" cell of the results.

Reuses the server fixture and browser helper of ``test_browser.py`` (unchanged there).
Screenshots go to ``$MTAE_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_browser import _open_app, app_url  # noqa: F401  (app_url is a fixture)

from mtae_core import ExperimentConfig
from ui.frame.url_state import encode_config

pytestmark = pytest.mark.e2e

# tiny networks: the study's six runs take seconds, not minutes
TINY = ExperimentConfig().replace(training={"epochs": 2, "batch_size": 128},
                                  model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
FINISH_MS = 240_000  # six runs one after another on a busy 2-core machine


def test_build_a_study_watch_the_grid_fill_read_the_results(app_url: str) -> None:  # noqa: F811
    shots = os.environ.get("MTAE_SCREENSHOTS")

    def snap(page, name: str) -> None:  # type: ignore[no-untyped-def]
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"study-{name}.png"))

    # a new study starts from the tab's Train settings, here those of the link (?cfg=)
    url = f"{app_url}/studies?cfg={encode_config(TINY)}"
    with _open_app(url, heading="Studies") as (page, main, expect):
        expect(main.get_by_text("No studies yet")).to_be_visible()
        expect(main.get_by_text("Starts from the Train page's settings")).to_be_visible()

        seeds = main.get_by_role("spinbutton", name="Seeds")
        seeds.fill("2")
        seeds.press("Enter")
        expect(seeds).to_have_value("2")
        main.get_by_test_id("stSelectbox").filter(has_text="Vary (axis 1)").click()
        page.get_by_role("option", name="Sharing", exact=True).click()
        values = main.get_by_test_id("stMultiSelect").filter(has_text="Sharing — values")
        expect(values).to_contain_text("hard")  # the base's own value to start with
        values.click()
        page.get_by_role("option", name="mmoe", exact=True).click()
        page.keyboard.press("Escape")
        # 2 cells × 2 seeds and a single-task baseline per seed
        expect(main.get_by_text(re.compile(r"6 runs: 2 cell\(s\) × 2 seed\(s\)"))).to_be_visible()
        snap(page, "1-form")
        main.get_by_role("button", name="Start study").click()

        expect(page).to_have_url(re.compile(r"[?&]study=1(&|$)"))
        squares = main.locator("table.study-grid a.study-run")
        expect(squares).to_have_count(6)
        # the grid fills as the worker trains: first some squares done, then all
        expect(main.locator("a.study-run[data-status='done']").first).to_be_attached(
            timeout=FINISH_MS)
        snap(page, "2-running")
        expect(main.locator("a.study-run[data-status='done']")).to_have_count(
            6, timeout=FINISH_MS)
        expect(main.get_by_text("6 of 6 runs done")).to_be_visible()

        # results: a mean ± std cell of the first task's table (the grid keeps an
        # accessible copy of its cells)
        table = main.get_by_test_id("stDataFrame").first
        expect(table.locator("td", has_text=re.compile(r"^\d\.\d+ ± \d"))
               .first).to_be_attached(timeout=60_000)
        cell = table.locator("td", has_text=re.compile(r"^\d\.\d+ ± \d")).first.inner_text()
        mean, std = (float(v) for v in cell.split(" ± "))
        assert 0.0 <= mean <= 1.0 and std >= 0.0  # digit accuracy over two seeds
        expect(main.get_by_text("The best cell is chosen on the validation set")).to_be_visible()
        snap(page, "3-done")

        # a square opens its run on the Train page, in a tab of its own (the grid stays)
        href = squares.first.get_attribute("href") or ""
        run_id = re.fullmatch(r"\./\?run=(\d+)", href)
        assert run_id, href
        with page.context.expect_page() as opened:
            squares.first.click()
        tab = opened.value
        expect(tab.get_by_test_id("stMain").get_by_text(f"Run #{run_id.group(1)}").first
               ).to_be_visible()
