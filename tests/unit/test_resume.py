"""Interrupted studies (issue 20): resuming keeps one visible run per cell and seed (item
13: the old attempts are superseded and hidden unless asked for), and the runs a Ctrl-C
stopped say so (item 14), not "cancelled by the user"."""

from __future__ import annotations

import json
import os

import pytest

from mtae_core.cli import main
from mtae_core.cli import study as cli_study
from mtae_core.runner.jobs import APP_STOPPED
from mtae_core.studies import StudySpec, planning, retry, start, summarize

SPEC = {"name": "resume", "base": {"training": {"epochs": 1}},
        "axes": {"model.sharing": ["hard", "mmoe"]}, "seeds": 2}


def _study(store) -> tuple[int, list[int]]:
    sid = start(store, StudySpec.parse(SPEC))
    return sid, sorted(int(i) for i in store.study_runs(sid).run_id.unique())


def _kill_midway(store, ids: list[int]) -> None:
    """What an app killed mid-study leaves: two runs failed as they trained, one
    cancelled, the rest done."""
    for i in ids[:2]:
        store.finish(i, "failed", APP_STOPPED)
    store.request_cancel(ids[2])
    for i in ids[3:]:
        store.finish(i, "done")


def test_a_resumed_study_shows_one_run_per_cell_and_seed(store, capsys):
    sid, ids = _study(store)
    _kill_midway(store, ids)
    for _ in range(2):  # resumed twice: the second attempts fail too
        new = retry(store, sid)
        assert len(new) == 3
        for i in new:
            store.finish(i, "failed", APP_STOPPED)
    current = sorted(int(i) for i in store.study_runs(sid).run_id.unique())
    assert len(current) == len(ids)
    assert sorted(r.id for r in store.runs()) == current  # the old attempts are hidden
    everything = store.runs(superseded=True)
    assert len(everything) == len(ids) + 6
    hidden = {r.id: r.superseded_by for r in everything if r.superseded_by is not None}
    assert set(hidden) == set(everything_ids := {r.id for r in everything}) - set(current)
    assert all(by in everything_ids for by in hidden.values())
    assert len(store.runs_table()) == len(ids)
    assert summarize(store, sid).counts == {"failed": 3, "done": len(ids) - 3}
    # `mtae runs` lists one run per cell and seed; `--all` the superseded attempts too
    assert main(["runs"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]
    assert len(rows) == len(ids)
    assert main(["runs", "--all"]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines()[1:] if line.strip()]) == len(ids) + 6
    assert "superseded by" in out


def test_ctrl_c_says_the_study_was_interrupted(store):
    sid, ids = _study(store)
    running = store.claim_next(os.getpid())  # one run training when Ctrl-C comes
    assert running is not None

    def ctrl_c(ended: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        planning.serve(store, sid, workers=0, on_run=ctrl_c)
    # the training run stops at its next poll, as training reports a cancel
    store.finish(running.id, "cancelled", "cancelled by the user")
    runs = store.runs_by_id(ids)
    assert {r.status for r in runs.values()} == {"cancelled"}
    assert {r.error for r in runs.values()} == {"the study was interrupted (Ctrl-C)"}


def test_the_cli_after_ctrl_c(store, capsys, monkeypatch, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))

    def serve(store, study_id, workers=None, on_run=None):  # Ctrl-C at the first look
        def ctrl_c(ended: int, total: int) -> None:
            raise KeyboardInterrupt
        planning.serve(store, study_id, 0, ctrl_c)

    monkeypatch.setattr(cli_study, "serve", serve)
    assert main(["study", str(spec), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted (Ctrl-C)" in err and "mtae study resume" in err
    (st,) = store.studies()
    runs = store.runs_by_id([int(i) for i in store.study_runs(st.id).run_id])
    assert {r.error for r in runs.values()} == {"the study was interrupted (Ctrl-C)"}
    assert not any("cancelled by the user" in (r.error or "") for r in runs.values())
