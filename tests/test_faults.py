"""Faults injected into the real processes: a tracking server killed mid-action, S3 down, the audit
database locked or read-only.

What must hold whatever fails: the audit log records the attempt and how it ended, MLflow is never
changed by an action whose intent could not be recorded, the error says which store failed, and once
the store is back the next plan and apply work.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry.access.identity import Actor
from registry.audit.log import events
from registry.audit.replay import replay
from registry.errors import BadInput, Conflict, Unreachable
from registry.lifecycle.actions import apply_plan
from registry.service import Registry
from registry.store.artifacts import list_artifacts, preview_artifact
from registry.store.runs import get_run
from registry.store.status import store_status
from tests.factories import make_model
from tests.stack import FaultStack, ServerProcess

LEAD = Actor("alice", "lead")


def holders(reg: Registry, model: str) -> tuple[str | None, str | None]:
    h = reg.state(model).holders
    return h.production, h.staging


def assert_history_matches_mlflow(reg: Registry, model: str) -> None:
    replayed = replay(reg.history(model))
    assert (replayed.production, replayed.staging) == holders(reg, model)
    assert reg.model_history(model).drift == []


def kill(server: ServerProcess) -> None:
    """SIGKILL the whole process group: no shutdown handler runs, as in a crash or an OOM kill."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)


# the tracking server dies ----------------------------------------------------------------------------
@pytest.mark.slow
def test_tracking_server_killed_mid_action(fault_stack: FaultStack, make_settings) -> None:
    """Killed after the intent is recorded: the attempt is `failed` with the error, MLflow unchanged;
    started again on the same store and port, a new plan applies."""
    server = fault_stack.server
    reg = Registry.connect(
        make_settings("http", tracking_uri=server.uri, s3_endpoint_url=fault_stack.s3_endpoint_url)
    )
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)

    def crash() -> None:
        kill(server.process)

    with pytest.raises(Unreachable, match=r"promote .* v2: .*did not answer"):
        apply_plan(reg.client, reg.audit, reg.settings, plan, "v2", actor=LEAD, before_change=crash)
    last = reg.history(model)[-1]
    assert (last.to_version, last.outcome) == ("2", "failed")
    assert "did not answer" in last.error
    with pytest.raises(Unreachable):  # down: reads say so too
        reg.state(model)

    server.stop()
    server.start_again()
    assert holders(reg, model) == ("1", None)
    assert_history_matches_mlflow(reg, model)
    with pytest.raises(Conflict):  # the old plan predates the failed attempt: plan again
        reg.apply(plan, "v2 again", actor=LEAD)
    reg.promote(model, "2", "v2, server back", actor=LEAD)
    assert holders(reg, model) == ("2", None)
    assert [a.outcome for a in reg.history(model)] == ["done", "failed", "conflict", "done"]
    assert_history_matches_mlflow(reg, model)


_WRITES = (
    "set_registered_model_alias",
    "delete_registered_model_alias",
    "set_model_version_tag",
    "delete_model_version_tag",
    "transition_model_version_stage",
)


class DiesAfterWrites:
    """An MlflowClient whose server goes away after `allowed` writes: reads pass, later writes fail."""

    def __init__(self, client: object, allowed: int) -> None:
        self._client, self.allowed, self.writes = client, allowed, 0

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._client, name)
        if name not in _WRITES:
            return attr

        def write(*args: object, **kwargs: object) -> object:
            if self.writes >= self.allowed:
                raise ConnectionError("Connection refused (injected)")
            self.writes += 1
            return attr(*args, **kwargs)

        return write


@pytest.mark.parametrize("mode", ["aliases", "stages"])
def test_a_failure_part_way_through_the_writes_leaves_the_holders_unchanged(make_settings, mode) -> None:
    """A change is several MLflow calls. With the alias moved first and the provenance tags after, a
    failure between them left MLflow changed under a `failed` attempt: the history no longer replayed
    to MLflow's state and the change read as made outside the dashboard. The holder moves last."""
    reg = Registry.connect(make_settings("sqlite"))
    model = make_model(reg.client, [{"acc": 0.7}] * 2, model_tags={"registry.mode": mode})
    reg.promote(model, "1", "first", actor=LEAD)
    allowed = 0
    while True:
        plan = reg.plan("promote", model, "2", actor=LEAD)
        dying = DiesAfterWrites(reg.client, allowed)
        try:
            apply_plan(dying, reg.audit, reg.settings, plan, f"after {allowed} writes", actor=LEAD)  # type: ignore[arg-type]
        except Unreachable:
            assert holders(reg, model) == ("1", None), f"failed after {allowed} writes"
            assert reg.history(model)[-1].outcome == "failed"
            assert_history_matches_mlflow(reg, model)
            allowed += 1
            continue
        break
    assert allowed >= 4  # three provenance tags, then the holder; done once every write went through
    assert holders(reg, model) == ("2", None)
    assert_history_matches_mlflow(reg, model)


