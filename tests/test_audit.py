"""The audit log itself: append-only, durable across restarts, newest-N reads, incomplete attempts;
on SQLite and, where it is installed, on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from registry.audit.log import AuditLog
from registry.errors import Conflict


def intent(model: str = "m", to: str = "1", seq: int | None = None) -> dict:
    return dict(actor="ada", role="lead", model=model, action="promote", target="production",
                from_version=None, to_version=to, reason="why", checks=[], seq=seq)  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit_url(request, tmp_path) -> str:
    """A fresh audit database: a SQLite file, or a database in the session's PostgreSQL."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres").database_for(tmp_path)
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def audit(audit_url) -> AuditLog:
    return AuditLog(audit_url)


def test_rows_cannot_be_updated_or_deleted(audit):
    audit.finish(audit.begin(**intent()), "done")
    statements = ["UPDATE registry_audit SET reason = 'rewritten'", "DELETE FROM registry_audit"]
    if audit.engine.dialect.name == "postgresql":  # TRUNCATE skips row triggers: it needs its own
        statements.append("TRUNCATE registry_audit")
    for statement in statements:
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), audit.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert [a.reason for a in audit.attempts()] == ["why"]


def test_history_survives_a_restart(audit_url):
    url = audit_url
    first = AuditLog(url)
    first.finish(first.begin(**intent()), "done")
    first.engine.dispose()
    [attempt] = AuditLog(url).attempts()
    assert (attempt.to_version, attempt.outcome) == ("1", "done")


def test_limit_returns_the_newest_attempts_oldest_first(audit):
    for v in range(1, 8):
        audit.finish(audit.begin(**intent(to=str(v))), "done")
    assert [a.to_version for a in audit.attempts(limit=3)] == ["5", "6", "7"]
    assert [a.to_version for a in audit.attempts(model="m", limit=2)] == ["6", "7"]
    assert audit.attempts(model="other") == []


def test_an_intent_without_result_reads_as_incomplete(audit):
    audit.begin(**intent())
    assert audit.attempts()[0].outcome == "incomplete"


def test_a_second_claim_of_the_same_sequence_is_a_conflict(audit):
    audit.begin(**intent(seq=1))
    with pytest.raises(Conflict):
        audit.begin(**intent(to="2", seq=1))
    audit.begin(**intent(model="other", seq=1))  # sequences are per model
    assert audit.last_seq("m") == 1


def test_replicas_opening_a_new_log_at_once_all_succeed(audit_url):
    """CREATE TABLE raced (and CREATE FUNCTION on PostgreSQL): every replica but one failed to open."""
    start, errors = threading.Barrier(6), []

    def open_log() -> None:
        start.wait()
        try:
            AuditLog(audit_url).engine.dispose()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_log) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditLog(audit_url).attempts() == []
