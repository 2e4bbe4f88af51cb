"""Lessons: each a study with a claim checked on its results. Read the steps, predict,
run the study, and see whether the claim held next to your prediction.
``?lesson=NAME&step=N`` opens a lesson at a step."""

import streamlit as st

from ui.frame.state import get_store, page_frame
from ui.lessons.page import (
    n_steps,
    pick_lesson,
    predict_and_run,
    read_link,
    show_notices,
    steps_view,
)

page_frame("Lessons")
read_link()
show_notices()
st.caption("Each lesson is a study with a claim that is checked on its results: what the "
           "study showed on this app's engine, including where the papers' claims did not.")
lesson = pick_lesson()
st.subheader(lesson.title)
if steps_view(lesson) == n_steps(lesson):
    predict_and_run(get_store(), lesson)