# S3 goes down ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_s3_down_breaks_artifact_reads_only(fault_stack: FaultStack, make_settings) -> None:
    """The server proxies S3 (the usual set-up), so S3 going down reaches us as a server error:
    artifact reads fail with a message naming the artifact store, while the run, the registry and
    its audit need no S3 and keep working."""
    uri, s3_url = fault_stack.server.uri, fault_stack.s3_endpoint_url
    reg = Registry.connect(make_settings("http", tracking_uri=uri, s3_endpoint_url=s3_url))
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    run_id = reg.client.get_model_version(model, "1").run_id
    reg.client.log_text(run_id, "hello", "notes.txt")
    assert preview_artifact(reg.client, run_id, "notes.txt").text == "hello"

    fault_stack.s3.stop()
    for read in (lambda: preview_artifact(reg.client, run_id, "notes.txt"),
                 lambda: list_artifacts(reg.client, run_id)):  # fmt: skip
        with pytest.raises(Unreachable, match="could not read its artifact store"):
            read()
    assert get_run(reg.client, run_id).info.run_id == run_id  # the run itself still reads
    status = {s.store: s for s in store_status(reg)}
    assert status["artifact store"].reachable is False
    assert all(status[s].reachable for s in ("tracking store", "model registry", "audit log"))

    reg.promote(model, "1", "S3 is not needed for this", actor=LEAD)
    reg.promote(model, "2", "nor for this", actor=LEAD)
    reg.rollback(model, "and back", actor=LEAD)
    assert holders(reg, model) == ("1", None)
    assert_history_matches_mlflow(reg, model)


# the audit database cannot be written ----------------------------------------------------------------
@contextmanager
def audit_locked(reg: Registry) -> Iterator[None]:
    """Another process holds the audit database's write lock (SQLite) or an exclusive table lock (PG)."""
    url = reg.settings.effective_audit_url
    if url.startswith("sqlite"):
        other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
    else:
        import psycopg

        with psycopg.connect(url) as other:  # one transaction, rolled back on leaving
            other.execute("LOCK TABLE registry_audit IN EXCLUSIVE MODE")  # readers may still read
            yield
            other.rollback()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit_backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The audit log's URL: a SQLite file, or a database in the session's PostgreSQL."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres").database_for(tmp_path)
    return f"sqlite:///{tmp_path / 'audit.db'}"


def test_locked_audit_log_refuses_before_touching_mlflow(make_settings, audit_backend: str) -> None:
    reg = Registry.connect(make_settings("sqlite", audit_url=audit_backend, audit_timeout_s=1))
    model = make_model(reg.client, [{"acc": 0.8}])
    plan = reg.plan("promote", model, "1", actor=LEAD)

    with audit_locked(reg):
        with pytest.raises(Unreachable, match=r"write the audit log at .*(locked|lock timeout).*try again"):
            reg.apply(plan, "while locked", actor=LEAD)
        assert holders(reg, model) == (None, None)
        assert "registry.promoted_by" not in reg.client.get_model_version(model, "1").tags
        assert reg.history(model) == []  # reading the history still works

    result = reg.apply(plan, "lock released", actor=LEAD)  # nothing was recorded: the plan still holds
    assert result.outcome == "done" and holders(reg, model) == ("1", None)
    assert [a.outcome for a in reg.history(model)] == ["done"]


def test_read_only_audit_log_refuses_before_touching_mlflow(make_settings, audit_backend: str) -> None:
    writable = Registry.connect(make_settings("sqlite", audit_url=audit_backend))
    model = make_model(writable.client, [{"acc": 0.8}])
    writable.promote(model, "1", "while writable", actor=LEAD)
    if audit_backend.startswith("sqlite"):  # root ignores file modes; SQLite's read-only open does not
        read_only = f"sqlite:///file:{audit_backend.removeprefix('sqlite:///')}?mode=ro&uri=true"
    else:
        read_only = f"{audit_backend}?options=-c%20default_transaction_read_only%3Don"
    reg = Registry(writable.settings.model_copy(update={"audit_url": read_only}), writable.client)

    assert [a.outcome for a in reg.history(model)] == ["done"]  # read-only still reads
    plan = reg.plan("archive", model, "1", actor=LEAD)
    with pytest.raises(Unreachable, match=r"write the audit log .*read-only"):
        reg.apply(plan, "cannot be recorded", actor=LEAD)
    assert holders(reg, model) == ("1", None)
    assert "registry.archived" not in reg.client.get_model_version(model, "1").tags
    assert [a.outcome for a in writable.history(model)] == ["done"]


