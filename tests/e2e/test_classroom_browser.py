"""A class link in a real browser: it opens the Train page with parts of the form hidden
and in presenter mode; the student types a name, trains, and the run trains the link's
settings (hidden ones included) under that name. Page switches keep the flags, and the
Class page lists the run under the name and opens it.

Uses the server and browser of ``test_browser.py``; screenshots go to
``$MTAE_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from test_browser import TRAINING_MS, _open_app, _open_page, app_url  # noqa: F401  (fixture)

from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import RunStore
from ui.classroom.roles import parse_owner
from ui.frame.url_state import encode_config

pytestmark = pytest.mark.e2e

# small enough to train in a second or two; every hidden setting is off its default
LINKED = ExperimentConfig().replace(
    name="class demo", training={"epochs": 2, "batch_size": 128},
    model={"hidden": [16], "latent_dim": 4, "head_hidden": 8},
    optimizer={"kind": "sgd", "lr": 0.05})
HIDE = "optimizer,training,name"
LARGE_TEXT = "getComputedStyle(document.documentElement).fontSize === '21px'"  # presenter mode
HIDDEN_IN_URL = re.compile(r"[?&]hide=optimizer(,|%2C)training(,|%2C)name(&|$)")


def test_class_link_hides_controls_and_trains_the_kept_values(app_url: str,  # noqa: F811
                                                              tmp_path: Path) -> None:
    shots = os.environ.get("MTAE_SCREENSHOTS")
    query = urlencode({"cfg": encode_config(LINKED), "hide": HIDE, "present": "1"}, safe=",")
    with _open_app(f"{app_url}/?{query}") as (page, main, expect):
        # the hidden tabs and the run name are not there; the others are
        expect(main.get_by_role("tab", name="Model")).to_be_visible()
        for tab in ("Optimizer", "Training"):
            expect(main.get_by_role("tab", name=tab)).to_have_count(0)
        expect(main.get_by_label("Epochs")).to_have_count(0)
        expect(main.get_by_role("textbox", name="Run name")).to_have_count(0)
        expect(main.get_by_text("Hidden by the class link")).to_be_visible()
        # presenter mode: the page's root text size is the large one
        page.wait_for_function(LARGE_TEXT)
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "class-link.png"))

        name = page.get_by_test_id("stSidebar").get_by_role("textbox", name="Your name")
        name.fill("Ada")
        name.press("Enter")
        expect(page).to_have_url(re.compile(r"[?&]who=Ada(&|$)"))

        main.get_by_role("button", name="Train", exact=True).click()
        expect(main.get_by_text("Finished 2 epochs").first).to_be_visible(timeout=TRAINING_MS)
        expect(page).to_have_url(HIDDEN_IN_URL)

        # the flags travel with the app's own page links, there and back
        _open_page(page, main, expect, "Compare", "Compare runs")
        expect(page).to_have_url(HIDDEN_IN_URL)
        expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
        _open_page(page, main, expect, "Train", "Train")
        expect(main.get_by_role("tab", name="Model")).to_be_visible()
        expect(main.get_by_role("tab", name="Optimizer")).to_have_count(0)
        page.wait_for_function(LARGE_TEXT)

        # the teacher's view lists the run under the student's name and opens it
        _open_page(page, main, expect, "Class", "Class")
        expect(main.get_by_role("heading", name="Ada")).to_be_visible()
        expect(main.get_by_text("1 run(s): 1 done")).to_be_visible()
        main.get_by_role("button", name="Open on Train").click()
        expect(main.get_by_role("heading", name="Train", exact=True)).to_be_visible()
        expect(main.get_by_text("Finished 2 epochs").first).to_be_visible()
        expect(page).to_have_url(re.compile(r"[?&]run=1(&|$)"))

    (run,) = RunStore(tmp_path / "home" / "runs.db").runs()
    assert run.status == "done"
    assert run.config == LINKED  # the hidden settings trained as the link set them
    assert parse_owner(run.owner)[1] == "Ada"
