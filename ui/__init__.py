"""Streamlit helpers shared by the pages: widgets, chart builders, run pickers."""
