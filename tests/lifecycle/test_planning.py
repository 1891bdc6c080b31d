"""The planner as a pure function of a snapshot built by hand: every rule of planning, no store."""

from __future__ import annotations

from typing import Any

import pytest

from registry.audit.replay import Replay, SlotHistory
from registry.domain.actors import Actor
from registry.domain.model_state import Holders, ModelInfo, ModelState, VersionInfo
from registry.domain.policy import Gate, ModelPolicy
from registry.errors import BadInput, NotFound
from registry.lifecycle.planning import PlanningSnapshot, RunFacts, check_request, plan_from
from registry.settings import Settings

LEAD = Actor("ada", "lead")
SETTINGS = Settings()


def snapshot(
    mode: str = "aliases",
    production: str | None = "1",
    staging: str | None = None,
    gate: Gate | None = None,
    history: Replay | None = None,
    metrics: dict[str, dict[str, float]] | None = None,
    stages: dict[str, str] | None = None,
) -> PlanningSnapshot:
    stages = stages or {}
    aliases = {a: v for a, v in (("production", production), ("staging", staging)) if v}
    versions = {
        v: VersionInfo("m", v, "READY", stages.get(v, "None"), tuple(a for a, x in aliases.items() if x == v),
                       {}, f"run{v}", "", 0, 0)
        for v in ("1", "2", "3")
    }  # fmt: skip
    state = ModelState(
        ModelInfo("m", "", {}, aliases if mode == "aliases" else {}, 0, 0),
        versions,
        ModelPolicy(mode, gate=gate, key_metric=gate.metric if gate else None),  # type: ignore[arg-type]  # mode is a Literal
        Holders(production, staging),
    )
    runs = {v: RunFacts(f"run{v}", "FINISHED", (metrics or {}).get(v, {}), {}) for v in versions}
    return PlanningSnapshot(state, 7, history or Replay(), None, runs)


def plan(snap: PlanningSnapshot, action: Any, version: str | None, target: str = "production") -> Any:
    return plan_from(snap, action, version, actor=LEAD, target=target, settings=SETTINGS)


def test_promote_in_alias_mode_moves_the_alias_and_compares_metrics() -> None:
    made = plan(snapshot(gate=Gate("acc"), metrics={"1": {"acc": 0.9}, "2": {"acc": 0.95}}), "promote", "2")
    assert made.allowed and made.version == "2" and made.from_version == "1" and made.audit_seq == 7
    assert made.changes == ("alias 'production': v1 → v2",)
    assert [(m.metric, m.candidate, m.current) for m in made.comparison] == [("acc", 0.95, 0.9)]
    assert [c.name for c in made.checks][:3] == [
        "actor may change the registry",
        "version is READY",
        "source run exists and FINISHED",
    ]


def test_a_failing_gate_needs_force_and_nothing_else_blocks() -> None:
    made = plan(snapshot(gate=Gate("acc"), metrics={"1": {"acc": 0.9}, "2": {"acc": 0.5}}), "promote", "2")
    assert not made.allowed and made.needs_force and not made.blocking


def test_stage_mode_archives_the_previous_holder() -> None:
    snap = snapshot("stages", production="1", stages={"1": "Production"})
    made = plan(snap, "promote", "2")
    assert made.mode == "stages"
    assert made.changes == ("v2: stage None → Production", "v1: stage Production → Archived")


def test_staging_refuses_the_production_holder() -> None:
    made = plan(snapshot(production="2"), "promote", "2", target="staging")
    assert "version is not in production" in [c.name for c in made.blocking]


def test_archive_targets_archived_and_comes_from_the_version() -> None:
    made = plan(snapshot(), "archive", "3")
    assert made.target == "archived" and made.from_version == "3" and made.comparison == ()
    assert made.changes == ("v3: tag registry.archived=true",)


def test_rollback_without_history_says_so_instead_of_guessing() -> None:
    made = plan(snapshot(), "rollback", None)
    assert made.version is None and made.changes == () and not made.allowed
    assert made.blocking[0].name == "a rollback target exists"


def test_rollback_goes_to_the_previous_audited_holder() -> None:
    history = Replay({"production": SlotHistory("2", ("1", "2"))}, audited=True)
    made = plan(snapshot(production="2", history=history), "rollback", None)
    assert made.version == "1" and made.allowed and made.drift == ()


def test_drift_is_reported_from_the_snapshot() -> None:
    history = Replay({"production": SlotHistory("2", ("2",))}, audited=True)
    made = plan(snapshot(production="3", history=history), "promote", "1")
    assert made.drift == (
        "production: MLflow says v3, the audit log says v2 (changed outside the dashboard)",
    )


