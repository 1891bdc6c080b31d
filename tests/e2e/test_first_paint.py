"""The first navigation a visitor of a freshly started dashboard sees is the app's own.

Streamlit 1.67 starts in its legacy `pages/` mode because `pages/` sits beside app.py: the first run
on a fresh server draws a sidebar listing the files of pages/ ("app, compare, history, ...") and
keeps it there for the seconds app.py needs to import MLflow. The server here is started for this
test alone, so the visit really is its first; a MutationObserver installed before the page loads
records every set of sidebar links the page ever holds, however briefly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import VIEWPORT, Demo, serving_dashboard
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP_NAVIGATION = ["Overview", "Experiments & runs", "Run", "Compare", "Models", "History"]

# Every distinct list of sidebar link labels, in order (a label is the link's last line: the
# Material icon's name comes first).
_RECORD_SIDEBARS = """
window.sidebarsSeen = [];
new MutationObserver(() => {
    const labels = [...document.querySelectorAll('[data-testid="stSidebarNavLink"]')]
        .map(a => a.innerText.trim().split("\\n").pop());
    const last = window.sidebarsSeen[window.sidebarsSeen.length - 1];
    if (labels.length && JSON.stringify(labels) !== JSON.stringify(last)) window.sidebarsSeen.push(labels);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_a_fresh_server_never_shows_the_file_list_of_pages(browser: Browser, demo: Demo, shots: Path) -> None:
    with serving_dashboard(demo, "streamlit-first-paint.log") as url:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            context.add_init_script(_RECORD_SIDEBARS)
            ui = Dashboard(context.new_page(), url, shots)
            ui.page.goto(url)
            ui.page.locator('[data-testid="stSidebarNavLink"]').first.wait_for()
            ui.page.screenshot(path=shots / "first-paint.png")  # the first navigation drawn
            ui.page.wait_for_selector('[data-testid="stApp"]')
            ui.settle()
            assert ui.title() == "MLflow Registry Dashboard"
            assert ui.page.evaluate("window.sidebarsSeen") == [APP_NAVIGATION]
        finally:
            context.close()


# When the first table cell is drawn (what the bench times as first content), and when the browser
# starts fetching Plotly's code (its 4.7 MB chunk).
_RECORD_TABLE = """
window.firstTableAt = null;
const cell = '[data-testid="stDataFrame"] [data-testid^="glide-cell-"]';
new MutationObserver(() => {
    if (window.firstTableAt === null && document.querySelector(cell)) window.firstTableAt = performance.now();
}).observe(document, {subtree: true, childList: true});
"""
_PLOTLY_FETCHED_AT = """
() => performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/PlotlyChart."))
    .map(e => e.startTime)
"""


def test_a_new_session_draws_the_first_table_before_it_fetches_plotly(
    browser: Browser, app_url: str, demo: Demo, shots: Path
) -> None:
    """pages/views/first_paint.py: the run page's tables come first, its chart after, in one visit."""
    from registry.training.demo import IRIS

    context = browser.new_context(viewport=VIEWPORT)
    try:
        context.add_init_script(_RECORD_TABLE)
        ui = Dashboard(context.new_page(), app_url, shots)
        ui.open("run", run=demo.run_id(IRIS, "sgd-best-of-search"))
        ui.page.locator(".js-plotly-plot").first.wait_for()  # the chart comes by itself
        table_at = ui.page.evaluate("window.firstTableAt")
        plotly_at = ui.page.evaluate(_PLOTLY_FETCHED_AT)
        assert table_at is not None and plotly_at, (table_at, plotly_at)
        assert table_at < min(plotly_at), (table_at, plotly_at)
    finally:
        context.close()
