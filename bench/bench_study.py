"""A study's throughput: runs per minute through the ``JobRunner`` with its default
workers (one per core, one torch thread each) against the same runs one after another in
one process (at one torch thread by default, the faster way for these small models; pass
``--seq-threads 1 2`` to measure more), on the CPU.

The study: digits, ``model.sharing`` over hard and MMoE, 4 seeds, plus the matched
single-task baseline per seed (12 runs, 20 epochs each: the Train form's default). With
runs of equal length the pool can be at most n / ceil(n / workers) times faster (1.8x for
9 runs on 2 workers, 2x for 12): the bench prints that ceiling beside the ratio. Both sides are warmed up first (the app's workers
are warm when a study starts), run at the workers' priority, and train into a fresh
store, so nothing is reused.

    .venv/bin/python bench/bench_study.py [--epochs 20] [--seeds 4] [--repeats 1] [--workers N]

Numbers move with the machine's load; compare the ratio, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core import ExperimentConfig  # noqa: E402
from mtae_core.runner.jobs import JobRunner, execute  # noqa: E402
from mtae_core.runner.worker import NICE  # noqa: E402
from mtae_core.store.runs import RunStore  # noqa: E402
from mtae_core.studies import StudySpec, default_workers, start, summarize  # noqa: E402

TARGET = 1.7
LAST_TRAIN_SECONDS: list[float] = []  # each run's own training time, of the last side measured


def spec(epochs: int, seeds: int) -> StudySpec:
    return StudySpec.parse({"name": "bench", "seeds": seeds,
                            "base": {"training": {"epochs": epochs, "device": "cpu"}},
                            "axes": {"model.sharing": ["hard", "mmoe"]}})


def wait_done(store: RunStore, study_id: int, timeout: float = 1800.0) -> None:
    """Wait for every run of the study, polling lightly (statuses only, every 0.1 s) so
    the waiting takes next to no CPU from the workers."""
    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        runs = store.runs_by_id(ids).values()
        if not any(r.active for r in runs):
            s = summarize(store, study_id)
            if s.status != "done":
                raise RuntimeError(f"study ended {s.status}: {s.counts}")
            return
        time.sleep(0.1)
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
            LAST_TRAIN_SECONDS[:] = [r.train_seconds or 0.0 for r in store.runs(["done"])
                                     if r.name != "warm"]
        finally:
            runner.stop()
    return seconds, n


def sequential(sp: StudySpec, threads: int) -> tuple[float, int]:
    """The same runs one after another in one process: a child process at the workers'
    priority (``worker.NICE``), so on a busy machine neither side is favoured."""
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        sid = start(store, sp)
        out = subprocess.run([sys.executable, __file__, "--one-process", str(store.path),
                              "--threads", str(threads)], check=True, capture_output=True,
                             text=True).stdout
        wait_done(store, sid)
        LAST_TRAIN_SECONDS[:] = [r.train_seconds or 0.0 for r in store.runs(["done"])]
        seconds, n = out.split()[-2:]
        return float(seconds), int(n)


def one_process(db: str, threads: int) -> None:
    """Child side of ``sequential``: warm up, then train every queued run in turn."""
    from mtae_core.engine.training import train

    torch.set_num_threads(threads)
    try:
        os.nice(NICE)
    except OSError:
        pass
    train(ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"},
                                     model={"hidden": [8], "latent_dim": 2}))
    store = RunStore(db)
    t0 = time.perf_counter()
    n = 0
    while (run := store.claim_next(os.getpid())) is not None:
        execute(store, run.id, run.config)
        n += 1
    print(f"{time.perf_counter() - t0} {n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: what a study uses, one per core)")
    ap.add_argument("--seq-threads", type=int, nargs="+", default=[1],
                    help="torch threads of the one-process runs; each is measured and the "
                    "ratio is against the fastest (default 1: on small models one thread "
                    f"beat torch's default {torch.get_num_threads()} on this machine)")
    ap.add_argument("--one-process", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_process:
        one_process(args.one_process, args.threads)
        return
    workers = args.workers or default_workers()
    sp = spec(args.epochs, args.seeds)
    rpm: dict[str, list[float]] = {}
    n = 0
    for rep in range(args.repeats):
        sides = [(f"one process, torch threads {t}", (lambda t=t: sequential(sp, t)))
                 for t in args.seq_threads]
        sides.append((f"JobRunner, {workers} workers", lambda: parallel(sp, workers)))
        for name, run in sides:
            secs, n = run()
            rpm.setdefault(name, []).append(60 * n / secs)
            per_run = statistics.mean(LAST_TRAIN_SECONDS)
            # training time summed over runs / wall time = runs in flight on average: how
            # well the pool overlaps runs, whatever else loads the machine (ideal: the
            # number of workers); a run that trains slower beside another one means the
            # cores were not free
            print(f"  repeat {rep + 1}: {name}: {n} runs in {secs:.1f} s; each trained "
                  f"{per_run:.2f} s on average; runs in flight "
                  f"{sum(LAST_TRAIN_SECONDS) / secs:.2f}", flush=True)
    med = {k: statistics.median(v) for k, v in rpm.items()}
    print(f"study: digits, sharing hard/mmoe, {args.seeds} seeds + baselines = {n} runs, "
          f"{args.epochs} epochs each, cpu, {os.cpu_count()} cores, {args.repeats} repeat(s)")
    for name, v in med.items():
        print(f"{name}: {v:.1f} runs/min")
    # the load of a shared machine drifts between repeats: pair each repeat's two sides
    par = rpm[f"JobRunner, {workers} workers"]
    seq = [max(vals) for vals in zip(*(v for k, v in rpm.items() if k.startswith("one process")),
                                      strict=True)]
    ratios = [p / s for p, s in zip(par, seq, strict=True)]
    print(f"ratio JobRunner / fastest one-process, median of repeats: "
          f"{statistics.median(ratios):.2f}x (each: {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"target >= {TARGET}x; ceiling for {n} equal runs on {workers} workers: "
          f"{n / -(-n // workers):.2f}x")


if __name__ == "__main__":
    main()
