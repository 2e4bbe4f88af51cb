"""Every page through Streamlit's AppTest: on an empty store, on a store of real finished
runs (see conftest.py), the one frame call each page makes, and user text never drawn as
Markdown on any page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from page_helpers import finished, open_page, texts

from mtae_core.config import ExperimentConfig
from mtae_core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/train.py", "pages/compare.py", "pages/latent.py"]


# ---- every page, empty store and full store ------------------------------------------------


@pytest.mark.parametrize(("page", "guidance"), [
    ("pages/train.py", "No runs yet"),
    ("pages/compare.py", "No runs yet"),
    ("pages/latent.py", "No finished runs yet"),
])
def test_page_on_empty_store_shows_guidance(app, page, guidance):
    at = open_page(app(), page)
    assert any(guidance in t for t in texts(at.info)), texts(at.info)
    assert not at.error
    assert not at.get("progress")  # no run view
    assert not at.dataframe
    if page != "pages/train.py":  # the other pages stop there and point to Train
        assert not at.get("plotly_chart")
        assert [(p.label, p.proto.page) for p in at.get("page_link")] == [("Go to Train", "train")]


@pytest.mark.parametrize("page", PAGES)
def test_page_with_runs_renders(app, filled, page):
    at = open_page(app(), page)
    assert not any("No runs yet" in t or "No finished runs" in t for t in texts(at.info))
    if page == "pages/train.py":
        # (AppTest keeps the sidebar of the first page only, so it is checked here)
        assert "11 run(s) stored, 1 training now" in texts(at.sidebar.caption)
        # a new tab shows none of the stored runs, not "the latest run of anyone"
        assert any("No run opened in this tab yet" in t for t in texts(at.info))
        assert not at.get("progress")
    elif page == "pages/compare.py":
        assert len(at.dataframe) >= 2  # the runs table and the comparison table
    else:
        assert len(at.get("plotly_chart")) == 1


def test_user_text_is_never_markdown(app, home):
    """A run name that is a Markdown image must reach no page as one (the browser would
    fetch it): headers, captions, alerts, labels and the tab's list show it as text."""
    store = RunStore(home / "runs.db")
    evil = "![x](http://example.invalid/x.png) **bold** :red[red] $x$"
    cfg = ExperimentConfig().replace(name=evil)
    run_id = finished(store, cfg)
    finished(store, cfg.replace(name="other", seed=1))
    at = app()
    at.query_params["run"] = str(run_id)
    at = open_page(at, "pages/train.py")
    compare = open_page(app(), "pages/compare.py")
    for page in (at, compare):
        rendered = [e.value for kind in ("markdown", "caption", "warning", "info", "error",
                                         "title", "subheader") for e in page.get(kind)]
        rendered += [w.label for w in page.get("selectbox")]
        shown = [re.sub(r"\\(.)", r"\1", str(r)).replace("\u2060", "") for r in rendered]
        assert any(evil in t for t in shown), shown  # it is shown as it was typed…
        for r in rendered:  # …but never as Markdown
            assert "![x](" not in str(r) and "**bold**" not in str(r) and ":red[" not in str(r)


# ---- the frame ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_every_page_starts_with_one_frame_call(page):
    """One call at the top of each page (``ui.frame.state.page_frame``) draws the app's frame,
    carries the tab's state in the URL, the title and the link notices: no page repeats
    its parts."""
    tree = ast.parse((ROOT / "pages" / page).read_text())
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = [c.attr if isinstance(c, ast.Attribute) else getattr(c, "id", "") for c in calls]
    assert names.count("page_frame") == 1, page
    assert not {"ensure_app_frame", "carry", "title"} & set(names), page
    # the first thing a page does (before it draws anything)
    first = next(s.value for s in tree.body
                 if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call))
    assert getattr(first.func, "id", "") == "page_frame", page
