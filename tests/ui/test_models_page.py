"""The Models page under AppTest against the real stack: the list, the model page and the action dialog."""

from __future__ import annotations

import pytest

from pages.views.shared import plain
from registry.access.identity import Actor
from tests.factories import make_model, unique
from tests.ui.conftest import LEAD, VIEWER, frame_with

PAGE = "pages/models.py"
ALICE = Actor("alice", "lead")  # someone else acting through the service, not the dashboard's user
GATE = {"registry.gate.metric": "rmse", "registry.gate.direction": "min", "registry.gate.tolerance": "0.5"}


def aliases(reg, model: str) -> dict[str, str]:
    return {k: str(v) for k, v in reg.client.get_registered_model(model).aliases.items()}


def texts(at, kind: str) -> list[str]:
    return [el.value for el in getattr(at, kind)]


def open_dialog(at, button: str, version: str | None = None):
    if version is not None:
        at.selectbox(key="models.version").select(version)
        at.run()
    at.button(key=f"models.{button}").click()
    at.run()
    assert not at.exception
    return at


def confirm(at, reason: str):
    at.text_area(key="models.reason").input(reason)
    at.button(key="models.confirm").click()
    at.run()
    assert not at.exception
    return at


def assert_no_html(at) -> None:
    """Nothing rendered as HTML: no html elements, and no markdown that allows it."""
    assert not at.get("html")
    for el in at.markdown:
        assert not el.proto.allow_html, el.value


def test_the_list_shows_the_seeded_models_with_their_production_version(ui_registry, open_page):
    prefix = unique("listed")
    first = make_model(
        ui_registry.client, [{"acc": 0.8}], name=f"{prefix}-a", model_tags={"registry.key_metric": "acc"}
    )
    make_model(ui_registry.client, [{"acc": 0.7}, {"acc": 0.75}], name=f"{prefix}-b")
    ui_registry.promote(first, "1", "baseline", actor=ALICE)

    at = open_page(PAGE, q=prefix)

    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == [f"{prefix}-a", f"{prefix}-b"]
    row = table.set_index("model").loc[f"{prefix}-a"]
    assert (row["production"], row["key metric"], row["value"], row["promoted by"]) == (
        "v1",
        "acc",
        0.8,
        "alice",
    )
    assert table.set_index("model").loc[f"{prefix}-b", "latest"] == "v2"
    assert at.text_input(key="models.search").value == prefix


def test_promote_dialog_shows_the_plan_and_promotes(ui_registry, open_page):
    model = make_model(
        ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.gate.metric": "acc"}
    )
    ui_registry.promote(model, "1", "baseline", actor=ALICE)
    at = open_dialog(open_page(PAGE, model=model), "promote_production", "2")

    assert plain("alias 'production': v1 → v2") in " ".join(texts(at, "markdown"))
    checks = frame_with(at, "check")
    assert "metric gate" in " ".join(checks["check"]) and set(checks["result"]) == {"pass"}
    comparison = frame_with(at, "candidate").set_index("metric")
    assert comparison.loc["acc", "candidate"] == 0.9
    assert comparison.loc["acc", "delta"] == pytest.approx(0.1)
    assert not at.checkbox  # the gate passed: no force offered

    confirm(at, "better accuracy on the holdout")

    assert aliases(ui_registry, model) == {"production": "2"}
    last = ui_registry.history(model)[-1]
    assert (last.action, last.to_version, last.actor, last.reason, last.outcome) == (
        "promote",
        "2",
        LEAD,
        "better accuracy on the holdout",
        "done",
    )
    assert any(plain("promoted to production: v2 (was v1)") in s for s in texts(at, "success"))
    assert "models.pending" not in at.session_state
    assert not [t for t in at.text_area if t.key == "models.reason"]  # the dialog closed
    assert at.metric[0].value == "v2"  # the page shows the new state at once


