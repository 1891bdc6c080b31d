"""The tracking server goes away under an open dashboard and comes back: Retry, in a browser.

tests/ui/test_outage_page.py checks the same under AppTest, which had to be made to run every run
through app.py, as a server does once it has been opened (tests/ui/conftest.py). Here the real app
(`streamlit run app.py`) and Chromium show that a user's click on the banner's Retry, in the tab
that shows the banner, brings the page back once the server answers again on its port.

The server stopped is the demo's, under the dashboard every browser test shares (they run one after
another on one worker): a server and a dashboard of this test's own cost ~15 s of CPU to start. It
is started again on the same store and port whatever happens, so the tests after this one find it.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from pages.views.shared import PING_TTL_S
from tests.e2e.conftest import Demo
from tests.e2e.dashboard import Dashboard

BANNER = "The tracking store does not answer"


def test_retry_brings_the_page_back_once_the_server_answers_again(dashboard: Dashboard, demo: Demo) -> None:
    ui = dashboard
    ui.open()
    expect(ui.main.get_by_text(BANNER)).to_have_count(0)
    pinged_by = time.monotonic()  # the ping's answer is cached by now, for PING_TTL_S at most

    demo.server.stop()
    try:
        # a new visit once the ping's answer from the first one has run out: waited for, not
        # polled by reloading (each visit draws the whole Overview in Chromium again)
        time.sleep(max(0.0, pinged_by + PING_TTL_S + 0.5 - time.monotonic()))
        deadline = time.monotonic() + 30
        while True:
            ui.open()
            if ui.main.get_by_text(BANNER).count() or time.monotonic() > deadline:
                break
            ui.page.wait_for_timeout(1000)
        expect(ui.main.get_by_text(BANNER).first).to_be_visible()
    finally:
        demo.server.start_again()

    ui.main.get_by_role("button", name="Retry").click()
    ui.settle()
    expect(ui.main.get_by_text(BANNER)).to_have_count(0)
    expect(ui.main.get_by_text("did not answer")).to_have_count(0)
    expect(ui.main.locator("h1").first).to_have_text("MLflow Registry Dashboard")
