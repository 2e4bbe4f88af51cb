"""The Lessons page through Streamlit's AppTest: the list of lessons and its steps (Back,
Next, the URL following), ``?lesson=&step=`` opening a lesson at a step and a bad link
ignored with a notice, Run off until a prediction is chosen, Run queueing the lesson's
study, and the verdict with the numbers once its runs have finished (trained here, in
this process, as a worker would)."""

from __future__ import annotations

from typing import Any

import pytest
from page_helpers import button, texts
from streamlit.testing.v1 import AppTest

from mtae_core.lessons import lessons
from mtae_core.lessons.run import train_here
from mtae_core.store.runs import RunStore
from mtae_core.studies import plan
from ui.lessons.page import n_steps, parse_link, prediction_words

PAGE = "pages/lessons.py"


def open_lessons(at: AppTest, **params: str) -> AppTest:
    """Run the app once (the Train page), then switch to Lessons with ``params`` in the URL."""
    at.run()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def step_caption(at: AppTest) -> str:
    (bar,) = at.get("progress")
    return str(bar.proto.text)


def go_to_last_step(at: AppTest) -> None:
    while not button(at, "Next").disabled:
        button(at, "Next").click().run()
    assert not at.exception


def test_the_page_lists_every_lesson_and_starts_at_step_one(app: Any, home: Any) -> None:
    at = open_lessons(app())
    (pick,) = at.selectbox
    assert pick.options == [f"{i + 1}. {lessons.get(n).title}" for i, n in enumerate(lessons.names())]
    first = lessons.get(lessons.names()[0])
    assert at.subheader[0].value == first.title
    assert step_caption(at) == f"Step 1 of {n_steps(first)}"
    assert any(first.steps[0][:40] in m for m in texts(at.markdown))
    assert button(at, "Back").disabled and not button(at, "Next").disabled
    assert at.query_params["lesson"] == first.name and at.query_params["step"] == "1"

    button(at, "Next").click().run()
    assert step_caption(at) == f"Step 2 of {n_steps(first)}"
    assert at.query_params["step"] == "2"
    assert any(first.steps[1][:40] in m for m in texts(at.markdown))

    # another lesson starts at its first step
    pick = at.selectbox[0]
    pick.select(pick.options[2]).run()
    third = lessons.get(lessons.names()[2])
    assert at.subheader[0].value == third.title
    assert step_caption(at) == f"Step 1 of {n_steps(third)}"
    assert at.query_params["lesson"] == third.name


def test_a_link_opens_a_lesson_at_a_step(app: Any, home: Any) -> None:
    lesson = lessons.get("curriculum")
    at = open_lessons(app(), lesson="curriculum", step="3")
    assert not at.warning
    assert at.subheader[0].value == lesson.title
    assert step_caption(at) == f"Step 3 of {n_steps(lesson)}"
    assert any(lesson.steps[2][:40] in m for m in texts(at.markdown))
    assert at.query_params["lesson"] == "curriculum" and at.query_params["step"] == "3"


@pytest.mark.parametrize("params, words", [
    ({"lesson": "nope"}, "The link's lesson 'nope' is not one of the lessons here"),
    ({"lesson": "curriculum", "step": "99"}, "The link's step '99' is not a step of this lesson (1 to 4)"),
    ({"step": "-1"}, "The link's step '-1' is not a step"),
])
def test_a_bad_link_is_ignored_with_a_notice(app: Any, home: Any, params: dict[str, str],
                                              words: str) -> None:
    at = open_lessons(app(), **params)
    assert any(words in w for w in texts(at.warning)), texts(at.warning)
    want = params.get("lesson") if params.get("lesson") in lessons else lessons.names()[0]
    assert at.subheader[0].value == lessons.get(want).title
    assert step_caption(at).startswith("Step 1 of")
    assert at.query_params["step"] == "1"
    # the notice is said once, not on every rerun
    button(at, "Next").click().run()
    assert not at.warning


