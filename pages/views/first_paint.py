"""Charts wait until the browser has drawn the session's first page.

Plotly's frontend code is a 4.7 MB chunk that the browser fetches and parses when the first chart of a
session appears. Profiled, that parse held back the page's first table by more than half of its time
(docs/benchmarks.md, "Where the time goes"). So the first run of a session draws a placeholder of the
chart's height in its place; `charts_after_paint`, called by app.py once the page has run, mounts an
invisible component (pages/views/prefetch.py) that watches for the page's first table cell. Once it is
drawn, the component starts loading Plotly's code and reports back; the report's rerun marks the
session painted and brings the charts. Later pages of the session draw their charts at once.

A browser-side timer (a fragment's `run_every`) did this before; it fired once the browser was free,
which under load came before the table's cells were drawn, and Plotly's code then went first.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.views.prefetch import PLOTLY, prefetch

PAINTED = "first_paint.done"  # session state: the browser has drawn a page of this session
_WAITING = "first_paint.waiting"  # a chart of this run waits for it
PLOTLY_DEFAULT_HEIGHT = 450
PLACEHOLDER = "Drawing the chart…"


def plotly_chart(figure: Any, *, at_once: bool = False, **kwargs: Any) -> None:
    """`st.plotly_chart`, or until the browser has drawn the session's first page a placeholder of
    the chart's height (so nothing below it moves when the chart comes).

    `at_once`: the chart is what the page is for (the Charts view), with no table to show before it;
    waiting for the first paint would only delay it by a rerun of the page.

    A dict is a figure our builders made and a cache kept as plotly's dict: it is drawn as it is,
    without plotly's validation or copies (figures.DrawnFigure)."""
    if at_once or st.session_state.get(PAINTED):
        if isinstance(figure, dict):
            # Imported here: app.py imports this module, and not every page draws.
            from pages.views.figures import DrawnFigure

            figure = DrawnFigure(figure)
        st.plotly_chart(figure, **kwargs)
        return
    st.session_state[_WAITING] = True
    layout = figure.get("layout", {}) if isinstance(figure, dict) else figure.layout
    height = layout.get("height") if isinstance(layout, dict) else getattr(layout, "height", None)
    height = height or PLOTLY_DEFAULT_HEIGHT
    with st.container(height=int(height), border=False):
        st.caption(PLACEHOLDER)


def keep_for_the_charts(key: str, value: Any) -> None:
    """Keep what a page shows once (a link's problems) for the rerun that brings the charts, which
    would otherwise take it away a moment after the first paint. Call it after the charts: kept
    only when one of them waits."""
    if st.session_state.get(_WAITING) and not st.session_state.get(PAINTED):
        st.session_state[key] = value


def charts_after_paint() -> None:
    """At the end of a run whose charts waited: come back for them once the browser has drawn the
    page's first table.

    Plotly's code starts loading at that moment too: its second of evaluation in the browser then
    overlaps the come-back rerun on the server, instead of following it, and never delays the table.
    """
    if st.session_state.pop(_WAITING, False) and not st.session_state.get(PAINTED):
        prefetch(PLOTLY, after_first_table=True, on_drawn=_painted)


def _painted() -> None:
    """The browser drew the page: this rerun, which its report started, brings the charts."""
    st.session_state[PAINTED] = True
