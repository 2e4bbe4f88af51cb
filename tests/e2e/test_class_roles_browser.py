"""A class server in a real browser: the teacher's browser (opened with the teacher's
link) and a student's (the students' link), side by side as two browser contexts (each
its own cookies: two computers). The key leaves the teacher's address bar at once and is
in no link a page offers; the teacher pauses the queue; a student's run says where it
stands; a refresh keeps the student who they are (their signed cookie), so they may still
cancel their run; a crafted link to the teacher's run offers no Cancel they may press;
the teacher's audit log lists the student's cancel.

Uses the helpers of ``test_browser.py``; screenshots go to ``$MTAE_SCREENSHOTS`` when it
is set (``class-roles.png``: the teacher's and the student's browser side by side)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlencode

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, TIMEOUT_MS, _free_port, _unavailable

from mtae_core.config import ExperimentConfig
from mtae_core.store.access import owner_of
from mtae_core.store.runs import RunStore
from ui.frame.url_state import encode_config

pytestmark = pytest.mark.e2e

KEY = "class-key-Xq7w2"
SMALL = ExperimentConfig().replace(
    name="class demo", training={"epochs": 2, "batch_size": 128},
    model={"hidden": [16], "latent_dim": 4, "head_hidden": 8})
LINKS_JS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)
    .concat([...document.querySelectorAll('code, pre, textarea, input')]
            .map(e => e.value || e.textContent || ''))"""


@pytest.fixture
def class_url(tmp_path: Path) -> Iterator[str]:
    """``make class``'s server (``mtae serve --class``: a teacher's key set) on a free
    port, with one training worker."""
    port = _free_port()
    env = {**os.environ, "MTAE_HOME": str(tmp_path / "home"), "MTAE_WORKERS": "1",
           "MTAE_TEACHER_KEY": KEY}
    env.pop("MTAE_NO_WORKERS", None)
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtae_core.cli", "serve", "--class", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("the class server did not start:\n"
                            + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()  # it stops its server, whose workers exit when they see it gone
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    printed = (tmp_path / "streamlit.log").read_text()
    assert f"teacher={KEY}" in printed  # make class printed the teacher's link
    assert printed.count(KEY) == 1, printed  # and nothing else wrote the key (no access log)


