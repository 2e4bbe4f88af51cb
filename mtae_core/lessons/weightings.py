"""Lesson 3: do clever loss weightings beat tuned fixed weights? (Xin et al. 2022, "Do
current multi-task optimization methods in deep learning even help?")

Measured here (multi_digits, left and right digit, hard sharing, 5 seeds, 20 epochs):
no method's Δm beats the best fixed λ (chosen on validation) by more than the seeds'
spread; a lopsided λ costs about four points. The methods spare the sweep; they do not
beat it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import ClaimResult, Lesson, cell, dm, lessons, overlap_of, pct

if TYPE_CHECKING:
    from ..studies import CellSummary, StudySummary

TASKS = ("left", "right")


def fixed(left: float) -> dict[str, Any]:
    right = round(1.0 - left, 6)
    return {"strategy": "fixed", "options": {"weights": {"left": left, "right": right}}}


LAMBDAS = [0.9, 0.7, 0.5, 0.3, 0.1]
METHODS = ["uncertainty", "gradnorm", "pcgrad", "nash_mtl"]
QUICK_LAMBDAS = [0.9, 0.5, 0.1]
QUICK_METHODS = ["uncertainty", "pcgrad"]
MARGIN = 1.0  # points of Δm: "as good as" the tuned λ


def _c(summary: StudySummary, value: dict[str, Any]) -> CellSummary:
    return cell(summary, weighting=value)


def _val_score(c: CellSummary) -> float:
    """The mean validation accuracy over the two tasks: how the sweep picks its λ (never
    on test figures)."""
    accs = [c.val_metrics.get(t, {}).get("accuracy", {}).get("mean") for t in TASKS]
    return float(sum(a for a in accs if a is not None)) / len(TASKS)


def _tuned(summary: StudySummary, lambdas: list[float]) -> tuple[float, CellSummary]:
    cells = [(lam, _c(summary, fixed(lam))) for lam in lambdas]
    return max(cells, key=lambda lc: _val_score(lc[1]))


@lessons.register("weightings")
class Weightings(Lesson):
    title = "Do clever loss weightings beat tuned fixed weights?"
    steps = (
        "Two tasks share one network: read the **left** and the **right** digit of an "
        "image of two digits side by side (`multi_digits`, built as MultiMNIST). The loss "
        "is λ·left + (1 − λ)·right — or one of the methods that set the weights (or bend "
        "the gradients) for you while training.",
        "The study sweeps fixed λ = 0.9, 0.7, 0.5, 0.3, 0.1 and trains four well-known "
        "methods: uncertainty weighting (Kendall et al. 2018), GradNorm (Chen et al. "
        "2018), PCGrad (Yu et al. 2020) and Nash-MTL (Navon et al. 2022); 5 seeds each.",
        "The sweep's best λ is chosen on the **validation** set, as a careful practitioner "
        "would. Compare each method's Δm with it, and look at the Pareto view (left vs "
        "right accuracy, the fixed weights' front drawn).",
    )
    question = "How do the four methods compare with the best fixed λ?"
    choices = (
        "About the same: none beats the tuned λ by more than the seeds' spread",
        "They beat it clearly: that is what they were designed for",
        "They are clearly worse than the tuned λ",
    )
    answer = 0
    spec = {
        "base": {"data": {"dataset": "multi_digits", "tasks": list(TASKS)},
                 "training": {"epochs": 20}},
        "axes": {"weighting": [fixed(lam) for lam in LAMBDAS]
                 + [{"strategy": m} for m in METHODS]},
        "seeds": 5,
    }
    quick = {
        "base": {"data": {"options": {"n": 2000}}, "training": {"epochs": 6}},
        "axes": {"weighting": [fixed(lam) for lam in QUICK_LAMBDAS]
                 + [{"strategy": m} for m in QUICK_METHODS]},
        "seeds": 2,
    }
    claim_text = (f"No method's Δm is more than {MARGIN:g} point above the fixed λ chosen on "
                  "validation, and every method's 95% interval overlaps the tuned λ's; the "
                  "lopsided λ = 0.9 and 0.1 are each worse than the tuned λ by more than "
                  "their intervals.")
    quick_claim_text = ("No method's Δm is more than 2 points above the fixed λ chosen on "
                        "validation, and λ = 0.9 (nearly ignoring the right digit) is at least "
                        "one point worse than it.")
    measured = ("Δm: fixed λ 0.9 −6.6%, 0.7 −2.6%, 0.5 −2.3%, 0.3 −2.4%, 0.1 −6.4%; "
                "uncertainty −2.0%, GradNorm −2.3%, PCGrad −2.3%, Nash-MTL −2.0% (std about "
                "0.6 each; 5 seeds, 20 epochs).")

    @classmethod
    def claim(cls, summary: StudySummary) -> ClaimResult:
        lam, tuned = _tuned(summary, LAMBDAS)
        methods = {m: _c(summary, {"strategy": m}) for m in METHODS}
        not_above = all(dm(c) - dm(tuned) <= MARGIN for c in methods.values())
        within = all(overlap_of(c, tuned) for c in methods.values())
        lopsided = {x: _c(summary, fixed(x)) for x in (0.9, 0.1)}
        costly = all(not overlap_of(c, tuned) and dm(c) < dm(tuned) for c in lopsided.values())
        text = (f"tuned fixed λ = {lam:g} (best on validation): Δm {pct(dm(tuned))}; "
                + ", ".join(f"{m} {pct(dm(c))}" for m, c in methods.items())
                + "; λ = 0.9 " + pct(dm(lopsided[0.9])) + ", λ = 0.1 " + pct(dm(lopsided[0.1]))
                + f". No method more than {MARGIN:g} point above: "
                f"{'yes' if not_above else 'no'}; intervals overlap the tuned λ's: "
                f"{'yes' if within else 'no'}; lopsided λ worse beyond noise: "
                f"{'yes' if costly else 'no'}.")
        return ClaimResult(bool(not_above and within and costly), text)

    @classmethod
    def quick_claim(cls, summary: StudySummary) -> ClaimResult:
        lam, tuned = _tuned(summary, QUICK_LAMBDAS)
        methods = {m: _c(summary, {"strategy": m}) for m in QUICK_METHODS}
        lop = _c(summary, fixed(0.9))
        not_above = all(dm(c) - dm(tuned) <= 2.0 for c in methods.values())
        costly = dm(lop) <= dm(tuned) - 1.0
        text = (f"tuned fixed λ = {lam:g} (best on validation): Δm {pct(dm(tuned))}; "
                + ", ".join(f"{m} {pct(dm(c))}" for m, c in methods.items())
                + f"; λ = 0.9 {pct(dm(lop))}.")
        return ClaimResult(bool(not_above and costly), text)
