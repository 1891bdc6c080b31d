"""The audit log itself: append-only, durable across restarts, newest-N reads, incomplete attempts,
one result per attempt, and a hash chain that `verify` walks; on SQLite and, where it is installed,
on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from registry.audit.log import AuditLog, events
from registry.errors import BadInput, Conflict


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


def test_a_sqlite_log_in_a_folder_not_yet_made_is_created_there(tmp_path):
    """REGISTRY_HOME or REGISTRY_AUDIT_URL pointing at a new folder (a fresh volume): the log is
    made there, as the line summaries are, not refused with "unable to open database file"."""
    path = tmp_path / "new" / "folder" / "audit.db"
    log = AuditLog(f"sqlite:///{path}")
    log.finish(log.begin(**intent()), "done")
    assert path.exists() and [a.outcome for a in AuditLog(f"sqlite:///{path}").attempts()] == ["done"]


def test_a_sqlite_uri_filename_makes_no_folder_in_the_working_directory(tmp_path, monkeypatch):
    """`sqlite:///file:/path?mode=ro&uri=true` (SQLite's URI form, e.g. a read-only log) names an
    absolute file; its folder was taken as the relative path `file:/path` and made in the working
    directory (a stray `file:` folder in the project after the read-only tests)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "logs" / "audit.db"
    AuditLog(f"sqlite:///{path}").finish(AuditLog(f"sqlite:///{path}").begin(**intent()), "done")
    read_only = AuditLog(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert [a.outcome for a in read_only.attempts()] == ["done"]
    assert not (tmp_path / "file:").exists()


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


# integrity: one result per attempt, the hash chain, `verify` -----------------------------------------
def drop_triggers(audit: AuditLog) -> None:
    """What someone with database access does before rewriting history."""
    names = ["registry_audit_no_update", "registry_audit_no_delete"]
    if audit.engine.dialect.name == "postgresql":
        names = ["registry_audit_no_change ON registry_audit", "registry_audit_no_truncate ON registry_audit"]
    with audit.engine.begin() as conn:
        for name in names:
            conn.execute(sa.text(f"DROP TRIGGER {name}"))


def row_ids(audit: AuditLog) -> list[tuple[int, str, str]]:
    with audit.engine.connect() as conn:
        query = sa.select(events.c.id, events.c.attempt_id, events.c.phase).order_by(events.c.id)
        return [tuple(r) for r in conn.execute(query)]


def three_attempts(audit: AuditLog) -> list[str]:
    ids = [audit.begin(**intent(model=f"m{v}", to=str(v))) for v in (1, 2, 3)]
    for attempt_id in ids:
        audit.finish(attempt_id, "done")
    return ids


def test_an_untouched_log_verifies(audit):
    three_attempts(audit)
    found = audit.verify()
    assert found.intact and found.problems == [] and found.warnings == []
    assert (found.rows, found.chained, found.unchained) == (6, 6, 0)
    assert "6 row(s) checked" in found.summary() and found.head_hash in found.as_dict()["head_hash"]


def test_a_rewritten_reason_is_reported_naming_the_row(audit_url):
    audit = AuditLog(audit_url)
    three_attempts(audit)
    drop_triggers(audit)
    target = next(i for i, _, phase in row_ids(audit) if phase == "intent" and i > 1)
    with audit.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.id == target).values(reason="nothing to see"))

    found = audit.verify()
    assert not found.intact and found.broken is not None
    assert (found.broken.id, found.broken.model) == (target, "m2")
    assert "rewritten" in found.problems[0] and f"row {target} (model m2" in found.problems[0]
    assert any("missing now" in w for w in found.warnings)

    reopened = AuditLog(audit_url)  # the next start recreates the triggers, and says it found them gone
    again = reopened.verify()
    assert again.broken == found.broken and again.triggers_missing == []
    assert any("missing when the log was opened" in w for w in again.warnings)


def test_a_deleted_row_is_reported(audit):
    three_attempts(audit)
    drop_triggers(audit)
    rows = row_ids(audit)
    with audit.engine.begin() as conn:
        conn.execute(sa.delete(events).where(events.c.id == rows[2][0]))

    found = audit.verify()
    assert not found.intact and found.broken is not None
    assert found.broken.id == rows[3][0] and "deleted" in found.broken.problem


