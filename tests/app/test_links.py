"""What a browser tab carries between pages, refreshes and links (ui.frame.links) through
Streamlit's AppTest: the settings and the run survive a page switch, a link shows its
own run, bad link parameters are dropped with a plain notice."""

from __future__ import annotations

import base64
import json

import pytest
from page_helpers import button, exported_config, field, open_page, texts

# ---- the tab's state across pages, refreshes and links -----------------------------------


def test_settings_and_run_survive_train_compare_train(app, home):
    at = open_page(app(), "pages/train.py")
    field(at, "training.epochs").set_value(3)
    field(at, "model.sharing.name").set_value("mmoe")
    at.text_input(key="name").set_value("kept")
    at.run()
    chosen = exported_config(at)
    button(at, "Train").click().run()
    run_id = int(at.query_params["run"])

    at.switch_page("pages/compare.py").run()
    assert not at.exception
    # the links of the page carry the tab's state, as a refresh or a copied link would
    assert at.query_params["cfg"] and at.query_params["run"] == str(run_id)
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert field(at, "training.epochs").value == 3
    assert field(at, "model.sharing.name").value == "mmoe"
    assert at.text_input(key="name").value == "kept"
    assert exported_config(at) == chosen
    assert f"Run #{run_id} · kept" in " ".join(texts(at.markdown))
    # and the form still follows the user after the return
    field(at, "training.epochs").set_value(4).run()
    assert exported_config(at) == chosen.replace(training={"epochs": 4})


def test_a_link_shows_its_own_run_not_the_latest(app, filled):
    """Someone opening a link with ``?run=`` sees that run, even when newer runs (one
    still queued) are in the store."""
    at = app()
    at.query_params["run"] = str(filled.ids["single"])
    at = open_page(at, "pages/train.py")
    assert f"Run #{filled.ids['single']} · single" in " ".join(texts(at.markdown))
    assert "Finished 2 epochs" in at.get("progress")[0].proto.text


@pytest.mark.parametrize(("value", "says"), [
    ("99999999999999999999", "is not a run number that can exist"),
    ("abc", "is not a run number"),
    ("-3", "is not a run number"),
    ("![x](http://example.invalid/x.png)", "is not a run number"),
])
def test_bad_run_parameter_is_ignored_with_a_notice(app, filled, value, says):
    at = app()
    at.query_params["run"] = value
    at = open_page(at, "pages/train.py")
    assert not at.exception
    warnings = texts(at.warning)
    assert len(warnings) == 1 and says in warnings[0] and "no run is shown" in warnings[0]
    assert "![x](" not in at.warning[0].value  # a Markdown image never reaches the page
    assert "run" not in at.query_params  # dropped from the URL
    assert not at.get("progress")


def test_a_link_to_a_deleted_run_says_so(app, home):
    at = app()
    at.query_params["run"] = "42"
    at = open_page(at, "pages/train.py")
    assert any("There is no run #42" in t for t in texts(at.warning))


def test_bad_settings_parameter_on_compare_is_ignored_with_a_notice(app, filled):
    at2 = app()
    at2.query_params["cfg"] = "garbage"
    at2.switch_page("pages/compare.py").run()  # the link opened on Compare itself
    assert not at2.exception
    assert any("settings could not be used" in t and "does not decode" in t
               for t in texts(at2.warning)), texts(at2.warning)
    assert "cfg" not in at2.query_params


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/data.py", "pages/studies.py"])
def test_a_link_with_a_bad_setting_names_its_field_by_its_label_on_any_page(app, home, page):
    """A link whose settings decode but break a bound, opened on a page without the Train
    form: the notice names the field as the form labels it (the frame finds the labels)."""
    data = json.dumps({"optimizer": {"lr": 0}}, separators=(",", ":")).encode()
    at = app()
    at.query_params["cfg"] = "j" + base64.urlsafe_b64encode(data).decode().rstrip("=")
    at.switch_page(page).run()
    assert not at.exception
    [warning] = [w for w in texts(at.warning) if "settings could not be used" in w]
    assert "Learning rate must be greater than 0" in warning, warning
    assert "optimizer.lr" not in warning and "Input should" not in warning
    assert "cfg" not in at.query_params