def test_bad_requests_are_refused_before_reading() -> None:
    with pytest.raises(BadInput, match="unknown action"):
        check_request("delete", "production")
    with pytest.raises(
        BadInput, match="'archived' is not a slot this model manages: use one of production, staging"
    ):
        plan(snapshot(), "promote", "2", target="archived")
    with pytest.raises(NotFound, match="no version 9"):
        plan(snapshot(), "promote", "9")


# managed slots: any alias ------------------------------------------------------------------------------
def slotted(holders: dict[str, str | None], tags: dict[str, str] | None = None, history: Replay | None = None,
            gate: Gate | None = None) -> PlanningSnapshot:  # fmt: skip
    """A model managing champion and challenger (its registry.slots tag), holders as given."""
    aliases = {a: v for a, v in holders.items() if v}
    versions = {
        v: VersionInfo("m", v, "READY", "None", tuple(a for a, x in aliases.items() if x == v), {}, f"run{v}",
                       "", 0, 0)
        for v in ("1", "2", "3")
    }  # fmt: skip
    state = ModelState(
        ModelInfo("m", "", {"registry.slots": "champion, challenger", **(tags or {})}, aliases, 0, 0),
        versions,
        ModelPolicy("aliases", gate=gate, slots=("champion", "challenger")),
        Holders(None, None, slots=holders),
    )
    runs = {v: RunFacts(f"run{v}", "FINISHED", {"acc": float(v) / 10}, {}) for v in versions}
    return PlanningSnapshot(state, 7, history or Replay(), None, runs)


def test_promote_to_a_managed_alias_moves_only_that_alias_and_gates_only_the_first_slot() -> None:
    snap = slotted({"champion": "1", "challenger": "2"}, gate=Gate("acc"))
    made = plan(snap, "promote", "3", target="challenger")
    assert made.allowed and made.target == "challenger" and made.from_version == "2"
    assert made.changes == ("alias 'challenger': v2 → v3",)
    assert not any(c.name.startswith("metric gate") for c in made.checks)  # the gate guards champion
    assert dict(made.snapshot.slots) == {"champion": "1", "challenger": "2"}
    to_champion = plan(snap, "promote", "3", target=None)  # the first listed slot by default
    assert to_champion.target == "champion" and any(
        c.name.startswith("metric gate") for c in to_champion.checks
    )
    [gate] = [c for c in to_champion.checks if c.name.startswith("metric gate")]
    assert "champion v1" in gate.detail


def test_the_challenger_promoted_to_champion_leaves_challenger_and_champion_never_goes_back() -> None:
    snap = slotted({"champion": "1", "challenger": "2"})
    made = plan(snap, "promote", "2", target="champion")
    assert made.changes == ("alias 'champion': v1 → v2", "alias 'challenger' removed from v2")
    back = plan(snap, "promote", "1", target="challenger")
    assert [c.detail for c in back.blocking] == ["v1 already serves champion"]


def test_an_alias_the_model_does_not_manage_is_bad_input_naming_the_ones_it_does() -> None:
    with pytest.raises(
        BadInput, match="'production' is not a slot this model manages: use one of champion, challenger"
    ):
        plan(slotted({"champion": "1", "challenger": None}), "promote", "2", target="production")


def test_rollback_of_a_slot_walks_its_own_chain() -> None:
    history = Replay({"challenger": SlotHistory("3", ("2", "3")), "champion": SlotHistory("1", ("1",))}, True)
    made = plan(
        slotted({"champion": "1", "challenger": "3"}, history=history), "rollback", None, target="challenger"
    )
    assert made.target == "challenger" and made.version == "2" and made.from_version == "3"
    assert made.changes == ("alias 'challenger': v3 → v2",)
    none = plan(
        slotted({"champion": "1", "challenger": "3"}, history=history), "rollback", None, target="champion"
    )
    assert next(c.detail for c in none.blocking).startswith("no earlier champion version in the history")


def test_archive_from_a_slot_archives_its_holder() -> None:
    made = plan(slotted({"champion": "1", "challenger": "2"}), "archive", None, target="challenger")
    assert made.target == "archived" and made.version == "2"
    assert made.changes == ("v2: tag registry.archived=true", "alias 'challenger' removed from v2")
    with pytest.raises(BadInput, match="no version holds challenger"):
        plan(slotted({"champion": "1", "challenger": None}), "archive", None, target="challenger")


def test_a_protected_challenger_fails_the_movers_check_for_anyone_else() -> None:
    snap = slotted({"champion": "1", "challenger": "2"}, tags={"registry.slots.challenger.movers": "grace"})
    made = plan(snap, "promote", "3", target="challenger")
    assert [c.detail for c in made.blocking] == ["challenger is protected: only grace may move it, not ada"]
    assert plan(snap, "promote", "3", target="champion").allowed  # champion is not protected
