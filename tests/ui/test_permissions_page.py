"""Roles in the UI: per-model leads disable or enable the actions, and OIDC gates the whole app.

The service enforces every rule (tests/test_permissions.py); these check that the page agrees with
it, so nobody is offered a button that would only be refused, and that under REGISTRY_IDENTITY=oidc
nothing renders before a login.
"""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from registry.access.identity import Actor
from registry.access.permissions import TAG_LEADS
from tests.factories import make_model
from tests.ui.conftest import APP, LEAD, VIEWER, frame_with
from tests.ui.tracking_data import unescape

PAGE = "pages/models.py"
ACTIONS = ("promote_production", "promote_staging", "archive", "rollback")
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret-for-apptest-only",
    "client_id": "dashboard",
    "client_secret": "dashboard-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def captions(at: AppTest) -> list[str]:
    return [unescape(c.value) for c in at.caption]


def test_a_global_lead_is_a_viewer_on_a_model_that_names_other_leads(ui_registry, open_page, monkeypatch):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={TAG_LEADS: "bob"})
    ui_registry.promote(model, "1", "bob's baseline", actor=Actor("bob", "lead"))
    at = open_page(PAGE, model=model)

    assert not at.exception
    for key in ACTIONS:
        assert at.button(key=f"models.{key}").disabled, key
    why = unescape(at.button(key="models.promote_production").help)
    assert f"{LEAD} is a viewer for model {model}: only its leads (bob) and admins" in why
    assert any("leads: bob (and admins)" in c for c in captions(at))

    # A stale session with the dialog open: the plan fails the actor check and Confirm stays disabled.
    at.session_state["models.pending"] = {
        "model": model,
        "action": "promote",
        "target": "production",
        "version": "2",
    }
    at.run()
    checks = frame_with(at, "check")
    assert "actor may change the registry" in set(checks[checks["result"] == "FAIL"]["check"])
    assert at.button(key="models.confirm").disabled

    monkeypatch.setenv("REGISTRY_ADMINS", LEAD)  # an admin acts on every model
    st.cache_resource.clear()
    at.session_state["models.pending"] = None
    at.run()
    assert not any(at.button(key=f"models.{key}").disabled for key in ACTIONS[:3])


def test_a_global_viewer_named_by_the_model_may_act_on_it(as_viewer, ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}], model_tags={TAG_LEADS: f"someone, {VIEWER}"})
    at = open_page(PAGE, model=model)
    assert not at.button(key="models.promote_production").disabled

    at.button(key="models.promote_production").click()
    at.run()
    at.text_area(key="models.reason").input("vera leads this model")
    at.button(key="models.confirm").click()
    at.run()

    assert not at.exception
    assert {k: str(v) for k, v in ui_registry.client.get_registered_model(model).aliases.items()} == {
        "production": "1"
    }
    [attempt] = ui_registry.history(model)
    assert (attempt.actor, attempt.role, attempt.outcome) == (VIEWER, "lead", "done")


# OIDC: st.login / st.user, simulated by AppTest ----------------------------------------------------
@pytest.fixture
def oidc(ui_env, monkeypatch) -> None:
    monkeypatch.setenv("REGISTRY_IDENTITY", "oidc")
    monkeypatch.setenv("REGISTRY_LEADS", "ada@example.com")
    st.cache_resource.clear()


def run_as(user: dict[str, object], secrets: dict[str, object] | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update({"auth": AUTH} if secrets is None else secrets)
    at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def test_oidc_shows_only_a_login_until_the_user_logs_in(oidc):
    at = run_as({"is_logged_in": False})
    assert at.button(key="auth.login").label == "Log in"
    assert any("Log in with your organisation's account" in i.value for i in at.info)
    assert not [s for s in at.subheader if s.value in ("Production", "Waiting for a decision")]  # no page ran
    assert "auth.logout" not in _keys(at)


def test_oidc_user_sees_their_name_role_and_a_logout(oidc):
    at = run_as({"is_logged_in": True, "email": "ada@example.com", "name": "Ada Lovelace", "sub": "1"})
    assert "Signed in as **Ada Lovelace** (ada@example.com, lead)" in captions(at)
    assert at.button(key="auth.logout").label == "Log out"
    assert "auth.login" not in _keys(at)
    assert any(s.value == "Production" for s in at.subheader)  # the overview rendered

    unverified = run_as(
        {"is_logged_in": True, "email": "ada@example.com", "email_verified": False, "sub": "7"}
    )
    assert "Signed in as **sub:7** (viewer)" in captions(unverified)


def test_oidc_viewer_sees_the_actions_disabled(oidc, ui_registry):
    model = make_model(ui_registry.client, [{"acc": 0.8}])
    at = run_as({"is_logged_in": True, "email": "vera@example.com", "name": "Vera"}, model=model)
    at.switch_page(PAGE)
    at.query_params["model"] = model
    at.run()
    assert not at.exception
    assert all(at.button(key=f"models.{key}").disabled for key in ACTIONS)
    assert "vera@example.com is a viewer" in unescape(at.button(key="models.promote_production").help)


def test_oidc_without_an_auth_section_says_what_to_configure(oidc):
    at = run_as({"is_logged_in": False}, secrets={"other": {"x": "1"}})
    assert any("no [auth] section" in unescape(e.value) for e in at.error)
    assert "auth.login" not in _keys(at)


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_a_policy_tag_changed_in_mlflow_is_a_warning_on_the_model_page(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}], model_tags={TAG_LEADS: "bob"})
    open_page(PAGE, model=model)  # the dashboard meets the model: its policy as first seen
    ui_registry.client.set_registered_model_tag(model, TAG_LEADS, f"bob,{VIEWER}")  # by hand, in MLflow
    st.cache_data.clear()  # a later visit, past the page's read cache

    at = open_page(PAGE, model=model)
    assert not at.exception
    [warning] = [unescape(w.value) for w in at.warning if "Policy changed" in w.value]
    assert f"registry.leads 'bob' → 'bob,{VIEWER}'" in warning
    assert "outside the dashboard" in warning
