"""The Studies page's figures (ui.studies.charts) on small hand-made frames."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import cast

import numpy as np
import pandas as pd
import pytest

from ui.studies.charts import (
    axis_figure,
    cell_curve_frame,
    cell_curves,
    gains_figure,
    pareto_figure,
)


def _metrics(rows: list[tuple[int, int, str, str, float]]) -> pd.DataFrame:
    """(run_id, epoch, split, task, value) → RunStore.metrics' long frame of losses."""
    return pd.DataFrame([(r, e, s, t, "loss", v) for r, e, s, t, v in rows],
                        columns=["run_id", "epoch", "split", "task", "metric", "value"])


# ---- Pareto view (its front: tests/unit/test_pareto.py) ------------------------------


def _points() -> pd.DataFrame:
    return pd.DataFrame({
        "label": ["λ=0.2", "λ=0.5", "λ=0.8", "pcgrad", "mgda"],
        "family": ["fixed", "fixed", "fixed", "pcgrad", "mgda"],
        "x": [0.80, 0.88, 0.92, 0.90, 0.70],
        "x_std": [0.01, 0.02, np.nan, 0.01, 0.03],
        "y": [0.95, 0.90, 0.80, 0.91, 0.85],
        "y_std": [0.01, 0.01, 0.02, 0.01, 0.02],
    })


def test_pareto_figure_draws_both_fronts_and_error_bars() -> None:
    fig = pareto_figure(_points(), "digit · accuracy", "parity · accuracy", True, True,
                        sweep="fixed")
    assert fig is not None
    by_name = {t.name: t for t in fig.data}
    front = by_name["non-dominated front"]
    # all cells: (0.80,0.95), (0.90,0.91), (0.92,0.80) are non-dominated; (0.88,0.90) is
    # beaten by pcgrad (0.90,0.91), mgda by everything
    assert list(zip(front.x, front.y, strict=True)) == [(0.80, 0.95), (0.90, 0.91), (0.92, 0.80)]
    sweep = by_name["front of fixed weights (λ)"]
    assert list(sweep.x) == [0.80, 0.88, 0.92]  # among the fixed cells alone, all three
    pcgrad = by_name["pcgrad"]
    assert list(pcgrad.error_x.array) == [0.01] and list(pcgrad.error_y.array) == [0.01]
    assert list(by_name["fixed"].error_x.array) == [0.01, 0.02, 0.0]  # NaN std: no bar


def test_pareto_figure_without_sweep_has_one_front() -> None:
    fig = pareto_figure(_points(), "a", "b", True, False)
    assert fig is not None
    names = [t.name for t in fig.data]
    assert "front of fixed weights (λ)" not in names and "non-dominated front" in names
    assert pareto_figure(_points().iloc[:0], "a", "b", True, True) is None


# ---- curves grouped by cell -----------------------------------------------------------------


def test_cell_curve_frame_mean_std_per_cell_and_epoch() -> None:
    m = _metrics([
        (1, 0, "val", "digit", 1.0), (1, 1, "val", "digit", 0.5),
        (2, 0, "val", "digit", 3.0), (2, 1, "val", "digit", 0.7),
        (3, 0, "val", "digit", 2.0),                      # the other cell, one run
        (1, 0, "train", "digit", 9.0),                    # another split: ignored
        (4, 0, "val", "digit", 100.0),                    # a run of no cell: ignored
        (1, 0, "val", "aux:kl", 5.0),                     # auxiliary loss: ignored
    ])
    f = cell_curve_frame(m, {1: "hard", 2: "hard", 3: "mmoe"}, "digit")
    assert f["cell"].tolist() == ["hard", "hard", "mmoe"]
    assert f["mean"].tolist() == pytest.approx([2.0, 0.6, 2.0])
    assert f["std"].iloc[0] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert f["n"].tolist() == [2, 2, 1]
    assert np.isnan(f["std"].iloc[2])  # one run: no spread


def test_cell_curves_one_mean_line_and_band_per_cell() -> None:
    m = _metrics([(1, 0, "val", "digit", 1.0), (2, 0, "val", "digit", 3.0),
                  (1, 1, "val", "digit", 0.5), (2, 1, "val", "digit", 0.7)])
    fig = cell_curves(m, {1: "hard", 2: "hard"}, "digit")
    lines = [t for t in fig.data if t.showlegend is not False]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["hard"] and len(bands) == 1
    assert list(lines[0].x) == [1, 2] and list(lines[0].y) == pytest.approx([2.0, 0.6])
    sd0 = np.std([1.0, 3.0], ddof=1)
    # the band spans mean ± std: upper edge left to right, then the lower edge back
    assert list(bands[0].x) == [1, 2, 2, 1]
    assert bands[0].y[0] == pytest.approx(2.0 + sd0) and bands[0].y[3] == pytest.approx(2.0 - sd0)
    assert cell_curves(m.iloc[:0], {1: "hard"}, "digit").data == ()


