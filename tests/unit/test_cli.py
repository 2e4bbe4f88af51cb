from __future__ import annotations

import json

import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.cli import main


def test_train_json_stores_the_run(tmp_path, store, tiny_cfg, capsys):
    path = tmp_path / "c.json"
    path.write_text(tiny_cfg.to_json())
    assert main(["--db", str(store.path), "train", str(path), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "done" and out["train_seconds"] > 0
    assert set(out["test_metrics"]) == {"digit", "parity", "reconstruction"}
    assert set(out["val_metrics"]) == set(out["test_metrics"]) and out["kept_epoch"] == 1
    run = store.get_run(out["run_id"])
    assert run.config == tiny_cfg and run.status == "done"
    assert main(["--db", str(store.path), "runs"]) == 0
    assert "tiny" in capsys.readouterr().out
    assert main(["--db", str(store.path), "export", str(run.id)]) == 0
    assert ExperimentConfig.from_json(capsys.readouterr().out) == tiny_cfg


def test_invalid_config_prints_the_error_and_exits_2(tmp_path, store, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"optimizer": {"lr": -1}, "training": {"epochs": 0}}))
    assert main(["--db", str(store.path), "train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "optimizer.lr" in err and "training.epochs" in err
    assert store.runs() == []


def test_list_names_every_registry_entry(capsys):
    from mtae_core.data import datasets
    from mtae_core.models import autoencoders, sharing
    from mtae_core.schedules import schedules
    from mtae_core.weighting import weightings

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for reg in (datasets, autoencoders, sharing, weightings, schedules):
        for name, summary in reg.describe():
            assert name in out and summary and summary in out


def test_config_prints_the_default(capsys):
    assert main(["config"]) == 0
    assert ExperimentConfig.from_json(capsys.readouterr().out) == ExperimentConfig()


# ---- bad input: exit 2 with a plain message, nothing stored (issue 14.9, 14.5, 14.10) -----

def _train_file(tmp_path, store, content: bytes, capsys) -> tuple[int, str]:
    path = tmp_path / "c.json"
    path.write_bytes(content)
    code = main(["--db", str(store.path), "train", str(path), "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("content, words", [
    (b'{"name": "caf\xe9"}', "the file is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (json.dumps({"data": {"tasks": []}}).encode(), "Tasks: choose at least one task"),
    (json.dumps({"data": {"tasks": None}}).encode(), "Tasks: choose at least one task"),
    (json.dumps({"training": {"epochs": True}}).encode(), "Epochs must be a whole number"),
    (json.dumps({"training": {"epochs": "1"}}).encode(), "Epochs must be a whole number"),
    (json.dumps({"name": "x" * 10_000, "optimizer": {"kind": "y" * 10_000}}).encode(), "…"),
    (json.dumps({"training": {"batch_size": 5000}}).encode(),
     "Batch size 5,000 is larger than the 1,168 training samples of digits"),
    (json.dumps({"data": {"dataset": "synthetic_correlated", "options": {"n": 100},
                          "test_fraction": 0.001}}).encode(),
     "Test share 0.001 leaves no test samples of the 100 in synthetic_correlated"),
    (json.dumps({"model": {"batch_norm": True}, "training": {"batch_size": 1}}).encode(),
     "Batch size must be at least 2 when batch normalisation is on"),
])
def test_bad_config_files_exit_2_with_a_plain_message(tmp_path, store, capsys, content, words):
    code, err = _train_file(tmp_path, store, content, capsys)
    assert code == 2
    assert words in err
    assert "Traceback" not in err and "Input should" not in err
    assert len(err) < 1000  # long values are cut
    assert store.runs() == []


def test_cuda_on_a_machine_without_one_exits_2(tmp_path, store, capsys):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    code, err = _train_file(tmp_path, store, json.dumps({"training": {"device": "cuda"}}).encode(),
                            capsys)
    assert code == 2
    assert "this machine has no CUDA GPU; choose device auto or cpu" in err
    assert "Traceback" not in err and store.runs() == []


def test_unreadable_config_path_exits_2(tmp_path, store, capsys):
    assert main(["--db", str(store.path), "train", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["--db", str(store.path), "train", str(tmp_path)]) == 2  # a directory
    assert "cannot read" in capsys.readouterr().err