def test_parse_link_checks_both_values() -> None:
    assert parse_link({"lesson": "weightings", "step": "2"}).name == "weightings"
    assert parse_link({"lesson": "weightings", "step": " 2 "}).step == 2
    bad = parse_link({"lesson": "x" * 500, "step": "9" * 40})
    assert bad.name is None and bad.step == 1 and len(bad.notices) == 2
    assert all(len(n) < 300 for n in bad.notices)  # a long value is cut in the notice


def test_run_is_off_until_a_prediction_is_chosen(app: Any, home: Any) -> None:
    lesson = lessons.get("curriculum")
    at = open_lessons(app(), lesson="curriculum")
    go_to_last_step(at)
    (predict,) = [r for r in at.radio if r.label == lesson.question]
    assert predict.value is None
    assert button(at, "Run the study").disabled
    assert "Run is off until you choose a prediction." in texts(at.caption)
    # the claim would answer the question: it is not shown before the study has run
    shown = " ".join(texts(at.markdown) + texts(at.caption))
    assert lesson.quick_claim_text[:40] not in shown and lesson.claim_text[:40] not in shown
    predict.set_value(1).run()
    assert not button(at, "Run the study").disabled
    assert RunStore(home / "runs.db").studies() == []  # nothing runs before Run


def _run_quick(at: AppTest, lesson_name: str, prediction: int) -> None:
    lesson = lessons.get(lesson_name)
    go_to_last_step(at)
    (predict,) = [r for r in at.radio if r.label == lesson.question]
    predict.set_value(prediction).run()
    (form,) = [r for r in at.radio if r.label == "Study"]
    assert form.value == "quick"
    button(at, "Run the study").click().run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.slow  # trains the quick study (6 small runs) and draws its results
def test_run_queues_the_study_and_shows_the_verdict_when_it_is_done(app: Any, home: Any) -> None:
    lesson = lessons.get("curriculum")
    at = open_lessons(app(), lesson="curriculum")
    _run_quick(at, "curriculum", lesson.answer)
    store = RunStore(home / "runs.db")
    (study,) = store.studies()
    assert study.spec == lesson.study(quick=True).to_dict()
    assert len(store.runs()) == len(plan(lesson.study(quick=True)))  # queued, no workers here
    assert any("verdict appears here" in i for i in texts(at.info))
    assert not at.success

    train_here(store, study.id)  # as the app's workers would
    at.run()
    assert not at.exception
    assert any(m.startswith("**The claim** (quick form): " + lesson.quick_claim_text[:30])
               for m in texts(at.markdown)), texts(at.markdown)
    (ok,) = texts(at.success)
    assert ok.startswith("**The claim held.**") and "reconstruction MSE per seed" in ok
    assert any(f"You predicted “{lesson.choices[lesson.answer]}”. The study agrees" in m
               for m in texts(at.markdown)), texts(at.markdown)

    # Run again (another prediction) opens the same stored study instead of a new one
    (predict,) = [r for r in at.radio if r.label == lesson.question]
    predict.set_value(1).run()
    button(at, "Run the study").click().run()
    assert [s.id for s in store.studies()] == [study.id]
    assert any("The study supports" in m for m in texts(at.markdown))


def test_prediction_words() -> None:
    from mtae_core.lessons import ClaimResult

    lesson = lessons.get("weightings")
    held, failed = ClaimResult(True, "x 1"), ClaimResult(False, "x 2")
    right = lesson.choices[lesson.answer]
    wrong = next(i for i in range(len(lesson.choices)) if i != lesson.answer)
    assert prediction_words(lesson, held, lesson.answer).endswith("The study agrees: you were right.")
    assert prediction_words(lesson, held, wrong).endswith(f"The study supports “{right}” instead.")
    assert "did not hold on this study" in prediction_words(lesson, failed, lesson.answer)
    assert prediction_words(lesson, held, None).startswith("You made no prediction.")


def test_the_empty_train_page_points_to_the_lessons(app: Any, home: Any) -> None:
    at = app()
    at.run()
    info = " ".join(texts(at.info))
    assert "A first lesson in three runs" in info and "the **Lessons** page has five lessons" in info
