"""The tracking server goes away under an open dashboard and comes back: Retry, in a browser.

tests/ui/test_outage_page.py checks the same under AppTest, which had to be made to run every run
through app.py, as a server does once it has been opened (tests/ui/conftest.py). Here the real app
(`streamlit run app.py`) and Chromium show that a user's click on the banner's Retry, in the tab
that shows the banner, brings the page back once the server answers again on its port.
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from pages.views.shared import PING_TTL_S
from registry.store.client import make_client
from tests.e2e.conftest import Demo, e2e_settings, serving_dashboard
from tests.e2e.dashboard import Dashboard
from tests.stack import Stack, start_mlflow_server

BANNER = "The tracking store does not answer"


def test_retry_brings_the_page_back_once_the_server_answers_again(
    browser_context: BrowserContext, stack: Stack, tmp_path: Path
) -> None:
    server, uri, _ = start_mlflow_server(tmp_path, stack.s3_endpoint_url, stack.bucket)
    port = int(uri.rsplit(":", 1)[1])
    try:
        server.wait_until_answers(f"{uri}/health", timeout_s=60)
        settings = e2e_settings(uri, stack, tmp_path)
        stores = Demo(settings, make_client(settings), {}, {})
        with serving_dashboard(stores, "streamlit-outage.log") as url:
            ui = Dashboard(browser_context.new_page(), url, tmp_path)
            try:
                ui.open()
                expect(ui.main.get_by_text(BANNER)).to_have_count(0)

                server.stop()
                # a new visit once the ping's answer from the first one has run out
                deadline = time.monotonic() + PING_TTL_S + 30
                while True:
                    ui.open()
                    if ui.main.get_by_text(BANNER).count() or time.monotonic() > deadline:
                        break
                    ui.page.wait_for_timeout(1000)
                expect(ui.main.get_by_text(BANNER).first).to_be_visible()

                server, _, _ = start_mlflow_server(tmp_path, stack.s3_endpoint_url, stack.bucket, port=port)
                server.wait_until_answers(f"{uri}/health", timeout_s=60)
                ui.main.get_by_role("button", name="Retry").click()
                ui.settle()
                expect(ui.main.get_by_text(BANNER)).to_have_count(0)
                expect(ui.main.get_by_text("did not answer")).to_have_count(0)
                expect(ui.main.locator("h1").first).to_have_text("MLflow Registry Dashboard")
            finally:
                ui.page.close()
    finally:
        server.stop()
