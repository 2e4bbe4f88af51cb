"""K seeds of one config: trained together as one batched model (``replicas``) against
K sequential runs (``training.train``) in one process, on the same work.

Settings: digits (hard sharing, equal weighting) and synthetic_correlated (MMoE, equal),
the default model, and digits with a small model; K ∈ {1, 3, 5, 10}. Torch runs at one thread, as in a worker. Prints
wall seconds of each path and the ratio (sequential / batched: above 1 means the batched
path is faster), and checks that the two paths gave the same test metrics (to 1e-2).

    .venv/bin/python bench/bench_seeds.py [--epochs 5] [--ks 1 3 5 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import torch

from mtae_core import ExperimentConfig
from mtae_core.data import load
from mtae_core.engine.replicas import train_replicas
from mtae_core.engine.training import train

REPEAT = 2
# the process's CPU time: at one torch thread it is the wall time of an idle machine, and it
# does not count what other processes on a busy machine take (``--wall`` for wall time)
CLOCK = time.process_time

SETTINGS: dict[str, dict[str, Any]] = {
    "digits (hard, equal)": {"data": {"dataset": "digits"}, "model": {"sharing": "hard"}},
    "synthetic_correlated (mmoe, equal)": {"data": {"dataset": "synthetic_correlated"},
                                           "model": {"sharing": "mmoe"}},
    # a small model, where a step is mostly overhead rather than arithmetic
    "digits (hard, equal), small model (hidden 32, latent 8)": {
        "data": {"dataset": "digits"},
        "model": {"sharing": "hard", "hidden": [32], "latent_dim": 8, "head_hidden": 16}},
}


def _same(a: dict, b: dict, tol: float = 1e-2) -> bool:
    # float tolerance: rounding differences between batched and per-run kernels grow over
    # hundreds of Adam steps (about 1e-4 after 400 steps on synthetic_correlated)
    return all(math.isclose(a[t][m], b[t][m], rel_tol=tol, abs_tol=tol) for t in b for m in b[t])


def measure(cfg: ExperimentConfig, k: int) -> tuple[float, float, bool]:
    """Seconds of the batched path and of K sequential runs, the best of ``REPEAT``; and
    whether they gave the same test metrics."""
    cfgs = [cfg.replace(seed=s) for s in range(k)]
    data = load(cfg.data)  # loaded once for both paths: the bench times training
    batched = sequential = math.inf
    for _ in range(REPEAT):
        t0 = CLOCK()
        together = train_replicas(cfgs, data)
        batched = min(batched, CLOCK() - t0)
        t0 = CLOCK()
        alone = [train(c, data) for c in cfgs]
        sequential = min(sequential, CLOCK() - t0)
    same = all(_same(a.test_metrics, b.test_metrics) for a, b in zip(together, alone, strict=True))
    return batched, sequential, same


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 10])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (a worker uses 1)")
    p.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    a = p.parse_args()
    global CLOCK
    if a.wall or a.device != "cpu":  # a GPU's work is not this process's CPU time
        CLOCK = time.perf_counter
    torch.set_num_threads(a.threads)
    clock = "CPU time" if CLOCK is time.process_time else "wall time"
    print(f"torch {torch.__version__}, {a.threads} thread(s), device {a.device}, {a.epochs} epochs, "
          f"{clock}, best of {REPEAT}; load average {_load()}")
    for name, over in SETTINGS.items():
        cfg = ExperimentConfig().replace(training={"epochs": a.epochs, "device": a.device}, **over)
        measure(cfg.replace(training={"epochs": 1}), 2)  # warm up both paths
        print(f"\n{name}")
        print(f"  {'K':>3} {'batched s':>10} {'K runs s':>10} {'ratio':>7} {'per seed, batched / one run':>28} same")
        one = None
        for k in a.ks:
            batched, sequential, same = measure(cfg, k)
            if k == 1:
                one = batched
            rel = f"{batched / one:.2f}× of K=1" if one else ""
            print(f"  {k:>3} {batched:>10.2f} {sequential:>10.2f} {sequential / batched:>6.2f}× "
                  f"{batched / k / (sequential / k):>27.2f}  {same}  {rel}")
    # a shared machine: CPU time ignores other processes, but they still share caches and cores
    print(f"\nload average at the end {_load()}")


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
