"""The first visitors of a freshly started dashboard may arrive by shared deep links, together.

Streamlit 1.67 starts in its legacy `pages/` mode until `st.navigation` has run once, so before
the fix such a visitor got `pages/models.py` run on its own: no navigation, no page config, and no
app.py gate (under OIDC, no login). And a run that Streamlit had sent down the legacy path just
before another session's first run switched that mode off ran its page alone too: its charts
waited for a come-back that only app.py registers, for good. The server here is started for this
test alone, so these deep links really are its first requests.
"""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from tests.e2e.conftest import Demo, serving_dashboard
from tests.e2e.dashboard import APP, Dashboard


def test_deep_links_opened_together_on_a_fresh_server_all_run_inside_the_app(
    browser_context: BrowserContext, demo: Demo, tmp_path
) -> None:
    with serving_dashboard(demo, "streamlit-fresh.log") as url:
        boards = [Dashboard(browser_context.new_page(), url, tmp_path) for _ in range(3)]
        wanted = [("models", {"model": "iris-classifier"}), ("runs", {"view": "charts"}), ("history", {})]
        try:
            for ui, (path, query) in zip(boards, wanted, strict=True):
                ui.page.goto(ui.url(path, **query), wait_until="commit")  # all three before any has run
            for ui in boards:
                ui.page.wait_for_selector(APP)
                ui.settle()  # also waits until no chart is left as its placeholder
                links = ui.page.locator('[data-testid="stSidebarNavLink"]')
                expect(links).to_have_count(6)  # app.py's navigation, not one entry per file in pages/
                expect(links.filter(has_text="Experiments & runs")).to_have_count(1)
                expect(ui.page.get_by_text("Signed in as")).to_be_visible()  # app.py's sidebar ran
            expect(boards[0].main.locator("h1").first).to_have_text("iris-classifier")
        finally:
            for ui in boards:
                ui.page.close()
