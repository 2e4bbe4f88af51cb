"""Widgets and charts more than one page uses: plotly charts, downloads built on click, form widgets built from the config's schema, plain-words messages and text."""
