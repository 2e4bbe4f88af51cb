"""The Python API (``mtae_core.train``, ``run_study``, ``load_runs``): the example that
docs/cli.md and the README show runs as written (with a tiny model); the three forms of a
config train the same run; bad input is the ``ConfigError`` the CLI prints; a diverging
run is a result, not an exception; ``import mtae_core`` stays free of torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

import mtae_core as mt
from mtae_core import ConfigError, ExperimentConfig
from mtae_core.cli import main
from mtae_core.store import RunStore
from mtae_core.studies import StudySummary

ROOT = Path(__file__).resolve().parents[2]
TINY = {"training": {"epochs": 2, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}
DOCS_CONFIG = 'config = {"data": {"dataset": "digits"}, "training": {"epochs": 5}}'


def _python_block(path: Path, after: str) -> str:
    text = path.read_text(encoding="utf-8")
    found = re.search(r"```python\n(.*?)```", text[text.index(after):], re.S)
    assert found, f"no python block after {after!r} in {path}"
    return found.group(1)


def _tiny(code: str) -> str:
    """The documented example with a tiny model and 2 epochs, in this process."""
    assert code.count(DOCS_CONFIG) == 1 and code.count("workers=2") == 1
    tiny = {"data": {"dataset": "digits"}, **TINY}
    return code.replace(DOCS_CONFIG, f"config = {tiny!r}").replace("workers=2", "workers=0")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the docs' example once (its own $MTAE_HOME); the names it left behind."""
    home = tmp_path_factory.mktemp("home")
    before = os.environ.get("MTAE_HOME")
    os.environ["MTAE_HOME"] = str(home)
    code = _python_block(ROOT / "docs" / "cli.md", "## The Python API")
    namespace: dict[str, Any] = {}
    try:
        exec(compile(_tiny(code), "docs/cli.md", "exec"), namespace)  # noqa: S102
    finally:
        if before is None:
            os.environ.pop("MTAE_HOME")
        else:
            os.environ["MTAE_HOME"] = before
    namespace["home"] = home
    return namespace


def test_the_readme_shows_the_documented_example() -> None:
    assert _python_block(ROOT / "README.md", "## From Python") == \
        _python_block(ROOT / "docs" / "cli.md", "## The Python API")
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def test_the_documented_example_trains_a_run(example: dict[str, Any]) -> None:
    run = example["run"]
    assert isinstance(run, mt.Run) and run.status == "done" and run.error is None
    assert run.config.training.epochs == 2 and run.config.data.dataset == "digits"
    tasks = list(run.config.data.tasks)
    # one row per epoch × task × split, with the loss
    assert list(run.curves.columns) == ["epoch", "task", "split", "loss"]
    assert len(run.curves) == 2 * len(tasks) * 2
    assert set(run.curves.split) == {"train", "val"} and set(run.curves.task) == set(tasks)
    assert run.curves.loss.notna().all()
    # one row per task, a column per metric; validation too
    assert list(run.test_metrics.index) == tasks and "loss" in run.test_metrics.columns
    assert 0.0 <= run.test_metrics.loc["digit", "accuracy"] <= 1.0
    assert list(run.val_metrics.index) == tasks
    text = repr(run)
    assert text.startswith(f"Run #{run.id} ") and "done" in text and "accuracy=" in text


def test_the_documented_example_runs_a_study(example: dict[str, Any]) -> None:
    study = example["study"]
    assert isinstance(study, mt.StudyResult) and study.status == "done"
    assert isinstance(study.summary, StudySummary) and study.summary.study_id == study.id
    frame = study.to_frame()
    assert list(frame.label) == ["model.sharing=hard", "model.sharing=mmoe"]  # a row per cell
    assert list(frame["model.sharing"]) == ["hard", "mmoe"]
    by_col = frame.set_index("label")  # the summary's numbers, as `mtae study show`
    first = study.summary.cells[0]
    st = first.metrics["digit"]["accuracy"]
    assert by_col.loc[first.label, "digit · accuracy_mean"] == st["mean"]
    assert by_col.loc[first.label, "digit · accuracy_ci_lo"] == st["ci95"][0]
    assert by_col.loc[first.label, "digit · accuracy_n"] == 2
    assert by_col.loc[first.label, "delta_m_mean"] == first.delta_m["mean"]
    assert by_col.loc[first.label, "delta_m_ci_hi"] == first.delta_m["ci95"][1]
    assert (frame.delta_m_n == 2).all() and frame.delta_m_mean.notna().all()
    assert "digit · best" in frame.columns and (frame.n == 2).all()
    verdicts = study.verdicts()
    assert list(verdicts) == list(frame.label)
    assert all(isinstance(v, str) and v for v in verdicts.values())
    assert "better than single-task on digit" in verdicts["model.sharing=hard"]
    assert list(frame.verdict) == list(verdicts.values())


