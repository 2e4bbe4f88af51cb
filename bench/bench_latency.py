"""From pressing Train to the first point on the live chart, on the CPU.

What the app does on Train: insert a queued run into the store; a warm worker process
(started with the app, torch imported) claims it, trains, and writes the first epoch's
losses, which the page's poll then reads. This times exactly that path — submit to the
first stored epoch — with a real ``JobRunner`` over a fresh store, for the Train page's
default config (digits, hard sharing, equal weights), and prints it next to the time a
plain PyTorch DataLoader loop needs for one epoch of the same work (the floor any
design pays). The page polls every ``ui.train.live.POLL_SECONDS`` on top.

    .venv/bin/python bench/bench_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_loader import plain_epoch_seconds  # noqa: E402

from mtae_core import ExperimentConfig  # noqa: E402
from mtae_core.runner.jobs import JobRunner  # noqa: E402
from mtae_core.store.runs import RunStore  # noqa: E402

TARGET_S = 2.0


def wait(store: RunStore, run_id: int, first_point: bool, timeout: float = 60.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if first_point and not store.metrics(run_id).empty:
            return time.perf_counter()
        run = store.get_run(run_id)
        if run is not None and not run.active:
            if first_point and store.metrics(run_id).empty:
                raise RuntimeError(f"run {run_id} ended {run.status} without an epoch: {run.error}")
            return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError(f"run {run_id} did not get there in {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cfg = ExperimentConfig().replace(name="latency", training={"epochs": 2, "device": "cpu"})
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        runner = JobRunner(store, n_workers=1).start()
        try:
            # the app starts its workers when it starts; wait for this one to be warm
            wait(store, runner.submit(cfg), first_point=False)
            latencies = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                run_id = runner.submit(cfg)
                latencies.append(wait(store, run_id, first_point=True) - t0)
                wait(store, run_id, first_point=False)  # let it finish before the next
        finally:
            runner.stop()
    plain = plain_epoch_seconds(cfg.replace(training={"epochs": 3}))
    med = statistics.median(latencies)
    print(f"config: {cfg.data.dataset}, {cfg.model.sharing}, {cfg.weighting.strategy}, "
          f"batch {cfg.training.batch_size}, cpu; {args.repeats} runs")
    print(f"Train pressed -> first stored epoch: median {med:.3f} s "
          f"(min {min(latencies):.3f}, max {max(latencies):.3f}); target <= {TARGET_S} s")
    print(f"plain DataLoader loop, one epoch in-process: {plain:.3f} s")
    print(f"ratio first point / plain epoch: {med / plain:.2f}x")


if __name__ == "__main__":
    main()
