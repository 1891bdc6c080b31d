"""An approval request decided in Chromium: ann asks, the dashboard's lead approves in the dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registry.service import Registry
from tests.e2e.conftest import E2E_ACTOR, Demo
from tests.e2e.dashboard import Dashboard
from tests.factories import make_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_approve_a_request_in_the_dialog_applies_it(dashboard: Dashboard, demo: Demo) -> None:
    tags = {"registry.approvals": "1", "registry.leads": f"ann,{E2E_ACTOR}"}
    model = make_model(demo.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags=tags)
    reg = Registry.connect(demo.settings)
    asked = reg.promote(model, "2", "v2 is better on the holdout", actor=reg.actor("ann"))
    assert asked.outcome == "requested"

    ui = dashboard
    ui.open("models", model=model)
    expect(ui.main.get_by_text("Approval requests")).to_be_visible()
    ui.page.get_by_role("button", name="Approve…").click()
    dialog = ui.page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    expect(dialog).to_contain_text("As requested")
    expect(dialog).to_contain_text("alias 'production': none → v2")
    ui.settle()
    dialog.get_by_role("textbox", name="Reason").fill("checked the numbers")
    dialog.get_by_role("button", name="Approve", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(ui.main.get_by_text("promoted to production").first).to_be_visible()

    assert dict(demo.client.get_registered_model(model).aliases) == {"production": "2"}
    assert reg.request(str(asked.request_id)).status == "applied"
    last = reg.history(model)[-1]
    assert (last.actor, last.outcome) == ("ann", "done") and f"approved by {E2E_ACTOR}" in last.reason
