"""The app over a run store that cannot be used (issue 20, item 7): instead of an
exception on every page, one page that names the file and says what to do, whichever
page is asked for; the file is left as it was. A 0-byte store is said so."""

from __future__ import annotations

import pytest
from page_helpers import texts
from store_damage import CASES, RAW, snapshot

from mtae_core import ExperimentConfig
from mtae_core.store.runs import RunStore

PAGES = ["pages/train.py", "pages/compare.py", "pages/studies.py", "pages/data.py"]


@pytest.mark.parametrize("case", list(CASES))
def test_every_page_says_what_is_wrong(app, home, monkeypatch, case):
    make, words = CASES[case]
    where = make(home, monkeypatch)
    before = snapshot(where)
    at = app()
    at.run()
    for page in [None, *PAGES]:
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        # through app.py: only the message (AppTest may run a switched-to page without
        # app.py's frame: then its own title may show above it)
        titles = texts(at.title)
        assert titles[-1] == "The run store cannot be used", page
        assert page is not None or titles == ["The run store cannot be used"]
        (error,) = texts(at.error)
        assert str(where) in error
        for w in words:
            assert w in error, (w, error)
        shown = " ".join(texts(at.markdown) + texts(at.error) + texts(at.caption))
        for raw in RAW:
            assert raw not in shown, raw
        if page is None:
            assert not at.button  # no page drew: nothing to press
    assert snapshot(where) == before


def test_moving_the_file_aside_and_reloading_is_enough(app, home):
    bad = home / "runs.db"
    bad.write_text("not a database\n" * 100)
    at = app()
    at.run()
    assert texts(at.title) == ["The run store cannot be used"]
    bad.rename(home / "runs.db.damaged")
    at.run()
    assert not at.exception and "The run store cannot be used" not in texts(at.title)
    assert (home / "runs.db").exists()


def test_a_zero_byte_store_is_said_once(app, home):
    (home / "runs.db").write_bytes(b"")
    at = app()
    at.run()
    assert not at.exception
    assert any("0 bytes" in t for t in texts(at.info))
    at.run()
    assert not any("0 bytes" in t for t in texts(at.info))


@pytest.mark.parametrize("page", PAGES)
def test_a_store_gone_bad_while_the_app_runs(app, home, page):
    at = app()
    at.run()
    assert not at.exception
    path = home / "runs.db"
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    path.write_bytes(b"\x00not a database any more" * 200)  # replaced by another program
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    # (AppTest runs a switched-to page without app.py's frame, which checks the store
    # before any page: the page's own title may show above the message)
    assert texts(at.title)[-1] == "The run store cannot be used"
    (error,) = texts(at.error)
    assert str(path) in error and "not a database" in error


def test_a_store_moved_aside_while_the_app_runs_starts_afresh(app, home):
    at = app()
    at.run()
    path = home / "runs.db"
    path.rename(home / "runs.db.old")
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The run store cannot be used" not in texts(at.title)
    assert path.is_file()


def test_a_run_that_no_longer_reads_is_counted_apart(app, home):
    store = RunStore(home / "runs.db")
    ids = [store.create_run(ExperimentConfig().replace(name=f"run{i}")) for i in range(3)]
    with store._tx() as c:
        c.execute("UPDATE runs SET config=? WHERE id=?",
                  ('{"model": {"sharing": "gone"}}', ids[1]))
    at = app()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(texts(at.sidebar.caption))
    assert "2 run(s) stored" in captions and "1 more cannot be read" in captions
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