def test_a_failed_gate_offers_force_to_a_lead_and_refuses_without_it(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"rmse": 10.0}, {"rmse": 12.0}], model_tags=GATE)
    ui_registry.promote(model, "1", "baseline", actor=ALICE)
    at = open_dialog(open_page(PAGE, model=model), "promote_production", "2")
    checks = frame_with(at, "check")
    assert checks.loc[0, "result"] == "FAIL" and "worse than production v1" in checks.loc[0, "detail"]
    assert at.checkbox(key="models.force").value is False

    confirm(at, "latency matters more")  # without force
    assert any("Refused" in e and "override this with force" in e for e in texts(at, "error"))
    assert aliases(ui_registry, model) == {"production": "1"}
    assert at.text_area(key="models.reason").value == "latency matters more"  # still open, reason kept

    at.checkbox(key="models.force").check()
    at.button(key="models.confirm").click()
    at.run()
    assert not at.exception
    assert aliases(ui_registry, model) == {"production": "2"}
    assert ui_registry.history(model)[-1].forced


def test_a_viewer_sees_the_actions_disabled_with_the_reason_and_no_force(as_viewer, ui_registry, open_page):
    model = make_model(ui_registry.client, [{"rmse": 10.0}, {"rmse": 12.0}], model_tags=GATE)
    ui_registry.promote(model, "1", "baseline", actor=ALICE)
    at = open_page(PAGE, model=model)

    for key in ("promote_production", "promote_staging", "archive", "rollback"):
        button = at.button(key=f"models.{key}")
        assert button.disabled, key
    assert f"{VIEWER} is a viewer" in at.button(key="models.promote_production").help
    assert any(f"{VIEWER} is a viewer" in i for i in texts(at, "info"))

    # Even with the dialog forced open (e.g. a stale session), a viewer gets no Force and no Confirm.
    at.session_state["models.pending"] = {
        "model": model,
        "action": "promote",
        "target": "production",
        "version": "2",
    }
    at.run()
    assert not at.exception
    checks = frame_with(at, "check")
    assert "actor may change the registry" in set(checks[checks["result"] == "FAIL"]["check"])
    assert not at.checkbox
    assert at.button(key="models.confirm").disabled


def test_a_conflict_is_shown_with_the_new_state_and_a_fresh_plan(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    at = open_dialog(open_page(PAGE, model=model), "promote_production", "2")
    ui_registry.promote(model, "1", "someone else was faster", actor=ALICE)

    confirm(at, "my promotion")

    [error] = texts(at, "error")
    assert "Conflict" in error and "production is v1" in error
    assert plain("alias 'production': v1 → v2") in " ".join(
        texts(at, "markdown")
    )  # re-planned on the new state
    assert aliases(ui_registry, model) == {"production": "1"}
    assert ui_registry.history(model)[-1].outcome == "conflict"

    at.button(key="models.cancel").click()
    at.run()
    assert not [t for t in at.text_area if t.key == "models.reason"] and not at.error
    assert at.metric[0].value == "v1"


def test_an_unknown_model_says_so_and_the_list_still_works(ui_registry, open_page):
    known = make_model(ui_registry.client, [{"acc": 0.8}], name=unique("known"))
    at = open_page(PAGE, model="no-such-model-xyz")

    assert not at.exception
    assert any(
        "no registered model named" in w and "no\\-such\\-model\\-xyz" in w for w in texts(at, "warning")
    )
    at.text_input(key="models.search").input(known)
    at.run()
    assert list(at.dataframe[0].value["model"]) == [known]


def test_markup_in_names_and_reasons_renders_as_text(ui_registry, open_page):
    name = unique("<img src=x onerror=alert(1)> **bold** _x_")
    make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}], name=name)
    ui_registry.promote(name, "1", "<script>alert(1)</script> **loud**", actor=ALICE)
    at = open_page(PAGE, model=name)

    assert not at.exception
    assert at.title[0].value == plain(name)
    assert "\\<img" in at.title[0].value and "\\*\\*bold\\*\\*" in at.title[0].value
    assert_no_html(at)
    open_dialog(at, "promote_production", "2")
    assert any(plain(name) in c for c in texts(at, "caption"))
    assert_no_html(at)
