"""The ``Lesson`` base class, its registry, and the helpers claims read results with.

A lesson is data: a title, a few short steps of text, a prediction question with its
choices, a study spec (its full form) with the overrides that make its quick form, and a
claim checked on the study's results. The claim states what the study showed when it was
run on this engine (see ``bench/lessons_full.py``), not what a paper promises.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..registry import Entry, Registry

if TYPE_CHECKING:
    from ..studies import CellSummary, StudySpec, StudySummary


@dataclass(frozen=True)
class ClaimResult:
    """Whether a lesson's claim held on a study's results, and why, with the numbers."""

    held: bool
    text: str


class Lesson(Entry):
    """Base of every lesson. Subclasses set the class attributes and ``claim``."""

    title: ClassVar[str] = ""
    steps: ClassVar[tuple[str, ...]] = ()  # what to try, what to look at (Markdown)
    question: ClassVar[str] = ""  # asked before the study runs
    choices: ClassVar[tuple[str, ...]] = ()
    answer: ClassVar[int] = 0  # the choice the claim supports when it holds
    spec: ClassVar[dict[str, Any]] = {}  # the full study (StudySpec JSON shape)
    quick: ClassVar[dict[str, Any]] = {}  # merged into ``spec`` for the quick form
    claim_text: ClassVar[str] = ""  # the full form's claim in words, shown before the run
    quick_claim_text: ClassVar[str] = ""  # the quick form's (weaker) claim in words
    measured: ClassVar[str] = ""  # what the full form showed when last measured here

    @classmethod
    def summary(cls) -> str:
        return cls.title

    @classmethod
    def study(cls, quick: bool = False) -> StudySpec:
        """The lesson's study spec, full or quick (validated)."""
        from ..studies import StudySpec

        obj = merge(cls.spec, cls.quick) if quick else copy.deepcopy(cls.spec)
        obj["name"] = f"Lesson: {cls.title}" + (" (quick)" if quick else "")
        return StudySpec.parse(obj)

    @classmethod
    def claim(cls, summary: StudySummary) -> ClaimResult:
        """Check the claim on the full study's results."""
        raise NotImplementedError

    @classmethod
    def quick_claim(cls, summary: StudySummary) -> ClaimResult:
        """Check the claim on the quick form's results (by default the same claim)."""
        return cls.claim(summary)

    @classmethod
    def verdict(cls, summary: StudySummary, quick: bool = False) -> ClaimResult:
        """The claim on ``summary``; a study with missing cells or runs does not hold."""
        missing = [c.label for c in summary.cells if c.n == 0]
        if missing:
            return ClaimResult(False, "no finished runs in " + ", ".join(missing[:3])
                               + (" …" if len(missing) > 3 else "")
                               + ": the claim cannot be checked")
        try:
            return cls.quick_claim(summary) if quick else cls.claim(summary)
        except MissingResult as e:
            return ClaimResult(False, f"the claim cannot be checked: {e}")


lessons: Registry[type[Lesson]] = Registry("lesson")


class MissingResult(LookupError):
    """A number the claim needs is not in the study's results."""


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` merged in (dicts merge, the rest replaces)."""
    out = copy.deepcopy(dict(base))
    for k, v in changes.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ---- reading a study's results -----------------------------------------------------------------


def cell(summary: StudySummary, **settings: Any) -> CellSummary:
    """The one cell whose settings include ``settings`` (dotted paths with ``__`` for
    ``.``: ``cell(s, model__sharing="hard")``)."""
    want = {k.replace("__", "."): v for k, v in settings.items()}
    found = [c for c in summary.cells
             if all(_same(c.settings.get(p), v) for p, v in want.items())]
    if len(found) != 1:
        raise MissingResult(f"{len(found)} cells match {want}")
    return found[0]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b))
    return bool(a == b)


def metric(c: CellSummary, task: str, name: str) -> float:
    """The mean over seeds of a test metric of a cell."""
    value = c.metrics.get(task, {}).get(name, {}).get("mean")
    if value is None:
        raise MissingResult(f"{c.label} has no {task} {name}")
    return float(value)


def values(c: CellSummary, task: str, name: str) -> list[float]:
    """The per-seed values of a test metric of a cell."""
    vals = c.metrics.get(task, {}).get(name, {}).get("values")
    if vals is None:
        # CellSummary keeps describe()'s values; a summary read back from JSON may not
        raise MissingResult(f"{c.label} has no per-seed {task} {name}")
    return [float(v) for v in vals]


def dm(c: CellSummary) -> float:
    """The mean Δm (%) of a cell against its same-seed single-task baselines."""
    value = c.delta_m.get("mean")
    if value is None:
        raise MissingResult(f"{c.label} has no Δm (no finished baseline)")
    return float(value)


def dm_values(c: CellSummary) -> list[float]:
    return [float(v) for v in c.delta_m.get("values") or []]


def pct(v: float) -> str:
    """A Δm in percent, signed: ``+3.1%``."""
    return f"{v:+.1f}%"


def overlap_of(a: CellSummary, b: CellSummary) -> bool:
    """Do two cells' 95% intervals of Δm overlap (within noise)?"""
    from ..studies import overlap

    return overlap(a.delta_m.get("ci95"), b.delta_m.get("ci95"))


def dm_against(summary: StudySummary, c: CellSummary, ref: CellSummary) -> list[float]:
    """Δm (%) of cell ``c`` against another cell ``ref`` of the study, seed by seed, on
    each task's headline metric (for a comparison the study's matched baselines do not
    make: e.g. against single-task networks of the same size as ``c``)."""
    from ..engine.metrics import METRIC_DIRECTION, delta_m

    metric_of = summary.metric_of
    higher = {t: METRIC_DIRECTION.get(metric_of[t], False) for t in summary.tasks}
    per_task = {t: (values(c, t, metric_of[t]), values(ref, t, metric_of[t]))
                for t in summary.tasks}
    n = min(min(len(a), len(b)) for a, b in per_task.values())
    if n == 0 or c.n != ref.n:
        raise MissingResult(f"{c.label} and {ref.label} do not have the same seeds finished")
    return [delta_m({t: a[i] for t, (a, _) in per_task.items()},
                    {t: b[i] for t, (_, b) in per_task.items()}, higher) for i in range(n)]
