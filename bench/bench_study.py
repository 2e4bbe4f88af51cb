"""A study's throughput: runs per minute through the ``JobRunner`` with its default
workers (one per core, one torch thread each) against the same runs one after another in
one process (at one torch thread by default, the faster way for these small models; pass
``--seq-threads 1 2`` to measure more), on the CPU.

The study: digits, ``model.sharing`` over hard and MMoE, 3 seeds, plus the matched
single-task baseline per seed (9 runs). The workers are warmed up first, as the app's are
when a study starts; each side trains into a fresh store, so nothing is reused.

    .venv/bin/python bench/bench_study.py [--epochs 10] [--repeats 1] [--workers N]

Numbers move with the machine's load; compare the ratio, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core import ExperimentConfig  # noqa: E402
from mtae_core.jobs import JobRunner, execute  # noqa: E402
from mtae_core.store import RunStore  # noqa: E402
from mtae_core.studies import StudySpec, default_workers, start, summarize  # noqa: E402

TARGET = 1.7


def spec(epochs: int) -> StudySpec:
    return StudySpec.parse({"name": "bench", "seeds": 3,
                            "base": {"training": {"epochs": epochs, "device": "cpu"}},
                            "axes": {"model.sharing": ["hard", "mmoe"]}})


def wait_done(store: RunStore, study_id: int, timeout: float = 1800.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = summarize(store, study_id)
        if s.status not in ("queued", "running"):
            if s.status != "done":
                raise RuntimeError(f"study ended {s.status}: {s.counts}")
            return
        time.sleep(0.05)
    raise TimeoutError("the study did not finish")


def parallel(sp: StudySpec, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        runner = JobRunner(store, n_workers=workers).start()
        try:
            # warm every worker (imports, first-run costs), as the app's are
            warm = ExperimentConfig().replace(name="warm", training={"epochs": 1, "device": "cpu"},
                                              model={"hidden": [8], "latent_dim": 2})
            ids = [runner.submit(warm.replace(seed=i)) for i in range(workers)]
            end = time.monotonic() + 300
            while time.monotonic() < end and any(store.get_run(i).active for i in ids):  # type: ignore[union-attr]
                time.sleep(0.05)
            t0 = time.perf_counter()
            sid = start(store, sp, runner.submit)
            wait_done(store, sid)
            seconds = time.perf_counter() - t0
            n = int(store.study_runs(sid).run_id.nunique())
        finally:
            runner.stop()
    return seconds, n


def sequential(sp: StudySpec, threads: int) -> tuple[float, int]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _sequential(sp)
    finally:
        torch.set_num_threads(before)


def _sequential(sp: StudySpec) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        t0 = time.perf_counter()
        sid = start(store, sp)
        n = 0
        while (run := store.claim_next(os.getpid())) is not None:
            execute(store, run.id, run.config)
            n += 1
        wait_done(store, sid)
        return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: what a study uses, one per core)")
    ap.add_argument("--seq-threads", type=int, nargs="+", default=[1],
                    help="torch threads of the one-process runs; each is measured and the "
                    "ratio is against the fastest (default 1: on small models one thread "
                    f"beat torch's default {torch.get_num_threads()} on this machine)")
    args = ap.parse_args()
    workers = args.workers or default_workers()
    sp = spec(args.epochs)
    from mtae_core.training import train

    # one warm-up run in this process too, so neither side pays first-import costs
    train(ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"},
                                     model={"hidden": [8], "latent_dim": 2}))
    rpm: dict[str, list[float]] = {}
    n = 0
    for rep in range(args.repeats):
        sides = [(f"one process, torch threads {t}", (lambda t=t: sequential(sp, t)))
                 for t in args.seq_threads]
        sides.append((f"JobRunner, {workers} workers", lambda: parallel(sp, workers)))
        for name, run in sides:
            secs, n = run()
            rpm.setdefault(name, []).append(60 * n / secs)
            print(f"  repeat {rep + 1}: {name}: {n} runs in {secs:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in rpm.items()}
    print(f"study: digits, sharing hard/mmoe, 3 seeds + baselines = {n} runs, "
          f"{args.epochs} epochs each, cpu, {os.cpu_count()} cores, {args.repeats} repeat(s)")
    for name, v in med.items():
        print(f"{name}: {v:.1f} runs/min")
    par = med[f"JobRunner, {workers} workers"]
    best_seq = max(v for k, v in med.items() if k.startswith("one process"))
    print(f"ratio JobRunner / fastest one-process: {par / best_seq:.2f}x; target >= {TARGET}x")


if __name__ == "__main__":
    main()
