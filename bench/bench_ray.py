"""A study on Ray against the local backend, on the same CPUs: the same 24-run study
(digits, ``model.sharing`` over hard and MMoE, 8 seeds, plus the matched single-task
baseline per seed) through the ``JobRunner`` with 2 workers and through a local Ray
instance with 2 CPUs (``ray.init(num_cpus=2)``, one task per run).

Both sides are warmed up first (the app's workers are warm when a study starts; Ray's
workers have imported torch once they ran a task) and train into a fresh store. Printed:
runs per minute of each, the throughput ratio Ray / local, Ray's overhead per run (each
CPU's time not spent inside training, shared out over the runs: handing out tasks,
sending rows and results; aim < 0.5 s), the wall-clock difference against local, and
Ray's one-off start-up (``ray.init`` plus warming its workers),
and from which study size Ray pays off on this machine and (an estimate) with two.

    .venv/bin/python bench/bench_ray.py [--epochs 10] [--seeds 8] [--cpus 2] [--repeats 1]

Numbers move with the machine's load; compare the ratio, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core.runner.jobs import JobRunner  # noqa: E402
from mtae_core.runner.ray_backend import BACKEND, RayBackend  # noqa: E402
from mtae_core.store.runs import RunStore  # noqa: E402
from mtae_core.studies import StudySpec, start, summarize  # noqa: E402

TARGET_OVERHEAD = 0.5  # seconds per run


def spec(epochs: int, seeds: int, name: str = "bench") -> StudySpec:
    return StudySpec.parse({"name": name, "seeds": seeds,
                            "base": {"training": {"epochs": epochs, "device": "cpu"}},
                            "axes": {"model.sharing": ["hard", "mmoe"]}})


def warm_spec(cpus: int) -> StudySpec:
    """One tiny one-epoch run per CPU: every worker has imported torch and trained once."""
    return StudySpec.parse({"name": "warm", "seeds": cpus,
                            "base": {"training": {"epochs": 1, "device": "cpu"},
                                     "model": {"hidden": [8], "latent_dim": 2,
                                               "sharing": "single_task"}}})


def check_done(store: RunStore, study_id: int) -> tuple[int, list[float]]:
    s = summarize(store, study_id)
    if s.status != "done":
        raise RuntimeError(f"study ended {s.status}: {s.counts}")
    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    return len(ids), [r.train_seconds or 0.0 for r in store.runs_by_id(ids).values()]


def wait_done(store: RunStore, study_id: int, timeout: float = 1800.0) -> None:
    ids = [int(i) for i in store.study_runs(study_id).run_id.unique()]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(r.active for r in store.runs_by_id(ids).values()):
            return
        time.sleep(0.1)
    raise TimeoutError("the study did not finish")


def local(sp: StudySpec, cpus: int) -> tuple[float, int, list[float]]:
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        runner = JobRunner(store, n_workers=cpus).start()
        try:
            wait_done(store, start(store, warm_spec(cpus), runner.submit))
            t0 = time.perf_counter()
            sid = start(store, sp, runner.submit)
            wait_done(store, sid)
            seconds = time.perf_counter() - t0
        finally:
            runner.stop()
        n, train = check_done(store, sid)
    return seconds, n, train


def on_ray(sp: StudySpec, cpus: int) -> tuple[float, float, int, list[float]]:
    """(study seconds, start-up seconds, runs, each run's training seconds)."""
    import ray

    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.db")
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        backend = RayBackend(store).connect()
        try:
            warm = start(store, warm_spec(cpus), backend=BACKEND)
            backend.drive(warm)
            backend.run_until(lambda: not backend.active)
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            sid = start(store, sp, backend=BACKEND)
            backend.drive(sid)
            backend.run_until(lambda: not backend.active)
            seconds = time.perf_counter() - t0
        finally:
            backend.shutdown()
            ray.shutdown()
        n, train = check_done(store, sid)
    return seconds, startup, n, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2, help="local workers = Ray CPUs")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    sp = spec(args.epochs, args.seeds)
    ratios, overheads, startups, locals_, rays, idle_l, idle_r = [], [], [], [], [], [], []
    n = 0
    for rep in range(args.repeats):
        # the load of a shared machine drifts: alternate which side goes first
        if rep % 2:
            t_ray, startup, n_ray, train_ray = on_ray(sp, args.cpus)
            t_local, n, train_local = local(sp, args.cpus)
        else:
            t_local, n, train_local = local(sp, args.cpus)
            t_ray, startup, n_ray, train_ray = on_ray(sp, args.cpus)
        assert n == n_ray
        ratio = t_local / t_ray  # runs per minute, Ray over local
        overhead = (t_ray - t_local) * args.cpus / n
        ratios.append(ratio)
        overheads.append(overhead)
        startups.append(startup)
        locals_.append(t_local)
        rays.append(t_ray)
        # each CPU's time per run not spent inside train(): handing out runs, starting
        # them, sending results (on Ray: tasks, object store, the driver's writes)
        idle_l.append((t_local * args.cpus - sum(train_local)) / n)
        idle_r.append((t_ray * args.cpus - sum(train_ray)) / n)
        print(f"  repeat {rep + 1}: local {n} runs in {t_local:.1f} s (each trained "
              f"{statistics.mean(train_local):.2f} s); Ray {t_ray:.1f} s (each trained "
              f"{statistics.mean(train_ray):.2f} s); Ray start-up {startup:.1f} s", flush=True)
    t_local, t_ray = statistics.median(locals_), statistics.median(rays)
    ratio, overhead = statistics.median(ratios), statistics.median(overheads)
    startup = statistics.median(startups)

    print(f"study: digits, sharing hard/mmoe, {args.seeds} seeds + baselines = {n} runs, "
          f"{args.epochs} epochs each, cpu; {args.cpus} local workers vs Ray with "
          f"{args.cpus} CPUs; {os.cpu_count()} cores; {args.repeats} repeat(s)")
    print(f"local: {60 * n / t_local:.1f} runs/min; Ray: {60 * n / t_ray:.1f} runs/min")
    print(f"throughput ratio Ray / local: {ratio:.2f}x")
    print(f"Ray overhead per run: {statistics.median(idle_r):.2f} s of a CPU's time outside "
          f"training (aim < {TARGET_OVERHEAD} s; local workers: "
          f"{statistics.median(idle_l):.2f} s, and a local worker's training also commits its "
          "epochs to SQLite, which a Ray task hands to the driver)")
    print(f"wall-clock cost per run against local, (Ray − local) × CPUs / runs: "
          f"{overhead:+.2f} s; one-off start-up (ray.init + warming its workers): "
          f"{startup:.1f} s")
    # On one machine, with the same CPUs, Ray wins only if its runs go faster than the
    # local workers' (here they can: a Ray task hands its rows to the driver where a local
    # worker commits them to SQLite itself); it then pays off once that gain over the
    # study's runs outweighs its start-up
    per_local, per_ray = t_local / n, t_ray / n
    if per_ray < per_local:
        print(f"on this machine Ray pays off from about {startup / (per_local - per_ray):.0f} "
              f"runs of this size (start-up {startup:.1f} s over a gain of "
              f"{per_local - per_ray:.2f} s of wall time per run)")
    else:
        print("on this machine (same CPUs) Ray does not pay off at any study size")
    # With a second machine like this one Ray runs twice the tasks at once (assuming it
    # scales perfectly and the network costs nothing: an estimate, not a measurement)
    k = 2
    gain = per_local - per_ray / k
    if gain > 0:
        print(f"with {k} machines like this one (an estimate: perfect scaling) Ray pays off "
              f"from about {startup / gain:.0f} runs of this size")


if __name__ == "__main__":
    main()
