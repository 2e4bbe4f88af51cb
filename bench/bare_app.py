"""A bare Streamlit page with only a Train button: ``bench_browser.py --app
bench/bare_app.py --trains 0`` times what any Streamlit page costs a browser to show."""

import streamlit as st

st.button("Train")
