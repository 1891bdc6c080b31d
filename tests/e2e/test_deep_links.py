"""The first visitor of a freshly started dashboard may arrive by a shared deep link.

Streamlit 1.67 starts in its legacy `pages/` mode until `st.navigation` has run once, so before
the fix such a visitor got `pages/models.py` run on its own: no navigation, no page config, and no
app.py gate (under OIDC, no login). The server here is started for this test alone, so the deep
link really is its first request.
"""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from tests.e2e.conftest import Demo, serving_dashboard
from tests.e2e.dashboard import Dashboard


def test_a_deep_link_as_first_request_runs_inside_the_app(
    browser_context: BrowserContext, demo: Demo, tmp_path
) -> None:
    with serving_dashboard(demo, "streamlit-fresh.log") as url:
        ui = Dashboard(browser_context.new_page(), url, tmp_path)
        try:
            ui.open("models", model="iris-classifier")
            expect(ui.main.locator("h1").first).to_have_text("iris-classifier")
            links = ui.page.locator('[data-testid="stSidebarNavLink"]')
            expect(links).to_have_count(6)  # app.py's navigation, not one entry per file in pages/
            expect(links.filter(has_text="Experiments & runs")).to_have_count(1)
            expect(ui.page.get_by_text("Signed in as")).to_be_visible()  # app.py's sidebar ran
        finally:
            ui.page.close()
