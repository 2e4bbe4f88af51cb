"""A study's results on the Studies page: per task a table of mean ± std, 95% interval,
n, change against the matched single-task baselines (named), parameter counts, plain
words and failed runs, the best cell (chosen on validation) highlighted or marked a tie;
then the figures of ``ui.studies.charts`` and CSV / JSON downloads.

The numbers come from ``mtae_core.studies.summarize``; the frames here only arrange and
format them (``display_table``, ``gains_frame``, ``axis_frame``, ``pareto_points`` are
pure and tested on their own).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from mtae_core.engine.metrics import METRIC_DIRECTION
from mtae_core.store.runs import RunStore
from ui.compare.tables import BEST_STYLE
from ui.studies import charts as study_charts
from ui.widgets import downloads

TIE_STYLE = "background-color: rgba(255, 193, 7, 0.22)"
BASELINE_ROW = "single-task baseline"


def _short(value: Any) -> str:
    from mtae_core.studies.spec import short

    return str(short(value))


def cell_name(settings: Mapping[str, Any], fallback: str = "base") -> str:
    """A cell's short name for legends and the grid: ``sharing=hard, lr=0.01``."""
    return ", ".join(f"{p.rsplit('.', 1)[-1]}={_short(v)}" for p, v in settings.items()) \
        or fallback


def is_own_baseline(cell: Any) -> bool:
    """A single-task cell is its own baseline: nothing to compare it with."""
    return bool(cell.runs) and list(cell.baseline_runs) == list(cell.runs)


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _pm(stats: Mapping[str, Any] | None, digits: int = 4, signed: bool = False) -> str:
    """``0.9123 ± 0.0101``; the ± part only when there is a spread (n ≥ 2)."""
    if not stats:
        return "–"
    mean, std = _num(stats.get("mean")), _num(stats.get("std"))
    if math.isnan(mean):
        return "–"
    fmt = f"{{:+.{digits}g}}" if signed else f"{{:.{digits}g}}"
    text = fmt.format(mean)
    if not math.isnan(std):
        text += f" ± {std:.2g}"
    return text


def _interval(stats: Mapping[str, Any] | None) -> str:
    ci = (stats or {}).get("ci95")
    if not ci or len(ci) != 2 or any(math.isnan(_num(c)) for c in ci):
        return "–"
    return f"[{_num(ci[0]):.4g}, {_num(ci[1]):.4g}]"


def metric_names(cells: Sequence[Any], task: str, headline: str) -> list[str]:
    """The task's metrics, its headline metric first (loss left out)."""
    names = [headline]
    for cell in cells:
        for m in (cell.metrics.get(task) or {}):
            if m not in names and m != "loss":
                names.append(m)
    return names


def display_table(summary: Any, task: str, best: Sequence[Any] | None = None,
                  fields: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per cell, formatted for reading: its settings (the cell's label when it
    varies nothing), the headline metric's "mean ± std", 95% interval and n, whether
    validation chose the cell ("best" / "tie" / ""), the change on this task and Δm over
    all tasks against the same-seed baselines, the other metrics, parameter counts, the
    baseline runs, words and failed runs."""
    headline = summary.metric_of[task]
    others = metric_names(summary.cells, task, headline)[1:]
    axes = list(summary.spec.axes)
    rows = []
    for i, cell in enumerate(summary.cells):
        row: dict[str, Any] = {} if axes else {"cell": cell.label}
        for path in axes:
            row[_axis_label(path, fields)] = _short(cell.settings.get(path))
        task_stats = cell.metrics.get(task) or {}
        stats = task_stats.get(headline) or {}
        row[headline] = _pm(stats)
        row["95% interval"] = _interval(stats)
        row["n"] = int(stats.get("n", cell.n) or 0)
        mark = best[i] if best is not None and i < len(best) else None
        row["best (validation)"] = "best" if mark is True else "tie" if mark == "tie" else ""
        own = is_own_baseline(cell)
        row[f"change on {task} (%)"] = "baseline" if own else \
            _pm(cell.task_deltas.get(task), 3, signed=True)
        row["Δm, all tasks (%)"] = "baseline" if own else _pm(cell.delta_m, 3, signed=True)
        for m in others:
            row[m] = _pm(task_stats.get(m))
        params = cell.params or {}
        row["parameters (total / shared)"] = (
            f"{params['total']:,} / {params.get('shared') or 0:,}"
            if params.get("total") is not None else "–")
        row["baseline runs"] = ", ".join(f"#{r}" for r in cell.baseline_runs) or "–"
        row["in words"] = "; ".join(cell.words)
        row["failed"] = int(cell.n_failed)
        rows.append(row)
    return pd.DataFrame(rows)


def _axis_label(path: str, fields: Mapping[str, Any] | None) -> str:
    info = (fields or {}).get(path)
    label = getattr(info, "label", None) if info is not None else None
    return str(label or path)


def style_table(table: pd.DataFrame, headline: str) -> Styler:
    """The headline metric of the cell validation chose highlighted; tied leaders shaded."""
    def colour(row: pd.Series) -> list[str]:
        mark = row.get("best (validation)", "")
        style = BEST_STYLE if mark == "best" else TIE_STYLE if mark == "tie" else ""
        return [style if c in (headline, "best (validation)") else "" for c in row.index]
    return table.style.apply(colour, axis=1)


# ---- frames for the figures -------------------------------------------------------------------


def gains_frame(summary: Any) -> pd.DataFrame:
    """cell, task, mean, std, n: each cell's change per task against its baselines."""
    rows = []
    for cell in summary.cells:
        if is_own_baseline(cell):
            continue
        for task in summary.tasks:
            d = cell.task_deltas.get(task)
            if d and not math.isnan(_num(d.get("mean"))):
                rows.append((cell_name(cell.settings), task, _num(d["mean"]), _num(d.get("std")),
                             int(d.get("n") or 0)))
    return pd.DataFrame(rows, columns=["cell", "task", "mean", "std", "n"])


def numeric_axes(axes: Mapping[str, Sequence[Any]]) -> list[str]:
    """Axes whose values are all numbers (λ grids are drawn on the Pareto view)."""
    return [p for p, vs in axes.items() if len(vs) >= 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in vs)]


