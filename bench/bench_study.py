"""A study's throughput: runs per minute through the ``JobRunner`` with its default
workers (one per core, one torch thread each) against the same runs one after another in
one process (torch with its default threads), on the CPU.

The study: digits, ``model.sharing`` over hard and MMoE, 3 seeds, plus the matched
single-task baseline per seed (9 runs). The workers are warmed up first, as the app's are
when a study starts; each side trains into a fresh store, so nothing is reused.

    .venv/bin/python bench/bench_study.py [--epochs 4] [--repeats 1] [--workers N]

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
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: what a study uses, one per core)")
    args = ap.parse_args()
    workers = args.workers or default_workers()
    sp = spec(args.epochs)
    # one warm-up run in this process too, so neither side pays first-import costs
    from mtae_core.training import train

    train(ExperimentConfig().replace(training={"epochs": 1, "device": "cpu"},
                                     model={"hidden": [8], "latent_dim": 2}))
    threads = torch.get_num_threads()
    rpm: dict[str, list[float]] = {"seq": [], "seq1": [], "par": []}
    n = 0
    for _ in range(args.repeats):
        for name, run in (("seq", lambda: sequential(sp, threads)),
                          ("seq1", lambda: sequential(sp, 1)),
                          ("par", lambda: parallel(sp, workers))):
            secs, n = run()
            rpm[name].append(60 * n / secs)
    med = {k: statistics.median(v) for k, v in rpm.items()}
    print(f"study: digits, sharing hard/mmoe, 3 seeds + baselines = {n} runs, "
          f"{args.epochs} epochs each, cpu, {os.cpu_count()} cores, {args.repeats} repeat(s)")
    print(f"one process, one run after another, torch threads {threads}: {med['seq']:.1f} runs/min")
    print(f"one process, one run after another, torch threads 1: {med['seq1']:.1f} runs/min")
    print(f"JobRunner, {workers} workers (one torch thread each): {med['par']:.1f} runs/min")
    best_seq = max(med["seq"], med["seq1"])
    print(f"ratio vs the faster one-process way: {med['par'] / best_seq:.2f}x "
          f"(vs {threads} threads {med['par'] / med['seq']:.2f}x, vs 1 thread "
          f"{med['par'] / med['seq1']:.2f}x); target >= {TARGET}x")


if __name__ == "__main__":
    main()
