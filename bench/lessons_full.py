"""Every lesson's full form: run its study (5 seeds each) and check its claim; print a
table of held / not held with the numbers and how long each took. The README's lessons
section quotes the last outcome measured on this project's machine.

    .venv/bin/python bench/lessons_full.py [NAME ...] [--quick] [--workers N] [--db PATH]

By default the studies train into a fresh store in a temporary folder, one run after
another in this process (one torch thread); ``--workers N`` uses N worker processes,
``--db`` a store of your own (identical stored runs are then reused). Exits 1 if any
claim did not hold.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtae_core.lessons import lessons  # noqa: E402
from mtae_core.lessons.run import check  # noqa: E402
from mtae_core.store.runs import RunStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="lessons to check (default: all)")
    p.add_argument("--quick", action="store_true", help="the quick forms instead (as CI runs them)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: none)")
    p.add_argument("--db", default=None, help="run store (default: a fresh temporary one)")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in lessons]
    if unknown:
        p.error(f"no lesson named {unknown[0]!r}; lessons: {', '.join(lessons.names())}")
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(args.db or Path(tmp) / "runs.db")
        rows = []
        for name in args.names or lessons.names():
            c = check(name, store, quick=args.quick, workers=args.workers)
            n_runs = len(store.study_runs(c.study_id).run_id.unique())
            rows.append((name, c.result.held, c.seconds, n_runs, c.result.text))
            print(f"{name}: {'held' if c.result.held else 'NOT HELD'} in {c.seconds:.0f} s "
                  f"({n_runs} runs)", file=sys.stderr, flush=True)
    form = "quick" if args.quick else "full"
    print(f"\n{'lesson':<16} {'form':<6} {'claim':<9} {'seconds':>8} {'runs':>5}")
    for name, held, seconds, n_runs, _ in rows:
        print(f"{name:<16} {form:<6} {'held' if held else 'NOT HELD':<9} {seconds:>8.0f} {n_runs:>5}")
    print()
    for name, _, _, _, text in rows:
        print(textwrap.fill(f"{name}: {text}", width=100, subsequent_indent="    "))
    return 0 if all(r[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
