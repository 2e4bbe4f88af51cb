"""Per-task networks: batched stacked weights (``batched_mlp``, what single_task, soft,
cross-stitch and the expert schemes run) vs a plain Python loop over a ModuleList of
nn.Sequential, one training epoch each (forward, backward, Adam step), on the CPU (or
``--device cuda``).

    .venv/bin/python bench/bench_sharing.py [--threads 1] [--repeats 5] [--device cpu]

Prints a table of seconds per epoch (best of the repeats) and the loop / batched ratio.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from mtae_core.models.base import ModelSpec, batched_mlp, mlp

FUSED = True  # as the engine steps (see mtae_core.engine.training)
N_SAMPLES, D_IN, HIDDEN, CODE, BATCH = 1200, 64, (128, 64), 16, 64  # digits-sized


class Loop(nn.Module):
    """The baseline: one nn.Sequential per task, called in a Python loop."""

    def __init__(self, n: int, sizes: list[int], spec: ModelSpec) -> None:
        super().__init__()
        self.nets = nn.ModuleList(mlp(sizes, spec) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets])  # (n_tasks, batch, code)


class Batched(nn.Module):
    def __init__(self, n: int, sizes: list[int], spec: ModelSpec) -> None:
        super().__init__()
        self.n = n
        self.nets = batched_mlp(n, sizes, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets(x.unsqueeze(0).expand(self.n, -1, -1))  # (n_tasks, batch, code)


def run_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
              y: torch.Tensor) -> float:
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)  # kernels run async
    sync()
    t0 = time.perf_counter()
    for i in range(0, len(x), BATCH):
        xb, yb = x[i:i + BATCH], y[:, i:i + BATCH]
        loss = (model(xb) - yb).pow(2).mean(dim=(1, 2)).sum()  # Σ over tasks
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


def compare(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
            repeats: int) -> dict[str, float]:
    """Best epoch time of each model; epochs interleaved so that load from other
    processes hits both alike (the minimum is the least disturbed run)."""
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3, fused=FUSED) for k, m in models.items()}
    for k, m in models.items():  # warm-up
        run_epoch(m, opts[k], x, y)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for k, m in models.items():
            times[k].append(run_epoch(m, opts[k], x, y))
    return {k: min(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--tasks", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    x = torch.randn(N_SAMPLES, D_IN, device=dev)
    sizes = [D_IN, *args.hidden, CODE]
    print(f"{dev}, {args.threads} CPU thread(s); epoch = {N_SAMPLES} samples, batch {BATCH}, "
          f"encoder {sizes}, Adam; best of {args.repeats}")
    print(f"{'tasks':>5} {'loop s/epoch':>13} {'batched s/epoch':>16} {'speed-up':>9}")
    for n in args.tasks:
        spec = ModelSpec(input_dim=D_IN, tasks=(), hidden=tuple(args.hidden), latent_dim=CODE)
        y = torch.randn(n, N_SAMPLES, CODE, device=dev)
        best = compare({"loop": Loop(n, sizes, spec).to(dev),
                        "batched": Batched(n, sizes, spec).to(dev)}, x, y, args.repeats)
        loop, batched = best["loop"], best["batched"]
        print(f"{n:>5} {loop:>13.4f} {batched:>16.4f} {loop / batched:>8.2f}x")


if __name__ == "__main__":
    main()
