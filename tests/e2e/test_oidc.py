"""OIDC login end to end: Streamlit's st.login against a local OpenID provider, in Chromium.

`oidc-provider-mock` serves a real OIDC provider on 127.0.0.1 (discovery, authorize, token, JWKS);
its authorize page has one button per predefined user, so a click picks who logs in. The dashboard
runs as `streamlit run app.py` with REGISTRY_IDENTITY=oidc and a secrets file of our own
(`--secrets.files`), on a direct SQLite store with one model. A lead logs in, sees their name and
promotes; a viewer logs in, finds the actions disabled, and the service refuses them too.

Fixtures are this module's own (tests/e2e/conftest.py serves the demo tests). The browser may
only reach 127.0.0.1: the provider's page links a stylesheet on a CDN, which is aborted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from registry.errors import Refused
from registry.service import Registry
from registry.settings import Settings
from tests.conftest import build_settings
from tests.factories import make_model
from tests.stack import ServerProcess, child_env, free_port

PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 30_000
LEAD = {"sub": "ada@example.com", "email": "ada@example.com", "name": "Ada Lovelace"}
VIEWER = {"sub": "vera@example.com", "email": "vera@example.com", "name": "Vera Viewer"}
IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app !== null && app.dataset.testScriptState === "notRunning"
        && document.querySelector('[data-testid="stStatusWidget"]') === null;
    window.__oidcIdlePolls = idle ? (window.__oidcIdlePolls || 0) + 1 : 0;
    return window.__oidcIdlePolls >= 3;
}"""

pytestmark = pytest.mark.e2e  # skipped without Chromium by tests/e2e/conftest.py, like its neighbours


@dataclass(frozen=True)
class OidcApp:
    url: str
    provider_url: str
    settings: Settings
    model: str


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m oidc_provider_mock` on a free loopback port, with a lead and a viewer to pick."""
    folder = tmp_path_factory.mktemp("oidc-provider")
    port = free_port()
    argv = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in (LEAD, VIEWER):
        argv += ["--user-claims", json.dumps(user)]
    provider = ServerProcess("oidc provider", argv, folder / "oidc.log", child_env(), folder)
    url = f"http://127.0.0.1:{port}"
    try:
        provider.wait_until_answers(f"{url}/.well-known/openid-configuration", timeout_s=30)
        yield url
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def oidc_app(
    request: pytest.FixtureRequest, oidc_provider: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcApp]:
    """The dashboard under REGISTRY_IDENTITY=oidc, ada@example.com its only lead, one model to promote."""
    home = tmp_path_factory.mktemp("oidc-app")
    settings = build_settings(request, "sqlite", home, identity="oidc", leads_csv=LEAD["email"])
    model = make_model(MlflowClient(settings.effective_tracking_uri), [{"acc": 0.8}, {"acc": 0.9}])
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-cookie-secret-for-the-oidc-e2e-test-only-0123456789"\n'
        'client_id = "registry-dashboard"\n'
        'client_secret = "registry-dashboard-secret"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    env = child_env(
        MLFLOW_TRACKING_URI=settings.effective_tracking_uri,
        REGISTRY_AUDIT_URL=settings.effective_audit_url,
        REGISTRY_HOME=str(home),
        REGISTRY_IDENTITY="oidc",
        REGISTRY_LEADS=LEAD["email"],
    )
    argv = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--secrets.files", str(secrets),
    ]  # fmt: skip
    app = ServerProcess("streamlit (oidc)", argv, home / "streamlit.log", env, PROJECT)
    try:
        url = f"http://127.0.0.1:{port}"
        app.wait_until_answers(f"{url}/_stcore/health", timeout_s=60)
        yield OidcApp(url, oidc_provider, settings, model)
    finally:
        app.stop()


def _loopback_only(route: Route) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context: no identity cookie, so a new login."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.route("**/*", _loopback_only)
    try:
        yield ctx
    finally:
        ctx.close()


def idle(page: Page) -> Page:
    page.wait_for_function(IDLE, timeout=TIMEOUT_MS, polling=100)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    return page


def log_in(context: BrowserContext, app: OidcApp, user: dict[str, str]) -> Page:
    """Open the app, press Log in, pick `user` on the provider's page, and come back logged in."""
    page = context.new_page()
    page.goto(app.url)
    idle(page)
    expect(page.get_by_text("Log in with your organisation's account")).to_be_visible()
    expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # no page before a login
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{app.provider_url}/oauth2/authorize**")
    page.get_by_role("button", name=user["sub"], exact=True).click()
    page.wait_for_url(f"{app.url}/**")
    idle(page)
    return page


def text_of(page: Page, selector: str) -> str:
    """What the reader sees; plain() puts a zero-width space before '@' so addresses do not link."""
    return "\n".join(page.locator(selector).all_inner_texts()).replace("\u200b", "")


def aliases(app: OidcApp) -> dict[str, str]:
    client = MlflowClient(app.settings.effective_tracking_uri)
    return {k: str(v) for k, v in client.get_registered_model(app.model).aliases.items()}


def test_a_lead_logs_in_sees_their_name_and_promotes(context: BrowserContext, oidc_app: OidcApp):
    page = log_in(context, oidc_app, LEAD)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as Ada Lovelace")
    assert "Signed in as Ada Lovelace (ada@example.com, lead)" in text_of(page, '[data-testid="stSidebar"]')

    page.goto(f"{oidc_app.url}/models?model={oidc_app.model}")
    idle(page)
    promote = page.get_by_role("button", name="Promote to production")
    expect(promote).to_be_enabled()
    promote.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("What will change")).to_be_visible()
    dialog.get_by_label("Reason (required; it goes into the audit history)").fill("first release, via OIDC")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text(f"{oidc_app.model} promoted to production: v2 (was none)").first).to_be_visible()
    assert aliases(oidc_app) == {"production": "2"}  # the newest version is preselected
    [attempt] = Registry.connect(oidc_app.settings).history(oidc_app.model)
    assert (attempt.actor, attempt.role, attempt.outcome) == ("ada@example.com", "lead", "done")

    page.get_by_role("button", name="Log out").click()  # the provider's end-session page, then back
    page.wait_for_url(f"{oidc_app.provider_url}/oauth2/end_session**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{oidc_app.url}/**")
    idle(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_viewer_logs_in_finds_actions_disabled_and_the_service_refuses(
    context: BrowserContext, oidc_app: OidcApp
):
    page = log_in(context, oidc_app, VIEWER)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as Vera Viewer")
    assert "Signed in as Vera Viewer (vera@example.com, viewer)" in text_of(page, '[data-testid="stSidebar"]')

    page.goto(f"{oidc_app.url}/models?model={oidc_app.model}")
    idle(page)
    for label in ("Promote to production", "Promote to staging", "Archive"):
        expect(page.get_by_role("button", name=label)).to_be_disabled()
    assert "Actions are disabled: vera@example.com is a viewer" in text_of(page, '[data-testid="stAlert"]')

    before = aliases(oidc_app)
    reg = Registry.connect(oidc_app.settings)
    with pytest.raises(Refused, match=r"vera@example\.com is a viewer"):
        reg.promote(
            oidc_app.model,
            "2",
            "the button was disabled: try the service",
            actor=reg.actor("vera@example.com"),
        )
    assert aliases(oidc_app) == before
