"""The Lessons page's widgets: the list of lessons, a lesson's steps one at a time, the
prediction asked before the study runs (Run stays off until one is chosen), the study's
progress (the Studies page's grid) and, once it has finished, whether the lesson's claim
held, with the numbers, next to what the student predicted.

``?lesson=NAME&step=N`` opens a lesson at a step. The link is read once, on the tab's
first visit to the page, and checked: a lesson that does not exist or a step out of range
is ignored with a plain notice. The page writes the lesson and step it shows back to the
URL, so a copied link opens the same place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from mtae_core import studies
from mtae_core.errors import whole_number
from mtae_core.lessons import ClaimResult, Lesson, lessons
from mtae_core.store.runs import ACTIVE, RunStore
from ui.studies.form import start_study, study_size
from ui.studies.progress import STUDY_PARAM, progress_section
from ui.studies.results import results_section, spec_download
from ui.widgets.text import md

LESSON_PARAM = "lesson"
STEP_PARAM = "step"
READ_KEY = "lessons.link_read"  # session: the link's lesson/step were read (once per tab)
NAME_KEY = "lessons.name"
STEP_KEY = "lessons.step"
NOTICES_KEY = "lessons.notices"
SHOWN_CHARS = 30  # of a bad value, in a notice
FORMS = ("quick", "full")


# ---- the link (pure) --------------------------------------------------------------------------------


def n_steps(lesson: type[Lesson]) -> int:
    """The lesson's steps of text, then one more: predict and run."""
    return len(lesson.steps) + 1


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…")


@dataclass
class Link:
    name: str | None = None
    step: int = 1
    notices: list[str] = field(default_factory=list)


def parse_link(params: Mapping[str, str]) -> Link:
    """The lesson and step a link asks for, checked; what is wrong becomes a notice and
    is ignored (an unknown lesson: the first lesson; a bad step: step 1)."""
    out = Link()
    raw_name, raw_step = params.get(LESSON_PARAM), params.get(STEP_PARAM)
    if raw_name is not None:
        if raw_name in lessons:
            out.name = raw_name
        else:
            out.notices.append(f"The link's lesson {_shown(raw_name)} is not one of the "
                               f"lessons here ({', '.join(lessons.names())}), so the first "
                               "lesson is shown.")
    if raw_step is not None:
        lesson = lessons.get(out.name or lessons.names()[0])
        n = n_steps(lesson)
        try:
            out.step = whole_number(raw_step, 1, n)  # ("²" is a digit to isdigit, not to int)
        except ValueError:
            out.notices.append(f"The link's step {_shown(raw_step)} is not a step of this "
                               f"lesson (1 to {n}), so it opens at step 1.")
    return out


# ---- the verdict (pure) ------------------------------------------------------------------------------


def prediction_words(lesson: type[Lesson], result: ClaimResult, prediction: int | None) -> str:
    """How the result compares with the student's prediction, in words."""
    expected = lesson.choices[lesson.answer]
    if prediction is None:
        mine = "You made no prediction."
    else:
        mine = f"You predicted “{lesson.choices[prediction]}”."
    if not result.held:
        return (f"{mine} The claim behind “{expected}” did not hold on this study, so it "
                "does not settle the question: read the numbers above, and try the full "
                "form if this was the quick one.")
    if prediction == lesson.answer:
        return f"{mine} The study agrees: you were right."
    return f"{mine} The study supports “{expected}” instead."


# ---- the page's state ---------------------------------------------------------------------------------


def read_link() -> None:
    """On the tab's first visit to the page: adopt the link's lesson and step (checked)."""
    ss = st.session_state
    if ss.get(READ_KEY):
        return
    ss[READ_KEY] = True
    link = parse_link({k: st.query_params[k] for k in (LESSON_PARAM, STEP_PARAM)
                       if k in st.query_params})
    ss[NAME_KEY] = link.name or lessons.names()[0]
    ss[STEP_KEY] = link.step
    ss[NOTICES_KEY] = link.notices


def show_notices() -> None:
    for text in st.session_state.pop(NOTICES_KEY, []):
        st.warning(md(text), icon=":material/link_off:")


def _write_link(name: str, step: int) -> None:
    st.query_params[LESSON_PARAM] = name
    st.query_params[STEP_PARAM] = str(step)


def _on_pick() -> None:
    st.session_state[NAME_KEY] = st.session_state["lessons.pick"]
    st.session_state[STEP_KEY] = 1


def pick_lesson() -> type[Lesson]:
    """The list of lessons (a selectbox with their titles); a new lesson starts at step 1."""
    ss = st.session_state
    names = lessons.names()
    wanted = ss.get(NAME_KEY)
    name = wanted if isinstance(wanted, str) and wanted in names else names[0]
    ss["lessons.pick"] = name
    st.selectbox("Lesson", names, key="lessons.pick", on_change=_on_pick,
                 format_func=lambda n: f"{names.index(n) + 1}. {lessons.get(n).title}")
    return lessons.get(name)


