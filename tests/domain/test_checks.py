"""Every lifecycle check on hand-built values: no store, no server."""

from __future__ import annotations

from registry.domain.actors import Actor
from registry.domain.checks import (
    check_actor,
    check_gate,
    check_not_archived,
    check_not_holder,
    check_not_in_production,
    check_not_yet_archived,
    check_ready,
    check_required_tags,
    check_rollback_target,
    check_source_run,
)
from registry.domain.model_state import VersionInfo
from registry.domain.policy import TAG_ARCHIVED, Gate


def version(v: str = "2", status: str = "READY", stage: str = "None", **tags: str) -> VersionInfo:
    return VersionInfo("m", v, status, stage, (), dict(tags), "run1", "models:/m-1", 0, 0)


def test_actor_by_global_role_and_by_model_leads() -> None:
    assert check_actor(Actor("ada", "lead")).passed
    viewer = check_actor(Actor("vic", "viewer"))
    assert not viewer.passed and "ask a lead" in viewer.detail
    named = check_actor(Actor("ada", "lead"), "m", frozenset({"bob"}))
    assert not named.passed and "only its leads (bob)" in named.detail
    assert check_actor(Actor("bob", "viewer"), "m", frozenset({"bob"})).detail == "bob leads model m"
    assert check_actor(Actor("root", "admin"), "m", frozenset({"bob"})).detail == "root is an admin"


def test_ready_and_source_run() -> None:
    assert check_ready(version()).passed
    assert not check_ready(version(status="PENDING_REGISTRATION")).passed
    assert check_source_run("r1", "FINISHED").passed
    assert check_source_run("r1", "FAILED").detail == "source run r1 is FAILED"
    assert check_source_run("r1", None).detail == "source run r1 does not exist"
    assert check_source_run(None, None).detail == "the version has no source run"


def test_archived_checks_for_promote_and_for_archive() -> None:
    archived = version(**{TAG_ARCHIVED: "true"})
    assert not check_not_archived(archived).passed
    assert "use rollback" in check_not_archived(archived).detail
    assert check_not_archived(version(stage="Staging")).passed
    assert not check_not_archived(version(stage="Archived")).passed
    assert check_not_yet_archived(version()).detail == "v2 is active"
    assert check_not_yet_archived(archived).detail == "v2 is already archived"


def test_holders() -> None:
    assert check_not_holder("2", "1", "production").detail == "production is held by v1"
    assert check_not_holder("2", None, "staging").detail == "staging is held by no version"
    assert not check_not_holder("2", "2", "production").passed
    assert check_not_in_production("2", "1") is None
    in_production = check_not_in_production("2", "2")
    assert in_production is not None and not in_production.passed


def test_rollback_target() -> None:
    assert check_rollback_target("1") is None
    missing = check_rollback_target(None)
    assert missing is not None and not missing.passed and "--to VERSION" in missing.detail


def test_gate_both_directions_tolerance_and_missing_metrics() -> None:
    assert check_gate(None, {"acc": 1.0}, None, None) is None
    gate = Gate("acc", "max", 0.01)
    passed = check_gate(gate, {"acc": 0.895}, {"acc": 0.9}, "1")
    assert passed is not None and passed.passed and passed.overridable
    failed = check_gate(gate, {"acc": 0.8}, {"acc": 0.9}, "1")
    assert failed is not None and not failed.passed and "worse than production v1's 0.9" in failed.detail
    loss = check_gate(Gate("loss", "min"), {"loss": 0.2}, {"loss": 0.1}, "1")
    assert loss is not None and not loss.passed
    no_metric = check_gate(gate, {}, {"acc": 0.9}, "1")
    assert no_metric is not None and not no_metric.passed and no_metric.overridable
    first = check_gate(gate, {"acc": 0.1}, None, None)
    assert first is not None and first.passed and "no production version" in first.detail
    unmeasured = check_gate(gate, {"acc": 0.1}, {}, "1")
    assert unmeasured is not None and unmeasured.passed


def test_required_tags_any_value_or_exact() -> None:
    assert check_required_tags({}, {}) is None
    ok = check_required_tags({"validation": "passed", "owner": ""}, {"validation": "passed", "owner": "x"})
    assert ok is not None and ok.passed
    bad = check_required_tags({"validation": "passed", "owner": ""}, {"validation": "failed"})
    assert bad is not None and not bad.passed
    assert "missing or different: validation=passed, owner" in bad.detail


def test_a_source_run_deleted_or_missing_fails_but_a_lead_may_force_it():
    from registry.domain.checks import check_source_run

    none = check_source_run(None, None, source="s3://bucket/model/7")
    assert (none.passed, none.overridable) == (False, True)
    assert none.detail == "the version has no source run (registered from s3://bucket/model/7)"
    deleted = check_source_run("r1", "FINISHED", deleted=True)
    assert (deleted.passed, deleted.overridable, deleted.detail) == (False, True, "source run r1 was deleted")
    assert check_source_run("r1", None).overridable
    running = check_source_run("r1", "RUNNING")
    assert (running.passed, running.overridable) == (False, False)
    assert check_source_run("r1", "FINISHED").passed


def test_a_version_not_ready_says_why():
    from dataclasses import replace

    from registry.domain.checks import check_ready
    from registry.domain.model_state import VersionInfo

    v = VersionInfo("m", "3", "READY", "None", (), {}, "r", "runs:/r/model", 0, 0)
    assert check_ready(v).passed
    pending = check_ready(replace(v, status="PENDING_REGISTRATION"))
    assert not pending.passed and "still registering" in pending.detail
    failed = check_ready(replace(v, status="FAILED_REGISTRATION", status_message="copy failed: 403"))
    assert "registration failed" in failed.detail and "MLflow says: copy failed: 403" in failed.detail
