"""The Studies page's progress grid (ui.studies.progress) on a study trained here as the
workers train it: each row says how its seeds trained (together as one batched model, or
separately, and why)."""

from __future__ import annotations

import os

import pytest

from mtae_core.runner.jobs import execute_group
from mtae_core.studies import StudySpec, start
from ui.studies.progress import grid_frame, seeds_lines, spec_of

BASE = {"data": {"dataset": "synthetic_correlated", "options": {"n": 240}},
        "training": {"epochs": 2, "batch_size": 48, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


@pytest.mark.slow
def test_the_grid_says_which_way_each_row_s_seeds_trained(store):
    spec = StudySpec.parse({"name": "seeds", "base": BASE, "seeds": [0, 1, 2],
                            "axes": {"weighting.strategy": ["equal", "gradnorm"]}})
    study_id = start(store, spec)
    while runs := store.claim_group(os.getpid()):  # as a worker serves them
        execute_group(store, runs)
    lines = seeds_lines(grid_frame(store, study_id, spec_of(store.get_study(study_id))))
    assert len(lines) == 3  # the baseline row and the two cells
    assert sum(line.endswith(": seeds trained together") for line in lines) == 2
    assert sum("separately: the weighting 'gradnorm' works on each seed's per-task gradients"
               in line for line in lines) == 1