def _go(step: int) -> None:
    st.session_state[STEP_KEY] = step


def steps_view(lesson: type[Lesson]) -> int:
    """The current step's text with Back / Next; returns the step shown (1-based)."""
    total = n_steps(lesson)
    step = min(max(int(st.session_state.get(STEP_KEY, 1)), 1), total)
    st.session_state[STEP_KEY] = step
    _write_link(lesson.name, step)
    st.progress(step / total, text=f"Step {step} of {total}")
    if step < total:
        st.markdown(lesson.steps[step - 1])
    else:
        st.markdown("**Predict, then run.** Choose what you expect before the study runs; "
                    "the result is compared with your prediction.")
    back, nxt, _ = st.columns([1, 1, 4])
    back.button("Back", icon=":material/arrow_back:", disabled=step == 1, key="lessons.back",
                on_click=_go, args=(step - 1,), width="stretch")
    nxt.button("Next", icon=":material/arrow_forward:", disabled=step == total,
               key="lessons.next", on_click=_go, args=(step + 1,), width="stretch")
    return step


# ---- predicting and running ---------------------------------------------------------------------------


def find_study(store: RunStore, spec: studies.StudySpec) -> int | None:
    """The newest stored study of exactly this spec that was not cancelled."""
    want = spec.to_dict()
    for s in store.studies():  # newest first
        if s.spec == want and not s.cancelled:
            return s.id
    return None


def predict_and_run(store: RunStore, lesson: type[Lesson]) -> None:
    """The prediction (a radio, nothing chosen at first), the study's size, and Run —
    off until a prediction is chosen. Run opens the stored study of the same spec, or
    starts it."""
    key = f"lessons.run.{lesson.name}"
    choice = st.radio(lesson.question, list(range(len(lesson.choices))), index=None,
                      format_func=lambda i: lesson.choices[i], key=f"lessons.predict.{lesson.name}")
    form = st.radio("Study", FORMS, horizontal=True, key=f"lessons.form.{lesson.name}",
                    format_func=lambda f: {"quick": "quick (a small budget)",
                                           "full": "full (as measured for the lesson)"}[f])
    quick = form == "quick"
    spec = lesson.study(quick)
    # (the claim itself is shown only with the result: it would answer the question)
    text, _ = study_size(spec, store)
    st.caption(text.replace("**", ""))
    pressed = st.button("Run the study", type="primary", icon=":material/play_arrow:",
                        disabled=choice is None, key=f"lessons.start.{lesson.name}",
                        help="choose a prediction first" if choice is None else None)
    if choice is None:
        st.caption("Run is off until you choose a prediction.")
    spec_download(spec, key=f"lessons.spec.{lesson.name}.{form}")
    if pressed and choice is not None:
        study_id = find_study(store, spec)
        if study_id is None:
            study_id = start_study(store, spec)
        st.session_state[key] = {"study": study_id, "quick": quick, "prediction": choice}
    ran = st.session_state.get(key)
    if ran is not None:
        result_view(store, lesson, ran)


def result_view(store: RunStore, lesson: type[Lesson], ran: Mapping[str, Any]) -> None:
    """The study's progress grid while it runs; then the claim's verdict with the numbers,
    compared with the prediction, and the study's tables."""
    study_id = int(ran["study"])
    study = store.get_study(study_id)
    if study is None:
        st.warning(f"The study #{study_id} of this lesson is no longer stored; run it again.")
        return
    st.page_link("pages/studies.py", label=f"Open study #{study_id} on the Studies page",
                 icon=":material/science:", query_params={STUDY_PARAM: str(study_id)})
    spec = studies.StudySpec.parse(study.spec, check_size=False)
    progress_section(store, study_id, spec)
    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    if any(r.status in ACTIVE for r in store.runs_by_id(ids).values()):
        st.info("The verdict appears here when the study's runs have finished.",
                icon=":material/hourglass_top:")
        return
    summary = studies.summarize(store, study_id)
    quick = bool(ran["quick"])
    result = lesson.verdict(summary, quick=quick)
    st.markdown("**The claim** (" + ("quick form" if quick else "full form") + "): "
                + md(lesson.quick_claim_text if quick else lesson.claim_text))
    head = "The claim held." if result.held else "The claim did not hold."
    body = f"**{head}** {md(result.text)}"
    if result.held:
        st.success(body, icon=":material/check_circle:")
    else:
        st.warning(body, icon=":material/help:")
    st.markdown(md(prediction_words(lesson, result, ran.get("prediction"))))
    if lesson.measured:
        st.caption("Measured on this app's engine when the lesson was written (full form): "
                   + md(lesson.measured))
    with st.expander("The study's tables and figures", icon=":material/table:"):
        results_section(store, summary, studies.axis_fields(spec.base))
