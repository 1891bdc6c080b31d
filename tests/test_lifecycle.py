"""Lifecycle actions through the service against the real stack, in both alias and stage modes.

Every test runs on the HTTP server, on a direct SQLite store, and on a server and an audit log in
PostgreSQL (where PostgreSQL is installed); the crash test on the last two (its docstring says why).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from registry.access.identity import Actor
from registry.errors import BadInput, Conflict, NotFound, Refused
from registry.service import Registry
from tests.factories import make_model

LEAD = Actor("alice", "lead")
VIEWER = Actor("victor", "viewer")


@pytest.fixture
def reg(every_backend_settings) -> Registry:
    return Registry.connect(every_backend_settings)


def holders(reg: Registry, model: str) -> tuple[str | None, str | None]:
    h = reg.state(model).holders
    return h.production, h.staging


def test_promote_moves_the_production_alias_and_records_who(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    result = reg.promote(model, "2", "better accuracy", actor=LEAD)

    assert result.outcome == "done"
    aliases = reg.client.get_registered_model(model).aliases
    assert {k: str(v) for k, v in aliases.items()} == {"production": "2"}
    tags = reg.client.get_model_version(model, "2").tags
    assert tags["registry.promoted_by"] == "alice"
    assert [(a.action, a.to_version, a.outcome, a.reason) for a in reg.history(model)] == [
        ("promote", "1", "done", "first"),
        ("promote", "2", "done", "better accuracy"),
    ]


def test_plan_changes_nothing_and_shows_every_check(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.gate.metric": "acc"})
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)

    assert plan.changes == ("alias 'production': v1 → v2",)
    assert {c.name.split(":")[0] for c in plan.checks} >= {
        "actor may change the registry",
        "version is READY",
        "source run exists and FINISHED",
        "version is not archived",
        "metric gate",
    }
    assert plan.allowed
    assert next(m for m in plan.comparison if m.metric == "acc").delta == pytest.approx(0.1)
    assert holders(reg, model) == ("1", None)
    assert len(reg.history(model)) == 1


def test_viewer_is_refused_and_the_refusal_is_audited(reg):
    model = make_model(reg.client, [{"acc": 0.8}])
    with pytest.raises(Refused, match="viewer"):
        reg.promote(model, "1", "I want it", actor=VIEWER)
    assert holders(reg, model) == (None, None)
    [attempt] = reg.history(model)
    assert (attempt.actor, attempt.outcome) == ("victor", "refused")


def test_a_reason_is_required(reg):
    model = make_model(reg.client, [{"acc": 0.8}])
    with pytest.raises(BadInput, match="reason"):
        reg.promote(model, "1", "   ", actor=LEAD)
    assert holders(reg, model) == (None, None)
    assert reg.history(model)[0].outcome == "refused"


def test_source_run_must_be_finished(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], run_status=["FAILED", "RUNNING"])
    for version, status in (("1", "FAILED"), ("2", "RUNNING")):
        with pytest.raises(Refused, match=f"is {status}"):
            reg.promote(model, version, "try", actor=LEAD)
    assert holders(reg, model) == (None, None)


def test_metric_gate_refuses_a_worse_candidate_unless_forced(reg):
    model = make_model(
        reg.client,
        [{"rmse": 10.0}, {"rmse": 12.0}],
        model_tags={
            "registry.gate.metric": "rmse",
            "registry.gate.direction": "min",
            "registry.gate.tolerance": "1",
        },
    )
    reg.promote(model, "1", "baseline", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)
    assert plan.needs_force and not plan.allowed
    with pytest.raises(Refused, match="worse than production v1"):
        reg.apply(plan, "looks fine to me", actor=LEAD)
    assert holders(reg, model) == ("1", None)

    result = reg.apply(plan, "latency matters more this quarter", actor=LEAD, force=True)
    assert result.outcome == "done"
    assert holders(reg, model) == ("2", None)
    last = reg.history(model)[-1]
    assert last.forced and last.reason == "latency matters more this quarter"


def test_gate_within_tolerance_passes(reg):
    model = make_model(
        reg.client,
        [{"acc": 0.90}, {"acc": 0.89}],
        model_tags={"registry.gate.metric": "acc", "registry.gate.tolerance": "0.02"},
    )
    reg.promote(model, "1", "baseline", actor=LEAD)
    assert reg.plan("promote", model, "2", actor=LEAD).allowed


def test_required_tags_are_read_from_version_or_run(reg):
    model = make_model(
        reg.client,
        [{"acc": 0.8}, {"acc": 0.9}],
        model_tags={"registry.required_tags": "validation=passed"},
        run_tags=[{"validation": "failed"}, {"validation": "passed"}],
    )
    with pytest.raises(Refused, match="validation=passed"):
        reg.promote(model, "1", "try", actor=LEAD)
    reg.promote(model, "2", "validated", actor=LEAD)
    assert holders(reg, model) == ("2", None)


def test_archived_version_cannot_be_promoted_and_nothing_is_deleted(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    reg.archive(model, "1", "retired", actor=LEAD)
    assert holders(reg, model) == (None, None)
    assert reg.client.get_model_version(model, "1").tags["registry.archived"] == "true"
    with pytest.raises(Refused, match="archived"):
        reg.promote(model, "1", "again", actor=LEAD)
    assert len(reg.client.search_model_versions(f"name = '{model}'")) == 2


def test_staging_then_production_moves_the_staging_alias_off(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    reg.promote(model, "2", "candidate", actor=LEAD, target="staging")
    assert holders(reg, model) == ("1", "2")
    reg.promote(model, "2", "ship it", actor=LEAD)
    assert holders(reg, model) == ("2", None)


def test_rollback_chain_walks_back_through_the_history(reg):
    model = make_model(reg.client, [{"acc": 0.7}, {"acc": 0.8}, {"acc": 0.9}])
    for v in "123":
        reg.promote(model, v, f"v{v}", actor=LEAD)
    assert reg.plan("rollback", model, actor=LEAD).version == "2"
    reg.rollback(model, "v3 misbehaves", actor=LEAD)
    assert holders(reg, model) == ("2", None)
    reg.rollback(model, "v2 too", actor=LEAD)
    assert holders(reg, model) == ("1", None)
    plan = reg.plan("rollback", model, actor=LEAD)
    assert plan.version is None and not plan.allowed
    with pytest.raises(Refused, match="no earlier production version"):
        reg.apply(plan, "nothing left", actor=LEAD)


def test_rollback_to_a_chosen_version(reg):
    model = make_model(reg.client, [{"acc": 0.7}, {"acc": 0.8}, {"acc": 0.9}])
    for v in "123":
        reg.promote(model, v, f"v{v}", actor=LEAD)
    reg.rollback(model, "straight back to the first", actor=LEAD, to_version="1")
    assert holders(reg, model) == ("1", None)
    assert reg.history(model)[-1].from_version == "3"


def test_two_plans_on_the_same_state_conflict(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.95}])
    first = reg.plan("promote", model, "2", actor=LEAD)
    second = reg.plan("promote", model, "3", actor=Actor("bob", "lead"))
    reg.apply(first, "mine", actor=LEAD)
    with pytest.raises(Conflict, match="changed since the plan"):
        reg.apply(second, "mine too", actor=Actor("bob", "lead"))
    assert holders(reg, model) == ("2", None)
    assert [a.outcome for a in reg.history(model)] == ["done", "conflict"]


def test_change_outside_the_dashboard_is_a_conflict_and_shows_as_drift(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)
    reg.client.set_registered_model_alias(model, "production", "2")  # someone used MLflow directly
    with pytest.raises(Conflict):
        reg.apply(plan, "late", actor=LEAD)
    drift = reg.model_history(model).drift
    assert drift and "MLflow says v2, the audit log says v1" in drift[0]


def test_unknown_model_and_version_are_not_found(reg):
    with pytest.raises(NotFound):
        reg.plan("promote", "no-such-model", "1", actor=LEAD)
    model = make_model(reg.client, [{"acc": 0.8}])
    with pytest.raises(NotFound, match="no version 7"):
        reg.plan("promote", model, "7", actor=LEAD)


# stage mode ------------------------------------------------------------------------------------------
def test_stage_mode_archives_the_previous_production(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.mode": "stages"})
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)
    assert plan.mode == "stages"
    assert plan.changes == ("v2: stage None → Production", "v1: stage Production → Archived")
    reg.apply(plan, "better", actor=LEAD)
    stages = {str(v.version): v.current_stage for v in reg.client.search_model_versions(f"name = '{model}'")}
    assert stages == {"1": "Archived", "2": "Production"}
    reg.rollback(model, "v2 broke", actor=LEAD)
    stages = {str(v.version): v.current_stage for v in reg.client.search_model_versions(f"name = '{model}'")}
    assert stages == {"1": "Production", "2": "Archived"}


def test_a_model_already_using_stages_is_detected(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.client.transition_model_version_stage(model, "1", "Production")
    assert reg.state(model).policy.mode == "stages"
    assert holders(reg, model) == ("1", None)
    history = reg.model_history(model)  # set before the dashboard met it: the baseline, not drift
    assert history.drift == [] and [a.action for a in history.attempts] == ["observed"]
    reg.promote(model, "2", "through the dashboard now", actor=LEAD, target="staging")
    assert holders(reg, model) == ("1", "2")


# write-ahead -----------------------------------------------------------------------------------------
def test_failure_between_record_and_change_leaves_a_failed_attempt_and_no_change(reg):
    from registry.lifecycle.actions import apply_plan

    model = make_model(reg.client, [{"acc": 0.8}])
    plan = reg.plan("promote", model, "1", actor=LEAD)

    def boom() -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(Exception, match="disk on fire"):
        apply_plan(reg.client, reg.audit, reg.settings, plan, "go", actor=LEAD, before_change=boom)
    assert holders(reg, model) == (None, None)
    [attempt] = reg.history(model)
    assert attempt.outcome == "failed" and "disk on fire" in attempt.error


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_crash_between_record_and_change_leaves_a_visible_incomplete_attempt(make_settings, backend):
    """Not over HTTP as well: what the crash leaves is in the audit database, SQLite here as in the
    http variant and PostgreSQL in the postgres one, while the tracking store is only read before
    it; each variant costs a new interpreter (~5 s of CPU)."""
    reg = Registry.connect(make_settings(backend))
    model = make_model(reg.client, [{"acc": 0.8}])
    script = textwrap.dedent(
        f"""
        import os
        from registry.settings import load_settings
        from registry.service import Registry
        from registry.access.identity import Actor
        from registry.lifecycle.actions import apply_plan
        reg = Registry.connect(load_settings(tracking_uri={reg.settings.effective_tracking_uri!r},
                                             audit_url={reg.settings.effective_audit_url!r}))
        lead = Actor("alice", "lead")
        plan = reg.plan("promote", {model!r}, "1", actor=lead)
        crash = lambda: os._exit(9)
        apply_plan(reg.client, reg.audit, reg.settings, plan, "go", actor=lead, before_change=crash)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, timeout=120
    )
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    assert holders(reg, model) == (None, None)
    [attempt] = reg.history(model)
    assert attempt.outcome == "incomplete" and attempt.finished_at is None