def test_audit_locked_after_the_intent_reports_applied_and_reconciles(
    make_settings, audit_backend: str
) -> None:
    """The change reached MLflow but its result row could not be written: say so, never "not
    applied"; the next read settles the attempt from MLflow's state (no drift, the right rollback
    target, no "another change is in progress")."""
    from contextlib import ExitStack

    reg = Registry.connect(make_settings("sqlite", audit_url=audit_backend, audit_timeout_s=1))
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.95}])
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)

    with ExitStack() as lock:
        result = apply_plan(
            reg.client,
            reg.audit,
            reg.settings,
            plan,
            "v2 while the log locks",
            actor=LEAD,
            before_change=lambda: lock.enter_context(audit_locked(reg)),
        )
        assert result.outcome == "done" and result.record_pending
        assert "applied" in result.message and "record is pending" in result.message
        assert holders(reg, model) == ("2", None)
        assert reg.history(model)[-1].outcome == "incomplete"  # readers still read while locked

    history = reg.model_history(model)  # the next read settles it
    assert [a.outcome for a in history.attempts] == ["done", "done"]
    assert "reconciled" in (history.attempts[-1].error or "")
    assert history.drift == [] and history.rollback_to == "1"
    done = reg.promote(model, "3", "next change, no wait", actor=LEAD)
    assert done.outcome == "done" and holders(reg, model) == ("3", None)
    assert_history_matches_mlflow(reg, model)


def test_a_result_that_loses_the_race_with_reconcile_accepts_the_settled_one(
    make_settings, audit_backend: str
) -> None:
    """A reader settles the attempt from MLflow's state between the change and the apply's own result
    row: the apply ends done with no error, and the attempt has exactly one result."""
    reg = Registry.connect(make_settings("sqlite", audit_url=audit_backend))
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    plan = reg.plan("promote", model, "1", actor=LEAD)

    def reader_settles_it_first() -> None:
        reg.client.set_registered_model_alias(model, "production", "1")  # the change, in MLflow
        assert reg.model_history(model).attempts[-1].outcome == "done"  # reconciled by a read

    result = apply_plan(
        reg.client, reg.audit, reg.settings, plan, "raced", actor=LEAD, before_change=reader_settles_it_first
    )
    assert result.outcome == "done" and not result.record_pending
    [attempt] = reg.history(model)
    assert attempt.outcome == "done" and "reconciled" in (attempt.error or "")
    with reg.audit.engine.connect() as conn:
        phases = conn.execute(sa.select(events.c.phase).where(events.c.attempt_id == attempt.attempt_id))
        assert sorted(phases.scalars()) == ["intent", "result"]
    assert reg.audit.verify().intact
    assert_history_matches_mlflow(reg, model)


def test_an_unsettled_attempt_is_settled_before_a_new_apply(make_settings) -> None:
    """Reconciled on the apply path too: a result row that never came no longer blocks for the lease."""
    reg = Registry.connect(make_settings("sqlite", audit_timeout_s=1))
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    plan = reg.plan("promote", model, "1", actor=LEAD)
    intent = {
        "actor": LEAD.name, "role": "lead", "model": model, "action": "promote", "target": "production",
        "from_version": None, "to_version": "1", "reason": "crashed before the result", "checks": [],
    }  # fmt: skip
    reg.audit.begin(**intent, seq=plan.audit_seq + 1)
    reg.client.set_registered_model_alias(model, "production", "1")  # what the dead process did
    done = reg.promote(model, "2", "go on", actor=LEAD)
    assert done.outcome == "done"
    assert [a.outcome for a in reg.history(model)] == ["done", "done"]
    assert_history_matches_mlflow(reg, model)


def test_a_missing_reason_is_bad_input_even_when_the_audit_log_is_read_only(make_settings, tmp_path) -> None:
    writable = Registry.connect(make_settings("sqlite"))
    model = make_model(writable.client, [{"acc": 0.8}])
    writable.history(model)  # creates the log
    path = writable.settings.effective_audit_url.removeprefix("sqlite:///")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    reg = Registry(writable.settings.model_copy(update={"audit_url": read_only}), writable.client)
    plan = reg.plan("promote", model, "1", actor=LEAD)
    with pytest.raises(BadInput, match="a reason is required"):
        reg.apply(plan, "  ", actor=LEAD)
