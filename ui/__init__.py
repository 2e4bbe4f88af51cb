"""Streamlit helpers shared by the pages: run store and job runner (``state``), widgets
built from config schemas (``forms``, ``train_form``), plotly chart builders
(``charts``), the live run view (``live``), comparison tables (``compare``) and latent
projections (``latent``)."""
