"""The Data page through AppTest: relatedness of a built-in before training, an upload
that becomes a data set the Train page offers, bad files refused in plain words, and the
measured gains of sharing beside the heatmaps once runs exist."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from mtae_core.store.runs import RunStore

PAGE = "pages/data.py"


def _open(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _csv(n: int = 150) -> bytes:  # 150 rows: 98 to train, more than a batch of 64
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": rng.normal(size=n), "kind": np.where(a > 0, "big", "small"),
                         "score": 2 * a + rng.normal(size=n) * 0.1}).to_csv(index=False).encode()


def _md(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def test_builtin_relatedness_before_training(app, home):
    at = _open(app())
    assert at.selectbox(key="data.view").value == "digits"
    text = _md(at)
    assert "**1,797 rows**" in text
    assert "Digit and parity are strongly related" in text  # the one-line reading
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text")
              for c in at.get("plotly_chart")]
    assert {"digit", "parity", "Label relatedness",
            "Gradient agreement at initialisation"} <= set(titles)
    assert any("No measured gains yet" in str(i.value) for i in at.info)
    # another data set, a feature column as a task
    at.selectbox(key="data.view").set_value("wine").run()
    at.multiselect(key="data.view.tasks.wine").set_value(["cultivar", "alcohol"]).run()
    assert not at.exception and "**178 rows**" in _md(at)
    assert "12 input columns" in _md(at)


def test_upload_becomes_a_data_set_the_train_page_offers(app, home):
    at = _open(app())
    assert any("100 MB" in str(c.value) for c in at.caption)  # the size cap is stated
    at.file_uploader(key="data.file").set_value(("my scores.csv", _csv(), "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "150 rows × 4 columns" in _md(at)
    assert at.multiselect(key="data.new.tasks").value == ["score"]
    at.multiselect(key="data.new.tasks").set_value(["score", "kind"]).run()
    assert at.selectbox(key="data.new.kind.kind").value == "classification"
    assert at.text_input(key="data.new.name").value == "my_scores"
    next(b for b in at.button if b.label == "Add data set").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Stored as 'my_scores'" in str(s.value) for s in at.success)
    stored = RunStore(home / "runs.db").stored_datasets()
    assert [d.name for d in stored] == ["my_scores"]
    assert at.selectbox(key="data.view").value == "my_scores"
    assert "**150 rows**" in _md(at)
    # the Train page lists it like a built-in, and its config keeps the file's hash
    at.switch_page("pages/train.py").run()
    at.selectbox(key="data.dataset.name").set_value("my_scores").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    exported = json.loads(at.code[0].value)
    assert exported["data"]["dataset"] == "my_scores"
    assert exported["data"]["options"]["sha256"] == stored[0].sha256
    assert set(exported["data"]["tasks"]) == {"score", "kind", "reconstruction"}


def test_bad_files_are_refused_in_plain_words(app, home):
    at = _open(app())
    at.file_uploader(key="data.file").set_value(
        ("book.csv", b"PK\x03\x04" + b"\x00" * 100, "text/csv")).run()
    assert not at.exception
    assert any("Excel workbook" in str(e.value) for e in at.error)
    assert not [b for b in at.button if b.label == "Add data set"]
    # a good file under a built-in's name: refused, nothing stored, the app goes on
    at.file_uploader(key="data.file").set_value(("t.csv", _csv(), "text/csv")).run()
    at.text_input(key="data.new.name").set_value("wine").run()
    next(b for b in at.button if b.label == "Add data set").click().run()
    assert not at.exception
    assert any("built-in data set" in str(e.value) for e in at.error)
    assert RunStore(home / "runs.db").stored_datasets() == []


def test_measured_gains_beside_relatedness(app, filled):
    at = _open(app())
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text")
              for c in at.get("plotly_chart")]
    assert "Measured change per task from sharing" in titles
    assert not any("No measured gains yet" in str(i.value) for i in at.info)


def test_a_stored_table_is_deletable_while_no_run_uses_it(app, home):
    from mtae_core.config import ExperimentConfig
    from mtae_core.store.tables import add_table

    store = RunStore(home / "runs.db")
    used = add_table(store, "used", _csv())
    add_table(store, "free", _csv(120))
    store.create_run(ExperimentConfig.parse({"data": {"dataset": "used"}}))
    at = _open(app())
    # (each Delete asks once more: its "Delete for good" is in a popover)
    buttons = {b.key: b for b in at.button if b.label == "Delete for good"}
    assert buttons[f"data.delete.{used.sha256}"].disabled  # a run uses it
    free = next(b for k, b in buttons.items() if k != f"data.delete.{used.sha256}")
    assert not free.disabled
    free.click().run()
    assert not at.exception
    assert [d.name for d in store.stored_datasets()] == ["used"]
    assert "used by 1 run(s)" in _md(at)


def test_measured_gains_use_matched_baselines_only(filled):
    """A sharing run whose only single-task run was trained with another budget is left
    out of 'Did relatedness predict transfer?' (its gain would not measure transfer)."""
    from page_helpers import tiny

    from mtae_core.analysis.gains import measured_gains
    from mtae_core.runner.jobs import execute

    store = RunStore(filled.path)
    before = set(measured_gains(store, "digits")["run_id"])
    assert filled.ids["hard"] in before  # matched by the fixture's single-task run
    other = tiny("longer", training={"epochs": 3})  # no single-task run with 3 epochs
    run_id = store.create_run(other)
    execute(store, run_id, other)
    assert run_id not in set(measured_gains(store, "digits")["run_id"])
