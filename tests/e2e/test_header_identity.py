"""Header identity in Chromium against a real `streamlit run app.py`: forged headers gain nothing.

The dashboard runs with REGISTRY_IDENTITY=header, ada@example.com its only lead and a shared proxy
secret. A browser stands in for a client that talks to the dashboard directly and forges what a
proxy would send (Playwright's extra_http_headers reach the WebSocket handshake, where Streamlit
reads them): the user header with an X-Forwarded-For naming any address stays an anonymous viewer;
only the secret makes the header believed. Settings that trust by address refuse to start.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Browser, Page, expect

from registry.service import Registry
from registry.settings import Settings
from tests.conftest import build_settings
from tests.factories import make_model
from tests.stack import ServerProcess, child_env, free_port

PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 30_000
LEAD = "ada@example.com"
SECRET = "topsecret-for-the-header-e2e-test"
IDLE = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === "notRunning"
    && document.querySelector('[data-testid="stStatusWidget"]') === null"""

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class HeaderApp:
    url: str
    settings: Settings
    model: str


def _serve(home: Path, settings: Settings, log: str, **extra_env: str) -> tuple[ServerProcess, str]:
    port = free_port()
    env = child_env(
        MLFLOW_TRACKING_URI=settings.effective_tracking_uri,
        REGISTRY_AUDIT_URL=settings.effective_audit_url,
        REGISTRY_HOME=str(home),
        REGISTRY_IDENTITY="header",
        REGISTRY_LEADS=LEAD,
        REGISTRY_HEADER_SECRET=SECRET,
        **extra_env,
    )
    argv = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    app = ServerProcess(f"streamlit ({log})", argv, home / f"{log}.log", env, PROJECT)
    url = f"http://127.0.0.1:{port}"
    try:
        app.wait_until_answers(f"{url}/_stcore/health", timeout_s=60)
    except BaseException:
        app.stop()
        raise
    return app, url


@pytest.fixture(scope="module")
def header_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HeaderApp]:
    home = tmp_path_factory.mktemp("header-app")
    settings = build_settings(
        request, "sqlite", home, identity="header", leads_csv=LEAD, header_secret=SECRET
    )
    model = make_model(MlflowClient(settings.effective_tracking_uri), [{"acc": 0.8}, {"acc": 0.9}])
    app, url = _serve(home, settings, "streamlit-header")
    try:
        yield HeaderApp(url, settings, model)
    finally:
        app.stop()


def _open(browser: Browser, url: str, headers: dict[str, str]) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, extra_http_headers=headers)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(IDLE, timeout=TIMEOUT_MS, polling=100)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    return page


def _sidebar(page: Page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text().replace("\u200b", "")


def _aliases(app: HeaderApp) -> dict[str, str]:
    model = MlflowClient(app.settings.effective_tracking_uri).get_registered_model(app.model)
    return {k: str(v) for k, v in model.aliases.items()}


@pytest.mark.parametrize(
    "forged",
    [
        {"X-Forwarded-Email": LEAD, "X-Forwarded-For": "10.9.9.9"},
        {"X-Forwarded-Email": LEAD, "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},
        {"X-Forwarded-Email": LEAD, "X-Registry-Proxy-Secret": "topsecret"},
    ],
    ids=["forwarded-for-a-proxy", "forwarded-for-loopback", "wrong-secret"],
)
def test_forged_headers_leave_a_viewer_who_cannot_act(browser: Browser, header_app: HeaderApp, forged):
    page = _open(browser, f"{header_app.url}/models?model={header_app.model}", forged)
    try:
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as")
        assert "Signed in as anonymous (viewer)" in _sidebar(page)
        expect(page.get_by_role("button", name="Promote to production")).to_be_disabled()
        assert _aliases(header_app) == {}
    finally:
        page.context.close()


def test_the_secret_is_the_proof(browser: Browser, header_app: HeaderApp):
    headers = {"X-Forwarded-Email": LEAD, "X-Registry-Proxy-Secret": SECRET}
    page = _open(browser, f"{header_app.url}/models?model={header_app.model}", headers)
    try:
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as")
        assert f"Signed in as {LEAD} (lead)" in _sidebar(page)
        page.get_by_role("button", name="Promote to production").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Reason (required; it goes into the audit history)").fill("proxy says ada")
        dialog.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text(f"{header_app.model} promoted to production: v2").first).to_be_visible()
    finally:
        page.context.close()
    assert _aliases(header_app) == {"production": "2"}
    [attempt] = Registry.connect(header_app.settings).history(header_app.model)
    assert (attempt.actor, attempt.role, attempt.outcome) == (LEAD, "lead", "done")


def test_trusting_a_proxy_by_address_refuses_to_start(
    browser: Browser, header_app: HeaderApp, tmp_path_factory: pytest.TempPathFactory
):
    home = tmp_path_factory.mktemp("header-app-proxies")
    app, url = _serve(home, header_app.settings, "streamlit-proxies", REGISTRY_TRUSTED_PROXIES="10.9.9.9")
    try:
        page = _open(browser, url, {"X-Forwarded-Email": LEAD, "X-Forwarded-For": "10.9.9.9"})
        alert = page.locator('[data-testid="stAlert"]')
        expect(alert).to_contain_text("The dashboard cannot start")
        assert "X-Forwarded-For, which any client can forge" in alert.inner_text()
        expect(page.locator('[data-testid="stSidebarNavLink"]')).to_have_count(0)
        page.context.close()
    finally:
        app.stop()