def test_the_documented_example_lists_its_runs(example: dict[str, Any]) -> None:
    runs = mt.load_runs(example["home"] / "runs.db")  # (the example's $MTAE_HOME)
    # 2 cells × 2 seeds and the 2 seeds' single-task baselines; the first cell's first
    # seed is the run trained before (hard sharing, seed 0): the study reused it
    assert len(runs) == 4 + 2 and (runs.status == "done").all()
    assert example["study"].summary.cells[0].runs[0] == example["run"].id
    assert {"id", "name", "status", "dataset", "sharing", "weighting", "epochs",
            "digit · accuracy"} <= set(runs.columns)
    again = mt.run_study(example["spec"], workers=0, store=example["home"] / "runs.db")
    assert len(mt.load_runs(example["home"] / "runs.db")) == 6  # every run reused
    assert again.to_frame().delta_m_mean.tolist() == example["study"].to_frame().delta_m_mean.tolist()


def test_a_dict_a_file_and_a_config_train_the_same_run(store: RunStore, tmp_path: Path) -> None:
    cfg = ExperimentConfig.parse(TINY)
    path = tmp_path / "tiny.json"
    path.write_text(cfg.to_json())
    threads = torch.get_num_threads()
    runs = [mt.train(TINY, store=store), mt.train(str(path), store=store.path),
            mt.train(cfg, store=store, name="from a config")]
    for r in runs[1:]:
        pd.testing.assert_frame_equal(r.test_metrics, runs[0].test_metrics)
    assert runs[2].name == "from a config" and runs[2].config.name == "from a config"
    assert [r.id for r in runs] == sorted(mt.load_runs(store).id)
    assert mt.Run.load(runs[1].id, store).test_metrics.equals(runs[1].test_metrics)
    assert torch.get_num_threads() == threads  # given back after training


def test_a_bad_field_is_the_config_error_the_cli_prints(store: RunStore, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = {**TINY, "training": {**TINY["training"], "epochs": 0}}
    with pytest.raises(ConfigError) as e:
        mt.train(bad, store=store)
    assert e.value.by_field == {"training.epochs": "Epochs must be at least 1"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError) as from_file:
        mt.train(path, store=store)
    assert main(["--db", str(store.path), "train", str(path)]) == 2
    assert f"  {from_file.value.messages[0]}  [training.epochs]" in capsys.readouterr().err
    # what the data cannot run (preflight), a file that is not there: plain words too
    with pytest.raises(ConfigError, match="[Bb]atch"):
        mt.train({**TINY, "training": {**TINY["training"], "batch_size": 100_000}}, store=store)
    with pytest.raises(ConfigError, match="cannot read"):
        mt.train(tmp_path / "missing.json", store=store)
    with pytest.raises(ConfigError, match="axis|axes|model.sharing"):
        mt.run_study({"base": TINY, "axes": {"model.sharing": ["nope"]}, "seeds": 2},
                     workers=0, store=store)
    assert mt.load_runs(store).empty  # nothing was stored


def test_a_diverging_run_is_a_result_with_its_reason(store: RunStore) -> None:
    run = mt.train({**TINY, "optimizer": {"kind": "sgd", "lr": 10.0, "momentum": 0.99},
                    "training": {**TINY["training"], "epochs": 30}}, store=store)
    assert run.status == "diverged" and not run.ok
    assert run.error == run.reason and "loss" in run.error and "epoch" in run.error
    assert run.test_metrics.empty and "diverged" in repr(run)


def test_import_mtae_core_imports_no_torch(tmp_path: Path) -> None:
    code = ("import json, sys, mtae_core\n"
            "from mtae_core import ConfigError, ExperimentConfig, Run, StudyResult, "
            "load_runs, run_study, train\n"
            "assert {'train', 'run_study', 'load_runs', 'Run'} <= set(dir(mtae_core))\n"
            "print(json.dumps([sorted(mtae_core.__all__), "
            "[m for m in ('torch', 'sklearn', 'scipy') if m in sys.modules]]))")
    env = {**os.environ, "MTAE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert names == sorted(["ConfigError", "ExperimentConfig", "Run", "StudyResult",
                            "load_runs", "run_study", "train"])
    assert heavy == []


