"""``mtae``: the engine headless. ``mtae train CONFIG.json [--json]``, ``mtae runs``,
``mtae list``, ``mtae config``, ``mtae export RUN_ID``, ``mtae study SPEC.json`` (and
``mtae study show|export|resume|cancel ID``), ``mtae studies``,
``mtae data add|list|show|delete``, ``mtae lessons``, ``mtae lesson check NAME``,
``mtae serve --class [--port N]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..config import ConfigError, ExperimentConfig, parse_json
from ..errors import StoreError, cut, printable, whole_number
from .terminal import say


def _store(args: argparse.Namespace) -> Any:
    from .opening import open_store

    return open_store(args.db)


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
    from ..engine.preflight import preflight

    try:
        cfg = load_config(args.config)
        preflight(cfg)  # what the data and this machine allow: nothing is stored otherwise
    except ConfigError as e:
        say(f"cannot train {args.config}:", err=True)
        for p in e.problems:
            say(f"  {p.message}" + (f"  [{p.path}]" if p.path else ""), err=True)
        return 2
    from tqdm import tqdm

    from ..runner.jobs import execute

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
        say(json.dumps({"run_id": run.id, "status": run.status, "error": run.error,
                          "device": run.device, "test_metrics": run.test_metrics,
                          "val_metrics": run.val_metrics, "kept_epoch": run.info.get("kept_epoch"),
                          "train_seconds": run.train_seconds}))
    else:
        say(f"run {run.id} ({run.name}): {run.status}"
            + (f" in {run.train_seconds:.1f} s on {run.device}" if run.train_seconds else ""))
        if run.error:
            say(f"  {run.error}")
        for task, ms in run.test_metrics.items():
            say(f"  {task:<16} " + "  ".join(f"{k}={v:.4f}" for k, v in ms.items() if k != "loss"))
    return 0 if run.status == "done" else 1


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store(args)
    df = store.runs_table(superseded=args.all)
    bad = store.unreadable()
    if df.empty and not bad:
        say("no runs yet")
        return 0
    if not df.empty:
        cols = [c for c in df.columns if c not in ("tasks", "created", "device")]
        df = df[cols].copy()
        for c in cols:  # names (and owners) escaped before the columns are lined up
            if df[c].dtype == object:
                df[c] = df[c].map(lambda v: printable(v) if isinstance(v, str) else v)
        say(df.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for r in bad:  # one run that no longer reads never hides the others
        say(f"run {r.id} ({printable(r.name)}, {r.status}): unreadable, {r.problem}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ..data import datasets
    from ..models import autoencoders, sharing
    from ..schedules import schedules
    from ..weighting import weightings

    for title, reg in (("data sets", datasets), ("autoencoders", autoencoders),
                       ("sharing schemes", sharing), ("weighting strategies", weightings),
                       ("schedules", schedules)):
        say(f"{title}:")
        for name, summary in reg.describe():
            say(f"  {name:<22} {summary}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    say(ExperimentConfig().to_json())
    return 0


def _run_id(text: str) -> int:
    """A run id typed on the command line: ASCII digits, 1 to SQLite's largest integer."""
    try:
        return whole_number(text, 1, 2**63 - 1)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"the run id '{cut(text)}' {e}") from None


def cmd_export(args: argparse.Namespace) -> int:
    try:
        run = _store(args).get_run(args.run_id)
    except ConfigError as e:
        say(f"error: run {args.run_id} is unreadable: its stored settings do not read in "
              f"this version ({e.messages[0] if e.messages else e})", err=True)
        return 2
    if run is None:
        say(f"error: no run with id {args.run_id}", err=True)
        return 2
    say(run.config.to_json())
    return 0


def cmd_data_add(args: argparse.Namespace) -> int:
    from ..data.csv_import import CsvError, parse_roles, read_file, read_table
    from ..store.tables import add_table

    try:
        data = read_file(args.file)  # its size is checked before it is read
    except OSError as e:
        say(f"error: cannot read {args.file}: {e.strerror}", err=True)
        return 2
    except CsvError as e:
        say(f"error: {args.file}: {e}", err=True)
        return 2
    try:
        parsed = read_table(data)
        columns = (parse_roles(parsed.frame, args.task or (), args.input or ())
                   if args.task or args.input else None)
        ds = add_table(_store(args), args.name, data, columns, args.missing, parsed)
    except CsvError as e:
        say(f"error: {args.file}: {e}", err=True)
        return 2
    for note in ds.meta["notes"]:
        say(note)
    say(f"stored data set {ds.name!r} (SHA-256 {ds.sha256[:12]}…)")
    _print_columns(ds.meta)
    say(f'a config uses it with "data": {{"dataset": "{ds.name}"}}')
    return 0


def _print_columns(meta: dict[str, Any]) -> None:
    say(f"  {meta['rows']:,} rows; missing values: {meta['missing']}")
    for c in meta["columns"]:
        extra = f" ({c['missing']} missing)" if c["missing"] else ""
        kind = f" as {c['kind']}" + (f", {c['distinct']} classes" if c["kind"] == "classification"
                                     else "") if c["role"] == "task" else ""
        say(f"  {c['role']:<7} {c['name']} [{c['dtype']}]{kind}{extra}")


