"""The tracking server goes away while the dashboard is open, then comes back.

A real `mlflow server` (the fault tests' own: tests/stack.py, FaultStack) is stopped under the app:
every page must say where the store does not answer (no traceback) under app.py's banner with its
Retry button, and the pages must come back once the server runs again on the same store and port,
the home page on a click of Retry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from pages.views import shared
from tests.stack import FaultStack
from tests.ui.conftest import LEAD

BANNER = "The tracking store does not answer"
PAGES = ["pages/overview.py", "pages/runs.py", "pages/models.py"]


def banner_shown(at) -> bool:
    return any(BANNER in e.value for e in at.error)


def says_down(at) -> bool:
    return any("did not answer" in e.value for e in at.error)


def through_app(at) -> bool:
    """The run went through app.py, as every run of a browser's session does, not the page file
    alone: app.py's sidebar names the tracking store."""
    return any(c.value.startswith("Tracking:") for c in at.sidebar.caption)


@pytest.mark.slow
def test_pages_say_the_server_is_down_and_recover_on_retry(
    fault_stack: FaultStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_page
) -> None:
    server = fault_stack.server
    for name, value in {
        "MLFLOW_TRACKING_URI": server.uri,
        "MLFLOW_S3_ENDPOINT_URL": fault_stack.s3_endpoint_url,
        "REGISTRY_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "REGISTRY_HOME": str(tmp_path),
        "REGISTRY_ACTOR": LEAD,
        "REGISTRY_LEADS": LEAD,
        "REGISTRY_HTTP_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    # The ping's answer is kept 1 s and the Overview's store status 10 min, so the click on Retry
    # comes when the ping finds the store back while the status read during the outage is still
    # cached: as a click a few seconds after the banner was drawn, when the ping's 10 s ran out
    # before the status's, read moments later in the same run.
    monkeypatch.setattr(shared, "PING_TTL_S", 1)
    monkeypatch.setattr(shared, "STATUS_TTL_S", 600)
    st.cache_data.clear()
    st.cache_resource.clear()

    at = open_page()
    assert not banner_shown(at) and not at.exception

    server.stop()
    st.cache_data.clear()
    down = {page: open_page(page, store_down_ok=True, from_home=True) for page in PAGES}
    for page, shown in down.items():
        assert not shown.exception, (page, [e.value for e in shown.exception])
        assert says_down(shown), (page, [e.value for e in shown.error])
        assert through_app(shown) and banner_shown(shown), (page, [e.value for e in shown.error])
    # the audit log is its own database
    history = open_page("pages/history.py", store_down_ok=True, from_home=True)
    assert not history.exception and history.title[0].value == "History"

    server.start_again()
    # The click reaches app.py's Retry, which forgets the cached reads, the store status among
    # them, even though the ping of the run it starts already finds the store back and no
    # longer draws the banner or its button.
    home = down["pages/overview.py"].button(key="retry-connection").click().run()
    assert through_app(home), [c.value for c in home.sidebar.caption]
    assert not home.exception and not banner_shown(home) and not says_down(home), [
        e.value for e in home.error
    ]
    for page in PAGES[1:]:
        back = down[page].run()
        assert through_app(back), (page, [c.value for c in back.sidebar.caption])
        assert not back.exception and not says_down(back), (page, [e.value for e in back.error])