def test_training_uses_one_torch_thread_and_gives_the_callers_back(
        store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """(And a run that fails is a result with its reason, as a diverging one.)"""
    from mtae_core.engine import training

    seen: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        raise RuntimeError("the model could not be built")

    monkeypatch.setattr(training, "train", failing)
    torch.set_num_threads(2)
    try:
        runs = [mt.train(TINY, store=store), mt.train(TINY, store=store, threads=2)]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert seen == [1, 2]
    assert [(r.status, r.error) for r in runs] == \
        [("failed", "RuntimeError: the model could not be built")] * 2
    with pytest.raises(ValueError, match="threads"):
        mt.train(TINY, store=store, threads=0)


def test_ctrl_c_cancels_the_run_and_is_raised_again(store: RunStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from mtae_core.engine import training

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mt.train(TINY, store=store)
    [run] = store.runs()
    assert (run.status, run.error) == ("cancelled", "interrupted from the keyboard")


def test_ctrl_c_in_a_study_cancels_its_runs(store: RunStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from mtae_core.runner import jobs

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "execute_group", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mt.run_study({"base": TINY, "axes": {"model.sharing": ["hard", "mmoe"]}, "seeds": 2},
                     workers=0, store=store)
    runs = store.runs()
    assert len(runs) == 6 and {r.status for r in runs} == {"cancelled"}  # none left running
    assert mt.load_runs(store).status.eq("cancelled").all()


def test_a_run_an_apps_worker_claimed_first_is_waited_for(
        store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between queuing the run and claiming it, a worker of an app on the same store may
    take it: the run then trains there, and ``train`` returns it once it has ended."""
    from mtae_core.runner.jobs import execute

    real = RunStore.claim_group

    def worker_first(self: RunStore, pid: int, limit: int = 64,
                     among: Any = None) -> list[Any]:
        for run in real(self, pid + 1, limit, among):  # "another process" takes it
            execute(self, run.id, run.config)
        return real(self, pid, limit, among)

    monkeypatch.setattr(RunStore, "claim_group", worker_first)
    run = mt.train(TINY, store=store)
    assert run.status == "done" and len(store.runs()) == 1


def test_workers_pick_this_process_or_worker_processes(store: RunStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """0 and 1 train here; N ≥ 2 and None go to ``planning.serve`` (the pool `mtae study`
    starts and stops: its workers' lifecycle is tested with the CLI's)."""
    from mtae_core.lessons.run import train_here
    from mtae_core.studies import planning

    served: list[int | None] = []

    def serve(store: RunStore, study_id: int, workers: int | None = None,
              on_run: Any = None) -> None:
        served.append(workers)
        train_here(store, study_id)

    monkeypatch.setattr(planning, "serve", serve)
    spec = {"base": TINY, "axes": {"model.sharing": ["hard"]}, "seeds": 2}
    assert mt.run_study(spec, workers=2, store=store).to_frame().delta_m_n.tolist() == [2]
    assert served == [2]
    for workers in (0, 1, None):
        assert mt.run_study(spec, workers=workers, store=store).status == "done"
    assert served == [2, None] and len(store.runs()) == 4  # (every later run reused)
    with pytest.raises(ValueError, match="workers"):
        mt.run_study(spec, workers=-1, store=store)
