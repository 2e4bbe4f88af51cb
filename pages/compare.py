"""Compare: pick runs in the table; overlay their loss curves per task and compare their
test metrics side by side, with Δm against a single-task baseline said and checked."""

import streamlit as st

from mtae_core.analysis.baselines import BASELINE
from mtae_core.analysis.comparison import baselines_of, task_delta_frame
from ui.classroom import roles as classroom
from ui.compare.runs import delete_control, newest_finished, runs_table, selected_metrics
from ui.compare.tables import comparison_table, curve_rows, style_best, validation_table
from ui.compare.views import baseline_notes
from ui.frame import links
from ui.frame.state import get_store, page_frame
from ui.latent.pictures import weights_download
from ui.train.live import run_insights, tab_runs
from ui.widgets import charts, downloads

page_frame("Compare runs")
tab_runs("compare.tab", on_train_page=False)
def main() -> None:
    """The page below its title: a function, so an early end returns to app.py's frame,
    which draws the sidebar's status after the page (``st.stop()`` would skip it)."""
    store = get_store()
    runs = classroom.mine_first(store.runs_table())  # this tab's runs first, then the class's
    if runs.empty:
        st.info("No runs yet — train one on the Train page.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:",
                     query_params=links.page_params())
        return

    st.caption("Tick runs in the table to compare them. This tab's runs come first.")
    ticked = runs_table(runs)
    delete_control(store, ticked)
    chosen = ticked if not ticked.empty else newest_finished(runs)
    if chosen.empty:
        return
    if ticked.empty:
        st.caption(f"Nothing ticked: showing the {len(chosen)} newest finished run(s) "
                   "above. Tick rows to choose others.")
    stored = {r.id: r for r in store.runs()}
    configs = {i: r.config for i, r in stored.items()}

    metrics, labels = selected_metrics(store, chosen, configs)
    tasks = [t for t in dict.fromkeys(charts.task_losses(metrics)["task"])] if not metrics.empty else []
    c1, c2, c3 = st.columns([1, 1, 2])
    split = c1.radio("Curves", ["val", "train"], horizontal=True,
                     format_func=lambda s: "validation" if s == "val" else "training")
    log_y = c2.toggle("Log scale", value=False)
    smoothing = c3.slider("Smoothing", 0.0, 0.95, 0.0, 0.05,
                          help="exponential moving average; the raw curve stays faint behind it")
    cols = st.columns(2)
    for i, task in enumerate(tasks):
        downloads.chart(charts.compare_curves(metrics, task, labels, split, log_y, smoothing),
                        f"loss-{task}-{split}", data=curve_rows(metrics, labels, task, split),
                        key=f"compare.curve.{task}", where=cols[i % 2])

    st.subheader("Test metrics")
    table = comparison_table(chosen, runs, configs)
    if table.empty or table.shape[1] == 0:
        st.caption("Finished runs show their test metrics here.")
    else:
        val_metrics = {i: getattr(r, "val_metrics", None) or {} for i, r in stored.items()}
        validation = validation_table(table, chosen, val_metrics)
        if validation is None:
            st.caption("Test-set values. No run is highlighted: picking the best run by its "
                       "test value would be choosing on the test set, and these runs recorded "
                       "no validation metrics to choose by.")
        else:
            st.caption("Test-set values. Highlighted in each column: the run that is best on "
                       "the *validation* set (choosing on the test set would flatter it); its "
                       "test value is shown.")
        st.dataframe(style_best(table, validation))
        st.download_button("Download table (CSV)", table.to_csv(), file_name="comparison.csv",
                           mime="text/csv")
        notes = baselines_of(chosen, runs, configs)
        baseline_notes(notes, configs)
        deltas = task_delta_frame(chosen, runs, configs)
        gains = charts.task_delta_figure(deltas)
        if gains is not None:
            downloads.chart(gains, "task-gains-vs-single-task", data=deltas, key="compare.gains")
            st.caption("Which tasks help or hurt each other: each task's headline metric in a "
                       "shared model against the single-task run named above.")
        elif BASELINE not in set(runs["sharing"]):
            st.caption("Train a `single_task` run on the same data and tasks to see how much "
                       "each task gains or loses from sharing (Δm).")

    st.subheader("Inside a run")
    st.caption("Task weights, gradient conflict between tasks, auxiliary losses and learned "
               "mixing, as stored with the run.")
    run = store.get_run(int(st.selectbox("Run", list(labels), key="compare.inside",
                                         format_func=labels.get)))
    if run is not None:
        run_insights(run, metrics[metrics["run_id"] == run.id], store.extras(run.id), key="compare")
        weights_download(store, run)
    from ui.studies.form import repeat_over_seeds_button  # (the Studies page's hook)
    repeat_over_seeds_button(chosen)


main()
