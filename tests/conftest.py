from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from mtae_core import ExperimentConfig
from mtae_core.store import RunStore
from mtae_core.store.tables import attach, detach

torch.set_num_threads(1)  # small models: threads cost more than they give, and tests share 2 cores


@pytest.fixture
def store(tmp_path, monkeypatch) -> Iterator[RunStore]:
    """A fresh store at ``$MTAE_HOME``; configs may name its users' tables."""
    monkeypatch.setenv("MTAE_HOME", str(tmp_path))
    s = RunStore(tmp_path / "runs.db")
    attach(s.path)
    yield s
    detach()


@pytest.fixture
def tiny_cfg() -> ExperimentConfig:
    """A config that trains in well under a second."""
    return ExperimentConfig().replace(
        name="tiny", training={"epochs": 2, "batch_size": 128, "device": "cpu"},
        model={"hidden": [16], "latent_dim": 4, "head_hidden": 8},
    )
