"""Page script times with Streamlit's AppTest: cold (caches cleared) and warm (a rerun, caches full).

Cold: a fresh session whose first run happens on an empty store (so imports and the session cost
nothing), then Streamlit's caches are cleared (the kept line summaries of registry/store/summaries
stay, as they do when a server restarts; the first cold sample is also reported alone, as the
first visit ever), the tracking URI is pointed at the benchmark store
and the page runs: every read it makes is a real read. Warm: the same session reruns the page, as
a click on a widget does. Times are wall times of `AppTest.run()`, i.e. script time in process.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.cases import Case, kept_summaries
from pages.views.first_paint import PAINTED
from tests.ui.tracking_data import plotly_array

APP = Path(__file__).resolve().parent.parent / "app.py"


@contextmanager
def app_environment(home: Path) -> Iterator[None]:
    """The dashboard's settings for the benchmark: its own audit log and home, restored afterwards."""
    wanted = {
        "REGISTRY_HOME": str(home),
        "REGISTRY_AUDIT_URL": f"sqlite:///{home / 'audit.db'}",
        "REGISTRY_SUMMARY_CACHE_URL": kept_summaries(home),
        "REGISTRY_ACTOR": "bench",
        "REGISTRY_LEADS": "bench",
    }
    saved = {k: os.environ.get(k) for k in [*wanted, "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"]}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def trace_points(at: AppTest) -> list[int]:
    """Points per trace of every plotly chart on the page, as sent to the browser."""
    return [len(plotly_array(trace.get("x"))) for trace in _traces(at) if trace.get("x") is not None]


def line_points(at: AppTest) -> list[int]:
    """Points per drawn line: a line trace of many runs holds one line per run, split by gaps."""
    counts = []
    for trace in _traces(at):
        if "lines" not in str(trace.get("mode", "")) or trace.get("y") is None:
            continue
        y = pd.to_numeric(pd.Series(plotly_array(trace["y"])), errors="coerce").to_numpy()
        gaps = np.flatnonzero(np.isnan(y))
        counts += [n for part in np.split(y, gaps) if (n := int(np.count_nonzero(~np.isnan(part))))]
    return counts


def _traces(at: AppTest) -> list[dict[str, Any]]:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return [trace for spec in specs for trace in spec.get("data", [])]


def problems(at: AppTest) -> list[str]:
    found = [f"exception: {e.value}" for e in at.exception]
    found += [f"error: {e.value}" for e in at.error]
    return found


def page_times(case: Case, store_uri: str, empty_uri: str, cold_n: int, warm_n: int) -> dict[str, Any]:
    cold, warm, issues = [], [], []
    at: AppTest | None = None
    for _ in range(cold_n):
        os.environ["MLFLOW_TRACKING_URI"] = empty_uri
        at = AppTest.from_file(str(APP), default_timeout=900)
        # Script time with the charts: AppTest has no browser to paint the page and come back for
        # them (pages/views/first_paint.py); the browser figures include that round trip.
        at.session_state[PAINTED] = True
        at.run()
        os.environ["MLFLOW_TRACKING_URI"] = store_uri
        st.cache_data.clear()
        st.cache_resource.clear()
        at.switch_page(case.page)
        for key, value in case.query.items():
            at.query_params[key] = value
        started = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - started)
        issues += problems(at)
    assert at is not None
    for _ in range(warm_n):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
    issues += problems(at)
    points, lines = trace_points(at), line_points(at)
    return {
        "payload_bytes": sum(len(chart.proto.spec.encode()) for chart in at.get("plotly_chart")),
        # The first cold run meets an empty summary store (histories are read whole, then kept); the
        # later ones are cold starts of a server that ran before: Streamlit's caches empty, kept
        # summaries there.
        "first_s": cold[0],
        "cold_s": statistics.median(cold[1:] or cold),
        "cold_all_s": cold,
        "warm_s": statistics.median(warm),
        "warm_all_s": warm,
        "max_points_per_trace": max(points) if points else None,
        "max_points_per_line": max(lines) if lines else None,
        "traces": len(points),
        "problems": sorted(set(issues)),
    }
