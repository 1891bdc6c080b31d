"""Every page loads in Chromium from its URL and shows its own content, with no Streamlit exception.

Each page is opened on the seeded demo through a deep link, the way a shared URL is opened; the
same visit saves the page's screenshot for the docs (the Models page's is taken with the promote
dialog open, in test_lifecycle). The sidebar then takes a user through every page in one session.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from registry.service import Registry
from registry.training.demo import IRIS
from tests.e2e.conftest import Demo
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def check_overview(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "MLflow Registry Dashboard"
    shown = ui.table_with("by").column("model")  # the grid lists the rows in view, in the page's order
    rows, _ = Registry.connect(demo.settings).production_models()  # other modules' models share the store
    assert shown and shown == [r.name for r in rows][: len(shown)]
    assert {"iris-classifier", "wine-classifier", "diabetes-regressor"} <= {r.name for r in rows}
    ui.expect_text("Latest registry events")


def check_runs(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "Experiments & runs"
    ui.expect_text(f"Experiment {IRIS}")
    names = ui.table_with("run_name").column("run_name")  # newest first; the grid lists the rows in view
    assert "sgd-grid-search" in names and "sgd-best-of-search" in names


def check_run(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "Run sgd-best-of-search"
    assert ui.table_with("param").row("param", "alpha")["value"] == "0.0001"
    ui.expect_text("Metric history")


def check_compare(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "Compare runs"
    assert "params.alpha" in ui.table_with("field").column("field")


def check_models(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "iris-classifier"
    ui.expect_text("Rollback target")
    assert ui.table_with("run status").column("version") == ["v4", "v3", "v2", "v1"]


def check_history(ui: Dashboard, demo: Demo) -> None:
    assert ui.title() == "History"
    ui.expect_text("attempt(s)")
    events = ui.table_with("model")
    assert "iris-classifier" in events.column("model")


def deep_link(page: str, demo: Demo) -> dict[str, str]:
    """The query that gives each page something to show: the demo's iris experiment and models."""
    best, baseline = demo.run_id(IRIS, "sgd-best-of-search"), demo.run_id(IRIS, "sgd-baseline")
    return {
        "overview": {},
        "runs": {"experiment": demo.experiments[IRIS]},
        "run": {"run": best},
        "compare": {"runs": f"{baseline},{best}"},
        "models": {"model": "iris-classifier"},
        "history": {"model": "iris-classifier"},
    }[page]


# url path (overview is the default page, served at "/"), what to check, whether to screenshot here
PAGES: dict[str, tuple[str, Callable[[Dashboard, Demo], None], bool]] = {
    "overview": ("", check_overview, True),
    "runs": ("runs", check_runs, True),
    "run": ("run", check_run, True),
    "compare": ("compare", check_compare, True),
    "models": ("models", check_models, True),
    "history": ("history", check_history, True),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_opens_from_its_url(name: str, dashboard: Dashboard, demo: Demo) -> None:
    path, check, screenshot = PAGES[name]
    dashboard.open(path, **deep_link(name, demo))
    check(dashboard, demo)
    if screenshot:
        dashboard.screenshot(name)
    dashboard.assert_healthy()


def test_the_sidebar_reaches_every_page(dashboard: Dashboard, demo: Demo) -> None:
    """One session, page to page through the sidebar; a page that needs a subject says how to get one."""
    ui = dashboard
    ui.open()
    links = ui.page.locator('[data-testid="stSidebarNavLink"]')
    expect(links).to_have_count(6)
    for label, title, then in [
        ("Experiments & runs", "Experiments & runs", ui.main.get_by_role("combobox", name="Experiment")),
        ("Run", "Run", ui.main.get_by_text("Pick one of the newest runs")),
        ("Compare", "Compare runs", ui.main.get_by_text("Choose 2 to 50 of the newest runs")),
        ("Models", "Models", ui.main.get_by_role("textbox", name="Search models")),
        ("History", "History", ui.main.get_by_text("Every attempted change")),
        ("Overview", "MLflow Registry Dashboard", ui.main.get_by_text("Latest registry events")),
    ]:
        links.filter(has=ui.page.get_by_text(label, exact=True)).click()
        expect(ui.main.locator("h1").first).to_have_text(re.compile(rf"^\s*{re.escape(title)}\s*$"))
        ui.settle()
        expect(then).to_be_visible()
