"""The Data page: add your own CSV table, and look at a data set before training — its
table, each task's labels, a 2-D PCA of the inputs, and how related the tasks are
(``mtae_core.analysis.relatedness``), beside the gains sharing measured once runs exist.

Heavy work is cached by the data set's validated options, which for a stored table hold
the file's content hash, so the page stays responsive while a class clicks around."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from mtae_core.analysis.gains import measured_gains
from mtae_core.analysis.relatedness import dataset_report, loaded
from mtae_core.config import ConfigError, ExperimentConfig
from mtae_core.data import TableDataset, csv_import, datasets
from mtae_core.data.csv_import import (
    ColumnInfo,
    CsvError,
    ParsedTable,
    check_size,
    describe_columns,
    read_table,
)
from mtae_core.data.tabular import ColumnKind
from mtae_core.store import tables as store_tables
from mtae_core.store.access import NotAllowed
from mtae_core.store.runs import RunStore
from ui.classroom import roles as classroom
from ui.frame import identity, notices
from ui.widgets import charts, downloads
from ui.widgets.text import md

UPLOAD_KEY = "data.upload"  # session state: (file id, ParsedTable | error message)
VIEW_KEY = "data.view"  # the data set shown under "Look before you train"
POINTS = 3000  # PCA points drawn at most
KIND_HELP = ("classification: predict one of the column's values; regression: predict a "
             "number")


# ---- add a table ---------------------------------------------------------------------------


def _parsed(upload: Any) -> ParsedTable | str:
    """The uploaded file read once per upload (a rerun does not read it again)."""
    held = st.session_state.get(UPLOAD_KEY)
    if held and held[0] == upload.file_id:
        return held[1]  # type: ignore[no-any-return]
    try:
        check_size(upload.size)  # before its bytes are taken: a file over the cap is not read
        result: ParsedTable | str = read_table(upload.getvalue())
    except CsvError as e:
        result = str(e)
    st.session_state[UPLOAD_KEY] = (upload.file_id, result)
    return result


def _default_name(filename: str) -> str:
    stem = "".join(c if c.isalnum() or c in "_-." else "_" for c in PurePath(filename).stem)
    return stem.strip("_.-")[:60] or "my_table"


def add_table(store: RunStore) -> None:
    """Upload, preview, choose roles, kinds and the missing-values policy, store."""
    cap = csv_import.MAX_BYTES // 1024 // 1024  # read now: the cap is a setting of the module
    st.caption(f"A CSV file up to {cap} MB (comma, semicolon or tab "
               "separated; the first row names the columns). It is kept in the run store on "
               "this machine; nothing leaves it.")
    upload = st.file_uploader("CSV file", type=["csv", "tsv", "txt"], key="data.file",
                              help=f"at most {cap} MB")
    if upload is None:
        return
    parsed = _parsed(upload)
    if isinstance(parsed, str):
        st.error(parsed, icon=":material/error:")
        return
    frame = parsed.frame
    for note in parsed.notes:
        st.info(note, icon=":material/info:")
    st.markdown(f"**{upload.name}**: {len(frame):,} rows × {frame.shape[1]} columns")
    st.dataframe(frame.head(20), height=240)
    inferred = describe_columns(frame)
    names = [c.name for c in inferred]
    c1, c2 = st.columns(2)
    tasks = c1.multiselect("Task columns", names, default=[c.name for c in inferred
                                                           if c.role == "task"],
                           key="data.new.tasks",
                           help="what the network learns to predict; the other columns are "
                                "its inputs")
    ignore = c2.multiselect("Leave out", [n for n in names if n not in tasks],
                            default=[c.name for c in inferred
                                     if c.role == "ignore" and c.name not in tasks],
                            key="data.new.ignore",
                            help="columns that are neither inputs nor tasks (names, ids…)")
    kinds: dict[str, ColumnKind] = {}
    if tasks:
        cols = st.columns(min(len(tasks), 4))
        by_name = {c.name: c for c in inferred}
        for i, t in enumerate(tasks):
            options: list[ColumnKind] = ["classification", "regression"]
            kind = cols[i % len(cols)].selectbox(
                f"Kind of {t}", options, index=options.index(by_name[t].kind),
                key=f"data.new.kind.{t}", help=KIND_HELP)
            kinds[t] = kind or by_name[t].kind
    columns = [ColumnInfo(c.name, c.dtype,
                          "task" if c.name in tasks else "ignore" if c.name in ignore else "input",
                          kinds.get(c.name, c.kind), c.missing, c.distinct) for c in inferred]
    st.dataframe(pd.DataFrame([c.to_json() for c in columns]).rename(columns={
        "name": "column", "dtype": "type", "kind": "kind as a task"}), hide_index=True)
    if any(c.dtype == "text" and c.role != "ignore" for c in columns):
        st.caption("Text columns: as an input, one 0/1 input per value (one-hot); as a task, "
                   "one class per value. Numbers are scaled with the training rows' mean and "
                   "spread only.")
    missing = _missing_policy(frame, columns)
    name = st.text_input("Name", value=_default_name(upload.name), key="data.new.name",
                         help="how configs and the Train page call this data set")
    if st.button("Add data set", type="primary", key="data.new.add"):
        try:
            ds = store_tables.add_table(store, name.strip(), upload.getvalue(), columns, missing,
                                        parsed, owner=classroom.owner())
        except CsvError as e:
            st.error(str(e), icon=":material/error:")
            return
        st.session_state[VIEW_KEY] = ds.name
        st.success(f"Stored as {ds.name!r}: pick it on the Train page, or look at it below.",
                   icon=":material/check_circle:")


def _missing_policy(frame: pd.DataFrame, columns: list[ColumnInfo]) -> Any:
    inputs = [c.name for c in columns if c.role == "input"]
    tasks = [c.name for c in columns if c.role == "task"]
    rows_in = int(frame[inputs].isna().any(axis=1).sum()) if inputs else 0
    rows_task = int(frame[tasks].isna().any(axis=1).sum()) if tasks else 0
    cells = int(frame[inputs].isna().sum().sum()) if inputs else 0
    if not rows_in and not rows_task:
        st.caption("No missing values.")
        return "impute"
    st.caption(f"Missing values: {cells:,} input value(s) in {rows_in:,} row(s); "
               f"{rows_task:,} row(s) miss a task's value and are left out of that task's "
               "training.")
    return st.radio("Rows with a missing input", ["impute", "drop"], horizontal=True,
                    key="data.new.missing",
                    format_func={"impute": f"keep them: fill in the column's training mean "
                                           f"({rows_in:,} rows kept)",
                                 "drop": f"drop them ({rows_in:,} rows fewer)"}.get)


# ---- look before you train -------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def _look(data_json: str, seed: int) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """(relatedness report, task labels of every row, 2-D PCA of the inputs with labels);
    keyed by the validated data options, which hold a stored table's content hash."""
    from mtae_core.analysis.projections import project

    data_cfg = json.loads(data_json)
    report = dataset_report(data_cfg["dataset"], data_cfg["tasks"], data_cfg["options"], seed)
    cfg = ExperimentConfig.parse({"seed": seed, "data": data_cfg})
    data = loaded(cfg.data)  # the data the report just measured
    splits = (data.train, data.val, data.test)
    x = np.concatenate([s.x.numpy() for s in splits])
    classes = data.extras.get("classes", {})
    labels = pd.DataFrame(index=range(len(x)))
    for spec in data.tasks:
        if spec.kind == "reconstruction":
            continue
        y = np.concatenate([s.y[spec.name].numpy() for s in splits])
        if spec.kind == "classification":
            names = classes.get(spec.name)
            labels[spec.name] = [names[i] for i in y] if names else y.astype(str)
        else:
            labels[spec.name] = y
    keep = np.random.default_rng(seed).permutation(len(x))[:POINTS]
    xy = project(x[keep], "pca", seed)
    pca = pd.concat([pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}),
                     labels.iloc[keep].reset_index(drop=True)], axis=1)
    return report, labels, pca