def test_a_row_inserted_without_its_link_is_reported(audit):
    three_attempts(audit)
    with audit.engine.connect() as conn:
        last = dict(conn.execute(sa.select(events).order_by(events.c.id.desc()).limit(1)).mappings().one())
    forged = {**last, "attempt_id": "forged", "reason": "planted", "prev_hash": None, "row_hash": None}
    del forged["id"]
    with audit.engine.begin() as conn:  # appending needs no dropped trigger: only the chain tells
        conn.execute(events.insert().values(**forged))
    found = audit.verify()
    assert not found.intact and found.broken is not None and "without a hash" in found.broken.problem


def test_a_second_result_row_is_refused_and_a_second_finish_keeps_the_first(audit):
    attempt_id = audit.begin(**intent())
    assert audit.finish(attempt_id, "failed", "boom") == "failed"
    with audit.engine.connect() as conn:
        result = dict(conn.execute(sa.select(events).where(events.c.phase == "result")).mappings().one())
    del result["id"]
    with pytest.raises(sa.exc.IntegrityError), audit.engine.begin() as conn:
        conn.execute(events.insert().values({**result, "outcome": "done", "error": None}))

    assert audit.finish(attempt_id, "done") == "failed"  # the outcome on record stands
    assert [a.outcome for a in audit.attempts()] == ["failed"]
    assert len(row_ids(audit)) == 2 and audit.verify().intact


