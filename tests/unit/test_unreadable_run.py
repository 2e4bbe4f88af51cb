"""One run whose stored row no longer reads (issue 20, item 8) is shown as unreadable;
``mtae runs`` and ``mtae studies`` list the rest instead of failing for the whole store."""

from __future__ import annotations

import pytest

from mtae_core import ExperimentConfig
from mtae_core.cli import main
from mtae_core.store.runs import RunStore
from mtae_core.studies import StudySpec, start

BAD = {
    "unknown setting": '{"name": "old", "model": {"sharing": "no_such_scheme"}}',
    "not JSON": "{this is not json",
}


def _spoil(store: RunStore, run_id: int, text: str) -> None:
    with store._tx() as c:
        c.execute("UPDATE runs SET config=? WHERE id=?", (text, run_id))


@pytest.mark.parametrize("bad", list(BAD))
def test_mtae_runs_lists_the_rest_and_names_the_unreadable_one(store, capsys, bad):
    ids = [store.create_run(ExperimentConfig().replace(name=f"run{i}")) for i in range(3)]
    _spoil(store, ids[1], BAD[bad])
    assert main(["runs"]) == 0
    out = capsys.readouterr()
    assert "run0" in out.out and "run2" in out.out
    assert f"run {ids[1]} (" in out.out and "unreadable" in out.out
    assert "Traceback" not in out.err + out.out
    assert [r.id for r in store.runs()] == [ids[2], ids[0]]
    (u,) = store.unreadable()
    assert u.id == ids[1] and u.status == "queued" and u.problem


def test_mtae_studies_lists_every_study(store, capsys):
    spec = StudySpec.parse({"name": "with a bad run", "base": {"training": {"epochs": 1}},
                            "axes": {"model.sharing": ["hard", "mmoe"]}, "seeds": 1})
    sid = start(store, spec)
    other = start(store, StudySpec.parse({"name": "fine", "base": {"training": {"epochs": 2}},
                                          "axes": {"model.sharing": ["hard"]}, "seeds": 1}))
    run_id = int(store.study_runs(sid).run_id.iloc[-1])
    _spoil(store, run_id, BAD["unknown setting"])
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "with a bad run" in out and "fine" in out and "1 unreadable run" in out
    assert main(["study", "show", str(other)]) == 0
    assert main(["study", "show", str(sid)]) == 0


def test_a_worker_fails_an_unreadable_run_it_claims(store):
    run_id = store.create_run(ExperimentConfig())
    _spoil(store, run_id, BAD["not JSON"])
    assert store.claim_group(worker_pid=1) == []
    with store._conn() as c:
        status, error = c.execute("SELECT status, error FROM runs WHERE id=?", (run_id,)).fetchone()
    assert status == "failed" and "do not read" in error
