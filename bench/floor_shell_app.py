"""The shell floor: Streamlit's own multipage shell over one table, and nothing of ours.

Navigation in two sections (as app.py has), a sidebar caption, a title, a text input and a 25-row
table: what any multipage Streamlit app with a filter over a table pays before its first rows, on
top of the one-dataframe floor (bench/floor_app.py).
"""

import numpy as np
import pandas as pd
import streamlit as st


def table() -> None:
    st.title("Models")
    st.text_input("Search models")
    rows = np.arange(25)
    frame = pd.DataFrame({
        "name": [f"model-{i:03d}" for i in rows], "production": rows % 7, "staging": rows % 5,
        "latest": rows + 3, "metric": 1 / (rows + 1),
        "updated": pd.Timestamp("2026-11-27") - pd.to_timedelta(rows, unit="h"),
    })  # fmt: skip
    st.dataframe(frame, hide_index=True)


def elsewhere() -> None:
    st.write("another page")


page = st.navigation({
    "Tracking": [
        st.Page(table, title="Overview", url_path="overview", default=True),
        st.Page(elsewhere, title="Runs", url_path="runs"),
        st.Page(elsewhere, title="Run", url_path="run"),
        st.Page(elsewhere, title="Compare", url_path="compare"),
    ],
    "Registry": [
        st.Page(elsewhere, title="Models", url_path="models"),
        st.Page(elsewhere, title="History", url_path="history"),
    ],
})  # fmt: skip
with st.sidebar:
    st.caption("Tracking: sqlite:///store.db")
page.run()
