"""Epoch time of the engine against a plain PyTorch DataLoader loop on the same work.

Same data (digits, or synthetic_correlated), same model (hard sharing), same batch size,
same optimizer, same per-epoch validation pass. Prints seconds per epoch and the ratio
(plain / engine: above 1 means the engine is faster).

    .venv/bin/python bench/bench_loader.py [--epochs 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from mtae_core import ExperimentConfig
from mtae_core.engine.metrics import task_loss
from mtae_core.engine.training import build, evaluate, resolve_device, train


def engine_epoch_seconds(cfg: ExperimentConfig) -> float:
    stamps: list[float] = []

    class Sink:
        def started(self, info):
            stamps.append(time.perf_counter())

        def epoch(self, epoch, rows, extras):
            stamps.append(time.perf_counter())

        def progress(self, f):
            pass

    train(cfg, sink=Sink())
    gaps = [b - a for a, b in zip(stamps[1:-1], stamps[2:], strict=True)]  # skip the first epoch
    return statistics.median(gaps)


def plain_epoch_seconds(cfg: ExperimentConfig, fused: bool = False) -> float:
    device = resolve_device(cfg.training.device)
    data, model = build(cfg)
    model.to(device)
    specs = data.tasks
    tr = data.train
    ds = TensorDataset(tr.x, *[tr.y[s.name] for s in specs])
    loader = DataLoader(ds, batch_size=cfg.training.batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr, fused=fused or None)
    val = data.val.to(device)
    times = []
    for _ in range(cfg.training.epochs):
        t0 = time.perf_counter()
        model.train()
        for x, *ys in loader:
            x = x.to(device)
            out = model(x)
            losses = torch.stack([task_loss(s, out.outputs[s.name], y.to(device))
                                  for s, y in zip(specs, ys, strict=True)])
            opt.zero_grad()
            losses.mean().backward()
            opt.step()
            _ = losses.detach().tolist()  # the usual loss.item() logging per step
        evaluate(model, val, specs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device: {resolve_device(args.device)}  torch threads: {torch.get_num_threads()}")
    print("plain: DataLoader loop, stock Adam, loss logged per step; plain+fused: the same with"
          " torch's fused Adam (isolates the data path)")
    print(f"{'data set':<22}{'batch':>6}{'plain s/ep':>12}{'plain+fused':>13}{'engine s/ep':>13}"
          f"{'ratio':>8}{'ratio vs fused':>16}")
    for dataset, opts in (("digits", {}), ("synthetic_correlated", {"n": 12000})):
        cfg = ExperimentConfig().replace(
            data={"dataset": dataset, "options": opts},
            training={"epochs": args.epochs, "batch_size": args.batch_size, "device": args.device},
        )
        plain = plain_epoch_seconds(cfg)
        fused = plain_epoch_seconds(cfg, fused=True)
        engine = engine_epoch_seconds(cfg)
        print(f"{dataset:<22}{args.batch_size:>6}{plain:>12.4f}{fused:>13.4f}{engine:>13.4f}"
              f"{plain / engine:>7.2f}x{fused / engine:>15.2f}x")


if __name__ == "__main__":
    main()
