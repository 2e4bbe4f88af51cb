"""Lessons: studies with a claim checked on their results (registry ``lessons``).

One file per lesson. Each claim says what its study showed on this engine when it was
run in full (``bench/lessons_full.py``); where the literature's claim did not show here,
the lesson says so.
"""

from .base import ClaimResult, Lesson, MissingResult, lessons

# isort: off
from . import (  # noqa: F401  (register the lessons, in the order they are taught)
    related_tasks,
    reconstruction,
    weightings,
    equal_size,
    curriculum,
)
# isort: on

__all__ = ["ClaimResult", "Lesson", "MissingResult", "lessons"]
