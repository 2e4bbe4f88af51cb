"""``mtae``: the engine headless. ``mtae train CONFIG.json [--json]``, ``mtae runs``,
``mtae list``, ``mtae config``, ``mtae export RUN_ID``, ``mtae study SPEC.json`` (and
``mtae study show|export|resume|cancel ID``), ``mtae studies``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .config import ConfigError, ExperimentConfig, parse_json


def _store(args: argparse.Namespace) -> Any:
    from .store import RunStore

    return RunStore(args.db)


def read_json_file(path: str) -> Any:
    """The JSON value in the file ``path`` (``-``: standard input). Every problem, from a
    missing file to text that is not UTF-8 or JSON nested too deeply, is a
    ``ConfigError`` in plain words, for a command to print and exit 2."""
    try:
        data = Path(path).read_bytes() if path != "-" else sys.stdin.buffer.read()
    except OSError as e:
        raise ConfigError([("", f"cannot read {path}: {e.strerror or e}")]) from None
    return parse_json(data)


def load_config(path: str) -> ExperimentConfig:
    """The validated config in the file ``path`` (``-``: standard input); ``ConfigError``
    on any problem."""
    return ExperimentConfig.parse(read_json_file(path))


def cmd_train(args: argparse.Namespace) -> int:
    from .preflight import preflight

    try:
        cfg = load_config(args.config)
        preflight(cfg)  # what the data and this machine allow: nothing is stored otherwise
    except ConfigError as e:
        print(f"cannot train {args.config}:", file=sys.stderr)
        for path, message in e.errors:
            print(f"  {message}" + (f"  [{path}]" if path else ""), file=sys.stderr)
        return 2
    from tqdm import tqdm

    from .jobs import execute

    store = _store(args)
    run_id = store.create_run(cfg, status="running")
    with store._tx() as c:  # this process is the run's worker
        c.execute("UPDATE runs SET worker_pid=?, started=strftime('%s','now') WHERE id=?",
                  (os.getpid(), run_id))
    bar = tqdm(total=100, desc=f"run {run_id} {cfg.name}", unit="%", file=sys.stderr,
               disable=args.quiet, leave=False)

    def on_progress(f: float) -> None:
        bar.update(int(f * 100) - bar.n)

    try:
        execute(store, run_id, cfg, on_progress)
    except KeyboardInterrupt:
        store.finish(run_id, "cancelled", "interrupted from the keyboard")
    finally:
        bar.close()
    run = store.get_run(run_id)
    assert run is not None
    if args.json:
        print(json.dumps({"run_id": run.id, "status": run.status, "error": run.error,
                          "device": run.device, "test_metrics": run.test_metrics,
                          "train_seconds": run.train_seconds}))
    else:
        print(f"run {run.id} ({run.name}): {run.status}"
              + (f" in {run.train_seconds:.1f} s on {run.device}" if run.train_seconds else ""))
        if run.error:
            print(f"  {run.error}")
        for task, ms in run.test_metrics.items():
            print(f"  {task:<16} " + "  ".join(f"{k}={v:.4f}" for k, v in ms.items() if k != "loss"))
    return 0 if run.status == "done" else 1


def cmd_runs(args: argparse.Namespace) -> int:
    df = _store(args).runs_table()
    if df.empty:
        print("no runs yet")
        return 0
    cols = [c for c in df.columns if c not in ("tasks", "created", "device")]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .data import datasets
    from .models import autoencoders, sharing
    from .schedules import schedules
    from .weighting import weightings

    for title, reg in (("data sets", datasets), ("autoencoders", autoencoders),
                       ("sharing schemes", sharing), ("weighting strategies", weightings),
                       ("schedules", schedules)):
        print(f"{title}:")
        for name, summary in reg.describe():
            print(f"  {name:<22} {summary}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    print(ExperimentConfig().to_json())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    run = _store(args).get_run(args.run_id)
    if run is None:
        print(f"error: no run with id {args.run_id}", file=sys.stderr)
        return 2
    print(run.config.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mtae", description="MTAE Studio from the command line")
    p.add_argument("--db", default=None, help="run store path (default: $MTAE_HOME/runs.db)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a config headless and store the run")
    t.add_argument("config", help="config JSON file (as exported by the Train page), or -")
    t.add_argument("--json", action="store_true", help="print one JSON object at the end")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)
    sub.add_parser("runs", help="list stored runs").set_defaults(fn=cmd_runs)
    sub.add_parser("list", help="list every registry with a line each").set_defaults(fn=cmd_list)
    sub.add_parser("config", help="print the default config").set_defaults(fn=cmd_config)
    e = sub.add_parser("export", help="print the config of a stored run")
    e.add_argument("run_id", type=int)
    e.set_defaults(fn=cmd_export)
    from .studies.cli import add_parsers as add_study_parsers

    add_study_parsers(sub)
    args = p.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
