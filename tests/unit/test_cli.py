from __future__ import annotations

import json

from mtae_core import ExperimentConfig
from mtae_core.cli import main


def test_train_json_stores_the_run(tmp_path, store, tiny_cfg, capsys):
    path = tmp_path / "c.json"
    path.write_text(tiny_cfg.to_json())
    assert main(["--db", str(store.path), "train", str(path), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "done" and out["train_seconds"] > 0
    assert set(out["test_metrics"]) == {"digit", "parity", "reconstruction"}
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
