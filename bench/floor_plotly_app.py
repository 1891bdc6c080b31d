"""The smallest chart floor: a bare Streamlit app drawing one plotly line of ten points.

Whatever a chart shows, Streamlit first loads and evaluates Plotly's code (a 4.7 MB chunk) in the
browser: this is the least any chart of any size costs on the machine of the day.
"""

import plotly.graph_objects as go
import streamlit as st

st.plotly_chart(go.Figure(go.Scatter(x=list(range(10)), y=[v * v for v in range(10)], mode="lines")))
