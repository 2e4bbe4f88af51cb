"""One training step of each gradient method: this engine's (``training`` with its
``GradientWeighting``) against LibMTL 1.1.5's (``LibMTL.weighting``), on the same model
(digits, hard sharing, the default model: 3 tasks), the same batches and the same fused
Adam, on the CPU at one torch thread.

It installs nothing: run it where LibMTL is importable (a scratch environment outside the
repository, see docs/performance.md):

    /tmp/libmtl-env/bin/python bench/bench_libmtl.py [--steps 60] [--repeats 3]

LibMTL's package imports torchvision at import time (for a ResNet this bench never uses):
a stand-in module is put on ``sys.modules`` when torchvision is missing. Each method's two
sides alternate in blocks of ``--steps`` steps, ``--repeats`` times, in one process; the
bench prints per method both sides' ms/step (medians, process CPU time), the ratio
(LibMTL / ours: above 1 means ours is faster) with its range, and the load average.

Methods LibMTL 1.1.5 has: PCGrad, GradVac, MGDA, CAGrad, IMTL (IMTL-L and IMTL-G together:
compared with ``imtl_g``, which does the gradient half only, so LibMTL's side does a little
more). Nash-MTL, Aligned-MTL, UPGrad and DB-MTL have no LibMTL 1.1.5 counterpart: their
step is printed against ours with PCGrad's LibMTL time for scale.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core import ExperimentConfig  # noqa: E402
from mtae_core.engine import training  # noqa: E402
from mtae_core.engine.metrics import task_loss  # noqa: E402

CLOCK = time.process_time
# ours -> (LibMTL class, its kwargs); our options matched to LibMTL's defaults
PAIRS: dict[str, tuple[str | None, dict[str, Any], dict[str, Any]]] = {
    "pcgrad": ("PCGrad", {}, {}),
    "gradvac": ("GradVac", {"beta": 0.01}, {"beta": 0.01}),
    "mgda": ("MGDA", {"mgda_gn": "none"}, {"normalization": "none"}),
    "cagrad": ("CAGrad", {"calpha": 0.4, "rescale": 1}, {"c": 0.4, "rescale": True}),
    "imtl_g": ("IMTL", {}, {}),
    "nash_mtl": (None, {}, {}),
    "aligned_mtl": (None, {}, {}),
    "upgrad": (None, {}, {}),
    "db_mtl": (None, {}, {}),
}


def _import_libmtl() -> Any:
    try:
        import torchvision  # noqa: F401
    except ImportError:  # LibMTL.model.resnet imports it; nothing here uses it
        tv = types.ModuleType("torchvision")
        tv_models = types.ModuleType("torchvision.models")
        tv_utils = types.ModuleType("torchvision.models.utils")
        tv_utils.load_state_dict_from_url = lambda *a, **k: None  # type: ignore[attr-defined]
        tv.models = tv_models  # type: ignore[attr-defined]
        tv_models.utils = tv_utils  # type: ignore[attr-defined]
        sys.modules.update({"torchvision": tv, "torchvision.models": tv_models,
                            "torchvision.models.utils": tv_utils})
    try:
        import LibMTL.weighting as weighting
    except ImportError:
        sys.exit("LibMTL is not importable here: make the scratch environment of "
                 "docs/performance.md and run this bench with its python")
    return weighting


def _libmtl_step_fn(cls: Any, model: torch.nn.Module, names: list[str], kw: dict[str, Any],
                    specs: list[Any], opt: torch.optim.Optimizer) -> Any:
    """One LibMTL training step on ``model``: its weighting mixed into an object that
    answers what LibMTL's architecture would (shared parameters, task count, device)."""

    class Method(cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.task_num, self.task_name = len(names), names
            self.device, self.rep_grad = torch.device("cpu"), False
            # hard sharing: the shared encoder (not registered: its parameters are the model's)
            object.__setattr__(self, "encoder", model.encoder)
            self.init_param()

        def get_share_params(self) -> Any:
            return self.encoder.parameters()

        def zero_grad_share_params(self) -> None:
            # LibMTL was written for torch < 2, where zero_grad zeroed in place
            self.encoder.zero_grad(set_to_none=False)

    method = Method()
    extra = list(method.parameters())  # IMTL's loss scales train with the model
    if extra:
        opt.add_param_group({"params": extra})

    def step(xb: torch.Tensor, ys: dict[str, torch.Tensor]) -> None:
        out = model(xb)
        losses = torch.stack([task_loss(s, out.outputs[s.name], xb if s.kind == "reconstruction"
                                        else ys[s.name]) for s in specs])
        opt.zero_grad(set_to_none=False)
        method.backward(losses, **kw)
        opt.step()

    return step


def measure(name: str, lib: Any, steps: int, repeats: int) -> tuple[list[float], list[float] | None]:
    lib_name, lib_kw, ours_opts = PAIRS[name]
    cfg = ExperimentConfig().replace(name="bench", data={"dataset": "digits"},
                                     weighting={"strategy": name, "options": ours_opts},
                                     training={"device": "cpu"})
    data, model = training.build(cfg)
    run = training.setup_run(cfg, data, copy.deepcopy(model), torch.device("cpu"))
    n, bs = run.n, run.bs
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randperm(n, generator=gen)[:bs] for _ in range(steps)]
    lib_step = None
    if lib_name is not None:
        lib_model = copy.deepcopy(model).train()
        lib_opt, _ = training.build_optimizer(cfg.optimizer, list(lib_model.parameters()), 1)
        lib_step = _libmtl_step_fn(getattr(lib, lib_name), lib_model, run.names, lib_kw,
                                   run.specs, lib_opt)
    tr = run.train

    def ours_block() -> float:
        t0 = CLOCK()
        for i, idx in enumerate(batches):
            training._step(run, 0, i, idx, {})
        return (CLOCK() - t0) / steps * 1000

    def lib_block() -> float:
        assert lib_step is not None
        t0 = CLOCK()
        for idx in batches:
            lib_step(tr.x[idx], {s.name: tr.y[s.name][idx] for s in run.specs
                                 if s.kind != "reconstruction"})
        return (CLOCK() - t0) / steps * 1000

    ours_block()  # warm up both
    if lib_step is not None:
        lib_block()
    ours, theirs = [], []
    for r in range(repeats):
        order = (ours_block, lib_block) if r % 2 == 0 else (lib_block, ours_block)
        for block in order:
            if block is lib_block and lib_step is None:
                continue
            (ours if block is ours_block else theirs).append(block())
    return ours, theirs if lib_step is not None else None


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    a = p.parse_args()
    torch.set_num_threads(1)
    lib = _import_libmtl()
    print(f"torch {torch.__version__}, 1 thread, digits (hard sharing, 3 tasks, batch 64), "
          f"{a.steps} steps × {a.repeats} repeats per side; load average {_load()}")
    print(f"{'method':<12} {'ours ms':>8} {'LibMTL ms':>10} {'ratio':>7}  range")
    pcgrad_lib = None
    for name in a.methods:
        ours, theirs = measure(name, lib, a.steps, a.repeats)
        o = statistics.median(ours)
        if theirs is not None:
            t = statistics.median(theirs)
            if name == "pcgrad":
                pcgrad_lib = t
            ratios = [y / x for x, y in zip(ours, theirs, strict=True)]
            print(f"{name:<12} {o:>8.2f} {t:>10.2f} {t / o:>6.2f}×  {min(ratios):.2f}–{max(ratios):.2f}×")
        else:
            scale = f"(LibMTL 1.1.5 has none; PCGrad's LibMTL step {pcgrad_lib:.2f} ms: {pcgrad_lib / o:.2f}×)" \
                if pcgrad_lib else "(LibMTL 1.1.5 has none)"
            print(f"{name:<12} {o:>8.2f} {'—':>10} {'—':>7}  {scale}")
    print(f"load average at the end {_load()}")


if __name__ == "__main__":
    main()
