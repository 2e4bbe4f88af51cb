"""The Method arena in a real browser: the paths are drawn, and the chart's camera
button saves a PNG named after the chart (plotly draws it in the browser) while the CSV
button beside it serves the paths' numbers.

Uses the server and browser of ``test_browser.py``."""

from __future__ import annotations

import pytest
from test_browser import _open_app, app_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def test_arena_paths_download_as_png_and_csv(app_url):  # noqa: F811
    with _open_app(f"{app_url}/arena", heading="Method arena") as (page, main, expect):
        expect(main.get_by_text("Where each method ended")).to_be_visible()
        chart = main.locator(".js-plotly-plot", has_text="Paths in parameter space")
        expect(chart).to_be_visible()
        chart.hover()  # the modebar shows on hover
        with page.expect_download() as png:
            chart.locator('[data-title="Download plot as a PNG"]').click()
        assert png.value.suggested_filename == "arena-paths.png"
        assert png.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with page.expect_download() as csv:
            main.get_by_role("button", name="Download data (CSV)").first.click()
        assert csv.value.suggested_filename == "arena-paths.csv"
        header = csv.value.path().read_text().splitlines()[0]
        assert header.startswith("method,start_x,start_y,step,x,y,task 1 loss,task 2 loss")
