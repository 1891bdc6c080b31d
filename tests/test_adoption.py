"""Adopting a registry built by hand: baselines, rollback to the hand-set holder, outside changes.

The registry comes from tests/foreign_registry.py (the plain MlflowClient only). Each test touches its
own model of a registry built once per module and backend (the HTTP server and a direct SQLite store).
"""

from __future__ import annotations

import pytest

from registry.access.identity import Actor
from registry.audit.observe import observe
from registry.errors import Refused
from registry.service import Registry
from registry.store.models import model_state
from tests.factories import make_model
from tests.foreign_registry import Foreign, build_foreign_registry

LEAD = Actor("alice", "lead")


@pytest.fixture(scope="module")
def reg(shared_settings) -> Registry:
    return Registry.connect(shared_settings)


@pytest.fixture(scope="module")
def foreign(reg: Registry) -> Foreign:
    return build_foreign_registry(reg.client)


def moves(reg: Registry, model: str) -> list[tuple[str, str, str | None, str | None, str]]:
    return [(a.action, a.target, a.from_version, a.to_version, a.actor) for a in reg.history(model)]


def test_adopting_raises_no_drift_and_history_starts_with_the_state_when_first_seen(reg, foreign):
    for name in (foreign.aliases, foreign.both, foreign.odd_sources, foreign.many):
        assert reg.model_history(name).drift == [], name
    [extra] = reg.model_history(foreign.stages).drift  # two in Production is a fact worth saying
    assert "more than one version in stage Production (1)" in extra
    first = reg.history(foreign.stages)[0]
    assert (first.action, first.actor, first.to_version) == ("observed", "mlflow", "2")
    assert "state when first seen (stages mode): production v2, staging v3" in first.reason
    assert "also in stage Production: v1" in first.reason
    assert moves(reg, foreign.aliases)[0] == ("observed", "production", None, "2", "mlflow")


def test_promote_then_rollback_restores_the_hand_set_holder_in_alias_mode(reg, foreign):
    name = foreign.aliases
    reg.promote(name, "3", "challenger won", actor=LEAD)
    plan = reg.plan("rollback", name, actor=LEAD)
    assert (plan.version, plan.from_version, plan.drift) == ("2", "3", ())
    reg.apply(plan, "back to the champion", actor=LEAD)
    state = reg.state(name)
    assert state.holders.production == "2"
    assert state.model.aliases == {"production": "2", "champion": "2", "challenger": "3"}


def test_promote_then_rollback_restores_the_hand_set_holder_in_stage_mode(reg, foreign):
    name = foreign.stages
    reg.promote(name, "4", "newest", actor=LEAD)
    result = reg.rollback(name, "v4 misbehaves", actor=LEAD)
    assert result.plan.version == "2"
    stages = {v.version: v.stage for v in reg.state(name).versions.values()}
    assert stages == {"1": "Archived", "2": "Production", "3": "Staging", "4": "Archived"}


def test_a_change_made_by_hand_later_is_recorded_once_and_rollback_crosses_it(reg, foreign):
    name = foreign.both
    assert reg.state(name).policy.mode == "aliases"  # aliases win over a leftover stage
    reg.model_history(name)  # met: the baseline
    reg.client.set_registered_model_alias(name, "production", "1")  # by hand, in a notebook
    for _ in range(3):  # page views
        drift = reg.model_history(name).drift
    assert drift and "MLflow says v1, the audit log says v2" in drift[0]
    outside = [m for m in moves(reg, name) if m[0] == "outside"]
    assert outside == [("outside", "production", "2", "1", "mlflow")]
    assert reg.model_history(name).rollback_to == "2"
    reg.rollback(name, "the notebook change was a mistake", actor=LEAD)
    assert reg.state(name).holders.production == "2"
    assert reg.model_history(name).drift == []


def test_checks_that_fit_versions_with_no_run_a_deleted_run_or_a_logged_model(reg, foreign):
    name = foreign.odd_sources

    def source_check(version: str):
        plan = reg.plan("promote", name, version, actor=LEAD)
        return plan, next(c for c in plan.checks if c.name == "source run exists and FINISHED")

    plan, check = source_check("1")
    assert not check.passed and check.overridable and plan.needs_force
    assert check.detail == "the version has no source run (registered from s3://team-bucket/models/fraud/7)"
    plan, check = source_check("2")
    assert not check.passed and check.overridable and "was deleted" in check.detail
    with pytest.raises(Refused, match="was deleted"):
        reg.apply(plan, "try", actor=LEAD)
    _, check = source_check("3")
    assert check.passed  # the logged model links back to its run
    result = reg.promote(name, "1", "the bucket copy is the one we serve", actor=LEAD, force=True)
    assert result.outcome == "done" and reg.history(name)[-1].forced
    assert reg.rollback(name, "back", actor=LEAD).plan.version == "3"


def test_a_model_with_many_versions_pages_past_one_hundred(reg, foreign):
    state = reg.state(foreign.many)
    assert len(state.versions) == 120 and state.holders.production == "100"
    assert reg.plan("promote", foreign.many, "120", actor=LEAD).allowed


def test_adopt_records_every_model_once(reg, foreign):
    """(`adopt` with no model walks every model of the store: the CLI test runs it on a store of its own.)"""
    first = {name: reg.adopt(name)[0] for name in foreign.names}
    assert first[foreign.empty].recorded == 1 and first[foreign.stages].production == "2"
    assert all(reg.adopt(name)[0].recorded == 0 for name in foreign.names)
    observed = [a for a in reg.history(foreign.empty) if a.action == "observed"]
    assert [(a.target, a.to_version) for a in observed] == [("production", None)]
    assert [a.action for a in reg.history(foreign.many)].count("observed") == 1


def test_a_change_of_ours_landing_while_mlflow_is_read_is_not_an_outside_change(reg):
    """Another lead's promotion finishes after this reader read MLflow and before it read the audit
    log: MLflow's (now stale) holders differ from the audit, yet nobody changed MLflow by hand."""

    name = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(name, "1", "first", actor=LEAD)
    reads = []

    def read_state():
        state = model_state(reg.client, name, reg.settings)
        if not reads:  # the first read goes stale at once: another session promotes v2
            reg.promote(name, "2", "second", actor=Actor("bob", "lead"))
        reads.append(state.holders.production)
        return state

    seen = observe(reg.audit, name, read_state)

    assert seen.recorded == 0 and seen.state.holders.production == "2"
    assert reads == ["1", "2"]  # read again once the audit log had moved
    assert [a.action for a in reg.history(name)] == ["promote", "promote"]
    assert reg.model_history(name).drift == []


def test_a_change_of_ours_in_flight_when_mlflow_is_read_is_not_an_outside_change(reg):
    """Another replica has claimed its change and is about to write MLflow; it finishes while this
    reader reads: MLflow (read first) still shows v1, the audit (read after) says v2, yet nobody
    changed MLflow by hand."""
    name = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(name, "1", "first", actor=LEAD)
    claimed = reg.audit.begin(
        actor="bob", role="lead", model=name, action="promote", target="production", from_version="1",
        to_version="2", reason="second", checks=[], seq=reg.audit.last_seq(name) + 1,
    )  # fmt: skip

    def read_state():
        state = model_state(reg.client, name, reg.settings)
        reg.client.set_registered_model_alias(name, "production", "2")  # the other replica's write
        reg.audit.finish(claimed, "done", None)  # ...and its result, before this reader reads the audit
        return state

    seen = observe(reg.audit, name, read_state)

    assert seen.recorded == 0
    assert [a.action for a in reg.history(name)] == ["promote", "promote"]
    assert reg.model_history(name).drift == []
