"""Numbers typed by users (issue 20, item 6 and its siblings): one helper,
``errors.whole_number``, reads every id and step of a link or a command: ASCII digits
within a range ("²" and "①" pass ``str.isdigit`` but not ``int``; "١" passes both), in
a time that does not grow with the text; the forms' number lists take ASCII numbers only."""

from __future__ import annotations

import time

import pytest

from mtae_core.cli import main
from mtae_core.config import ExperimentConfig


@pytest.mark.parametrize("text", ["²", "①", "١", "", " ", "-1", "+1", "1.0", "1e3", "0x10",
                                  "1_000", "9" * 5000, "0", "101", "\ud800"])
def test_whole_number_refuses_in_plain_words(text):
    from mtae_core.errors import whole_number

    with pytest.raises(ValueError) as e:
        whole_number(text, 1, 100)
    assert "a whole number from 1 to 100 is needed" in str(e.value)
    assert "invalid literal" not in str(e.value) and "Exceeds" not in str(e.value)


def test_whole_number_reads_ascii_digits_quickly():
    from mtae_core.errors import whole_number

    assert whole_number(" 42 ", 1, 100) == 42 and whole_number("007", 1, 100) == 7
    assert whole_number(str(2**63 - 1), 1, 2**63 - 1) == 2**63 - 1
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="too large"):
        whole_number("0" * 1_000_000 + "9" * 1_000_000, 1, 100)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("word", ["show", "export", "cancel"])
@pytest.mark.parametrize("raw", ["²", "①", "9" * 5000])
def test_study_ids_on_the_command_line(store, capsys, word, raw):
    assert main(["--db", str(store.path), "study", word, raw]) == 2
    err = capsys.readouterr().err
    assert "the study id" in err and "Traceback" not in err and len(err) < 300


@pytest.mark.parametrize("raw", ["²", "١", "9" * 5000])
def test_run_ids_on_the_command_line(store, capsys, raw):
    store.create_run(ExperimentConfig())  # run 1: "١" must not name it
    with pytest.raises(SystemExit) as e:
        main(["--db", str(store.path), "export", raw])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "the run id" in err and "Traceback" not in err and len(err) < 1000


def test_number_lists_of_the_forms_take_ascii_numbers_only():
    from ui.widgets.forms import parse_number_list

    assert parse_number_list("128, 64") == [128, 64]
    assert parse_number_list("1e-3; .5, -2") == [0.001, 0.5, -2]
    assert parse_number_list("١٢, nan, 1_0, ²") == ["١٢", "nan", "1_0", "²"]
    assert parse_number_list("9" * 5000) == [float("inf")]  # (no ValueError: too large)
