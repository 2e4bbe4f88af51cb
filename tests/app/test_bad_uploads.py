"""An upload over the size cap (issue 20, item 11): the Data page refuses it by its
``size`` before it takes the file's bytes (``getvalue()``), so a large file costs no copy
and no parse; a NUL byte deep in a file is refused as binary."""

from __future__ import annotations

from typing import Any

from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit.testing.v1 import AppTest

from mtae_core.data import csv_import
from mtae_core.store.runs import RunStore

PAGE = "pages/data.py"
CSV = ("a,b,label\n" + "".join(f"{i},{i * 0.5},{'xy'[i % 2]}\n" for i in range(400))).encode()


def _open(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_upload_over_the_cap_is_refused_by_its_size(app, home, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1000)
    taken: list[int] = []
    original = UploadedFile.getvalue

    def getvalue(self: Any) -> bytes:
        taken.append(self.size)
        return original(self)

    monkeypatch.setattr(UploadedFile, "getvalue", getvalue, raising=False)
    at = _open(app())
    at.file_uploader(key="data.file").set_value(("big.csv", CSV, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("the limit is 1 kB" in str(e.value) for e in at.error), [e.value for e in at.error]
    assert taken == [], "the page took the bytes of a file over the cap"
    assert not [b for b in at.button if b.label == "Add data set"]
    assert RunStore(home / "runs.db").stored_datasets() == []


def test_an_upload_with_a_nul_byte_deep_inside_is_binary(app, home):
    data = CSV * 40  # (the rows repeat: well past 64 KiB)
    assert len(data) > 70_000
    data = data[:-20] + b"\x00" + data[-19:]
    at = _open(app())
    at.file_uploader(key="data.file").set_value(("nul.csv", data, "text/csv")).run()
    assert not at.exception
    assert any("not text" in str(e.value) for e in at.error), [e.value for e in at.error]
    assert RunStore(home / "runs.db").stored_datasets() == []
