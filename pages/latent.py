"""Latent space: a 2-D projection of a finished run's test-set codes, coloured by a task;
two runs side by side on the same axes; reconstructions of image data across runs."""

import streamlit as st

from mtae_core.analysis.projections import MissingExtra
from ui.classroom import roles as classroom
from ui.frame import links
from ui.frame.state import get_store, page_frame
from ui.latent.pictures import UMAP_FIRST, projection_methods, recon_section, side_by_side_section
from ui.latent.views import projection
from ui.train.live import run_label
from ui.widgets import charts, downloads

page_frame("Latent space")
def main() -> None:
    """The page below its title: a function, so an early end returns to app.py's frame,
    which draws the sidebar's status after the page (``st.stop()`` would skip it)."""
    store = get_store()
    done = classroom.runs_mine_first(store.runs(["done"]))  # this tab's runs first in every picker
    if not done:
        st.info("No finished runs yet — train one on the Train page, then look at its latent space here.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:",
                     query_params=links.page_params())
        return

    VIEWS = {"one": "One run", "pair": "Two runs side by side", "recon": "Reconstructions"}
    view = st.segmented_control("Show", list(VIEWS), default="one", format_func=VIEWS.get,
                                key="latent.view") or "one"
    if view == "pair":
        side_by_side_section(store, done, run_label)
        return
    if view == "recon":
        recon_section(store, done, run_label)
        return

    METHODS = projection_methods()
    c1, c2 = st.columns([3, 2])
    run = c1.selectbox("Run", done, format_func=run_label)
    method = c2.radio("Projection", list(METHODS), format_func=METHODS.get, horizontal=True)
    try:
        with st.spinner("Projecting the test set…" + (UMAP_FIRST if method == "umap" else "")):
            frame, keys = projection(str(store.path), run.id, None, method)
    except MissingExtra as e:  # UMAP chosen without the extra: say how to get it
        st.info(str(e))
        return
    c3, c4 = st.columns([3, 2])
    latent = c4.selectbox("Latent code", keys, help="per-task networks have one code per task") \
        if len(keys) > 1 else keys[0]
    if latent != keys[0]:
        with st.spinner("Projecting the test set…"):
            frame, _ = projection(str(store.path), run.id, latent, method)
    labels = [c for c in frame.columns if c not in ("x", "y")]
    color = c3.selectbox("Colour by", labels) if labels else None
    downloads.chart(charts.latent_scatter(frame, color), f"latent-run-{run.id}-{method}", data=frame,
                    key="latent.one")
    st.caption(f"{len(frame):,} test points, the {latent} code of run #{run.id} projected to 2-D "
               "with " + METHODS[method].split(" (")[0] + ". Points of one colour close together "
               "mean the code separates that task's labels.")


main()
