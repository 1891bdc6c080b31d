"""The MCP tools on a registry built by hand (tests/foreign_registry.py), as an assistant would use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.service import Registry
from registry.settings import Settings
from tests.conftest import build_settings
from tests.foreign_registry import Foreign, build_foreign_registry
from tests.test_mcp import LEAD, McpSession, mcp_session


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(request, "http", tmp_path_factory.mktemp("mcp-foreign"), actor=LEAD, leads_csv=LEAD)


@pytest.fixture(scope="module")
def foreign(settings: Settings) -> Foreign:
    return build_foreign_registry(Registry.connect(settings).client, many=3)


@pytest.fixture(scope="module")
def lead(settings: Settings) -> Iterator[McpSession]:
    with mcp_session(settings, LEAD, settings.home / "mcp-foreign.log") as session:
        yield session


def test_list_models_shows_modes_and_holders_stage_mode_included(lead, foreign):
    found = {m["name"]: m for m in lead.ok("list_models", search=foreign.stages.split()[0])["models"]}
    assert found[foreign.stages]["mode"] == "stages"
    assert (found[foreign.stages]["production"], found[foreign.stages]["staging"]) == ("2", "3")
    # other modules on the shared server register their own o'brien models: pick this registry's
    quoted = {m["name"]: m for m in lead.ok("list_models", search="brien")["models"]}[foreign.both]
    assert quoted["production"] == "2" and quoted["serving_slot"] == "production"
    slotted = {m["name"]: m for m in lead.ok("list_models", search="scorer")["models"]}[foreign.slotted]
    assert (slotted["production"], slotted["serving_slot"]) == ("1", "champion")


@pytest.mark.parametrize("which,newer", [("aliases", "3"), ("stages", "4")])
def test_plan_promote_rollback_and_history_restore_the_hand_set_holder(lead, foreign, which, newer):
    name = getattr(foreign, which)
    planned = lead.ok("plan", action="promote", model=name, version=newer)
    assert planned["allowed"]
    assert not [d for d in planned["drift"] if "outside" in d]  # adopting raised no warning
    lead.ok("promote", model=name, version=newer, reason="newer", plan_token=planned["plan_token"])
    back = lead.ok("plan", action="rollback", model=name)
    assert back["version"] == "2"
    lead.ok("rollback", model=name, reason="back to the hand-set one", plan_token=back["plan_token"])
    assert lead.ok("model_versions", model=name)["holders"]["production"] == "2"
    history = lead.ok("model_history", model=name)
    assert [(a["action"], a["actor"]) for a in history["attempts"]][:1] == [("observed", "mlflow")]
    assert not [d for d in history["drift"] if "outside" in d]


def test_a_source_run_deleted_is_refused_then_forced_with_a_reason(lead, foreign):
    planned = lead.ok("plan", action="promote", model=foreign.odd_sources, version="2")
    [failed] = [c for c in planned["checks"] if not c["passed"]]
    assert failed["overridable"] and "was deleted" in failed["detail"] and planned["needs_force"]
    refused = lead.error("promote", model=foreign.odd_sources, version="2", reason="try")
    assert refused.startswith("Error executing tool promote: refused: ") and "refused: refused" not in refused
    done = lead.ok("promote", model=foreign.odd_sources, version="2", reason="known loss", force=True)
    assert done["outcome"] == "done" and done["plan"]["version"] == "2"


def test_promote_to_challenger_and_roll_challenger_back_to_the_hand_set_holder(lead, foreign, settings):
    name = foreign.slotted
    client = Registry.connect(settings).client
    versions = lead.ok("model_versions", model=name)
    assert versions["slots"] == ["champion", "challenger"]
    planned = lead.ok("plan", action="promote", model=name, version="3", target="challenger")
    assert planned["allowed"] and planned["changes"] == ["alias 'challenger': v2 → v3"]
    assert "target='challenger'" in planned["apply_with"]
    lead.ok("promote", model=name, version="3", reason="new candidate", target="challenger",
            plan_token=planned["plan_token"])  # fmt: skip
    assert {a: str(v) for a, v in client.get_registered_model(name).aliases.items()} == {
        "champion": "1",
        "challenger": "3",
        "production": "1",
    }
    back = lead.ok("plan", action="rollback", model=name, target="challenger")
    assert (back["version"], back["target"]) == ("2", "challenger") and "slot='challenger'" in back[
        "apply_with"
    ]
    done = lead.ok(
        "rollback", model=name, slot="challenger", reason="v3 is noisy", plan_token=back["plan_token"]
    )
    assert done["message"].endswith("challenger rolled back to v2 (was v3)")
    assert lead.ok("model_versions", model=name)["holders"]["slots"] == {"champion": "1", "challenger": "2"}
    # production (set by hand, not managed by this model) was never touched
    assert {a: str(v) for a, v in client.get_registered_model(name).aliases.items()} == {
        "champion": "1",
        "challenger": "2",
        "production": "1",
    }
    history = lead.ok("model_history", model=name)
    challenger = history["replayed"]["slots"]["challenger"]
    assert (challenger["holder"], challenger["chain"], challenger["set_by_action"]) == (
        "2",
        ["2"],
        "rollback",
    )
    assert history["rollback_targets"] == {"champion": None, "challenger": None}


def test_an_alias_the_model_does_not_manage_is_a_tool_error_naming_the_ones_it_does(lead, foreign):
    text = lead.error("promote", model=foreign.slotted, version="3", reason="try", target="production")
    assert text == (
        "Error executing tool promote: bad input: 'production' is not a slot this model manages: use one of "
        "champion, challenger (the registry.slots tag or slots = [...] in registry.toml lists them)"
    )


def test_a_protected_challenger_refuses_the_assistant_and_the_refusal_is_audited(lead, foreign, settings):
    reg = Registry.connect(settings)
    reg.client.set_registered_model_tag(
        foreign.slotted, "registry.slots.challenger.movers", "grace"
    )  # by hand
    text = lead.error("promote", model=foreign.slotted, version="3", reason="mine", target="challenger")
    assert text.startswith("Error executing tool promote: refused: ")
    assert "challenger is protected: only grace may move it, not ada" in text
    assert str(reg.client.get_registered_model(foreign.slotted).aliases["challenger"]) == "2"
    last = [a for a in reg.history(foreign.slotted) if a.action == "promote"][-1]
    assert (last.actor, last.outcome, last.target, last.to_version) == ("ada", "refused", "challenger", "3")
    reg.client.delete_registered_model_tag(foreign.slotted, "registry.slots.challenger.movers")