# ---- gains and axis lines ---------------------------------------------------------------------


def test_gains_figure_bars_with_error_bars() -> None:
    gains = pd.DataFrame({"cell": ["hard", "hard", "mmoe", "mmoe"],
                          "task": ["digit", "parity"] * 2,
                          "mean": [1.5, -2.0, 0.5, 3.0], "std": [0.5, 1.0, np.nan, 0.2],
                          "n": [3, 3, 1, 3]})
    fig = gains_figure(gains)
    assert fig is not None
    bars = {t.name: t for t in fig.data}
    assert list(bars["hard"].x) == [1.5, -2.0]
    assert list(bars["hard"].error_x.array) == [0.5, 1.0]
    assert list(bars["mmoe"].error_x.array) == [0.0, 0.2]
    assert gains_figure(gains.iloc[:0]) is None


def test_axis_figure_one_panel_per_task_line_and_band_per_group() -> None:
    frame = pd.DataFrame({
        "task": ["a"] * 4 + ["b"] * 4, "metric": ["accuracy"] * 4 + ["mse"] * 4,
        "group": ["hard", "hard", "soft", "soft"] * 2,
        "x": [0.5, 0.1, 0.1, 0.5] * 2,
        "mean": [2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        "lo": [1.5, 0.5, np.nan, 3.5, 4.5, 5.5, 6.5, 7.5],
        "hi": [2.5, 1.5, np.nan, 4.5, 5.5, 6.5, 7.5, 8.5],
    })
    fig = axis_figure(frame, "relatedness p")
    assert fig is not None
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 4  # 2 tasks × 2 groups
    hard_a = lines[0]
    assert list(hard_a.x) == [0.1, 0.5] and list(hard_a.y) == [1.0, 2.0]  # sorted by x
    assert [a.text for a in fig.layout.annotations] == ["a · accuracy", "b · mse"]
    bands = [t for t in fig.data if t.fill == "toself"]
    # soft on task a has one interval missing: its band covers only the other point
    assert len(bands) == 4 and len(bands[1].x) == 2
    assert axis_figure(frame.iloc[:0], "p") is None


# ---- the results' frames (ui.studies.results) on a hand-made summary ---------------------------


def _stats(values: list[float]) -> dict[str, object]:
    from scipy import stats

    a = np.asarray(values, dtype=float)
    std = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    lo, hi = (stats.t.interval(0.95, len(a) - 1, loc=a.mean(), scale=stats.sem(a))
              if len(a) > 1 else (float("nan"), float("nan")))
    return {"mean": float(a.mean()), "std": std, "ci95": [lo, hi], "n": len(a),
            "values": values}


def _summary() -> SimpleNamespace:
    """Two cells over 3 seeds on two tasks, in the shapes of mtae_core.studies."""
    def cell(i: int, sharing: str, p: float, acc: list[float], mse: list[float],
             dacc: list[float], dm: list[float]) -> SimpleNamespace:
        return SimpleNamespace(
            index=i, label=f"model.sharing={sharing}, data.options.correlation={p:g}",
            settings={"model.sharing": sharing, "data.options.correlation": p},
            runs=[10 * i + s for s in range(3)], n=3, n_failed=i,
            metrics={"a": {"accuracy": _stats(acc)}, "b": {"mse": _stats(mse), "r2": _stats(mse)}},
            task_deltas={"a": _stats(dacc)}, delta_m=_stats(dm),
            params={"total": 12345, "shared": 1000}, baseline_runs=[1, 2, 3],
            words=[f"better than single-task on a in {i + 1} of 3 seeds"])
    cells = [cell(0, "hard", 0.5, [0.9, 0.92, 0.91], [1.0, 1.2, 1.1], [1.0, 2.0, 3.0],
                  [0.5, 1.5, 1.0]),
             cell(1, "hard", 0.9, [0.8, 0.82, 0.81], [2.0, 2.2, 2.1], [-1.0, -2.0, -3.0],
                  [-0.5, -1.5, -1.0])]
    spec = SimpleNamespace(axes={"model.sharing": ["hard"], "data.options.correlation": [0.5, 0.9]})
    return SimpleNamespace(study_id=7, cells=cells, spec=spec, tasks=["a", "b"],
                           metric_of={"a": "accuracy", "b": "mse"}, baselines={0: 1, 1: 2, 2: 3})


def test_display_table_formats_mean_std_interval_and_marks() -> None:
    from ui.studies.results import display_table

    t = display_table(_summary(), "a", best=[True, False])
    row = t.iloc[0]
    assert row["accuracy"] == f"{0.91:.4g} ± {0.01:.2g}"
    lo, hi = cast(list[float], _stats([0.9, 0.92, 0.91])["ci95"])
    assert row["95% interval"] == f"[{lo:.4g}, {hi:.4g}]"
    assert row["n"] == 3 and row["failed"] == 0 and t.iloc[1]["failed"] == 1
    assert row["change on a (%)"] == "+2 ± 1"
    assert t.iloc[1]["Δm, all tasks (%)"] == "-1 ± 0.5"
    assert row["parameters (total / shared)"] == "12,345 / 1,000"
    assert row["baseline runs"] == "#1, #2, #3"
    assert row["in words"] == "better than single-task on a in 1 of 3 seeds"
    assert list(t["best (validation)"]) == ["best", ""]
    assert list(t["data.options.correlation"]) == ["0.5", "0.9"]
    tie = display_table(_summary(), "b", best=["tie", "tie"])
    # the settings, then the headline metric first; the other metrics after the changes
    assert list(tie.columns[:6]) == ["model.sharing", "data.options.correlation", "mse",
                                     "95% interval", "n", "best (validation)"]
    assert tie.columns.get_loc("r2") > tie.columns.get_loc("Δm, all tasks (%)")
    assert list(tie["best (validation)"]) == ["tie", "tie"]


def test_gains_axis_and_pareto_frames() -> None:
    from ui.studies.results import axis_frame, gains_frame, numeric_axes, pareto_points

    s = _summary()
    g = gains_frame(s)
    assert g[["task", "mean", "n"]].values.tolist() == [["a", 2.0, 3], ["a", -2.0, 3]]
    assert numeric_axes(s.spec.axes) == ["data.options.correlation"]
    assert numeric_axes({"x": [1, True]}) == []  # booleans are not an axis of numbers
    f = axis_frame(s, "data.options.correlation")
    a = f[f["task"] == "a"]
    assert a["x"].tolist() == [0.5, 0.9] and a["mean"].tolist() == pytest.approx([0.91, 0.81])
    assert set(f["group"]) == {"sharing=hard"}  # the other axis names the line
    assert (a["lo"] < a["mean"]).all() and (a["hi"] > a["mean"]).all()
    p = pareto_points(s, "a", "b", {0: "fixed", 1: "pcgrad"})
    assert p["family"].tolist() == ["fixed", "pcgrad"]
    assert p["x"].tolist() == pytest.approx([0.91, 0.81]) and p["y"].tolist() == pytest.approx([1.1, 2.1])


def test_a_single_task_cell_is_its_own_baseline() -> None:
    from ui.studies.results import cell_name, display_table, gains_frame

    s = _summary()
    s.cells[1].baseline_runs = list(s.cells[1].runs)  # as summarize reports a single_task cell
    t = display_table(s, "a")
    assert list(t["change on a (%)"]) == ["+2 ± 1", "baseline"]
    assert list(t["Δm, all tasks (%)"])[1] == "baseline"
    assert set(gains_frame(s)["cell"]) == {"sharing=hard, correlation=0.5"}
    assert cell_name({}) == "base"


def test_style_table_highlights_the_chosen_cells_headline_only() -> None:
    from ui.compare.tables import BEST_STYLE
    from ui.studies.results import TIE_STYLE, display_table, style_table

    def styled(best: list[object]) -> dict[tuple[int, str], str]:
        table = display_table(_summary(), "a", best=best)
        html = style_table(table, "accuracy").to_html()
        out: dict[tuple[int, str], str] = {}  # (row, column) -> its CSS, from the <style> rules
        for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", html.split("</style>")[0]):
            for r, c in re.findall(r"_row(\d+)_col(\d+)", selectors):
                out[(int(r), str(table.columns[int(c)]))] = " ".join(body.split())
        return out

    best = styled([True, False])
    assert set(best) == {(0, "accuracy"), (0, "best (validation)")}
    assert all(BEST_STYLE.split(";")[0] in v for v in best.values())
    ties = styled(["tie", "tie"])
    assert set(ties) == {(r, c) for r in (0, 1) for c in ("accuracy", "best (validation)")}
    assert all(TIE_STYLE.split(";")[0] in v for v in ties.values())


def test_repeat_spec_over_seeds_from_ticked_runs() -> None:
    from mtae_core.config import ConfigError, ExperimentConfig
    from ui.studies.form import repeat_spec

    base = ExperimentConfig().replace(seed=4, training={"epochs": 2})
    soft = base.replace(model={"sharing": "soft"})
    spec = repeat_spec([base, soft])
    assert spec.seeds == (4, 5, 6)  # from the first run's seed: that run is reused
    (axis,) = spec.axes
    assert axis == "model.sharing"
    assert [v["sharing"] for v in spec.axes[axis]] == ["hard", "soft"]
    # each value carries its scheme's options as the run had them
    assert spec.axes[axis][1]["options"] == soft.model.options["sharing"]
    assert [c.config.model.options for c in spec.cells()] == [base.model.options, soft.model.options]
    same = repeat_spec([base, base.replace(seed=9)])  # only the seed differs: no axis
    assert same.axes == {} and same.seeds == (4, 5, 6)
    with pytest.raises(ConfigError, match="differ in more than one setting"):
        repeat_spec([base, soft.replace(optimizer={"lr": 0.01})])
