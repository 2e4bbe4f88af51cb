"""Lesson 5: a curriculum (tasks added step by step) vs every task from the start.

Measured here (digits, 5 seeds, 20 epochs, a task entering every 5 epochs): at the same
budget a curriculum only moves training time between the tasks. The task that enters
last ends worse than when every task trains from the start, the one that enters first
better; no order beats all-at-once on every task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .base import ClaimResult, Lesson, cell, lessons, metric, values

if TYPE_CHECKING:
    from ..studies import CellSummary, StudySummary

EQUAL = {"strategy": "equal"}


def _curriculum(order: list[str], spacing: int) -> dict[str, object]:
    return {"strategy": "curriculum",
            "options": {"order": order, "spacing": spacing, "ramp_epochs": 2}}


EASY_FIRST = ["parity", "digit", "reconstruction"]  # the image comes last
IMAGE_FIRST = ["reconstruction", "parity", "digit"]
TASKS = ("digit", "parity", "reconstruction")
HIGHER = {"digit": True, "parity": True, "reconstruction": False}
METRIC = {"digit": "accuracy", "parity": "accuracy", "reconstruction": "mse"}


def _c(summary: StudySummary, value: Mapping[str, object]) -> CellSummary:
    return cell(summary, weighting=value)


def _better_everywhere(a: CellSummary, b: CellSummary) -> bool:
    """Is ``a`` better than ``b`` on every task (means)?"""
    out = True
    for t in TASKS:
        va, vb = metric(a, t, METRIC[t]), metric(b, t, METRIC[t])
        out = out and (va > vb if HIGHER[t] else va < vb)
    return out


def _worse_every_seed(a: CellSummary, b: CellSummary, task: str) -> bool:
    va, vb = values(a, task, METRIC[task]), values(b, task, METRIC[task])
    worse = [(x < y if HIGHER[task] else x > y) for x, y in zip(va, vb, strict=True)]
    return bool(worse) and all(worse)


def _line(name: str, c: CellSummary) -> str:
    return (f"{name}: digit {metric(c, 'digit', 'accuracy'):.1%}, parity "
            f"{metric(c, 'parity', 'accuracy'):.1%}, reconstruction MSE "
            f"{metric(c, 'reconstruction', 'mse'):.3f}")


@lessons.register("curriculum")
class Curriculum(Lesson):
    title = "Adding tasks step by step vs all at once"
    steps = (
        "A curriculum (Bengio et al. 2009) trains the easy things first and adds the hard "
        "ones later; applied to tasks, each task enters at its own epoch and its weight "
        "ramps up over two epochs (the *curriculum* weighting).",
        "The study trains hard sharing on `digits` for 20 epochs, 5 seeds: every task from "
        "the start (equal weights), a curriculum parity → digit → reconstruction (one new "
        "task every 5 epochs: the image comes last) and one reconstruction → parity → digit.",
        "Look at each task's result: which tasks gain from the curriculum, which lose?",
    )
    question = ("At the same number of epochs, what does the parity → digit → reconstruction "
                "curriculum do?")
    choices = (
        "The tasks that enter later end worse than with every task from the start",
        "Every task ends better: the easy tasks prepare the code for the hard ones",
        "Nothing: the results are the same as all at once",
    )
    answer = 0
    spec = {
        "base": {"data": {"dataset": "digits"}, "training": {"epochs": 20}},
        "axes": {"weighting": [EQUAL, _curriculum(EASY_FIRST, 5), _curriculum(IMAGE_FIRST, 5)]},
        "seeds": 5,
    }
    quick = {
        "base": {"training": {"epochs": 8}},
        "axes": {"weighting": [EQUAL, _curriculum(EASY_FIRST, 3)]},
        "seeds": 2,
    }
    claim_text = ("With parity → digit → reconstruction, digit accuracy is at least one point "
                  "lower and the reconstruction error higher than with every task from the "
                  "start, in every seed; with the image first, the reconstruction error is "
                  "lower than all at once; neither curriculum is better on every task.")
    quick_claim_text = ("With parity → digit → reconstruction (a task every 3 of 8 epochs), the "
                        "reconstruction error is higher than with every task from the start, "
                        "in every seed.")
    measured = ("all at once: digit 97.7%, parity 98.7%, reconstruction MSE 0.533; parity → "
                "digit → reconstruction: 95.4%, 98.1%, 0.678; reconstruction → parity → "
                "digit: 97.0%, 98.7%, 0.478 (5 seeds, 20 epochs).")

    @classmethod
    def claim(cls, summary: StudySummary) -> ClaimResult:
        eq = _c(summary, EQUAL)
        easy = _c(summary, _curriculum(EASY_FIRST, 5))
        image = _c(summary, _curriculum(IMAGE_FIRST, 5))
        late_pays = (metric(easy, "digit", "accuracy") <= metric(eq, "digit", "accuracy") - 0.01
                     and _worse_every_seed(easy, eq, "digit")
                     and _worse_every_seed(easy, eq, "reconstruction"))
        early_gains = metric(image, "reconstruction", "mse") < metric(eq, "reconstruction", "mse")
        no_free_lunch = not (_better_everywhere(easy, eq) or _better_everywhere(image, eq))
        text = ("; ".join(_line(n, c) for n, c in (("all at once", eq),
                                                   ("parity → digit → reconstruction", easy),
                                                   ("reconstruction → parity → digit", image)))
                + f". Late tasks pay in every seed: {'yes' if late_pays else 'no'}; the image "
                f"first rebuilds it better: {'yes' if early_gains else 'no'}; no curriculum "
                f"better on every task: {'yes' if no_free_lunch else 'no'}.")
        return ClaimResult(bool(late_pays and early_gains and no_free_lunch), text)

    @classmethod
    def quick_claim(cls, summary: StudySummary) -> ClaimResult:
        eq, easy = _c(summary, EQUAL), _c(summary, _curriculum(EASY_FIRST, 3))
        held = _worse_every_seed(easy, eq, "reconstruction")
        r_eq = values(eq, "reconstruction", "mse")
        r_easy = values(easy, "reconstruction", "mse")
        text = ("reconstruction MSE per seed: all at once "
                + ", ".join(f"{v:.3f}" for v in r_eq) + "; parity → digit → reconstruction "
                + ", ".join(f"{v:.3f}" for v in r_easy) + ". " + _line("all at once", eq)
                + "; " + _line("curriculum", easy) + ".")
        return ClaimResult(held, text)
