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
    with pytest.raises(BadInput, match="promote to 'archived'"):
        check_request("promote", "archived")
    with pytest.raises(NotFound, match="no version 9"):
        plan(snapshot(), "promote", "9")
