"""The Overview page under AppTest against the real stack: production, what waits for a decision and
the latest events first; stores, credentials and counts behind an expander below."""

from __future__ import annotations

import pytest
import streamlit as st

from pages.views.shared import plain
from registry.access.identity import Actor
from tests.factories import make_model

ALICE = Actor("alice", "lead")


def frame_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_overview_leads_with_production_waiting_versions_and_latest_changes(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.95}])
    ui_registry.promote(model, "2", "good enough", actor=ALICE)  # and the newest model changed

    at = open_page()

    assert not at.exception
    assert [s.value for s in at.subheader][:3] == [
        "Production",
        "Waiting for a decision",
        "Latest registry events",
    ]
    assert [e.label for e in at.expander] == ["Stores and contents"]
    assert at.dataframe[0].value.columns[0] == "model" and "by" in at.dataframe[0].value.columns
    waiting = frame_with(at, "registered").set_index("model")
    assert (waiting.loc[model, "version"], waiting.loc[model, "production"]) == ("v3", "v2")
    assert waiting.loc[model, "open"] == f"models?model={model}"


def test_overview_shows_stores_counts_production_and_latest_events(ui_registry, open_page):
    model = make_model(
        ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.key_metric": "acc"}
    )
    ui_registry.promote(model, "2", "best so far", actor=ALICE)

    at = open_page()

    assert not at.exception
    stores = frame_with(at, "store").set_index("store")
    assert list(stores.index) == ["tracking store", "model registry", "artifact store", "audit log"]
    assert all(status.endswith("reachable") and "unreachable" not in status for status in stores["status"])
    assert stores.loc["tracking store", "uri"] == ui_registry.settings.describe()["tracking_uri"]

    credentials = frame_with(at, "credential").set_index("credential")["present"]
    assert credentials["AWS_ACCESS_KEY_ID"] == "set" and credentials["MLFLOW_TRACKING_TOKEN"] == "not set"
    assert set(credentials) <= {"set", "not set"}  # whether it is set, never the value

    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Experiments", "Runs", "Registered models", "Model versions"}
    assert all(value.rstrip("+").replace(",", "").isdigit() and value != "0" for value in metrics.values())

    production = frame_with(at, "by").set_index("model")
    assert production.loc[model, "version"] == "v2"
    assert production.loc[model, "value"] == pytest.approx(0.9)
    assert production.loc[model, "by"] == "alice"

    events = frame_with(at, "reason")
    assert (events.loc[0, "model"], events.loc[0, "to_version"], events.loc[0, "reason"]) == (
        model,
        "2",
        "best so far",
    )


def test_a_store_that_is_down_shows_in_its_place_and_the_rest_renders(
    ui_env, open_page, monkeypatch, tmp_path
):
    (tmp_path / "a-file").write_text("not a folder")  # the log's folder cannot be made
    monkeypatch.setenv("REGISTRY_AUDIT_URL", f"sqlite:///{tmp_path / 'a-file' / 'audit.db'}")
    st.cache_resource.clear()

    at = open_page(store_down_ok=True)

    assert not at.exception
    stores = frame_with(at, "store").set_index("store")
    assert "unreachable" in stores.loc["audit log", "status"]
    assert "reachable" in stores.loc["tracking store", "status"]
    assert any(plain("The audit log does not answer") in e.value for e in at.error)
    assert any("Latest registry events" in s.value for s in at.subheader)
    assert {m.label for m in at.metric} == {"Experiments", "Runs", "Registered models", "Model versions"}


def test_a_password_in_the_tracking_uri_shows_nowhere_on_the_page(ui_env, open_page, monkeypatch):
    """The banner, the store table's URI and detail columns, every message: masked (issue 12)."""
    from tests.stack import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:S3cr3tPW@127.0.0.1:{free_port()}")
    monkeypatch.setenv("REGISTRY_HTTP_RETRIES", "0")
    st.cache_data.clear()
    st.cache_resource.clear()

    at = open_page(store_down_ok=True)

    assert not at.exception
    shown = [e.value for e in (*at.error, *at.warning, *at.info, *at.markdown, *at.caption)]
    shown += [d.value.to_csv() for d in at.dataframe]
    assert any("The tracking store does not answer" in s for s in shown)  # the banner is there
    assert any("alice:\\*\\*\\*@" in s or "alice:***@" in s for s in shown)
    assert not [s for s in shown if "S3cr3tPW" in s]


def test_notifications_show_their_outbox_with_the_error_masked(ui_env, open_page, monkeypatch):
    from registry.service import Registry
    from registry.settings import load_settings
    from tests.stack import free_port

    monkeypatch.setenv("REGISTRY_NOTIFY_URLS", f"http://127.0.0.1:{free_port()}/hook/T0KEN-secret")
    st.cache_resource.clear()
    reg = Registry.connect(load_settings())
    model = make_model(reg.client, [{"acc": 0.8}])
    reg.promote(model, "1", "first", actor=ALICE)  # nobody listens: the delivery fails and waits
    assert reg.background_delivery is not None and reg.background_delivery.wait()

    at = open_page()

    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Pending"], metrics["Retrying"], metrics["Failed"]) == ("1", "1", "0")
    shown = " ".join(c.value for c in at.caption) + " ".join(w.value for w in at.warning)
    assert "127" in shown and "Last delivery error" in shown and "T0KEN" not in shown