def axis_frame(summary: Any, axis: str) -> pd.DataFrame:
    """task, metric, group, x, mean, lo, hi: each task's headline metric against ``axis``,
    one group per setting of the other axes."""
    rows = []
    others = [p for p in summary.spec.axes if p != axis]
    for cell in summary.cells:
        group = ", ".join(f"{p.rsplit('.', 1)[-1]}={_short(cell.settings.get(p))}"
                          for p in others)
        for task in summary.tasks:
            metric = summary.metric_of[task]
            stats = (cell.metrics.get(task) or {}).get(metric) or {}
            ci = stats.get("ci95") or [math.nan, math.nan]
            rows.append((task, metric, group, _num(cell.settings.get(axis)),
                         _num(stats.get("mean")), _num(ci[0]), _num(ci[1])))
    return pd.DataFrame(rows, columns=["task", "metric", "group", "x", "mean", "lo", "hi"])


def pareto_points(summary: Any, task_a: str, task_b: str,
                  family_of: Mapping[int, str]) -> pd.DataFrame:
    """label, family, x, x_std, y, y_std: each cell's two headline metrics; ``family_of``
    groups cells by index (by weighting strategy when the fixed-λ cells form a sweep)."""
    rows = []
    ma, mb = summary.metric_of[task_a], summary.metric_of[task_b]
    for cell in summary.cells:
        a = (cell.metrics.get(task_a) or {}).get(ma) or {}
        b = (cell.metrics.get(task_b) or {}).get(mb) or {}
        rows.append((cell_name(cell.settings), family_of.get(cell.index, "cells"), _num(a.get("mean")),
                     _num(a.get("std")), _num(b.get("mean")), _num(b.get("std"))))
    return pd.DataFrame(rows, columns=["label", "family", "x", "x_std", "y", "y_std"])


def spec_download(spec: Any, key: str) -> None:
    """The spec as the JSON ``mtae study`` reads unchanged."""
    text = json.dumps(spec.to_dict(), indent=2)
    st.download_button("Download the study's spec (JSON)", text, file_name="study.json",
                       mime="application/json", key=key, icon=":material/download:",
                       help="run the same study from a terminal: mtae study study.json")


# ---- drawing -----------------------------------------------------------------------------------------


def results_section(store: RunStore, summary: Any, fields: Mapping[str, Any] | None = None
                    ) -> None:
    """Tables per task, then the figures."""
    if not any(c.n for c in summary.cells):
        st.info("Results appear here as the study's runs finish.", icon=":material/hourglass_top:")
        return
    bases = ", ".join(f"#{r} (seed {s})" for s, r in sorted(summary.baselines.items()))
    st.caption(
        "Test-set figures of each cell: mean ± standard deviation over its seeds, the 95% "
        "interval of the mean (Student's t), and n, the finished runs counted (failed or "
        "diverged runs are left out and counted apart). Changes are per seed against the "
        "single-task baseline of the same seed, then averaged"
        + (f" — baselines: {bases}." if bases else ".")
        + " **The best cell is chosen on the validation set**, and the test figures shown "
        "are those of what validation chose; it is highlighted only where its validation "
        "interval does not overlap the runner-up's, otherwise the leaders are marked *tie*."
        + ("" if any(c.val_metrics for c in summary.cells) else
           " (These runs recorded no validation metrics, so no cell is marked best.)"))
    for task in summary.tasks:
        headline = summary.metric_of[task]
        raw = summary.table(task)
        best = list(raw["best"]) if "best" in raw.columns else None
        table = display_table(summary, task, best, fields)
        higher = METRIC_DIRECTION.get(headline, True)
        st.markdown(f"**{task}** · {headline} ({'higher' if higher else 'lower'} is better)")
        st.dataframe(style_table(table, headline), hide_index=True)
        st.download_button(f"Download the {task} table (CSV)", raw.to_csv(index=False),
                           file_name=f"study-{summary.study_id}-{task}.csv", mime="text/csv",
                           key=f"studies.csv.{summary.study_id}.{task}",
                           icon=":material/download:")
    figures_section(store, summary, fields)


