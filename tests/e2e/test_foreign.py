"""One walk in Chromium over a registry built by hand (tests/foreign_registry.py), in both modes:
the list, a plan, promote, roll back to the hand-set holder, and the history that tells them apart."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_ACTOR, Demo
from tests.e2e.dashboard import Dashboard
from tests.e2e.test_lifecycle import confirm, open_dialog
from tests.foreign_registry import Foreign, build_foreign_registry

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def foreign(demo: Demo) -> Foreign:
    """Built once: the demo store is the session's, and every model added shows on the other pages' lists."""
    return build_foreign_registry(demo.client, many=3)


def test_list_plan_promote_roll_back_and_history_on_a_hand_built_registry(
    dashboard: Dashboard, demo: Demo, foreign: Foreign
) -> None:
    ui = dashboard
    suffix = foreign.aliases.split()[-1]

    ui.open("models", q=suffix)
    listed = ui.table_with("production")
    assert listed.row("model", foreign.stages)["production"] == "v2"  # stage mode's holder
    assert listed.row("model", foreign.aliases)["production"] == "v2"
    ui.screenshot("foreign-models")

    for name, newer in ((foreign.aliases, "3"), (foreign.stages, "4")):
        ui.open("models", model=name, version=newer)
        expect(ui.main.get_by_text("changed outside the dashboard")).to_have_count(0)  # adopted quietly
        dialog = open_dialog(ui, "Promote to production")
        expect(dialog).to_contain_text(f"Promote v{newer} to production")
        confirm(ui, dialog, "e2e: the newer one", f"{name} promoted to production: v{newer} (was v2)")
        ui.open("models", model=name)
        dialog = open_dialog(ui, "Roll back to v2")
        confirm(ui, dialog, "e2e: back to the hand-set one", f"{name} rolled back to v2 (was v{newer})")
        assert demo.client.get_registered_model(name).name == name
        holders = [
            v for v in demo.client.search_model_versions(f"name='{name}'") if v.current_stage == "Production"
        ]
        if name == foreign.stages:
            assert [v.version for v in holders] == ["2"]
        else:
            assert str(demo.client.get_registered_model(name).aliases["production"]) == "2"

    ui.open("history", model=foreign.aliases)
    table = ui.table_with("origin")
    first_seen = table.row("action", "observed")
    assert (first_seen["actor"], first_seen["origin"], first_seen["to"]) == (
        "mlflow",
        "first seen in MLflow",
        "2",
    )
    rolled = table.row("action", "rollback")
    assert (rolled["actor"], rolled["origin"], rolled["to"]) == (E2E_ACTOR, "dashboard", "2")
    ui.screenshot("foreign-history")


def test_a_model_managing_champion_and_challenger_moves_and_rolls_back_challenger(
    dashboard: Dashboard, demo: Demo, foreign: Foreign
) -> None:
    """The slots a model's hand-set registry.slots tag names: each with its holder and history, promote
    and roll back per slot; the hand-set production alias, which it does not manage, is left alone."""
    ui = dashboard
    name = foreign.slotted

    ui.open("models", model=name, version="3", section="slots")  # a link to the Slots tab
    slots = ui.table_with("rollback to")
    assert (slots.row("slot", "champion")["holds"], slots.row("slot", "challenger")["holds"]) == ("v1", "v2")
    dialog = open_dialog(ui, "Promote to challenger")
    expect(dialog).to_contain_text("Promote v3 to challenger")
    confirm(ui, dialog, "e2e: a new candidate", f"{name} promoted to challenger: v3 (was v2)")
    ui.open("models", model=name)
    ui.main.get_by_role("tab", name="Slots").click()
    ui.settle()
    challenger = ui.table_with("rollback to").row("slot", "challenger")
    assert (challenger["holds"], challenger["history"], challenger["rollback to"]) == ("v3", "v2 → v3", "v2")
    dialog = open_dialog(ui, "Roll back challenger to v2")
    confirm(ui, dialog, "e2e: back to the hand-set one", f"{name} challenger rolled back to v2 (was v3)")
    aliases = {a: str(v) for a, v in demo.client.get_registered_model(name).aliases.items()}
    assert aliases == {"champion": "1", "challenger": "2", "production": "1"}
    ui.screenshot("slots")


def test_a_models_page_paints_versions_and_actions_and_sends_the_other_tabs_when_opened(
    dashboard: Dashboard, demo: Demo, foreign: Foreign
) -> None:
    """What a lead opens the page for comes first; How to load it, Slots and Compare are tabs whose
    content reaches the browser only when opened, and a link can name one."""
    ui = dashboard
    name = foreign.aliases
    ui.open("models", model=name)
    assert ui.table_with("run status").column("version") == ["v3", "v2", "v1"]
    expect(ui.main.get_by_role("button", name="Promote to production")).to_be_enabled()
    expect(ui.main.get_by_role("tab", name="How to load it")).to_be_visible()
    expect(ui.main.locator('[data-testid="stCode"]')).to_have_count(0)  # not sent, not merely hidden
    assert [t.columns[0] for t in ui.tables()] == ["version"]

    ui.main.get_by_role("tab", name="How to load it").click()
    ui.settle()
    load = ui.table_with("URI")
    assert load.row("slot", "production") == {
        "slot": "production",
        "URI": f"models:/{name}@production",
        "serves now": "v2",
    }
    expect(ui.main.locator('[data-testid="stCode"]').first).to_contain_text("load_model")
    assert "section=load" in ui.page.url  # the address bar names the tab: a copied link opens it
    expect(ui.main.get_by_role("button", name="Promote to production")).to_be_enabled()  # still there

    ui.open("models", model=name, section="compare")
    expect(ui.main.get_by_role("tab", name="Compare versions")).to_have_attribute("aria-selected", "true")
    expect(ui.main.get_by_text("Compare the runs of v2 and v3")).to_be_visible()

    ui.open("models", model=name, section="<nonsense>")  # settle() fails on any Streamlit exception
    expect(ui.main.get_by_role("tab", name="Versions", exact=True)).to_have_attribute("aria-selected", "true")
    assert ui.table_with("run status").column("version") == ["v3", "v2", "v1"]
    assert "section=" not in ui.page.url
