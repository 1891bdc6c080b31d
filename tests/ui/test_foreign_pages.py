"""The pages under AppTest on a registry built by hand (tests/foreign_registry.py): list, plan, promote,
roll back and read the history, in alias and stage mode, with names no test of ours would choose."""

from __future__ import annotations

import pytest
import streamlit as st
from mlflow import MlflowClient

from pages.views.shared import plain
from tests.foreign_registry import Foreign, build_foreign_registry
from tests.ui.conftest import frame_with
from tests.ui.test_models_page import SECTIONS, confirm, open_dialog, open_section, sent, texts

MODELS = "pages/models.py"
HISTORY = "pages/history.py"


@pytest.fixture(scope="module")
def foreign(stack) -> Foreign:
    """Built once on the session's server; each test has an audit log of its own, so meets it anew."""
    return build_foreign_registry(MlflowClient(stack.tracking_uri), many=3)


def test_the_list_shows_stage_mode_holders_and_hand_set_aliases(ui_env, foreign, open_page):
    at = open_page(MODELS, q=foreign.stages.split()[-1])  # the build's unique suffix
    assert not at.exception
    table = at.dataframe[0].value.set_index("model")
    assert table.loc[foreign.stages, "production"] == "v2"
    assert table.loc[foreign.aliases, "production"] == "v2"
    assert table.loc[foreign.both, "production"] == "v2"  # aliases win over a leftover stage


@pytest.mark.parametrize("which,newer", [("aliases", "3"), ("stages", "4")])
def test_promote_then_roll_back_to_the_hand_set_holder(ui_registry, foreign, open_page, which, newer):
    name = getattr(foreign, which)
    at = open_page(MODELS, model=name)
    assert not at.exception
    assert not [w for w in texts(at, "warning") if "changed outside" in w]  # adopting warns of nothing
    assert at.metric[0].value == "v2"
    confirm(open_dialog(at, "promote_production", newer), "the newer one")
    assert at.metric[0].value == f"v{newer}" and at.metric[2].value == "v2"  # rollback target
    at = open_page(MODELS, model=name)
    confirm(open_dialog(at, "rollback"), "back to the hand-set one")
    assert any(plain(f"rolled back to v2 (was v{newer})") in s for s in texts(at, "success"))
    assert ui_registry.state(name).holders.production == "2"


def test_history_tells_the_state_first_seen_and_outside_changes_from_the_dashboards(
    ui_registry, foreign, open_page
):
    name = foreign.odd_sources
    open_page(MODELS, model=name)  # the dashboard meets it: the baseline
    ui_registry.client.set_registered_model_alias(name, "production", "1")  # by hand
    at = open_page(HISTORY, model=name)
    assert not at.exception
    drift = [w for w in texts(at, "warning") if "MLflow says v1" in w]
    assert len(drift) == 1 and "changed outside the dashboard" in drift[0]
    st.cache_data.clear()  # a later visit, past the page's 30 s read cache
    at = open_page(HISTORY, model=name)  # seen again: recorded once only
    table = at.dataframe[0].value
    assert list(table["action"]) == ["outside", "observed"]
    assert list(table["origin"]) == ["outside: noticed by the dashboard", "first seen in MLflow"]
    assert set(table["actor"]) == {"mlflow"}


def test_a_model_managing_champion_and_challenger_shows_each_slot_and_moves_challenger(
    ui_registry, foreign, open_page
):
    name = foreign.slotted
    at = open_page(MODELS, model=name)
    assert not at.exception
    assert [(m.label, m.value) for m in at.metric][:2] == [("Champion", "v1"), ("Challenger", "v2")]
    open_section(at, "Slots")
    slots = frame_with(at, "rollback to").set_index("slot")
    assert list(slots.index) == ["champion", "challenger"]
    assert (slots.loc["champion", "holds"], slots.loc["challenger", "holds"]) == ("v1", "v2")
    assert slots.loc["challenger", "how"] == "first seen in MLflow"
    load = frame_with(open_section(at, "How to load it"), "URI").set_index("slot")
    assert (
        load.loc["champion", "URI"] == f"models:/{name}@champion"
        and load.loc["challenger", "serves now"] == "v2"
    )
    assert "promote_production" not in [b.key.removeprefix("models.") for b in at.button]  # not managed here

    open_section(at, "Slots")
    confirm(open_dialog(at, "promote_challenger", "3"), "a new candidate")
    slots = frame_with(at, "rollback to").set_index("slot")
    assert slots.loc["challenger", "holds"] == "v3" and slots.loc["challenger", "history"] == "v2 → v3"
    assert slots.loc["challenger", "rollback to"] == "v2" and slots.loc["champion", "holds"] == "v1"
    assert at.button(key="models.rollback_challenger").label == "Roll back challenger to v2"

    confirm(open_dialog(at, "rollback_challenger"), "back to the hand-set one")
    assert any(plain(f"{name} challenger rolled back to v2 (was v3)") in s for s in texts(at, "success"))
    holders = ui_registry.state(name).holders
    assert holders.by_slot == {"champion": "1", "challenger": "2"}
    assert str(ui_registry.client.get_registered_model(name).aliases["production"]) == "1"  # never touched


def test_history_follows_each_managed_slot_of_one_model(ui_registry, foreign, open_page):
    open_page(MODELS, model=foreign.slotted)  # the dashboard meets it: champion v1, challenger v2
    at = open_page(HISTORY, model=foreign.slotted)
    assert not at.exception
    picker = at.selectbox(key="history.slot")
    assert (picker.options, picker.value) == (["champion", "challenger"], "champion")
    assert list(frame_with(at, "current")["version"]) == ["1"]
    picker.select("challenger")
    at.run()
    assert not at.exception and list(frame_with(at, "current")["version"]) == ["2"]


@pytest.mark.parametrize(
    "which,slot,uri",
    [
        ("aliases", "production", "models:/{name}@production"),
        ("stages", "production", "models:/{name}/Production"),
        ("slotted", "champion", "models:/{name}@champion"),
    ],
)
def test_a_hand_built_model_paints_versions_and_actions_first_and_a_link_opens_how_to_load_it(
    ui_env, foreign, open_page, which, slot, uri
):
    name = getattr(foreign, which)
    holder = {"aliases": "v2", "stages": "v2", "slotted": "v1"}[which]
    at = open_page(MODELS, model=name)
    assert not at.exception
    now = sent(at)
    assert now["versions"] and not now["load"] and not now["slots"] and not now["compare"]
    assert at.button(key=f"models.promote_{slot}") and at.button(key="models.archive")

    at = open_page(MODELS, model=name, section="load")
    assert not at.exception and not sent(at)["versions"]
    load = frame_with(at, "URI").set_index("slot")
    assert (load.loc[slot, "URI"], load.loc[slot, "serves now"]) == (uri.format(name=name), holder)
    assert any(repr(uri.format(name=name)) in c.value for c in at.code)  # the name quoted as it is

    at = open_page(MODELS, model=name, section="no such tab")
    assert not at.exception and sent(at)["versions"] and "section" not in at.query_params


def test_a_model_with_no_versions_opens_every_section_without_an_error(ui_env, foreign, open_page):
    at = open_page(MODELS, model=foreign.empty)
    assert any("no versions yet" in i for i in texts(at, "info"))
    for label in SECTIONS[1:]:
        open_section(at, label)
        assert not at.error, (label, texts(at, "error"))
    assert any("Comparing needs two versions" in c for c in texts(at, "caption"))
