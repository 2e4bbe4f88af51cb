"""What one poll of the Studies page's progress grid costs, against its budget.

While a study has active runs, the grid (``ui.studies.progress``) reads the study's runs
from the store and redraws every ``GRID_SECONDS``; the issue asks that a running study
never slows the page and that the grid updates at least once a second. This times the
poll's own work — ``grid_frame`` (the study's runs and their statuses from the store,
each labelled by its cell) and ``grid_html`` — on a fresh store holding a queued study of
30, 120 and 500 runs, and prints each as a share of the poll interval and of one second.

    .venv/bin/python bench/bench_study_grid.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core import studies  # noqa: E402
from mtae_core.store.runs import RunStore  # noqa: E402
from ui.studies.progress import GRID_SECONDS, grid_frame, grid_html, spec_of  # noqa: E402

# (sharing schemes, learning rates, seeds): cells × seeds plus one baseline per lr and seed
SIZES = {
    30: (["hard", "mmoe", "soft", "cgc"], [1e-3], 6),
    120: (["hard", "mmoe", "soft", "cgc", "ple"], [1e-3, 1e-2], 10),
    500: (["hard", "mmoe", "soft", "cgc", "ple"], [1e-3, 3e-3, 1e-2, 3e-2], 20),
}


def study_of(store: RunStore, sharing: list[str], lrs: list[float], seeds: int) -> int:
    spec = studies.StudySpec.parse({
        "name": "grid bench", "base": {"training": {"epochs": 1}},
        "axes": {"model.sharing": sharing, "optimizer.lr": lrs}, "seeds": seeds})
    return studies.start(store, spec)  # queued only: no worker takes them


def poll_seconds(store: RunStore, study_id: int, repeats: int) -> tuple[float, int]:
    study = store.get_study(study_id)
    assert study is not None
    times = []
    n = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        frame = grid_frame(store, study_id, spec_of(study))
        grid_html(frame)
        times.append(time.perf_counter() - t0)
        n = len(frame)
    return statistics.median(times), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.db")
        print(f"grid poll every {GRID_SECONDS} s; median of {args.repeats} polls")
        for _, (sharing, lrs, seeds) in SIZES.items():
            study_id = study_of(store, sharing, lrs, seeds)
            seconds, n = poll_seconds(store, study_id, args.repeats)
            print(f"{n:4d} runs: {seconds * 1000:7.1f} ms per poll = "
                  f"{seconds / GRID_SECONDS:5.1%} of the poll interval, "
                  f"{seconds:5.1%} of one second")


if __name__ == "__main__":
    main()
