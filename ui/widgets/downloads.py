"""Charts with their downloads: every chart is saved as PNG by plotly's modebar camera
(``charts.chart_config`` names the file) and its data as CSV by a button beneath it; a
trained model's weights as the ``.pt`` file ``torch.load`` reads. One helper for every
page, so each chart offers the same two downloads in the same place."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.widgets import charts


def chart(fig: go.Figure, name: str, data: pd.DataFrame | None = None, key: str | None = None,
          where: Any = None) -> None:
    """Draw ``fig`` in ``where`` (a column or container; the page by default) with its
    PNG named after ``name`` and a "Download data (CSV)" button: ``data`` when the chart
    has a tidier table of its own, else what the figure draws (``charts.figure_data``)."""
    target = where if where is not None else st
    stem = charts.file_stem(name)
    target.plotly_chart(fig, key=key, config=charts.chart_config(name))
    frame = charts.figure_data(fig) if data is None else data
    target.download_button(
        "Download data (CSV)", frame.to_csv(index=False), file_name=f"{stem}.csv",
        mime="text/csv", key=f"csv.{key or stem}", icon=":material/download:",
        on_click="ignore",  # a download changes nothing on the page: no rerun
        help="the numbers this chart draws; the camera above the chart saves it as PNG")


def weights_button(data: bytes, run_id: int, where: Any = None) -> None:
    """The run's trained weights (the store's artifact) as a .pt file."""
    target = where if where is not None else st
    target.download_button(
        "Download trained weights (.pt)", data, file_name=f"run-{run_id}-weights.pt",
        mime="application/octet-stream", key=f"weights.{run_id}", icon=":material/download:",
        on_click="ignore",
        help="the model's state_dict; load it with torch.load(path, weights_only=True)")
