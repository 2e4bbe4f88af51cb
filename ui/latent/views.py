"""Latent projections of finished runs, cached: a finished run never changes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtae_core.analysis.projections import latent_frame

METHODS = {"pca": "PCA (fast, linear)", "tsne": "t-SNE (slower, keeps neighbours together)"}


@st.cache_data(show_spinner=False, max_entries=32)
def projection(db_path: str, run_id: int, latent: str | None, method: str
               ) -> tuple[pd.DataFrame, list[str]]:
    """(frame with x, y and one column per task label; the latent keys of the run)."""
    from mtae_core.store.runs import RunStore

    return latent_frame(RunStore(db_path), run_id, latent, method)  # type: ignore[arg-type]
