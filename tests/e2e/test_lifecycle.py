"""Promote and roll back through the Models page's dialog, then check MLflow itself and the History page.

The demo's iris-classifier (alias style) serves v2, with v3 in staging and a better validation score,
so promoting v3 passes every check; rolling back then returns production to v2.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import E2E_ACTOR, Demo
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODEL = "iris-classifier"
PROMOTE_REASON = "e2e: v3 beats v2 on validation accuracy"
ROLLBACK_REASON = "e2e: back to v2 while v3 is investigated"


def aliases(demo: Demo) -> dict[str, str]:
    return {alias: str(v) for alias, v in demo.client.get_registered_model(MODEL).aliases.items()}


def open_dialog(ui: Dashboard, button: str) -> Locator:
    ui.page.get_by_role("button", name=button, exact=True).click()
    dialog = ui.page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Confirm")).to_be_visible()
    ui.settle()
    return dialog


def confirm(ui: Dashboard, dialog: Locator, reason: str, done: str) -> None:
    dialog.get_by_role("textbox", name="Reason").fill(reason)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()
    expect(ui.main.get_by_text(done).first).to_be_visible()
    ui.settle()


def test_promote_then_roll_back_through_the_dialog(dashboard: Dashboard, demo: Demo) -> None:
    ui = dashboard
    assert aliases(demo) == {"production": "2", "staging": "3"}

    ui.open("models", model=MODEL, version="3")
    dialog = open_dialog(ui, "Promote to production")
    expect(dialog).to_contain_text("Promote v3 to production")
    expect(dialog).to_contain_text("alias 'production': v2 → v3")
    ui.screenshot("promote-dialog")
    confirm(ui, dialog, PROMOTE_REASON, "iris-classifier promoted to production: v3 (was v2)")

    assert aliases(demo)["production"] == "3"
    assert demo.client.get_model_version(MODEL, "3").tags["registry.promoted_by"] == E2E_ACTOR

    ui.open("history", model=MODEL)
    event = ui.table_with("reason").row("reason", PROMOTE_REASON)
    assert (event["action"], event["to"], event["actor"], event["outcome"]) == (
        "promote",
        "3",
        E2E_ACTOR,
        "done",
    )

    ui.open("models", model=MODEL)
    dialog = open_dialog(ui, "Roll back to v2")
    expect(dialog).to_contain_text("alias 'production': v3 → v2")
    confirm(ui, dialog, ROLLBACK_REASON, "iris-classifier rolled back to v2 (was v3)")

    assert aliases(demo)["production"] == "2"
    ui.open("history", model=MODEL)
    event = ui.table_with("reason").row("reason", ROLLBACK_REASON)
    assert (event["action"], event["from"], event["to"], event["outcome"]) == ("rollback", "3", "2", "done")