def _distribution(labels: pd.DataFrame, task: str, kind: str) -> go.Figure:
    if kind == "classification":
        counts = labels[task].value_counts()
        order = sorted(counts.index, key=charts._natural)
        fig = px.bar(x=[str(k) for k in order], y=counts.loc[order].to_numpy())
        fig.update_xaxes(type="category", title_text="class")
        fig.update_yaxes(title_text="rows")
    else:
        fig = px.histogram(labels, x=task, nbins=30)
        fig.update_xaxes(title_text=f"{task} (standardised)")
        fig.update_yaxes(title_text="rows")
    fig.update_layout(title=task, height=240, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      showlegend=False)
    return fig


def _heatmap(matrix: dict[str, Any], title: str, zmin: float) -> go.Figure:
    tasks = matrix["tasks"]
    z = [[np.nan if v is None else v for v in row] for row in matrix["values"]]
    fig = go.Figure(go.Heatmap(z=z, x=tasks, y=tasks, zmin=zmin, zmax=1,
                               colorscale="RdBu" if zmin < 0 else "Blues",
                               texttemplate="%{z:.2f}", showscale=False,
                               hovertemplate="%{y} ↔ %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _view_config(dataset: str) -> tuple[str, list[str]] | None:
    """The chosen tasks as a validated data config (JSON), or None with the reason shown."""
    ds = datasets.get(dataset)
    allowed = ds.task_names(ds.Options())
    tasks = st.multiselect("Tasks", allowed, default=list(ds.default_tasks),
                           key=f"data.view.tasks.{dataset}",
                           help="the tasks to look at together; a table's column chosen as "
                                "a task is no longer an input")
    try:
        cfg = ExperimentConfig.parse({"data": {"dataset": dataset, "tasks": tasks}})
    except ConfigError as e:
        st.warning(str(e), icon=":material/warning:")
        return None
    if not tasks:
        st.info("Choose at least one task.")
        return None
    return cfg.data.model_dump_json(), tasks


def look(store: RunStore) -> None:
    """Everything about the chosen data set and tasks, before any training."""
    names = datasets.names()
    if st.session_state.get(VIEW_KEY) not in names:
        st.session_state[VIEW_KEY] = names[0]
    dataset = st.selectbox("Data set", names, key=VIEW_KEY,
                           format_func=lambda n: n.replace("_", " "))
    ds = datasets.get(dataset)
    st.caption(ds.summary())
    chosen = _view_config(dataset)
    if chosen is None:
        return
    data_json, tasks = chosen
    try:
        with st.spinner("Reading the data and measuring how related the tasks are…"):
            report, labels, pca = _look(data_json, 0)
    except (ValueError, KeyError, CsvError) as e:
        st.error(f"This data set cannot be used with these tasks: {e}", icon=":material/error:")
        return
    kinds = {t["name"]: t["kind"] for t in report["tasks"]}
    st.markdown(f"**{report['rows']:,} rows**, {report['input_dim']} input values per row "
                f"({len(report['inputs'])} input columns), {len(tasks)} task(s).")
    if isinstance(ds, type) and issubclass(ds, TableDataset):
        with st.expander("The table", expanded=False):
            st.dataframe(ds.table(ds.Options()).frame.head(50), height=280)
    supervised = [t for t in tasks if kinds.get(t) != "reconstruction"]
    if supervised:
        st.subheader("Labels")
        cols = st.columns(min(len(supervised), 3))
        for i, t in enumerate(supervised):
            downloads.chart(_distribution(labels, t, kinds[t]), f"{dataset}-labels-{t}",
                            key=f"dist.{t}", where=cols[i % len(cols)])
        st.subheader("The inputs in 2-D (PCA)")
        colour = st.selectbox("Colour by", supervised, key=f"data.pca.{dataset}")
        downloads.chart(charts.latent_scatter(pca, colour), f"{dataset}-inputs-pca", data=pca,
                        key="data.pca")
        st.caption(f"{len(pca):,} rows projected onto the inputs' two main directions. Colours "
                   "that sit apart mean the inputs alone already tell that task's labels apart.")
    _relatedness(store, dataset, report)


def _relatedness(store: RunStore, dataset: str, report: dict[str, Any]) -> None:
    st.subheader("How related are the tasks? (before training)")
    if report["readings"]:
        st.markdown(f"**{report['readings'][0][0].upper() + report['readings'][0][1:]}.**")
    left, right = st.columns(2)
    strength = report["relatedness"]["strength"]
    if len(strength["tasks"]) >= 2:
        downloads.chart(_heatmap(strength, "Label relatedness", 0.0),
                        f"{dataset}-label-relatedness", key="rel.labels", where=left)
        left.caption("|Pearson| between numbers, normalised mutual information between "
                     "classes, the correlation ratio between a class and a number: 0 = "
                     "unrelated, 1 = one label fixes the other.")
    cos = report["gradient_cosine"]
    downloads.chart(_heatmap(cos, "Gradient agreement at initialisation", -1.0),
                    f"{dataset}-gradient-agreement", key="rel.grads", where=right)
    right.caption("Cosine between the tasks' gradients on the shared encoder of a freshly "
                  "initialised hard-sharing model (3 seeds × 4 batches): blue = the tasks pull "
                  "the encoder the same way, red = they pull it apart.")
    if len(report["readings"]) > 1:
        with st.expander("Every pair in words"):
            for line in report["readings"]:
                st.markdown(f"- {line}")
    gains = measured_gains(store, dataset)
    st.subheader("Did relatedness predict transfer?")
    if gains.empty:
        st.info("No measured gains yet: train a sharing run and its matched single_task "
                "baseline on this data set (Compare offers to queue it), then come back to "
                "see which tasks gained.",
                icon=":material/lightbulb:")
        return
    fig = charts.task_delta_figure(gains, title="Measured change per task from sharing")
    if fig is not None:
        downloads.chart(fig, f"{dataset}-measured-gains", data=gains, key="rel.gains")
    st.caption("Each finished sharing run on this data set against its matched single-task "
               "baseline (same data, budget, optimizer and seeds; runs without one are left "
               "out). Compare shows the same bars. Tasks read as related above should gain.")


def stored_tables(store: RunStore) -> None:
    """The user's stored tables, each deletable while no run uses it."""
    tables = store.stored_datasets()
    if not tables:
        st.caption("No tables of yours yet.")
        return
    for t in tables:
        used = store.runs_using_dataset(t.sha256)
        c1, c2 = st.columns([5, 1])
        c1.markdown(f"**{t.name}** — {t.meta['rows']:,} rows, {t.size / 1024:,.0f} kB, "
                    f"SHA-256 `{t.sha256[:12]}…`"
                    + (f"; used by {len(used)} run(s)" if used else ""))
        with c2.popover("Delete", icon=":material/delete:", disabled=bool(used),
                        help="delete the runs that use it first" if used else "delete this table"):
            st.markdown(f"Delete the table **{md(t.name)}**? This cannot be undone.")
            if st.button("Delete for good", type="primary", key=f"data.delete.{t.sha256}",
                         disabled=bool(used)):
                _delete_table(store, t.name)


def _delete_table(store: RunStore, name: str) -> None:
    """Through the engine's checked delete, for this session's actor: a refusal (another
    student's table) or a table already gone is a plain notice."""
    try:
        store_tables.delete_table(store, name, actor=identity.actor())
    except (NotAllowed, CsvError) as e:  # (a table deleted meanwhile: CsvError says so)
        notices.flash(str(e))
    st.rerun()
