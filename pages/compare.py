"""Compare: pick runs in the table; overlay their loss curves per task and compare their
test metrics side by side."""

import streamlit as st

from ui import charts
from ui.compare import BASELINE, comparison_table, style_best, task_delta_frame
from ui.live import run_insights
from ui.runs_view import delete_control, runs_table, selected_metrics
from ui.state import ensure_app_frame, get_store

ensure_app_frame()
st.title("Compare runs")
store = get_store()
runs = store.runs_table()
if runs.empty:
    st.info("No runs yet — train one on the Train page.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

st.caption("Tick runs in the table to compare them.")
chosen = runs_table(runs)
if chosen.empty:
    st.stop()
delete_control(store, chosen)

metrics, labels = selected_metrics(store, chosen)
tasks = [t for t in dict.fromkeys(charts.task_losses(metrics)["task"])] if not metrics.empty else []
c1, c2, c3 = st.columns([1, 1, 2])
split = c1.radio("Curves", ["val", "train"], horizontal=True,
                 format_func=lambda s: "validation" if s == "val" else "training")
log_y = c2.toggle("Log scale", value=False)
smoothing = c3.slider("Smoothing", 0.0, 0.95, 0.0, 0.05,
                      help="exponential moving average; the raw curve stays faint behind it")
cols = st.columns(2)
for i, task in enumerate(tasks):
    cols[i % 2].plotly_chart(charts.compare_curves(metrics, task, labels, split, log_y, smoothing),
                             config={"displaylogo": False})

st.subheader("Test metrics")
table = comparison_table(chosen, runs)
if table.empty or table.shape[1] == 0:
    st.caption("Finished runs show their test metrics here.")
else:
    st.caption("Best value per column highlighted (higher accuracy, F1, recall and R²; lower MSE).")
    st.dataframe(style_best(table))
    st.download_button("Download table (CSV)", table.to_csv(), file_name="comparison.csv",
                       mime="text/csv")
    gains = charts.task_delta_figure(task_delta_frame(chosen, runs))
    if gains is not None:
        st.plotly_chart(gains, config={"displaylogo": False})
        st.caption("Which tasks help or hurt each other: each task's headline metric in a "
                   "shared model against a single-task run on the same data and tasks.")
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
from ui.studies import repeat_over_seeds_button  # noqa: E402, I001  (the Studies page's hook)
repeat_over_seeds_button(chosen)