# serialization ---------------------------------------------------------------------------------------
def test_a_change_applied_while_another_is_in_flight_conflicts(reg):
    """The seq claim alone let B claim the next slot while A, claimed, had not written to MLflow yet:
    both succeeded, A's write landed last, and the audit's replay disagreed with MLflow."""
    from registry.audit.replay import replay
    from registry.lifecycle.actions import apply_plan

    model = make_model(reg.client, [{"acc": 0.7}, {"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)
    seen: list[str] = []

    def bob_acts_meanwhile() -> None:  # A's intent is recorded, MLflow not yet changed
        try:
            reg.promote(model, "3", "mine", actor=Actor("bob", "lead"))
            seen.append("done")
        except Conflict as exc:
            seen.append(str(exc))

    apply_plan(
        reg.client, reg.audit, reg.settings, plan, "second", actor=LEAD, before_change=bob_acts_meanwhile
    )
    assert holders(reg, model) == ("2", None)
    assert replay(reg.history(model)).production == "2"
    assert len(seen) == 1 and "in progress" in seen[0]
    assert [(a.actor, a.outcome) for a in reg.history(model)] == [
        ("alice", "done"),
        ("alice", "done"),
        ("bob", "conflict"),
    ]
    reg.promote(model, "3", "now it is my turn", actor=Actor("bob", "lead"))
    assert holders(reg, model) == ("3", None)


def test_an_attempt_that_never_finished_blocks_its_model_only_for_the_lease(make_settings):
    reg = Registry.connect(make_settings("sqlite", change_lease_s=3600))
    model = make_model(reg.client, [{"acc": 0.7}, {"acc": 0.8}])
    plan = reg.plan("promote", model, "1", actor=LEAD)
    reg.audit.begin(  # a replica that died between its intent and its result
        actor="carol", role="lead", model=model, action="promote", target="production", from_version=None,
        to_version="2", reason="crashed", checks=[], seq=plan.audit_seq + 1,
    )  # fmt: skip
    with pytest.raises(Conflict, match=r"in progress \(promote v2 by carol"):
        reg.promote(model, "1", "go", actor=LEAD)
    expired = Registry(reg.settings.model_copy(update={"change_lease_s": 0}), reg.client, reg.audit)
    expired.promote(model, "1", "go", actor=LEAD)
    assert holders(reg, model) == ("1", None)
    assert [a.outcome for a in reg.history(model)] == ["incomplete", "conflict", "done"]
