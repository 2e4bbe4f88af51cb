"""``mtae lessons`` (list them) and ``mtae lesson check NAME [--quick] [--workers N]``
(run the lesson's study, print whether its claim held with the numbers; exit 0 held,
1 not held, 2 bad name or arguments). Registered by ``mtae_core.cli.commands``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import cut
from ..lessons.base import lessons
from .terminal import say


def add_parsers(sub: Any) -> None:
    sub.add_parser("lessons", help="list the lessons (studies with a checked claim)").set_defaults(
        fn=cmd_lessons)
    p = sub.add_parser("lesson", help="check a lesson's claim by running its study",
                       description="mtae lesson check NAME runs the lesson's study and says "
                       "whether its claim held, with the numbers")
    p.add_argument("action", choices=["check"], help="check: run the study, test the claim")
    p.add_argument("name", help="the lesson's name (see mtae lessons)")
    p.add_argument("--quick", action="store_true",
                   help="the quick form: a small budget and a claim that holds at it")
    p.add_argument("--workers", type=int, default=None,
                   help="train on N worker processes (default: in this process, one run "
                        "after another)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_lesson)


def cmd_lessons(args: argparse.Namespace) -> int:
    from ..studies import plan

    for name, cls in lessons.items():
        spec, quick = cls.study(), cls.study(quick=True)
        say(f"{name:<16} {cls.title}")
        say(f"{'':<16} claim: {cls.claim_text}")
        say(f"{'':<16} study: {len(spec.cells())} cells × {len(spec.seeds)} seeds, "
            f"{len(plan(spec))} runs with the single-task baselines; quick form: "
            f"{len(plan(quick))} runs")
    return 0


def cmd_lesson(args: argparse.Namespace) -> int:
    if args.name not in lessons:
        say(f"error: no lesson named '{cut(args.name)}'; lessons: {', '.join(lessons.names())}",
            err=True)
        return 2
    if args.workers is not None and args.workers < 1:
        say("error: --workers must be at least 1", err=True)
        return 2
    from tqdm import tqdm

    from ..lessons.run import check
    from .opening import open_store

    bar = tqdm(desc=f"lesson {args.name}", unit="run", file=sys.stderr, disable=args.quiet,
               leave=False)

    def on_run(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        checked = check(args.name, open_store(args.db), quick=args.quick, workers=args.workers,
                        on_run=on_run)
    except KeyboardInterrupt:
        say("interrupted: the lesson's study was cancelled", err=True)
        return 130
    finally:
        bar.close()
    r = checked.result
    if args.json:
        say(json.dumps({"lesson": args.name, "quick": args.quick, "held": r.held,
                          "text": r.text, "study": checked.study_id,
                          "seconds": round(checked.seconds, 1)}))
    else:
        form = "quick" if args.quick else "full"
        say(f"lesson {args.name} ({form}, study {checked.study_id}, "
            f"{checked.seconds:.0f} s): the claim {'HELD' if r.held else 'DID NOT HOLD'}")
        say(f"  claim: {checked.lesson.claim_text}")
        say(f"  {r.text}")
        say(f"  details: mtae study show {checked.study_id}")
    return 0 if r.held else 1
