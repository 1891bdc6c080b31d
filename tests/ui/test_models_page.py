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


SECTION = "models.section"  # the tabs below the model's state (pages/models.py SECTIONS)
SECTIONS = ["Versions", "Slots", "How to load it", "Compare versions"]


def open_section(at, label: str):
    """Open one of the tabs below the state, as a click on it does (AppTest cannot click a tab)."""
    at.session_state[SECTION] = label
    at.run()
    assert not at.exception
    return at


def description_box(model: str, version: str) -> str:
    """The key of a version's description box (pages/models.py)."""
    return f"models.description.{model}.{version}"


def open_description(at, version: str, model: str | None = None):
    """Open the description editor of a version, as a click on its expander does."""
    model = model or at.query_params["model"]
    at.session_state[f"models.description_open.{model}.{version}"] = True
    at.run()
    assert not at.exception
    return at


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


ACTION_KEYS = {"models.promote_production", "models.promote_staging", "models.archive", "models.rollback"}


def sent(at) -> dict[str, object]:
    """What the page sent, by the section it belongs to (tables are found by a column of their own)."""
    columns = [set(d.value.columns) for d in at.dataframe]
    return {
        "versions": any("run status" in c for c in columns),
        "slots": any("rollback to" in c for c in columns),
        "load": any("URI" in c for c in columns) or bool(at.code),
        "compare": bool([s for s in at.selectbox if s.key in ("models.compare_a", "models.compare_b")]),
        "description": bool([t for t in at.text_area if t.key.startswith("models.description.")]),
        "actions": {b.key for b in at.button} >= ACTION_KEYS,
    }


def test_the_first_paint_sends_versions_and_actions_and_nothing_of_the_closed_sections(
    ui_registry, open_page
):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    ui_registry.promote(model, "1", "baseline", actor=ALICE)
    at = open_page(PAGE, model=model)

    assert not at.exception
    assert [t.label for t in at.tabs] == SECTIONS
    assert sent(at) == {
        "versions": True,
        "slots": False,
        "load": False,
        "compare": False,
        "description": False,
        "actions": True,
    }
    assert at.metric[0].value == "v1"  # who holds production, above the tabs
    assert [e.label for e in at.expander] == ["Description of v1"]  # shut: its box is not sent
    assert "section" not in at.query_params


@pytest.mark.parametrize(
    "label,shown", [("Slots", "slots"), ("How to load it", "load"), ("Compare versions", "compare")]
)
def test_opening_a_section_shows_it_keeps_the_actions_and_names_it_in_the_url(
    ui_registry, open_page, label, shown
):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    ui_registry.promote(model, "1", "first", actor=ALICE)
    ui_registry.promote(model, "2", "best", actor=ALICE)
    at = open_section(open_page(PAGE, model=model), label)

    now = sent(at)
    assert now[shown] and now["actions"] and not now["versions"]  # one tab at a time
    assert at.query_params["section"] == shown  # a copied link opens the same tab
    if shown == "load":
        assert frame_with(at, "URI").set_index("slot").loc["production", "serves now"] == "v2"
        assert any(f"load_model('models:/{model}@production')" in c.value for c in at.code)
    if shown == "compare":
        link = next(p for p in at.get("page_link") if "Compare the runs" in p.proto.label)
        assert link.proto.label == "Compare the runs of v2 and v1"

    confirm(open_dialog(at, "rollback"), "back to v1")  # the actions work from every tab
    assert aliases(ui_registry, model) == {"production": "1"}
    assert sent(at)[shown]  # the tab stays open after the action


@pytest.mark.parametrize("asked", ["load", "LOAD", "How to load it", "how"])
def test_a_link_naming_a_section_opens_it(ui_registry, open_page, asked):
    model = make_model(ui_registry.client, [{"acc": 0.8}])
    ui_registry.promote(model, "1", "first", actor=ALICE)
    at = open_page(PAGE, model=model, section=asked)

    assert not at.exception
    assert at.session_state[SECTION] == "How to load it"
    assert sent(at)["load"] and not sent(at)["versions"] and sent(at)["actions"]
    assert at.query_params["section"] == "load"  # the link's spelling, made canonical


@pytest.mark.parametrize("asked", ["nope", "%3Cscript%3E", "versions"])
def test_a_bad_or_default_section_in_a_link_opens_the_versions(ui_registry, open_page, asked):
    model = make_model(ui_registry.client, [{"acc": 0.8}])
    at = open_page(PAGE, model=model, section=asked)

    assert not at.exception and not at.error
    assert at.session_state[SECTION] == "Versions"
    assert sent(at)["versions"] and sent(at)["actions"] and not sent(at)["load"]
    assert "section" not in at.query_params  # the default tab needs no parameter


def test_the_description_editor_is_sent_when_opened_and_keeps_a_draft_while_shut(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    ui_registry.client.update_model_version(model, "2", "stored words")
    at = open_page(PAGE, model=model, version="2")
    assert not sent(at)["description"]

    open_description(at, "2")
    box = at.text_area(key=description_box(model, "2"))
    assert box.value == "stored words"
    box.input("a draft").run()
    at.session_state[f"models.description_open.{model}.2"] = False  # shut without saving
    at.run()
    assert not sent(at)["description"]

    assert open_description(at, "2").text_area(key=description_box(model, "2")).value == "a draft"
    assert ui_registry.client.get_model_version(model, "2").description == "stored words"  # not saved
    at.button(key="models.description_save").click().run()
    assert ui_registry.client.get_model_version(model, "2").description == "a draft"


def test_a_text_typed_in_one_models_description_never_fills_another_models_box(ui_registry, open_page):
    first = make_model(ui_registry.client, [{"acc": 0.8}])
    second = make_model(ui_registry.client, [{"acc": 0.7}])
    ui_registry.client.update_model_version(second, "1", "the second model's words")
    at = open_page(PAGE, model=first, version="1")
    open_description(at, "1", first)
    at.text_area(key=description_box(first, "1")).input("meant for the first model").run()

    at.query_params["model"] = second  # the same session opens the other model's page
    open_description(at, "1", second)
    assert at.text_area(key=description_box(second, "1")).value == "the second model's words"
    at.button(key="models.description_save").click().run()
    assert ui_registry.client.get_model_version(second, "1").description == "the second model's words"
    assert ui_registry.client.get_model_version(first, "1").description != "meant for the first model"
