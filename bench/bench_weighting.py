"""Step time of every weighting strategy against `equal`, on the same model and batch.

Hard sharing, digits (digit, parity, reconstruction), batch 64, CPU, one thread (or
``--device cuda``).
Run: ``.venv/bin/python bench/bench_weighting.py [--steps 200] [--only pcgrad,mgda] [--device cpu]``
"""

from __future__ import annotations

import argparse
import time

import torch

from mtae_core.config import ExperimentConfig
from mtae_core.engine.metrics import task_loss
from mtae_core.engine.training import build
from mtae_core.weighting import weightings


def stepper(name: str, steps: int, batch: int, device: str = "cpu"):
    """A function running ``steps`` training steps of ``name``; returns seconds per step."""
    cfg = ExperimentConfig.parse({"weighting": {"strategy": name}, "training": {"device": device}})
    data, model = build(cfg)
    dev = torch.device(device)
    data = data.to(dev)
    model.to(dev)
    cls = weightings.get(name)
    strategy = cls([s.name for s in data.tasks],
                   cls.Options.model_validate(cfg.weighting.options)).to(dev)
    params = list(model.parameters()) + list(strategy.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = data.train.x
    n = x.shape[0]
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, n, (batch,), generator=g).to(dev) for _ in range(steps)]
    extra = torch.zeros((), device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)  # kernels run async

    def run() -> None:
        for idx in batches:
            xb = x[idx]
            out = model(xb)
            losses = torch.stack([
                task_loss(s, out.outputs[s.name], xb if s.kind == "reconstruction"
                          else data.train.y[s.name][idx]) for s in data.tasks])
            opt.zero_grad(set_to_none=True)
            strategy.backward(losses, extra, model, None, out)
            opt.step()

    def timed() -> float:
        sync()
        t = time.perf_counter()
        run()
        sync()
        return (time.perf_counter() - t) / steps

    timed()  # warm-up
    return timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--only", default="")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(1)
    names = [n for n in weightings.names() if not args.only or n in args.only.split(",")]
    equal = stepper("equal", args.steps, args.batch, args.device)
    print(f"device: {args.device}")
    print(f"{'strategy':<12} {'ms/step':>8} {'equal':>8} {'ratio':>6}  kind")
    for name in names:
        if name == "equal":
            continue
        run = stepper(name, args.steps, args.batch, args.device)
        # interleaved with the baseline and the fastest of each kept: robust to a busy machine
        t = min(run() for _ in range(args.repeats))
        base = min(equal() for _ in range(args.repeats))
        kind = "gradient" if weightings.get(name).needs_task_grads else "loss"
        print(f"{name:<12} {t * 1e3:8.3f} {base * 1e3:8.3f} {t / base:6.2f}  {kind}", flush=True)


if __name__ == "__main__":
    main()