def _links(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [unquote(x) for x in page.evaluate(LINKS_JS)] + [unquote(page.url)]


def test_teacher_and_student_in_two_browsers(class_url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    shots = os.environ.get("MTAE_SCREENSHOTS")
    store = RunStore(tmp_path / "home" / "runs.db")
    cfg = encode_config(SMALL)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            expect.set_options(timeout=TIMEOUT_MS)
            pages = []
            for _ in range(2):  # two contexts: two computers, each with its own cookies
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                pages.append(page)
            teacher, student = pages
            t_main, s_main = (pg.get_by_test_id("stMain") for pg in pages)

            # the teacher's link: the key leaves the address bar at once
            teacher.goto(f"{class_url}/?{urlencode({'teacher': KEY, 'cfg': cfg})}")
            expect(t_main.get_by_role("heading", name="Train")).to_be_visible()
            expect(teacher.get_by_test_id("stSidebar").get_by_text("Teacher")).to_be_visible()
            expect(teacher).not_to_have_url(re.compile("teacher="))
            assert not [x for x in _links(teacher) if KEY in x]

            # on the Class page: the students' link (no key in it), and pause the queue
            teacher.get_by_test_id("stSidebar").get_by_role("link", name="Class").click()
            expect(t_main.get_by_role("heading", name="Class", exact=True)).to_be_visible()
            expect(t_main.get_by_text("Students' link")).to_be_visible()
            assert not [x for x in _links(teacher) if KEY in x]
            t_main.get_by_role("button", name="Pause the queue").click()
            expect(t_main.get_by_text("paused").first).to_be_visible()

            # a student opens the students' link, types a name and trains: it waits
            student.goto(f"{class_url}/?{urlencode({'cfg': cfg})}")
            expect(s_main.get_by_role("heading", name="Train")).to_be_visible()
            expect(student.get_by_test_id("stSidebar").get_by_text("Student")).to_be_visible()
            name = student.get_by_test_id("stSidebar").get_by_role("textbox", name="Your name")
            name.fill("Ben")
            name.press("Enter")
            expect(student).to_have_url(re.compile(r"[?&]who=Ben(&|$)"))
            s_main.get_by_role("button", name="Train", exact=True).click()
            expect(s_main.get_by_text(re.compile("in the queue")).first).to_be_visible()
            expect(s_main.get_by_text("the teacher has paused the queue").first).to_be_visible()
            (ben_run,) = store.runs()
            ben_id, ben_name = owner_of(ben_run.owner)
            assert ben_name == "Ben" and ben_id

            # the teacher queues a run too (it waits as well)
            teacher.goto(f"{class_url}/?{urlencode({'teacher': KEY, 'cfg': cfg})}")
            expect(t_main.get_by_role("heading", name="Train")).to_be_visible()
            t_main.get_by_role("button", name="Train", exact=True).click()
            expect(t_main.get_by_text(re.compile("in the queue")).first).to_be_visible()
            teacher_run = max(r.id for r in store.runs())

            # a wrong key: a plain notice, a student's rights, and the key leaves the URL
            student.goto(f"{class_url}/?{urlencode({'teacher': 'guess', 'cfg': cfg})}")
            expect(s_main.get_by_text("key is not right").first).to_be_visible()
            expect(student).not_to_have_url(re.compile("teacher="))
            expect(student.get_by_test_id("stSidebar").get_by_text("Student")).to_be_visible()

            # a crafted link to the teacher's run: no Cancel the student may press
            student.goto(f"{class_url}/?{urlencode({'cfg': cfg, 'run': teacher_run})}")
            expect(s_main.get_by_text(f"Run #{teacher_run}").first).to_be_visible()
            expect(s_main.get_by_role("button", name="Cancel")).to_be_disabled()

            # a refresh keeps the student who they are: their own run's Cancel works
            student.goto(f"{class_url}/?{urlencode({'cfg': cfg, 'run': ben_run.id, 'who': 'Ben'})}")
            student.reload()
            expect(s_main.get_by_text(f"Run #{ben_run.id}").first).to_be_visible()
            cancel = s_main.get_by_role("button", name="Cancel")
            expect(cancel).to_be_enabled()
            cancel.click()
            expect(s_main.get_by_text("This run was cancelled").first).to_be_visible()
            assert store.get_run(ben_run.id).status == "cancelled"  # type: ignore[union-attr]
            assert store.get_run(teacher_run).status == "queued"  # type: ignore[union-attr]
            assert not [x for x in _links(student) if KEY in x]

            # a second tab of the same browser (its own Streamlit session, the same
            # cookie) is the same student: the run it queues is Ben's
            second = student.context.new_page()
            second.set_default_timeout(TIMEOUT_MS)
            second.goto(f"{class_url}/?{urlencode({'cfg': cfg, 'who': 'Ben'})}")
            second_main = second.get_by_test_id("stMain")
            second_main.get_by_role("button", name="Train", exact=True).click()
            expect(second_main.get_by_text(re.compile("in the queue")).first).to_be_visible()
            newest = max(store.runs(), key=lambda r: r.id)
            assert owner_of(newest.owner)[0] == ben_id
            second.close()

            # the teacher's audit log lists it, and the key is in no link there either
            teacher.get_by_test_id("stSidebar").get_by_role("link", name="Class").click()
            expect(t_main.get_by_role("heading", name="Class", exact=True)).to_be_visible()
            audit = t_main.get_by_test_id("stExpander").filter(has_text="Audit log")
            expect(audit).to_contain_text("Audit log (2)")  # pause, cancel
            assert not [x for x in _links(teacher) if KEY in x]
            if shots:
                _side_by_side(teacher, student, Path(shots) / "class-roles.png")
        finally:
            browser.close()
    log = store.audit_log()
    assert list(log["action"]) == ["cancel", "class settings"]
    assert list(log["role"]) == ["student", "teacher"]
    assert list(log["who"]) == ["Ben", "the teacher"]


def _side_by_side(left, right, path: Path) -> None:  # type: ignore[no-untyped-def]
    """One picture: the teacher's browser on the left, the student's on the right."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    a, b = path.with_suffix(".teacher.png"), path.with_suffix(".student.png")
    for page in (left, right):  # (Streamlit scrolls its main area: a tall window shows it all)
        page.set_viewport_size({"width": 1280, "height": 2100})
        page.wait_for_timeout(500)
    left.screenshot(path=str(a))
    right.screenshot(path=str(b))
    with Image.open(a) as ia, Image.open(b) as ib:
        out = Image.new("RGB", (ia.width + ib.width + 16, max(ia.height, ib.height)), "gray")
        out.paste(ia, (0, 0))
        out.paste(ib, (ia.width + 16, 0))
        out.save(path)
