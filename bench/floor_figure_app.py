"""The figure floor: a bare Streamlit app drawing the Charts view's own 100-run figure, and nothing else.

The chart floor (floor_chart_app.py) draws a figure of that size as plotly users usually build it,
one trace per line. Ours draws past 100 lines one trace per panel, broken between runs, with each
point's run name for the hover (`pages.views.charts.runs_line_figure`). This app builds exactly that
figure from made-up lines of the bench case's shape (100 runs x 3 metrics, `line_budget` points a
line) and draws it: the Charts view's 100-run chart cannot be drawn sooner than this on the same
machine, whatever the page around it does.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's `pages` package

import numpy as np
import pandas as pd
import streamlit as st

from pages.views import charts
from pages.views.chart_spec import ChartSpec

RUNS, KEYS, STEPS = 100, ("loss", "accuracy", "lr"), 100_000


@st.cache_data
def figure() -> dict:
    points = charts.line_budget(RUNS * len(KEYS))
    steps = np.linspace(0, STEPS, points).astype(np.int64)
    rng = np.random.default_rng(0)
    lines = [
        pd.DataFrame(
            {
                "run_id": f"{run:032x}",
                "key": key,
                "step": steps,
                "timestamp": steps,
                "value": np.exp(-steps / (20_000 + 300 * run)) + 0.02 * rng.standard_normal(points),
            }
        )
        for run in range(RUNS)
        for key in KEYS
    ]
    data = pd.concat(lines, ignore_index=True)
    data["x"] = data["step"].astype("float64")
    names = {f"{run:032x}": f"run-{run:03d}" for run in range(RUNS)}
    drawn = charts.lines_frame(data, names, 0.0, points)
    return charts.runs_line_figure(drawn, ChartSpec(metrics=KEYS), KEYS).to_dict()


st.plotly_chart(figure())
