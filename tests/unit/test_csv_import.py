"""Users' CSV tables: every bad file gets a plain-words message and stores nothing; good
files become data sets that train, export and train again from another store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mtae_core import ExperimentConfig
from mtae_core.cli import main
from mtae_core.config import ConfigError
from mtae_core.data import csv_import, datasets, load
from mtae_core.data.csv_import import CsvError, parse_roles, read_table
from mtae_core.store.tables import add_table, delete_table


def _table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({
        "a": a, "b": rng.normal(size=n), "colour": rng.choice(["red", "green", "blue"], n),
        "label": (a > 0).astype(int), "score": 3 * a + rng.normal(size=n) * 0.1,
    })


def _csv(df: pd.DataFrame, **kw) -> bytes:
    return df.to_csv(index=False, **kw).encode()


def _snapshot(store) -> list[tuple[str, str]]:
    return [(d.name, d.sha256) for d in store.stored_datasets()]


def _rejects(store, data: bytes, match: str, name: str = "mine", tasks=(), inputs=()) -> str:
    """Adding ``data`` fails with a message matching ``match`` and stores nothing."""
    before = _snapshot(store)
    with pytest.raises(CsvError, match=match) as e:
        parsed = read_table(data)
        cols = parse_roles(parsed.frame, tasks, inputs) if tasks or inputs else None
        add_table(store, name, data, cols, parsed=parsed)
    assert _snapshot(store) == before
    msg = str(e.value)
    assert "Traceback" not in msg and "pydantic" not in msg.lower()
    return msg


# ---- one test per bad file -------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"  \n\n \r\n"])
def test_empty_file(store, data):
    _rejects(store, data, "The file is empty")


def test_header_only(store):
    _rejects(store, b"a,b,c\n", "a header but no rows of data")


def test_one_row(store):
    _rejects(store, b"a,b,c\n1,2,3\n", r"1 row of data; at least 5 are needed")


def test_binary_file(store):
    _rejects(store, bytes(range(256)) * 40, "not text")


def test_excel_workbook_renamed_csv(store):
    _rejects(store, b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "Excel workbook.*Save As")


def test_not_utf8_is_read_with_the_encoding_it_names(store):
    df = _table()
    df["colour"] = np.where(df["label"] == 1, "crème", "café")
    data = df.to_csv(index=False).encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    ds = add_table(store, "latin", data)
    assert "read as Windows-1252" in " ".join(ds.meta["notes"])
    assert set(read_table(data).frame["colour"]) == {"crème", "café"}


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_other_delimiters_are_detected(store, sep, word):
    data = _csv(_table(), sep=sep)
    parsed = read_table(data)
    assert list(parsed.frame.columns) == ["a", "b", "colour", "label", "score"]
    assert parsed.frame["a"].dtype == np.float64
    assert any(word in n for n in parsed.notes)


@pytest.mark.parametrize("bad", ["1,2,3,4", "1,2"])
def test_ragged_rows_name_the_line(store, bad):
    rows = ["x,y,z", "1,2,3", "4,5,6", bad, "7,8,9", "1,1,1", "2,2,2"]
    msg = _rejects(store, "\n".join(rows).encode(), r"Line 4 has \d values but the header has 3")
    assert str(len(bad.split(","))) in msg


def test_duplicate_column_names(store):
    data = b"x,y,x\n" + b"1,2,3\n" * 6
    _rejects(store, data, r"'x' appears twice \(columns 1 and 3\)")


def test_unnamed_column(store):
    _rejects(store, b"x,,z\n" + b"1,2,3\n" * 6, "Column 2 has no name")


def test_constant_task_column(store):
    df = _table()
    df["label"] = 1
    _rejects(store, _csv(df), "'label' has the same value in every row", tasks=["label"])


def test_task_column_all_missing(store):
    df = _table()
    df["score"] = np.nan
    _rejects(store, _csv(df), "'score' is empty: every value is missing", tasks=["score"])


def test_task_class_with_a_single_row(store):
    df = _table()
    df.loc[5, "colour"] = "purple"
    _rejects(store, _csv(df), r"'colour' has a class \(purple\) with a single row",
             tasks=["colour"])


def test_infinite_values_name_column_and_line(store):
    df = _table()
    df["b"] = df["b"].astype(object)
    df.loc[2, "b"] = "inf"
    _rejects(store, _csv(df), "'b' has an infinite value on line 4")


def test_thousands_of_columns(store):
    header = ",".join(f"c{i}" for i in range(csv_import.MAX_COLUMNS + 1))
    row = ",".join("1" for _ in range(csv_import.MAX_COLUMNS + 1))
    _rejects(store, (header + "\n" + (row + "\n") * 6).encode(), r"1,001 columns; at most 1,000")


def test_file_above_the_size_cap(store, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1024)
    data = _csv(_table(200))
    assert len(data) > 1024
    _rejects(store, data, r"The file is \d+ kB; the limit is 1 kB")


def test_name_of_a_built_in(store):
    _rejects(store, _csv(_table()), "'wine' is the name of a built-in data set", name="wine")


def test_name_already_used_and_file_already_stored(store):
    add_table(store, "mine", _csv(_table()))
    _rejects(store, _csv(_table(seed=1)), "named 'mine' is already stored")
    _rejects(store, _csv(_table()), "already stored as the data set 'mine'", name="other")


def test_unknown_task_column_and_text_as_regression(store):
    _rejects(store, _csv(_table()), r"No column 'lable' in the file; its columns are: a, b",
             tasks=["lable"])
    _rejects(store, _csv(_table()), "'colour' holds text, so it can only be a classification",
             tasks=["colour:regression"])


def test_text_input_with_too_many_values(store):
    df = _table(80)
    df["id"] = [f"person {i}" for i in range(80)]
    # inferred roles leave a name-like column out of the inputs ...
    ds = add_table(store, "people", _csv(df))
    assert {c["name"]: c["role"] for c in ds.meta["columns"]}["id"] == "ignore"
    # ... and asking for it as an input says why not
    delete_table(store, "people")
    _rejects(store, _csv(df), "'id' has 80 different text values", tasks=["score"],
             inputs=["a", "id"])


@pytest.mark.parametrize("argv_tail", [["--name", "wine"], ["--name", "ok", "--task", "nope"]])
def test_cli_bad_file_exits_2_without_traceback(store, tmp_path, capsys, argv_tail):
    f = tmp_path / "t.csv"
    f.write_bytes(_csv(_table()))
    assert main(["--db", str(store.path), "data", "add", str(f), *argv_tail]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert store.stored_datasets() == []


def test_cli_empty_file(store, tmp_path, capsys):
    f = tmp_path / "empty.csv"
    f.write_bytes(b"")
    assert main(["data", "add", str(f), "--name", "e"]) == 2
    assert "The file is empty" in capsys.readouterr().err


# ---- good files -------------------------------------------------------------------------------


def test_inferred_roles_kinds_and_missing_counts(store):
    df = _table()
    df.loc[[1, 2, 3], "b"] = np.nan
    ds = add_table(store, "mine", _csv(df))
    cols = {c["name"]: c for c in ds.meta["columns"]}
    assert cols["score"]["role"] == "task" and cols["score"]["kind"] == "regression"
    assert cols["label"]["role"] == "input" and cols["label"]["kind"] == "classification"
    assert cols["colour"]["dtype"] == "text" and cols["b"]["missing"] == 3
    assert "mine" in datasets.names() and "mine" in datasets


def test_missing_values_policy_and_one_hot_text(store):
    df = _table()
    df.loc[[1, 2, 3], "b"] = np.nan
    df.loc[4, "colour"] = np.nan
    df.loc[7, "score"] = np.nan
    add_table(store, "mine", _csv(df))
    base = {"dataset": "mine", "tasks": ["score", "label"]}
    impute = load(ExperimentConfig.parse({"data": base}).data, 0)
    drop = load(ExperimentConfig.parse({"data": {**base, "options": {"missing": "drop"}}}).data, 0)
    n = lambda d: len(d.train) + len(d.val) + len(d.test)  # noqa: E731
    assert n(impute) == 59  # the row without a score is dropped whatever the policy
    assert n(drop) == 55  # and with "drop", the four rows missing an input too
    # a, b and the three colours one-hot; label is a task now, so not an input
    assert impute.input_dim == drop.input_dim == 5
    assert not np.isnan(impute.train.x.numpy()).any()
    # scaling (and imputation) fitted on the training split only
    assert abs(float(impute.train.x[:, 0].mean())) < 1e-5
    assert abs(float(impute.test.x[:, 0].mean())) > 1e-4


def test_config_names_a_stored_table_by_content_hash(store):
    data = _csv(_table())
    ds = add_table(store, "mine", data)
    cfg = ExperimentConfig.parse({"data": {"dataset": "mine"}})
    assert cfg.data.options["sha256"] == ds.sha256
    assert cfg.data.tasks == ("score", "reconstruction")
    # a config made from other data under the same name: refused, naming both hashes
    with pytest.raises(ConfigError, match=r"data.options.sha256: .*other data under the name "
                                          r"'mine' \(SHA-256 " + ds.sha256[:12]):
        ExperimentConfig.parse({"data": {"dataset": "mine", "options": {"sha256": "0" * 64}}})
    with pytest.raises(ConfigError, match="unknown data set \"nothere\""):
        ExperimentConfig.parse({"data": {"dataset": "nothere"}})


def test_round_trip_upload_train_export_train_elsewhere(store, tmp_path, capsys):
    f = tmp_path / "table.csv"
    f.write_bytes(_csv(_table(120)))
    assert main(["data", "add", str(f), "--name", "mine", "--task", "label",
                 "--task", "score"]) == 0
    capsys.readouterr()
    cfg = ExperimentConfig.parse({
        "data": {"dataset": "mine"}, "training": {"epochs": 2, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}})
    (tmp_path / "c.json").write_text(cfg.to_json())
    assert main(["train", str(tmp_path / "c.json"), "--json", "--quiet"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "done"
    exported = tmp_path / "exported.json"
    assert main(["export", str(first["run_id"])]) == 0
    exported.write_text(capsys.readouterr().out)
    # another machine: an empty store does not know the data set ...
    other = tmp_path / "elsewhere" / "runs.db"
    assert main(["--db", str(other), "train", str(exported), "--quiet"]) == 2
    assert 'unknown data set "mine"' in capsys.readouterr().err
    # ... once the same file is added there, the exported config trains to the same metrics
    assert main(["--db", str(other), "data", "add", str(f), "--name", "mine",
                 "--task", "label", "--task", "score"]) == 0
    capsys.readouterr()
    assert main(["--db", str(other), "train", str(exported), "--json", "--quiet"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["status"] == "done"
    for task, ms in first["test_metrics"].items():
        for k, v in ms.items():
            assert second["test_metrics"][task][k] == pytest.approx(v, rel=1e-5, abs=1e-6)


def test_delete_is_refused_while_a_run_uses_it(store, tiny_cfg):
    add_table(store, "mine", _csv(_table()))
    run_id = store.create_run(tiny_cfg.replace(data={"dataset": "mine"}))
    with pytest.raises(CsvError, match=rf"used by 1 run\(s\) \({run_id}\)"):
        delete_table(store, "mine")
    assert [d.name for d in store.stored_datasets()] == ["mine"]
    store.delete_run(run_id)
    delete_table(store, "mine")
    assert store.stored_datasets() == [] and "mine" not in datasets


def test_cli_list_show_delete(store, tmp_path, capsys):
    f = tmp_path / "t.csv"
    f.write_bytes(_csv(_table()))
    assert main(["data", "add", str(f), "--name", "mine"]) == 0
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "wine" in out
    assert main(["data", "show", "mine", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 60 and [t["name"] for t in report["tasks"]] == ["score", "reconstruction"]
    assert main(["data", "delete", "mine"]) == 0
    assert main(["data", "show", "mine"]) == 2
    assert "no data set named 'mine'" in capsys.readouterr().err


def test_a_store_migrating_runs_on_a_stored_table_opens_once(store, tiny_cfg, monkeypatch):
    """Opening a store migrates its runs' configs, which name stored tables: listing the
    tables must not open (and so migrate) the store again, recursively."""
    from mtae_core.store.runs import RunStore

    add_table(store, "mine", _csv(_table()))
    run_id = store.create_run(tiny_cfg.replace(data={"dataset": "mine"}))
    with store._tx() as c:  # a store made before run keys (and before schema versions)
        c.execute("UPDATE runs SET key=NULL WHERE id=?", (run_id,))
    with store._conn() as c:
        c.execute("PRAGMA user_version=0")
    opened = []
    init = RunStore.__init__

    def counting(self, *a, **kw):  # type: ignore[no-untyped-def]
        opened.append(1)
        init(self, *a, **kw)

    monkeypatch.setattr(RunStore, "__init__", counting)
    again = RunStore(store.path)
    assert len(opened) == 1
    with again._conn() as c:
        assert c.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()[0]
