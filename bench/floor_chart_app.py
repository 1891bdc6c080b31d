"""The chart floor: a bare Streamlit app drawing one plotly figure, and nothing else.

The figure has the size of the Charts view's 100-run chart (bench case charts_lines): three stacked
panels of 100 lines, 300 points each (`charts.line_budget(300)`), as SVG lines. No chart of ours
can be drawn sooner than Streamlit and Plotly draw this one on the same machine: Plotly's code
alone is a 4.7 MB chunk whose evaluation takes over a second here.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

PANELS, LINES, POINTS = 3, 100, 300
steps = np.arange(POINTS) * 333
figure = make_subplots(rows=PANELS, cols=1, shared_xaxes=True)
for panel in range(PANELS):
    for line in range(LINES):
        values = np.exp(-steps / (20_000 + 500 * line)) + 0.01 * np.sin(steps / 997 + line)
        figure.add_trace(
            go.Scatter(x=steps, y=values, mode="lines", name=f"run-{line:03d}", showlegend=panel == 0),
            row=panel + 1,
            col=1,
        )
figure.update_layout(height=900)
st.plotly_chart(figure)
