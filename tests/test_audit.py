"""The audit log itself: append-only, durable across restarts, newest-N reads, incomplete attempts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registry.audit import AuditLog
from registry.errors import Conflict


def intent(model: str = "m", to: str = "1", seq: int | None = None) -> dict:
    return dict(actor="ada", role="lead", model=model, action="promote", target="production",
                from_version=None, to_version=to, reason="why", checks=[], seq=seq)  # fmt: skip


@pytest.fixture
def audit(tmp_path) -> AuditLog:
    return AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")


def test_rows_cannot_be_updated_or_deleted(audit):
    audit.finish(audit.begin(**intent()), "done")
    for statement in ("UPDATE registry_audit SET reason = 'rewritten'", "DELETE FROM registry_audit"):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), audit.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert audit.attempts()[0].reason == "why"


def test_history_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
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