def figures_section(store: RunStore, summary: Any, fields: Mapping[str, Any] | None) -> None:
    cell_of: dict[int, str] = {}
    for cell in summary.cells:
        for run_id in cell.runs:
            cell_of[int(run_id)] = cell_name(cell.settings)
    for run_id in summary.baselines.values():
        cell_of.setdefault(int(run_id), BASELINE_ROW)
    st.subheader("Loss curves by cell")
    split = st.radio("Curves", ["val", "train"], horizontal=True, key="studies.curves.split",
                     format_func=lambda s: "validation" if s == "val" else "training")
    metrics = store.metrics(list(cell_of))
    cols = st.columns(2)
    for i, task in enumerate(summary.tasks):
        downloads.chart(study_charts.cell_curves(metrics, cell_of, task, split),
                        f"study-loss-{task}-{split}", key=f"studies.curve.{task}", where=cols[i % 2])
    st.caption("The line is the mean over the cell's seeds, the band ± one standard deviation.")
    gains_data = gains_frame(summary)
    gains = study_charts.gains_figure(gains_data)
    if gains is not None:
        st.subheader("Gains against single-task networks")
        downloads.chart(gains, "study-gains", data=gains_data, key="studies.gains")
        st.caption("Each task's headline metric against the single-task baseline of the same "
                   "seed; bars are means over seeds, whiskers ± one standard deviation.")
    for axis in numeric_axes(summary.spec.axes):
        values = [float(v) for v in summary.spec.axes[axis]]
        log_x = min(values) > 0 and max(values) / min(values) >= 100
        axis_data = axis_frame(summary, axis)
        fig = study_charts.axis_figure(axis_data, _axis_label(axis, fields),
                                       log_x=log_x, title=f"Against {_axis_label(axis, fields)}")
        if fig is not None:
            downloads.chart(fig, f"study-against-{axis}", data=axis_data,
                            key=f"studies.axis.{axis}")
            st.caption("Mean of each task's headline metric, with its 95% interval as a band.")
    pareto_section(summary)


def pareto_section(summary: Any) -> None:
    if len(summary.tasks) < 2:
        return
    st.subheader("Trade-off between two tasks (Pareto view)")
    c1, c2 = st.columns(2)
    task_a = c1.selectbox("Task on the x axis", summary.tasks, index=0, key="studies.pareto.a")
    rest = [t for t in summary.tasks if t != task_a]
    task_b = c2.selectbox("Task on the y axis", rest, index=0, key="studies.pareto.b")
    cells = summary.spec.cells()
    fixed = [c for c in cells if c.config.weighting.strategy == "fixed"]
    sweep = "fixed λ" if len({str(c.config.weighting.options) for c in fixed}) >= 2 else None
    # with a λ sweep, points group by weighting (the fixed cells form the sweep's front);
    # otherwise each cell is its own labelled point
    family_of = {c.index: (("fixed λ" if c.config.weighting.strategy == "fixed"
                            else c.config.weighting.strategy) if sweep else cell_name(c.settings))
                 for c in cells}
    points = pareto_points(summary, task_a, task_b, family_of)
    ma, mb = summary.metric_of[task_a], summary.metric_of[task_b]
    fig = study_charts.pareto_figure(points, f"{task_a} · {ma}", f"{task_b} · {mb}",
                                     METRIC_DIRECTION.get(ma, True),
                                     METRIC_DIRECTION.get(mb, True), sweep=sweep, title=None)
    if fig is None:
        return
    downloads.chart(fig, f"study-pareto-{task_a}-{task_b}", data=points, key="studies.pareto")
    st.caption("Each cell is a point (mean over seeds, whiskers ± one standard deviation); "
               "the dashed line joins the cells no other cell beats on both tasks."
               + (" The grey line is the front of the fixed weights λ: a cell above it does "
                  "better than any tuned weighting tried here." if sweep else ""))