def cmd_data_list(args: argparse.Namespace) -> int:
    from ..data import datasets

    builtin = set(datasets.builtin_names())
    for name, summary in datasets.describe():
        say(f"  {name:<22} {'built-in' if name in builtin else 'stored  '}  {summary}")
    return 0


def cmd_data_show(args: argparse.Namespace) -> int:
    from ..analysis.relatedness import dataset_report
    from ..data import datasets

    if args.name not in datasets:
        say(f"error: no data set named '{cut(args.name)}'; data sets: "
            f"{', '.join(datasets.names())}", err=True)
        return 2
    try:
        report = dataset_report(args.name)
    except ConfigError as e:  # a real benchmark not fetched yet: `make data` adds it
        say(f"error: {'; '.join(p.message for p in e.problems)}", err=True)
        return 2
    if args.json:
        say(json.dumps(report, indent=2))
        return 0
    say(f"{args.name}: {report['summary']}")
    say(f"  {report['rows']:,} rows; {len(report['inputs'])} input columns")
    for t in report["tasks"]:
        classes = (f", {len(t['class_counts'])} classes: " + ", ".join(
            f"{k} ({v})" for k, v in list(t["class_counts"].items())[:10])
            if t["kind"] == "classification" else "")
        say(f"  task {t['name']:<20} {t['kind']}{classes}")
    say("relatedness of the default tasks (before training):")
    for line in report["readings"]:
        say(f"  {line}")
    return 0


def cmd_data_delete(args: argparse.Namespace) -> int:
    from ..data.csv_import import CsvError
    from ..store.tables import delete_table

    try:
        delete_table(_store(args), args.name)
    except CsvError as e:
        say(f"error: {e}", err=True)
        return 2
    say(f"deleted data set '{cut(args.name)}'")
    return 0


def _data_parser(sub: Any) -> None:
    d = sub.add_parser("data", help="add, list, show or delete data sets (your CSV tables)")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    a = dsub.add_parser("add", help="store a CSV file as a data set")
    a.add_argument("file", help="the CSV file (comma, semicolon or tab separated)")
    a.add_argument("--name", required=True, help="the data set's name in configs")
    a.add_argument("--task", action="append", metavar="COLUMN[:classification|regression]",
                   help="a task column, its kind inferred unless given (repeat for more; "
                        "default: the last column)")
    a.add_argument("--input", action="append", metavar="COLUMN",
                   help="an input column (repeat for more; default: every other column)")
    a.add_argument("--missing", choices=["impute", "drop"], default="impute",
                   help="rows with a missing input: impute the training mean, or drop them")
    a.set_defaults(fn=cmd_data_add)
    dsub.add_parser("list", help="every data set, built-in and stored").set_defaults(
        fn=cmd_data_list)
    s = dsub.add_parser("show", help="rows, inputs, tasks and their relatedness")
    s.add_argument("name")
    s.add_argument("--json", action="store_true", help="one JSON object with the matrices")
    s.set_defaults(fn=cmd_data_show)
    r = dsub.add_parser("delete", help="delete a stored data set no run uses")
    r.add_argument("name")
    r.set_defaults(fn=cmd_data_delete)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mtae", description="MTAE Studio from the command line")
    p.add_argument("--db", default=None, help="run store path (default: $MTAE_HOME/runs.db)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a config headless and store the run")
    t.add_argument("config", help="config JSON file (as exported by the Train page), or -")
    t.add_argument("--json", action="store_true", help="print one JSON object at the end")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)
    r = sub.add_parser("runs", help="list stored runs (one per study cell and seed)")
    r.add_argument("--all", action="store_true",
                   help="also the attempts a resumed study replaced (superseded runs)")
    r.set_defaults(fn=cmd_runs)
    sub.add_parser("list", help="list every registry with a line each").set_defaults(fn=cmd_list)
    sub.add_parser("config", help="print the default config").set_defaults(fn=cmd_config)
    e = sub.add_parser("export", help="print the config of a stored run")
    e.add_argument("run_id", type=_run_id)
    e.set_defaults(fn=cmd_export)
    from .study import add_parsers as add_study_parsers

    add_study_parsers(sub)
    _data_parser(sub)
    from .serve import add_parsers as add_serve_parsers

    add_serve_parsers(sub)
    from .lesson import add_parsers as add_lesson_parsers

    add_lesson_parsers(sub)
    args = p.parse_args(argv)
    from ..data import datasets
    from ..store import default_path
    from ..store.tables import StoreTables, attach

    # configs may name the users' tables of the store the command works on
    previous = datasets.source
    attach(args.db or default_path())
    try:
        return int(args.fn(args))
    except StoreError as e:  # damaged, read-only, newer, a home that is a file: one line
        say(f"error: {e}", err=True)
        return 2
    finally:
        datasets.use_source(previous)  # (a caller in the same process keeps its own)
        if isinstance(previous, StoreTables):
            previous.refresh()  # the command may have added or deleted a table


if __name__ == "__main__":
    sys.exit(main())
