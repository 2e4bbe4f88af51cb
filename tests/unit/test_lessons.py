"""Lessons: the registry's contract (every lesson's spec is a valid study, its texts and
choices are complete, every claim runs on a made-up result and says held or not with the
numbers; a result with no effect in it never holds a claim), each lesson's quick form
trained for real with its claim held, and ``mtae lessons`` / ``mtae lesson check``."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np
import pytest

from mtae_core.cli import main
from mtae_core.data import datasets
from mtae_core.lessons import ClaimResult, Lesson, lessons
from mtae_core.lessons.base import merge
from mtae_core.lessons.run import check
from mtae_core.store.runs import RunStore
from mtae_core.studies import CellSummary, StudySpec, StudySummary, describe, plan

NAMES = lessons.names()
NUMBER = re.compile(r"\d")


def test_the_five_lessons_of_the_issue_are_registered() -> None:
    assert NAMES == ["related_tasks", "reconstruction", "weightings", "equal_size", "curriculum"]


@pytest.mark.parametrize("name", NAMES)
def test_every_lesson_is_complete_and_its_studies_are_valid(name: str) -> None:
    lesson = lessons.get(name)
    assert lesson.title and len(lesson.steps) >= 2 and all(lesson.steps)
    assert lesson.question and len(lesson.choices) >= 2
    assert 0 <= lesson.answer < len(lesson.choices)
    assert lesson.claim_text and lesson.quick_claim_text and NUMBER.search(lesson.measured)
    full, quick = lesson.study(), lesson.study(quick=True)
    assert isinstance(full, StudySpec) and isinstance(quick, StudySpec)
    assert len(full.seeds) >= 5, "a claim written from fewer than 5 seeds"
    assert len(quick.seeds) >= 2 and len(quick.cells()) >= 2
    # the quick form is smaller: fewer runs, and no more epochs
    assert len(plan(quick)) < len(plan(full))
    assert quick.base.training.epochs <= full.base.training.epochs


def test_merge_is_deep_and_leaves_its_inputs_alone() -> None:
    base = {"base": {"training": {"epochs": 20}, "data": {"dataset": "digits"}}, "seeds": 5}
    out = merge(base, {"base": {"training": {"epochs": 3}}, "seeds": 2})
    assert out == {"base": {"training": {"epochs": 3}, "data": {"dataset": "digits"}},
                   "seeds": 2}
    assert base["base"]["training"]["epochs"] == 20


# ---- claims on made-up results ----------------------------------------------------------------


def _metric_of(spec: StudySpec) -> dict[str, str]:
    data = spec.base.data
    ds = datasets.get(data.dataset)
    specs = ds.generate(ds.Options.model_validate({**data.options, "n": 200}
                                                  if "n" in data.options else data.options),
                        0).specs
    # (reconstruction is no generated target: its metric is the mean squared error)
    return {t: specs[t].metric if t in specs else "mse" for t in data.tasks}


def made_up(lesson: type[Lesson], quick: bool, rng: np.random.Generator | None) -> StudySummary:
    """A summary of the lesson's study as ``summarize`` builds it (the spec read back from
    its JSON), with made-up numbers: random ones, or (``rng`` None) the same numbers in
    every cell and every seed — a study in which nothing made a difference."""
    spec = lesson.study(quick)
    spec = StudySpec.parse(json.loads(json.dumps(spec.to_dict())))
    metric_of = _metric_of(spec)
    n = len(spec.seeds)

    def vals(centre: float, spread: float) -> list[float]:
        if rng is None:
            return [centre] * n
        return list(centre + spread * rng.standard_normal(n))

    # each task's headline metric, and a binary task's accuracy too (its headline is ROC
    # AUC; the lessons' texts speak of accuracy)
    names = {t: [m, "accuracy"] if m == "auc" else [m] for t, m in metric_of.items()}
    cells = []
    for c in spec.cells():
        metrics = {t: {m: describe(vals(0.9 if m == "accuracy" else 0.5, 0.05)) for m in ms}
                   for t, ms in names.items()}
        val = {t: {m: describe(vals(0.9 if m == "accuracy" else 0.5, 0.05)) for m in ms}
               for t, ms in names.items()}
        cells.append(CellSummary(
            index=c.index, settings=c.settings, label=c.label, runs=list(range(n)),
            statuses=dict.fromkeys(range(n), "done"), n=n, n_failed=0, metrics=metrics,
            val_metrics=val, delta_m=describe(vals(0.0, 20.0)), task_deltas={},
            baseline_runs=[], params={"total": 1000, "shared": 500}, paired={}, words=[]))
    return StudySummary(1, spec.name, "done", spec, cells, {}, list(metric_of), metric_of)


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize("name", NAMES)
def test_every_claim_runs_on_a_made_up_result(name: str, quick: bool) -> None:
    lesson = lessons.get(name)
    for seed in range(3):
        r = lesson.verdict(made_up(lesson, quick, np.random.default_rng(seed)), quick=quick)
        assert isinstance(r, ClaimResult) and isinstance(r.held, bool)
        assert NUMBER.search(r.text), r.text
        assert "cannot be checked" not in r.text, r.text  # every number it needs was found


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize("name", NAMES)
def test_no_claim_holds_on_a_result_without_any_effect(name: str, quick: bool) -> None:
    """Every claim says something differs (a trend, a cost, a winner): on a study whose
    cells all came out the same it must not hold."""
    lesson = lessons.get(name)
    r = lesson.verdict(made_up(lesson, quick, None), quick=quick)
    assert r.held is False, r.text


def test_a_claim_is_not_checked_on_a_study_with_unfinished_cells() -> None:
    lesson = lessons.get("curriculum")
    summary = made_up(lesson, True, np.random.default_rng(0))
    summary.cells[0].n = 0
    r = lesson.verdict(summary, quick=True)
    assert r.held is False and "no finished runs" in r.text


# ---- the quick forms, trained for real ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quick_form_trains_and_its_claim_holds(name: str, tmp_path: Any) -> None:
    store = RunStore(tmp_path / "runs.db")
    checked = check(name, store, quick=True)
    assert checked.summary.status == "done"
    assert checked.result.held, checked.result.text
    assert NUMBER.search(checked.result.text)
    runs = store.runs()
    assert len(runs) == len(plan(lessons.get(name).study(quick=True)))
    assert all(r.status == "done" for r in runs)


# ---- the command line ----------------------------------------------------------------------------


def test_mtae_lessons_lists_every_lesson(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert re.search(rf"^{name}\s+{re.escape(lessons.get(name).title)}$", out, re.M), out
    assert "claim:" in out and "quick form:" in out


@pytest.mark.parametrize("argv, words", [
    (["lesson", "check", "nope"], "no lesson named 'nope'; lessons: related_tasks"),
    (["lesson", "check", "curriculum", "--workers", "0"], "--workers must be at least 1"),
])
def test_bad_lesson_check_exits_2(argv: list[str], words: str, tmp_path: Any,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "runs.db"), *argv]) == 2
    assert words in capsys.readouterr().err
    assert RunStore(tmp_path / "runs.db").runs() == []  # nothing queued


@pytest.mark.slow
def test_lesson_check_prints_the_verdict_and_exits_by_it(
        tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "runs.db")
    assert main(["--db", db, "lesson", "check", "curriculum", "--quick", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "lesson curriculum (quick" in out and "the claim HELD" in out
    assert "reconstruction MSE per seed" in out and NUMBER.search(out)
    n_runs = len(RunStore(db).runs())

    # the same study again reuses every stored run; a claim that fails exits 1
    monkeypatch.setattr(lessons.get("curriculum"), "quick_claim",
                        classmethod(lambda cls, s: ClaimResult(False, "made to fail: 0 of 2")))
    assert main(["--db", db, "lesson", "check", "curriculum", "--quick", "--json"]) == 1
    got = json.loads(capsys.readouterr().out)
    assert got["held"] is False and got["text"] == "made to fail: 0 of 2"
    assert got["lesson"] == "curriculum" and got["quick"] is True
    assert len(RunStore(db).runs()) == n_runs


@pytest.mark.slow
def test_lesson_check_on_worker_processes(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "runs.db")
    assert main(["--db", db, "lesson", "check", "curriculum", "--quick", "--workers", "1",
                 "--json", "--quiet"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["held"] is True
    runs = RunStore(db).runs()
    assert len(runs) == len(plan(lessons.get("curriculum").study(quick=True)))
    # trained by a worker process, not by this one
    assert all(r.status == "done" for r in runs)
    assert {r.worker_pid for r in runs} and os.getpid() not in {r.worker_pid for r in runs}
