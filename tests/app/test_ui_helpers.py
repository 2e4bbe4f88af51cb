"""Pure helpers of the dashboard (``ui/``): plain-word problems, link checks, run names
and colours, the validation highlight, Markdown escaping."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mtae_core.config import ConfigError, ExperimentConfig
from ui.compare.tables import BEST_STYLE, distinguishing_names, style_best, validation_table
from ui.frame.links import MAX_RUN_ID, parse_run_id
from ui.widgets import charts
from ui.widgets.messages import MAX_VALUE_CHARS, plain, problems
from ui.widgets.text import WORD_JOINER, md


@pytest.mark.parametrize(("changes", "expected"), [
    ({"training": {"epochs": 0}}, "Epochs must be at least 1"),
    ({"optimizer": {"lr": -1}}, "Learning rate must be greater than 0"),
    ({"model": {"dropout": 1.0}}, "Dropout must be less than 1"),
    ({"model": {"hidden": []}}, "Hidden layer sizes must have at least 1"),
    ({"training": {"epochs": "x"}}, "Epochs must be a whole number"),
    ({"name": ""}, "Run name must not be empty"),
])
def test_config_problems_in_plain_words_with_the_label(changes, expected):
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.parse({**ExperimentConfig().to_dict(), **changes}
                               if "name" in changes else changes)
    [found] = problems(e.value.problems, {})
    assert found.text.startswith(expected)


@pytest.mark.parametrize(("message", "expected"), [
    ("Input should be greater than or equal to 1 (got 0)", "Epochs must be at least 1"),
    ("Input should be less than 1 (got 1.0)", "Epochs must be less than 1"),
    ("Tuple should have at least 1 item after validation, not 0 (got [])",
     "Epochs must have at least one value"),
    ("Input should be a valid integer, unable to parse string as an integer (got 'x')",
     "Epochs must be a whole number"),
    ("must include at least one task", "Epochs must include at least one task"),
])
def test_pydantic_wording_becomes_plain(message, expected):
    [found] = problems([("training.epochs", message)], {"training.epochs": "Epochs"})
    assert found.text == expected and found.path == "training.epochs"


def test_long_echoed_values_are_cut():
    text = plain("Hidden layer sizes", "each hidden size must be an integer in 1..4096 (got "
                 + "x" * 10_000 + ")")
    assert len(text) < 120 + MAX_VALUE_CHARS and text.endswith("…)")


@pytest.mark.parametrize("raw", ["99999999999999999999", "abc", "-3", "0", "1.5", "", " ",
                                 str(MAX_RUN_ID + 1), "٣"])
def test_bad_run_ids_are_refused(raw):
    with pytest.raises(ValueError):
        parse_run_id(raw)


def test_good_run_ids():
    assert parse_run_id("7") == 7 and parse_run_id(str(MAX_RUN_ID)) == MAX_RUN_ID


def test_runs_are_named_by_what_differs():
    base = ExperimentConfig()
    configs = {
        1: base,
        2: base.replace(model={"sharing": "mmoe"}, weighting={"strategy": "uncertainty"}),
        3: base.replace(seed=1),
    }
    names = distinguishing_names(configs)
    assert names == {1: "hard · equal · seed 0", 2: "mmoe · uncertainty · seed 0",
                     3: "hard · equal · seed 1"}
    assert distinguishing_names({1: base, 3: base.replace(seed=1)}) == {1: "seed 0",
                                                                        3: "seed 1"}
    assert distinguishing_names({1: base, 2: base.replace(training={"epochs": 3})}) == {
        1: "epochs 20", 2: "epochs 3"}


def test_a_run_keeps_its_colour_whatever_is_selected():
    rows = [(run_id, 0, "val", "digit", "loss", 1.0) for run_id in (3, 5, 8)]
    metrics = pd.DataFrame(rows, columns=["run_id", "epoch", "split", "task", "metric", "value"])

    def colours(ids):
        fig = charts.compare_curves(metrics, "digit", {i: f"#{i}" for i in ids})
        return {t.name: t.line.color for t in fig.data}

    assert colours([3, 5, 8])["#5"] == colours([5])["#5"] == colours([8, 5])["#5"]
    assert len(set(colours([3, 5, 8]).values())) == 3


def test_the_highlight_follows_validation_not_test():
    runs = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
    table = pd.DataFrame({"digit · accuracy": [0.9, 0.8]}, index=["#1 a", "#2 b"])
    assert BEST_STYLE not in style_best(table).to_html()  # no validation: no highlight
    val = validation_table(table, runs, {1: {"digit": {"accuracy": 0.7}},
                                         2: {"digit": {"accuracy": 0.75}}})
    assert val is not None
    html = style_best(table, val).to_html()
    # run 2 is best on validation, though run 1 has the better test value
    styled = re.findall(r"#(T_\w+_row(\d)_col0)\s*{[^}]*background-color", html)
    assert [row for _, row in styled] == ["1"]
    assert validation_table(table, runs, {}) is None


@pytest.mark.parametrize("name", ["![x](http://example.invalid/x.png)", "**b** _i_ `c`",
                                  ":red[red] :material/home: $x^2$", "# head\n- item",
                                  "<img src=x>", "a\\b"])
def test_markdown_escaping_keeps_the_text(name):
    escaped = md(name)
    assert "\n" not in escaped
    assert re.sub(r"\\(.)", r"\1", escaped).replace(WORD_JOINER, "") == " ".join(name.split())
    assert "http://" not in escaped.replace("\\", "")  # no bare address Markdown would link
    assert not re.search(r"(?<!\\)[\[\]()*_`<>$:#]", escaped)


def test_a_chart_legend_under_the_plot_is_placed_at_the_figure_foot():
    """Placed at a share of the plot's height, a legend under the plot ran into the epoch
    axis title once presenter mode enlarged the fonts; at the figure's foot (in the
    figure's own coordinates) plotly makes room for both."""
    rows = [{"run_id": 1, "epoch": e, "split": s, "task": t, "metric": "loss", "value": 1.0}
            for e in range(3) for s in ("train", "val") for t in ("digit", "parity")]
    legend = charts.loss_curves(pd.DataFrame(rows)).layout.legend
    assert (legend.orientation, legend.yref, legend.yanchor, legend.y) == ("h", "container",
                                                                          "bottom", 0)
