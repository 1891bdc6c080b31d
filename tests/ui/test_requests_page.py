"""Approval requests in the dashboard: pending on the model page and the Overview, decided in a dialog."""

from __future__ import annotations

import pytest
import streamlit as st

from registry.service import Registry
from registry.settings import load_settings
from tests.factories import make_model


@pytest.fixture
def as_bob(ui_env, monkeypatch):
    """The app used by bob, a second lead; ada (the test's lead) makes the requests."""
    monkeypatch.setenv("REGISTRY_LEADS", "ada,bob")
    monkeypatch.setenv("REGISTRY_ACTOR", "bob")
    st.cache_resource.clear()
    return Registry.connect(load_settings())


def requested(reg: Registry) -> tuple[str, str]:
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.approvals": "1"})
    result = reg.promote(model, "2", "better accuracy", actor=reg.actor("ada"))
    assert result.outcome == "requested"
    return model, str(result.request_id)


def test_a_second_lead_approves_in_the_dialog_and_the_change_applies(as_bob, open_page):
    model, request_id = requested(as_bob)
    at = open_page("pages/models.py", model=model)
    assert not at.exception
    table = next(d.value for d in at.dataframe if "approvals" in d.value.columns)
    assert list(table["requester"]) == ["ada"] and list(table["approvals"]) == ["0/1"]

    at.button(key=f"models.requests.approve.{request_id}").click().run()
    assert any("alias" in m.value and "production" in m.value for m in at.markdown)  # the plan, both ways
    at.text_area(key="requests.reason").input("checked the holdout numbers")
    at.button(key="requests.confirm").click().run()

    assert not at.exception
    assert as_bob.state(model).holders.production == "2"
    assert any("promoted to production" in s.value for s in at.success)
    assert as_bob.request(request_id).status == "applied"


def test_the_requester_sees_withdraw_not_approve_and_the_overview_lists_it(ui_registry, open_page):
    model, request_id = requested(ui_registry)
    at = open_page("pages/models.py", model=model)
    keys = {b.key for b in at.button}
    assert f"models.requests.withdraw.{request_id}" in keys
    assert f"models.requests.approve.{request_id}" not in keys

    overview = open_page()
    table = next(d.value for d in overview.dataframe if "approvals" in d.value.columns)
    assert request_id in list(table["id"])


def test_a_conflict_is_shown_to_the_approver_and_nothing_applies(as_bob, open_page):
    model, request_id = requested(as_bob)
    as_bob.client.set_registered_model_alias(model, "production", "1")  # moved outside the dashboard
    at = open_page("pages/models.py", model=model)
    at.button(key=f"models.requests.approve.{request_id}").click().run()
    assert any("changed since the request" in w.value for w in at.warning)
    at.text_area(key="requests.reason").input("ok")
    at.button(key="requests.confirm").click().run()

    assert not at.exception
    assert any("Conflict" in e.value for e in at.error)
    assert as_bob.state(model).holders.production == "1" and as_bob.request(request_id).is_open
