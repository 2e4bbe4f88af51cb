"""The GPU path (marked ``gpu``; skipped without CUDA): every sharing scheme, with a
loss-based and a gradient method, trains on CUDA, and seeds batched as replicas on CUDA
equal the same seeds trained as separate CUDA runs, to float tolerance.

Run them with ``bench/gpu_check.sh`` (or ``pytest -m gpu``) on a machine with a CUDA GPU.
They were written without one: this project's machine has none, so they have not run on a
GPU yet (docs/performance.md)."""

from __future__ import annotations

import pytest
import torch

from mtae_core import models

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SEEDS = (0, 1, 2)
METHODS = ("equal", "pcgrad")  # a loss-based and a gradient method


@pytest.fixture(autouse=True)
def _exact_matmuls():
    # TF32 would round the batched and the per-run matmuls differently on Ampere and later
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sharing", models.sharing.names())
def test_batched_replicas_on_cuda_equal_separate_cuda_runs(sharing, method):
    from test_replicas_cells import _cfg, assert_group_equivalent

    cfg = _cfg(model={"sharing": sharing}, weighting={"strategy": method},
               training={"device": "cuda"})
    results = assert_group_equivalent([cfg.replace(seed=s) for s in SEEDS])
    assert all(r.status == "done" and r.device.startswith("cuda") for r in results)


def test_a_fixed_lambda_grid_trains_as_one_model_on_cuda():
    from test_replicas_cells import _fixed, assert_group_equivalent

    cfgs = [_fixed(a, s, training={"device": "cuda"}) for a in (0.0, 0.5, 1.0) for s in (0, 1)]
    assert_group_equivalent(cfgs)
