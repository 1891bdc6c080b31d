"""AppTest fixtures: the dashboard's pages run headless against the real test stack.

Pages read their settings from the environment like the real app, so these fixtures set MLflow's and
the dashboard's variables for the test and clear Streamlit's caches, which live for the process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pages.views.first_paint import PAINTED
from registry.service import Registry
from registry.settings import Settings, load_settings
from tests.conftest import TEST_ACTOR

APP = str(Path(__file__).resolve().parents[2] / "app.py")
LEAD = TEST_ACTOR
VIEWER = "vera"


@pytest.fixture(scope="session", autouse=True)
def _components_scanned_once() -> Iterator[None]:
    """Each AppTest scans every installed distribution's metadata for Streamlit components (about a
    second of CPU each, a few under load; the suite builds hundreds). A real server scans once at
    start, and the installed packages do not change during the session: scan once here too."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found = scan()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", lambda max_workers=None: list(found))
        yield


@pytest.fixture(scope="session", autouse=True)
def _app_runs_every_time() -> Iterator[None]:
    """Every AppTest run goes through app.py, as every run does on a server that has been opened once.

    Streamlit leaves its legacy `pages/` mode once `st.navigation` has run and a server never goes
    back to it (pages/views/shared.py, through_app). AppTest sets the mode anew before each run
    (`AppTest._run`: `PagesManager.uses_pages_directory = None`, then `pages/` exists), so a
    session's later runs, clicks included, ran the page file on its own: without app.py's banner,
    Retry button, sidebar or login gate, and a click on one of those was lost. Only a fresh server's
    very first run takes the legacy path; tests/e2e/test_deep_links.py covers that one.
    """
    from streamlit.runtime.pages_manager import PagesManager

    made = PagesManager.__init__

    def as_after_navigation(self: PagesManager, *args: object, **kwargs: object) -> None:
        made(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PagesManager, "__init__", as_after_navigation)
        yield


@pytest.fixture
def ui_env(stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Environment for the app: the HTTP tracking server, a per-test audit log, `ada` as the lead."""
    env = {
        "MLFLOW_TRACKING_URI": stack.tracking_uri,
        "MLFLOW_S3_ENDPOINT_URL": stack.s3_endpoint_url,
        "REGISTRY_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "REGISTRY_HOME": str(tmp_path),
        "REGISTRY_ACTOR": LEAD,
        "REGISTRY_LEADS": LEAD,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    return load_settings()


@pytest.fixture
def as_viewer(ui_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same app, used by someone who is not a lead."""
    monkeypatch.setenv("REGISTRY_ACTOR", VIEWER)
    st.cache_resource.clear()
    return load_settings()


@pytest.fixture
def ui_registry(ui_env: Settings) -> Registry:
    """The service on the same stores the app uses, to arrange data and check results."""
    return Registry.connect(ui_env)


# The connection banner (pages/views/shared.py), and a section's own error when a read failed
STORE_DOWN = ("The tracking store does not answer", "did not answer", "timed out")
UNREACHABLE_ICON = ":material/power_off:"  # pages/views/shared.show_error's mark for Unreachable


def server_errors(folder: Path, lines: int = 30) -> str:
    """The last error lines of the session's MLflow server log: a failure under load then says what
    the server itself saw (a 500's cause), not only what the page showed."""
    log = folder / "mlflow-server.log"
    if not log.exists():
        return "(no server log)"
    said = [line for line in log.read_text(errors="replace").splitlines() if _ERROR_LINE.search(line)]
    return "mlflow server log, error lines:\n" + "\n".join(said[-lines:] or ["(none)"])


_ERROR_LINE = re.compile(r'Error|Exception|Traceback|locked|HTTP/1\.1" 5\d\d')


@pytest.fixture
def open_page(stack) -> Callable[..., AppTest]:
    """`open_page("pages/models.py", model="m")`: run the app on a page with query params set."""

    def open_(
        page: str = "pages/overview.py",
        timeout: float = 60,
        store_down_ok: bool = False,
        painted: bool = True,
        from_home: bool = False,
        **query: str,
    ) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=timeout)
        if painted:  # AppTest has no browser to draw the page and ask for the charts (first_paint.py)
            at.session_state[PAINTED] = True
        for key, value in query.items():
            at.query_params[key] = value
        # The session's first run is on the page itself, as a link to it opens it (every page's
        # url_path is its file's name, so switch_page finds it before st.navigation has registered
        # it, and app.py's navigation runs it): a run of the Overview first cost each test a second
        # script run and the Overview's reads. `from_home`: the session starts on the Overview and
        # moves to the page.
        if from_home and page != "pages/overview.py":
            at.run()
        if page != "pages/overview.py":
            at.switch_page(page)
            for key, value in query.items():
                at.query_params[key] = value
        at.run()
        down = [
            e.value for e in at.error if e.icon == UNREACHABLE_ICON or any(s in e.value for s in STORE_DOWN)
        ]
        assert store_down_ok or not down, (
            f"{page}: the test's stores did not answer: {down}\n{server_errors(stack.tmpdir)}"
        )
        return at

    return open_


def frame_with(at: AppTest, column: str):
    """The first table on the page with this column: tests find tables by what they hold, not by
    position, so a new section above does not break them."""
    return next(d.value for d in at.dataframe if column in d.value.columns)
