"""Names with control characters (issue 20, item 5): refused in the names of runs and
studies, and never printed raw to a terminal (a name stored before, a CSV file's column
names and labels): every command's output goes through ``cli.terminal.say``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from mtae_core.cli import main
from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.studies import StudySpec

ROOT = Path(__file__).resolve().parents[2]
EVIL = "\x1b[2J\x1b[Hall tests passed\r\x07"  # clears the screen, prints fake text, rings
TINY = {"training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 8}}


def _clean(text: str) -> None:
    for ch in "\x1b\r\x07\u202e":
        assert ch not in text, repr(text[:200])


@pytest.mark.parametrize("name", [EVIL, "a\nb", "right\u202eto left", "tab\there"])
def test_names_with_control_characters_are_refused(name):
    with pytest.raises(ConfigError, match="Run name must not hold control characters") as e:
        ExperimentConfig.parse({"name": name})
    _clean(str(e.value))
    with pytest.raises(ConfigError, match="study name must not hold control characters"):
        StudySpec.parse({"name": name, "base": TINY})


def test_names_may_hold_any_letters_and_emoji():
    for name in ("Zoë's run", "学习 1", "family 👨\u200d👩\u200d👧", "a\u00a0b"):
        assert ExperimentConfig.parse({"name": name}).name == name


def test_train_refuses_a_name_with_an_escape(tmp_path, store, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"name": EVIL, **TINY}))
    assert main(["--db", str(store.path), "train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Run name must not hold control characters" in err
    _clean(err)
    assert store.runs() == []


def _stored_with_name(store, name: str) -> int:
    """A run stored before names were checked, named ``name`` (in its row and config)."""
    run_id = store.create_run(ExperimentConfig.parse({"name": "plain", **TINY}))
    cfg = json.loads(store.get_run(run_id).config.to_json())
    cfg["name"] = name
    with store._tx() as c:
        c.execute("UPDATE runs SET name=?, config=? WHERE id=?", (name, json.dumps(cfg), run_id))
    return run_id


def test_runs_prints_an_old_name_escaped(store, capsys):
    run_id = _stored_with_name(store, EVIL)
    assert main(["--db", str(store.path), "runs"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "\\u001b[2J" in out and "all tests passed" in out
    run = store.get_run(run_id)  # its config still reads, the name escaped
    assert run is not None and "\x1b" not in run.config.name
    assert main(["--db", str(store.path), "export", str(run_id)]) == 0
    out = capsys.readouterr().out
    _clean(out)
    json.loads(out)  # (the escapes are JSON's: the export is still JSON)


def test_studies_and_study_show_print_an_old_name_escaped(store, capsys):
    spec = {"name": EVIL, "base": {**TINY, "name": EVIL}, "seeds": 1}
    study_id = store.create_study(EVIL, json.dumps(spec))
    assert main(["--db", str(store.path), "studies"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "all tests passed" in out and "unreadable" not in out
    assert main(["--db", str(store.path), "study", "show", str(study_id)]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "all tests passed" in out


def test_data_commands_print_column_names_and_labels_escaped(tmp_path, store, capsys):
    path = tmp_path / "t.csv"
    red = "\x1b[31mred"
    rows = [f"{i},{i * 2},{red if i % 2 else 'blue'}" for i in range(20)]
    path.write_text("x,y\x1b[2J,label\x1b[2Jfake\x07\n" + "\n".join(rows) + "\n")
    db = ["--db", str(store.path)]
    assert main([*db, "data", "add", str(path), "--name", "evil"]) == 0
    _clean(capsys.readouterr().out)
    assert main([*db, "data", "list"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "evil" in out
    assert main([*db, "data", "show", "evil"]) == 0
    out = capsys.readouterr().out
    _clean(out)
    assert "\\u001b[31mred" in out


def test_every_command_prints_through_say():
    for path in (ROOT / "mtae_core" / "cli").glob("*.py"):
        if path.name == "terminal.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "print"]
        assert not calls, f"{path.name} prints directly on lines {calls}: use say()"


def test_printable_escapes_as_json_does():
    from mtae_core.errors import printable

    assert printable(EVIL) == json.dumps(EVIL)[1:-1].replace("\\r", "\\u000d")
    assert printable("\U000e0001") == "\\udb40\\udc01"
    assert printable("plain text, é ü 学") == "plain text, é ü 学"