def test_concurrent_finishes_of_one_attempt_leave_one_result(audit):
    """An apply's result racing reconcile's: whoever comes second accepts the first, no error."""
    attempt_id = audit.begin(**intent())
    start, errors, said = threading.Barrier(4), [], []

    def finish() -> None:
        start.wait()
        try:
            said.append(audit.finish(attempt_id, "done"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=finish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and said == ["done"] * 4
    assert [phase for _, _, phase in row_ids(audit)] == ["intent", "result"]


def test_concurrent_writers_do_not_fork_the_chain(audit_url):
    """Threads with logs of their own (as replicas) and threads sharing one log all append at once."""
    shared = AuditLog(audit_url)
    start, errors = threading.Barrier(6), []

    def write(log: AuditLog, n: int) -> None:
        start.wait()
        try:
            for i in range(8):
                log.record("done", **intent(model=f"m{n}", to=str(i)))
        except Exception as exc:
            errors.append(exc)

    logs = [shared, shared, shared, AuditLog(audit_url), AuditLog(audit_url), AuditLog(audit_url)]
    threads = [threading.Thread(target=write, args=(log, n)) for n, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = shared.verify()
    assert found.intact and found.chained == found.rows == 6 * 8 * 2


def legacy_log(url: str, rows: int = 3, doubled: bool = False) -> sa.Engine:
    """An audit database as versions before the chain made it: no hash columns, no attempt/phase index."""
    from registry.audit import schema

    engine = sa.create_engine(url)
    legacy = sa.MetaData()
    old_columns = [c.copy() for c in events.columns if c.name not in ("prev_hash", "row_hash")]
    table = sa.Table(events.name, legacy, *old_columns, sa.UniqueConstraint("model", "seq"))
    with engine.begin() as conn:
        legacy.create_all(conn)
        if engine.dialect.name == "sqlite":
            for statement in schema._sqlite_triggers(events.name):
                conn.execute(sa.text(statement))
        else:
            conn.execute(sa.text(schema._PG_FUNCTION))
            for statement in schema._pg_triggers(events.name):
                conn.execute(sa.text(statement))
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(rows):
            row = {
                **intent(to=str(n)),
                "attempt_id": f"old{n}",
                "phase": "intent",
                "at": at,
                "outcome": "pending",
            }
            row["checks"] = "[]"
            conn.execute(table.insert().values(row))
            conn.execute(table.insert().values({**row, "phase": "result", "outcome": "done"}))
        if doubled:  # what item 7 found possible: a second result row changing an old attempt's outcome
            conn.execute(table.insert().values({**row, "phase": "result", "outcome": "failed"}))
    return engine


def test_rows_from_before_the_chain_are_unchained_not_broken(audit_url):
    legacy_log(audit_url).dispose()
    audit = AuditLog(audit_url)  # upgraded on open: columns, index
    before = audit.verify()
    assert before.intact and (before.rows, before.unchained, before.chained) == (6, 6, 0)
    assert before.warnings == []

    three_attempts(audit)
    found = audit.verify()
    assert found.intact and (found.unchained, found.chained) == (6, 6)
    first_chained = audit.attempts()[3].at
    assert found.chained_since == first_chained
    assert "6 unchained (before " in found.summary()

    drop_triggers(audit)  # old rows are sealed by the first link: rewriting one now shows
    with audit.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.attempt_id == "old1").values(reason="rewritten"))
    broken = audit.verify().broken
    assert broken is not None and broken.id == 7 and "before the chain began" in broken.problem


def test_an_old_log_holding_a_second_result_opens_and_verify_names_it(audit_url):
    legacy_log(audit_url, rows=2, doubled=True).dispose()
    audit = AuditLog(audit_url)  # no crash: the index cannot be made, verify reports why
    found = audit.verify()
    assert not found.intact and found.broken is None
    assert found.duplicates == ["old1 (2 result rows)"]
    audit.record("done", **intent(model="new"))  # still writable
    assert AuditLog(audit_url).verify().duplicates == ["old1 (2 result rows)"]
    looked_into = audit.acknowledge("root", "the doubled row predates the constraint; old1 was done")
    assert looked_into.intact and looked_into.acknowledged == ["old1 (2 result rows); acknowledged"]


def test_a_rewrite_with_every_hash_recomputed_is_caught_by_a_kept_head(audit):
    """The chain alone cannot catch someone who rehashes everything after a rewrite; a head kept
    from an earlier verify can."""
    from registry.audit.chain import GENESIS, HASHED, values_hash

    three_attempts(audit)
    kept = audit.verify().head_hash
    assert audit.verify(anchor=kept[:16]).intact
    drop_triggers(audit)
    with audit.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.id == 2).values(outcome="failed"))
        current = GENESIS
        rows = conn.execute(sa.select(events.c.id, *[events.c[n] for n in HASHED]).order_by(events.c.id))
        for row in rows.all():
            own = values_hash(current, row[1:])
            rehashed = sa.update(events).where(events.c.id == row[0]).values(prev_hash=current, row_hash=own)
            conn.execute(rehashed)
            current = own

    assert audit.verify().intact  # rehashed: the chain holds
    found = audit.verify(anchor=kept)
    assert not found.intact and found.broken is None and "head kept earlier" in found.problems[0]


def test_an_acknowledged_break_stops_alarming_until_something_else_changes(audit_url):
    audit = AuditLog(audit_url)
    three_attempts(audit)
    with pytest.raises(BadInput, match="nothing to acknowledge"):
        audit.acknowledge("root", "nothing happened")
    drop_triggers(audit)
    rows = row_ids(audit)
    with audit.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.id == rows[1][0]).values(error="tidied"))
    audit = AuditLog(audit_url)  # triggers recreated, noted
    assert not audit.verify().intact and audit.verify().warnings

    after = audit.acknowledge("root", "INC-42: a test row edited by hand, restored from backup")
    assert after.intact and after.warnings == [] and after.problems == []
    assert after.chained == after.rows == 6
    assert len(after.acknowledged) == 1 and "acknowledged by root" in after.acknowledged[0]
    assert f"row {rows[1][0]} " in after.acknowledged[0] and "1 acknowledged break(s)" in after.summary()
    audit.record("done", **intent(model="later"))  # the chain goes on after it
    assert audit.verify().intact

    drop_triggers(audit)  # the same row changed again: pinned, so it alarms again
    with audit.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.id == rows[1][0]).values(error="tidied twice"))
    again = audit.verify()
    assert not again.intact and again.broken is not None and again.broken.id == rows[1][0]
