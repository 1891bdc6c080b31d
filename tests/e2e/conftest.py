"""Browser tests: the real app (`streamlit run app.py`) over the seeded demo, driven in Chromium.

Once per session: the demo, trained once for all workers (tests/demo_store.py), is served by an
`mlflow server` of its own (its promotion history goes to an audit database of our own), the
dashboard starts as a child process pointed at both, and Debian's Chromium starts headless (once
for the directory's tests as they run in a row). Each test gets a new tab, so a fresh Streamlit
session.

Without /usr/bin/chromium the directory is skipped, unless REGISTRY_REQUIRE_BROWSER=1 (CI installs
Chromium, so there a missing browser is a failure, not a skip). Screenshots for the docs go to
REGISTRY_SCREENSHOTS when it names a folder (`REGISTRY_SCREENSHOTS=docs/screenshots`), else to a
temporary folder, so a test run does not rewrite the committed images.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from registry.service import Registry
from registry.settings import Settings, load_settings
from registry.store.client import make_client
from registry.training.demo import DEMO_EXPERIMENTS, seed_history
from tests.demo_store import DemoStore
from tests.e2e.dashboard import TIMEOUT_MS, Dashboard
from tests.stack import RestartableServer, ServerProcess, Stack, child_env, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
# expect() gives up after 5 s by default: on a busy CI machine a page takes longer to draw its
# buttons (a forged-header check once failed so). The pages' own default is TIMEOUT_MS too.
expect.set_options(timeout=TIMEOUT_MS)
E2E_ACTOR = "e2e-lead"
PROJECT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def e2e_settings(tracking_uri: str, stack: Stack, home: Path) -> Settings:
    """The dashboard's settings for a browser test: this tracking server, the stack's S3, an audit
    log in `home`, and the e2e lead acting."""
    return load_settings(
        tracking_uri=tracking_uri,
        s3_endpoint_url=stack.s3_endpoint_url,
        home=home,
        audit_url=f"sqlite:///{home / 'audit.db'}",
        actor=E2E_ACTOR,
        leads_csv=E2E_ACTOR,
    )


def _browser_required() -> bool:
    return os.environ.get("REGISTRY_REQUIRE_BROWSER") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory where Chromium is missing, unless the browser is required (then fail)."""
    if CHROMIUM.exists():
        return
    if _browser_required():
        reason = f"REGISTRY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install -y chromium"
        mark = pytest.mark.usefixtures("_missing_browser")
    else:
        reason = f"{CHROMIUM} not installed (set REGISTRY_REQUIRE_BROWSER=1 to make this a failure)"
        mark = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(mark)


@pytest.fixture(scope="session")
def _missing_browser() -> None:
    pytest.fail(f"REGISTRY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install -y chromium")


@dataclass(frozen=True)
class Demo:
    """The seeded demo: settings for its stores, a client, run ids by (experiment, run name), and
    its tracking server (tests/e2e/test_outage.py stops it under the dashboard and starts it again)."""

    settings: Settings
    client: MlflowClient
    experiments: dict[str, str]
    runs: dict[tuple[str, str], str]
    server: RestartableServer

    def run_id(self, experiment: str, run_name: str) -> str:
        return self.runs[(experiment, run_name)]


@pytest.fixture(scope="session")
def demo(demo_store: DemoStore, stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The session's trained demo (tests/demo_store.py) behind an `mlflow server` of its own, on a
    copy of its database, new runs' artifacts proxied to the session's S3; then its promotion
    history, through the service, into an audit log of our own (the app's). The demo's own runs
    keep their artifacts where they were trained: local files, which the app reads directly."""
    home = tmp_path_factory.mktemp("e2e-home")
    folder = home / "server"
    demo_store.copy_database(folder / "mlflow.db")
    server = RestartableServer(folder, stack.s3_endpoint_url, stack.bucket, artifacts_prefix="e2e")
    try:
        server.wait_until_up()
        settings = e2e_settings(server.uri, stack, home)
        client = make_client(settings)
        seed_history(Registry(settings, client=client))
        experiments = demo_store.summary.experiments
        assert set(experiments) == set(DEMO_EXPERIMENTS)
        runs = {}
        for name, experiment_id in experiments.items():
            for run in client.search_runs([experiment_id], max_results=1000):
                runs[(name, run.info.run_name)] = run.info.run_id
        yield Demo(settings, client, experiments, runs, server)
    finally:
        server.stop()


@contextmanager
def serving_dashboard(demo: Demo, log_name: str = "streamlit.log") -> Iterator[str]:
    """`streamlit run app.py` in its own process group, on the demo's stores; yields its URL."""
    port = free_port()
    settings = demo.settings
    env = child_env(
        MLFLOW_TRACKING_URI=settings.effective_tracking_uri,
        MLFLOW_S3_ENDPOINT_URL=settings.s3_endpoint_url or "",
        REGISTRY_AUDIT_URL=settings.effective_audit_url,
        REGISTRY_HOME=str(settings.home),
        REGISTRY_ACTOR=E2E_ACTOR,
        REGISTRY_LEADS=E2E_ACTOR,
    )
    argv = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        # No file watcher: the tests never edit the app, and a "source changed" prompt would keep
        # the status widget up. No Deploy button in the screenshots.
        "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    app = ServerProcess("streamlit", argv, settings.home / log_name, env, PROJECT)
    try:
        url = f"http://127.0.0.1:{port}"
        app.wait_until_answers(f"{url}/_stcore/health", timeout_s=60)
        yield url
    finally:
        app.stop()


@pytest.fixture(scope="session")
def app_url(demo: Demo) -> Iterator[str]:
    """The dashboard every browser test shares, until the session ends."""
    with serving_dashboard(demo) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, once for this directory's tests as they run in a row on a worker (the demo's, one
    xdist group): a launch costs ~1.3 s of CPU (Chromium and Playwright's driver). Playwright's sync
    API allows one instance at a time in a process; pytest closes it before any test outside."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    """One context for the directory's demo tests, so the app's scripts are fetched once and each
    module's first page is not a cold one; each page is its own Streamlit session (Streamlit keeps
    session state per connection, not per cookie). Tests that need a context of their own (init
    scripts, headers, routes) make one."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: REGISTRY_SCREENSHOTS (relative to the project) or a temporary folder."""
    wanted = os.environ.get("REGISTRY_SCREENSHOTS")
    folder = PROJECT / wanted if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def dashboard(browser_context: BrowserContext, app_url: str, shots: Path) -> Iterator[Dashboard]:
    """A new tab on the app, 1400×900, closed after the test."""
    page = browser_context.new_page()
    try:
        yield Dashboard(page, app_url, shots)
    finally:
        page.close()
