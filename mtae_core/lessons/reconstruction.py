"""Lesson 2: what the autoencoder's reconstruction task does to the classifiers.

Measured here (digits, hard sharing, 5 seeds, 20 epochs): the classifiers are as
accurate with the reconstruction task (λ = 0.1 or 1) as without it (λ = 0), and the
image is only rebuilt when the task is trained; the larger λ, the better the rebuild.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ClaimResult, Lesson, cell, lessons, metric, values

if TYPE_CHECKING:
    from ..studies import CellSummary, StudySummary

WEIGHTS = [0.0, 0.1, 1.0, 10.0]
AXIS = "weighting.options.weights"
NOISE = 0.01  # a change of accuracy below one point is within the seeds' spread here


def _c(summary: StudySummary, lam: float) -> CellSummary:
    return cell(summary, **{AXIS: {"reconstruction": lam}})


@lessons.register("reconstruction")
class Reconstruction(Lesson):
    title = "What does the reconstruction task do to the classifiers?"
    steps = (
        "On `digits` one shared encoder feeds three tasks: read the digit, tell odd from "
        "even (parity), and **redraw the image** from the code (reconstruction) — the "
        "autoencoder part of this app.",
        "The study trains hard sharing with fixed weights λ on the reconstruction loss: "
        "λ = 0 (the task switched off: the decoder learns nothing), 0.1, 1 and 10; the two "
        "classifiers keep λ = 1. Five seeds each.",
        "Look at the digit and parity accuracy per λ, and at the reconstruction error "
        "(mean squared error, lower is better).",
    )
    question = "What does training the reconstruction task (λ from 0 to 1) do to digit accuracy?"
    choices = (
        "Nothing measurable: the classifiers are as accurate with it as without it",
        "It helps clearly: the code learns more about the images",
        "It hurts clearly: the classifiers have to share the code",
    )
    answer = 0
    spec = {
        "base": {"data": {"dataset": "digits", "tasks": ["digit", "parity", "reconstruction"]},
                 "training": {"epochs": 20}},
        "axes": {AXIS: [{"reconstruction": w} for w in WEIGHTS]},
        "seeds": 5,
    }
    quick = {
        "base": {"training": {"epochs": 8}},
        "axes": {AXIS: [{"reconstruction": 0.0}, {"reconstruction": 1.0}]},
        "seeds": 2,
    }
    claim_text = ("Digit and parity accuracy at λ = 0.1 and 1 stay within one point of λ = 0 "
                  "(the mean over seeds), while the reconstruction error falls as λ grows "
                  "(0 → 0.1 → 1 → 10) and is lower at λ = 1 than at λ = 0 in every seed.")
    quick_claim_text = ("Digit accuracy at λ = 1 stays within two points of λ = 0, and the "
                        "reconstruction error at λ = 1 is at least 30% lower than at λ = 0 in "
                        "every seed.")
    measured = ("digit accuracy 97.6% (λ = 0), 97.6% (0.1), 97.6% (1), 96.8% (10); parity "
                "99.0%, 99.0%, 98.8%, 98.6%; reconstruction MSE 1.70, 0.68, 0.54, 0.43 "
                "(5 seeds, 20 epochs).")

    @classmethod
    def claim(cls, summary: StudySummary) -> ClaimResult:
        cells = {w: _c(summary, w) for w in WEIGHTS}
        acc = {t: {w: metric(c, t, "accuracy") for w, c in cells.items()}
               for t in ("digit", "parity")}
        rec = {w: metric(c, "reconstruction", "mse") for w, c in cells.items()}
        same = all(abs(acc[t][w] - acc[t][0.0]) <= NOISE
                   for t in acc for w in (0.1, 1.0))
        falls = all(rec[a] > rec[b] for a, b in zip(WEIGHTS, WEIGHTS[1:], strict=False))
        every = all(r1 < r0 for r0, r1 in zip(values(cells[0.0], "reconstruction", "mse"),
                                               values(cells[1.0], "reconstruction", "mse"),
                                               strict=True))
        text = ("digit accuracy " + _row(acc["digit"]) + "; parity " + _row(acc["parity"])
                + "; reconstruction MSE " + ", ".join(f"{rec[w]:.3f} (λ = {w:g})" for w in WEIGHTS)
                + f". Accuracy within one point of λ = 0 at λ = 0.1 and 1: "
                f"{'yes' if same else 'no'}; reconstruction error falls with λ: "
                f"{'yes' if falls and every else 'no'}.")
        return ClaimResult(bool(same and falls and every), text)

    @classmethod
    def quick_claim(cls, summary: StudySummary) -> ClaimResult:
        c0, c1 = _c(summary, 0.0), _c(summary, 1.0)
        d0, d1 = metric(c0, "digit", "accuracy"), metric(c1, "digit", "accuracy")
        r0 = values(c0, "reconstruction", "mse")
        r1 = values(c1, "reconstruction", "mse")
        drop = [1 - b / a for a, b in zip(r0, r1, strict=True)]
        held = abs(d1 - d0) <= 2 * NOISE and bool(drop) and min(drop) >= 0.3
        text = (f"digit accuracy {d0:.1%} at λ = 0, {d1:.1%} at λ = 1; reconstruction MSE "
                f"{sum(r0) / len(r0):.3f} at λ = 0, {sum(r1) / len(r1):.3f} at λ = 1 "
                f"({min(drop):.0%} to {max(drop):.0%} lower per seed).")
        return ClaimResult(held, text)


def _row(acc: dict[float, float]) -> str:
    return ", ".join(f"{v:.1%} (λ = {w:g})" for w, v in acc.items())
