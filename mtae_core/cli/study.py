"""``mtae study SPEC.json [--workers N] [--json] [--no-wait] [--separate-seeds]
[--backend ray [--address A]]``, ``mtae study show ID``,
``mtae study export ID``, ``mtae study resume ID``, ``mtae study cancel ID`` and
``mtae studies``. Registered by ``mtae_core.cli.commands``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..errors import cut, whole_number
from ..studies.planning import INTERRUPTED, cancel, retry, serve, start
from ..studies.spec import StudySpec
from ..studies.summary import ENDED, StudySummary, summarize
from .terminal import say

WORDS = ("show", "export", "resume", "cancel")
MAX_ID = 2**63 - 1  # SQLite's largest integer


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "study", help="run a study (cells x seeds + matched single-task baselines), or show, "
        "export, resume or cancel a stored one",
        description="mtae study SPEC.json runs a study; mtae study show|export|resume|cancel ID "
        "works on a stored one")
    s.add_argument("target", metavar="SPEC.json|show|export|resume|cancel",
                   help="a study spec file (or - for stdin), or a word followed by a study id")
    s.add_argument("study_id", nargs="?", metavar="ID", help="study id (after show/export/resume/cancel)")
    s.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: $MTAE_WORKERS, else one per CPU core)")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    s.add_argument("--no-wait", action="store_true",
                   help="queue the runs and return; the app's workers (or `mtae study resume ID`) run them")
    s.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: worker processes on this machine (default); ray: one Ray task "
                   "per run, on a local Ray instance or the cluster at --address "
                   "(pip install '.[ray]')")
    s.add_argument("--address", default=None, metavar="ADDRESS",
                   help="with --backend ray: the cluster's address (ray start --head prints it; "
                   "auto: the cluster running on this machine); without it a Ray instance of "
                   "its own starts here (--workers CPUs) and stops at the end")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--separate-seeds", action="store_true",
                   help="train each seed as its own run (by default a cell's seeds train "
                   "together as one batched model where they can; for comparison and debugging)")
    s.set_defaults(fn=cmd_study)
    sub.add_parser("studies", help="list stored studies").set_defaults(fn=cmd_studies)


def _fail(msg: str) -> int:
    say(f"error: {msg}", err=True)
    return 2


def _store(args: argparse.Namespace) -> Any:
    from .opening import open_store

    return open_store(args.db)


def cmd_study(args: argparse.Namespace) -> int:
    try:
        return _study(args)
    except ConfigError as e:  # a stored spec this version can no longer read
        return _fail(f"the study's stored spec does not read any more:\n{e}")


def _study(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return _fail("--workers must be at least 1")
    backend = None if args.backend == "local" else args.backend
    if backend is None and args.address:
        return _fail("--address is for --backend ray")
    if backend == "ray":
        from ..runner.ray_backend import INSTALL_HINT, available

        if not available():
            return _fail(INSTALL_HINT)
        if args.no_wait:
            return _fail("--no-wait leaves the runs to the app's local workers; with --backend "
                         "ray this command drives them (leave out --no-wait)")
    if args.target in WORDS:
        if args.study_id is None:
            return _fail(f"give the study id: mtae study {args.target} ID")
        try:
            study_id = whole_number(args.study_id, 1, MAX_ID)
        except ValueError as e:
            return _fail(f"the study id {cut(args.study_id)} {e}: mtae study {args.target} ID")
        store = _store(args)
        if store.get_study(study_id) is None:
            return _fail(f"no study with id {study_id}")
        if args.target == "show":
            return _print(summarize(store, study_id), args.json)
        if args.target == "export":
            say(json.dumps(store.get_study(study_id).spec, indent=2))
            return 0
        if args.target == "cancel":
            stopped = cancel(store, study_id)
            say(f"study {study_id} cancelled ({len(stopped)} runs asked to stop)")
            return 0
        again = retry(store, study_id, backend=backend)  # runs that failed or were cancelled
        if again:
            say(f"study {study_id}: {len(again)} failed or cancelled runs queued again",
                err=True)
        return _run(store, study_id, args)
    if args.study_id is not None:
        return _fail(f"unexpected argument '{cut(args.study_id)}': a study id follows only "
                     f"{', '.join(WORDS)}")
    try:
        text = Path(args.target).read_text() if args.target != "-" else sys.stdin.read()
    except OSError as e:
        return _fail(f"cannot read {args.target}: {e.strerror}")
    except UnicodeDecodeError:
        return _fail(f"cannot read {args.target}: it is not UTF-8 text (a study spec is JSON)")
    try:
        spec = StudySpec.from_json(text)
    except ConfigError as e:
        say(f"invalid study spec {args.target}:\n{e}", err=True)
        return 2
    if args.separate_seeds:
        spec = dataclasses.replace(spec, separate_seeds=True)
    store = _store(args)
    study_id = start(store, spec, backend=backend, workers=args.workers)
    if args.no_wait:
        say(f"study {study_id} queued", err=True)
        return _print(summarize(store, study_id), args.json)
    return _run(store, study_id, args)


def _run(store: Any, study_id: int, args: argparse.Namespace) -> int:
    """Serve the study's queued runs with a worker pool started here, show progress, and
    stop every worker on the way out (Ctrl-C cancels the study's runs first)."""
    if args.backend == "ray":
        return _run_ray(store, study_id, args)
    from tqdm import tqdm

    bar = tqdm(total=len(store.study_runs(study_id).run_id.unique()), desc=f"study {study_id}",
               unit="run", file=sys.stderr, disable=args.quiet, leave=False)
    interrupted = False
    try:
        serve(store, study_id, args.workers, lambda ended, _: bar.update(ended - bar.n))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return _ended(store, study_id, args, interrupted)


def _run_ray(store: Any, study_id: int, args: argparse.Namespace) -> int:
    """As ``_run``, with one Ray task per run: this process drives them and is the only
    writer of the store; on the way out no task of the study is left running."""
    from tqdm import tqdm

    from ..runner.ray_backend import RayBackend, RayUnreachable

    backend = RayBackend(store, address=args.address, num_cpus=args.workers)
    bar = tqdm(total=0, desc=f"study {study_id} (ray)", unit="run", file=sys.stderr,
               disable=args.quiet, leave=False)

    def ended() -> bool:  # the study's current runs (a retry replaces a lost one)
        runs = store.runs_by_id([int(i) for i in store.study_runs(study_id).run_id.unique()])
        n = sum(r.status in ENDED for r in runs.values())
        bar.total = len(runs)
        bar.update(n - bar.n)
        return n >= len(runs)

    interrupted = False
    try:
        if not ended():
            backend.connect()
            backend.drive(study_id)
            backend.run_until(ended)
    except RayUnreachable as e:
        bar.close()
        backend.shutdown()
        return _fail(str(e))
    except KeyboardInterrupt:
        interrupted = True
        cancel(store, study_id, reason=INTERRUPTED)
        end = time.monotonic() + 5.0  # tasks stop at their next poll
        try:
            backend.run_until(lambda: not backend.active or time.monotonic() > end)
        except KeyboardInterrupt:
            pass
    finally:
        bar.close()
        backend.shutdown()
    return _ended(store, study_id, args, interrupted)


def _ended(store: Any, study_id: int, args: argparse.Namespace, interrupted: bool) -> int:
    """Print how the study ended; the exit code: 0 done, 1 not all done, 130 interrupted."""
    if interrupted:
        _mark_interrupted(store, study_id)
        say(f"study {study_id} stopped: {INTERRUPTED}; `mtae study resume {study_id}` "
            "runs what is left", err=True)
        _print(summarize(store, study_id), args.json)
        return 130
    summary = summarize(store, study_id)
    _print(summary, args.json)
    return 0 if summary.status == "done" else 1


def _mark_interrupted(store: Any, study_id: int) -> None:
    """Runs of this study that the stopped workers left failed were being cancelled:
    say so instead of calling them failures (each says ``INTERRUPTED``)."""
    df = store.study_runs(study_id)
    own = [int(i) for i in df.loc[df.owned, "run_id"]]
    for r in store.runs_by_id(own).values():
        if r.cancel_requested and r.status in ("failed", "running", "queued"):
            store.finish(r.id, "cancelled", INTERRUPTED)


def cmd_studies(args: argparse.Namespace) -> int:
    store = _store(args)
    studies = store.studies()
    if not studies:
        say("no studies yet")
        return 0
    say(f"{'id':>4}  {'status':<9}  {'runs':>9}  {'cells':>5}  name")
    for st in studies:
        df = store.study_runs(st.id)
        ids = [int(i) for i in df.run_id.unique()]
        runs = store.runs_by_id(ids)  # (a run whose row no longer reads is left out)
        done = sum(r.status == "done" for r in runs.values())
        try:
            s = summarize(store, st.id)
            status, n_cells = s.status, str(len(s.cells))
        except ConfigError:
            status, n_cells = "unreadable", "?"  # its spec no longer reads; runs are kept
        bad = len(ids) - len(runs)
        note = f"  ({bad} unreadable run{'s' * (bad > 1)}: see mtae runs)" if bad else ""
        say(f"{st.id:>4}  {status:<9}  {f'{done}/{len(ids)}':>9}  {n_cells:>5}  {st.name}{note}")
    return 0


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _print(summary: StudySummary, as_json: bool) -> int:
    if as_json:
        say(json.dumps(summary.to_json()))
        return 0
    s = summary
    counts = ", ".join(f"{n} {k}" for k, n in s.counts.items())
    say(f"study {s.study_id} '{s.name}': {s.status} ({counts})")
    for note in s.notes:
        say(f"  note: {note}")
    for task in s.tasks:
        m = s.metric_of[task]
        say(f"\n{task} ({m}, test; best chosen on validation)")
        say(f"  {'cell':<44} {'mean ± std':>18} {'95% interval':>20} {'n':>3} "
            f"{'Δm % ± std':>16} {'best':>5} {'params all/shared':>17}")
        for c in s.cells:
            st = c.metrics.get(task, {}).get(m, {})
            ci = st.get("ci95")
            dm = c.delta_m
            params = f"{_fmt(c.params.get('total'))}/{_fmt(c.params.get('shared'))}"
            say(f"  {c.label[:44]:<44} {_fmt(st.get('mean')):>8} ± {_fmt(st.get('std')):<7} "
                f"{(f'[{_fmt(ci[0])}, {_fmt(ci[1])}]' if ci else '–'):>20} {st.get('n', 0):>3} "
                f"{_fmt(dm.get('mean'), 2):>7} ± {_fmt(dm.get('std'), 2):<6} "
                f"{str(c.best.get(task, False)):>5} {params:>17}")
    say()
    for c in s.cells:
        say(f"{c.label}: " + ("; ".join(c.words) or "no finished runs yet"))
    return 0
