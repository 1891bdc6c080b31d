"""The append-only audit log: every attempted registry action, durable in a SQL table.

Rows are never updated or deleted (triggers refuse it on SQLite and PostgreSQL). An action writes an
`intent` row before it touches the registry and a `result` row after, so a crash in between leaves a
visible incomplete attempt rather than an unrecorded change. The per-model `seq` column, unique per
model, serializes changes across dashboard replicas: two plans made on the same state cannot both be
applied, the second insert fails and becomes a Conflict. One intent and one result per attempt:
UNIQUE(attempt_id, phase), so a second result cannot change an attempt's outcome.

Every row is linked into a hash chain (registry/audit/chain.py) and `verify` walks it, so rows
rewritten or deleted with the triggers dropped are found; triggers found missing when the log is
opened are recreated and the fact is kept in `registry_audit_notices`, itself append-only.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from registry.audit.chain import Verification, head, lock_for_append, row_hash, walk
from registry.audit.schema import acknowledge as acknowledge_in
from registry.audit.schema import (
    acknowledgements,
    duplicates,
    events,
    has_attempt_phase_index,
    is_set_up,
    missing_triggers,
    policy_seen,
    set_up,
    trigger_notices,
)
from registry.errors import BadInput, Conflict, Unreachable
from registry.redaction import redact
from registry.settings import make_sqlite_folder, mask_uri

log = logging.getLogger("registry.audit")
__all__ = ["OUTCOMES", "Attempt", "AuditLog", "events"]

OUTCOMES = ("done", "refused", "conflict", "failed", "incomplete")


@dataclass(frozen=True)
class Attempt:
    """One attempted action as the history shows it: its intent joined with its result, if any."""

    attempt_id: str
    at: datetime
    actor: str
    role: str
    model: str
    action: str
    target: str
    from_version: str | None
    to_version: str | None
    reason: str
    outcome: str
    error: str | None = None
    forced: bool = False
    finished_at: datetime | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "at": self.at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "actor": self.actor,
            "role": self.role,
            "model": self.model,
            "action": self.action,
            "target": self.target,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "reason": self.reason,
            "outcome": self.outcome,
            "error": self.error,
            "forced": self.forced,
            "checks": self.checks,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AuditLog:
    """The audit table behind a SQLAlchemy URL (SQLite by default, PostgreSQL for several replicas).

    `timeout_s` bounds how long a write waits for a lock (SQLite's busy timeout, PostgreSQL's
    lock_timeout) or a connection: an action whose intent cannot be recorded must give up with
    Unreachable in seconds, before MLflow is touched, rather than hang the page.
    """

    def __init__(
        self,
        url: str,
        timeout_s: float = 30.0,
        on_result: Callable[[Connection, Attempt], int] | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        """`on_result` runs inside the transaction that writes each result row (the notification
        outbox queues the event there, so it is queued exactly when it is recorded) and returns how
        many rows it added; `after_commit` runs once they are committed (a background delivery)."""
        self.url = url
        self.timeout_s = timeout_s
        self.on_result = on_result
        self.after_commit = after_commit
        with suppress(OSError):  # not makeable: opening the log then says it is unreachable, and why
            make_sqlite_folder(url)
        connect_args = _connect_args(url, timeout_s)
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas(timeout_s))
        elif self.engine.dialect.name == "postgresql":
            event.listen(self.engine, "connect", _pg_session(timeout_s))
        with self._errors("open the audit log"), self.engine.begin() as conn:
            if not is_set_up(conn):  # a set-up log opens without writing: read-only, or while locked
                set_up(conn)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:  # the driver's own words: "database is locked", "lock timeout", …
            said = str(exc.orig).strip()
            reason = said.splitlines()[0] if said else type(exc.orig).__name__
            raise Unreachable(f"{what} at {mask_uri(self.url)}: {reason}{_hint(reason)}") from exc
        except SQLAlchemyError as exc:
            raise Unreachable(f"{what} at {mask_uri(self.url)}: {exc.__class__.__name__}") from exc

    def pending_change(self, model: str) -> Attempt | None:
        """The model's latest claimed change when it has no result yet: an apply still in flight
        (or one whose process died). The seq claim alone does not serialize the MLflow writes."""
        latest = (
            select(events)
            .where(events.c.model == model, events.c.phase == "intent", events.c.seq.is_not(None))
            .order_by(events.c.seq.desc())
            .limit(1)
        )
        with self._errors("read the audit log"), self.engine.connect() as conn:
            intent = conn.execute(latest).mappings().first()
            if intent is None:
                return None
            result = conn.execute(
                select(events.c.id).where(
                    events.c.attempt_id == intent["attempt_id"], events.c.phase == "result"
                )
            ).first()
        return None if result else _attempt(intent, None)

    def last_seq(self, model: str) -> int:
        """The sequence number of the model's latest change attempt (0 when none)."""
        with self._errors("read the audit log"), self.engine.connect() as conn:
            value = conn.execute(select(func.max(events.c.seq)).where(events.c.model == model)).scalar()
        return int(value or 0)

    def begin(
        self,
        *,
        actor: str,
        role: str,
        model: str,
        action: str,
        target: str,
        from_version: str | None,
        to_version: str | None,
        reason: str,
        checks: Sequence[dict[str, Any]],
        forced: bool = False,
        seq: int | None = None,
        at: datetime | None = None,
        attempt_id: str | None = None,
    ) -> str:
        """Record the intent of an action; with `seq`, claim the model's next change slot or conflict.

        `at` and `attempt_id` are given for events that happened elsewhere: a webhook delivery keeps
        MLflow's time and its delivery id (so a redelivery is recognised).
        """
        attempt_id = attempt_id or str(uuid.uuid4())
        row = {
            "attempt_id": attempt_id,
            "phase": "intent",
            "at": _as_utc(at).astimezone(UTC) if at else _utcnow(),  # stored without zone by SQLite
            "actor": actor,
            "role": role,
            "model": model,
            "action": action,
            "target": target,
            "from_version": from_version,
            "to_version": to_version,
            "reason": redact(reason),
            "checks": redact(json.dumps(list(checks))),
            "forced": forced,
            "outcome": "pending",
            "seq": seq,
        }
        try:
            with self._errors("write the audit log"), self.engine.begin() as conn:
                lock_for_append(conn)
                _append(conn, row)
        except IntegrityError as exc:
            raise Conflict(
                f"{model}: another change was applied since this plan was made; look at the new state "
                "and plan again"
            ) from exc
        return attempt_id

    def finish(self, attempt_id: str, outcome: str, error: str | None = None) -> str:
        """Record the result of an attempt (a second row: the intent is never rewritten); returns the
        outcome on record.

        An attempt has one result: when one is there already (reconcile settled the attempt from
        MLflow's state while this apply's own result waited for the lock), it stands and nothing is
        written. Under the append lock, so a result racing another is seen, never doubled.
        """
        with self._errors("write the audit log"), self.engine.begin() as conn:
            lock_for_append(conn)
            recorded = conn.execute(
                select(events.c.outcome).where(events.c.attempt_id == attempt_id, events.c.phase == "result")
            ).scalar()
            if recorded is not None:
                log.info("attempt %s already has its result (%s): kept", attempt_id, recorded)
                return str(recorded)
            intent = (
                conn.execute(
                    select(events).where(events.c.attempt_id == attempt_id, events.c.phase == "intent")
                )
                .mappings()
                .one()
            )
            values = {k: intent[k] for k in intent if k not in ("id", "seq", "prev_hash", "row_hash")}
            values.update(
                phase="result", at=_utcnow(), outcome=outcome, error=redact(error) if error else error
            )
            _append(conn, values)
            queued = self._announce(conn, _attempt(intent, values))
        if queued and self.after_commit:
            self.after_commit()
        return outcome

    def _announce(self, conn: Connection, attempt: Attempt) -> int:
        """Queue the event in a savepoint: a broken outbox must never lose or undo the audit row."""
        if self.on_result is None:
            return 0
        try:
            with conn.begin_nested():
                return self.on_result(conn, attempt)
        except SQLAlchemyError:
            log.exception("could not queue the notification of attempt %s", attempt.attempt_id)
            return 0

    def record(self, outcome: str, error: str | None = None, **intent: Any) -> str:
        """Record an attempt that ended before it could change anything (refused, conflict)."""
        attempt_id = self.begin(**intent)
        self.finish(attempt_id, outcome, error)
        return attempt_id

    def has_attempt(self, attempt_id: str) -> bool:
        """Whether an attempt with this id was recorded (a webhook delivery seen before)."""
        query = select(events.c.id).where(events.c.attempt_id == attempt_id).limit(1)
        with self._errors("read the audit log"), self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def request_record(self, model: str, request_id: str) -> list[dict[str, Any]]:
        """The results the log holds for an approval request's steps (its `requested` and `approved`
        entries), oldest first. The request's own rows lie outside the hash chain; a final approval
        checks them against these before anything is applied (registry/lifecycle/approvals.py)."""
        said = f"request {request_id}"
        query = (
            select(events)
            .where(
                events.c.phase == "result",
                events.c.model == model,
                events.c.outcome.in_(("requested", "approved")),
                (events.c.error == said) | events.c.error.startswith(f"{said}:", autoescape=True),
            )
            .order_by(events.c.id)
        )
        with self._errors("read the audit log"), self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def first_seen_policy(self, model: str) -> dict[str, str] | None:
        """The model's policy tags when the service first met it; None before that."""
        query = select(policy_seen.c.tags).where(policy_seen.c.model == model)
        with self._errors("read the audit log"), self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else dict(json.loads(found))

    def keep_first_seen_policy(self, model: str, tags: dict[str, str]) -> None:
        """Keep the policy tags of a model met for the first time, once: another replica keeping its
        own first is the same fact, and the row already there stays."""
        row = {"model": model, "at": _utcnow(), "tags": json.dumps(tags, sort_keys=True)}
        try:
            with self._errors("write the audit log"), self.engine.begin() as conn:
                conn.execute(policy_seen.insert().values(**row))
        except IntegrityError:
            pass

    def attempts(self, model: str | None = None, limit: int | None = None) -> list[Attempt]:
        """Attempts oldest first (the newest `limit` of them); an intent with no result is `incomplete`."""
        intents = select(events).where(events.c.phase == "intent")
        if model is not None:
            intents = intents.where(events.c.model == model)
        if limit:  # the newest N in SQL: the overview reads ten events, not the whole log
            intents = intents.order_by(events.c.id.desc()).limit(limit)
        with self._errors("read the audit log"), self.engine.connect() as conn:
            rows = sorted(conn.execute(intents).mappings().all(), key=lambda r: r["id"])
            ids = [r["attempt_id"] for r in rows]
            results: dict[str, Any] = {}
            for start in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[start : start + 500]
                found = conn.execute(
                    select(events).where(events.c.phase == "result", events.c.attempt_id.in_(chunk))
                ).mappings()
                results.update({r["attempt_id"]: r for r in found})
        return [_attempt(r, results.get(r["attempt_id"])) for r in rows]

    def verify(self, anchor: str | None = None) -> Verification:
        """Walk the hash chain, look for doubled rows and for the triggers (now, and missing at an
        earlier open), leaving out what an admin acknowledged. Reads only; 2.5–3.5 s per 100,000
        rows here (docs/benchmarks.md), so the pages cache it."""
        start = time.perf_counter()
        with self._errors("verify the audit log"), self.engine.connect() as conn:
            found = self._verify(conn, anchor)
        return replace(found, seconds=time.perf_counter() - start)

    def _verify(self, conn: Connection, anchor: str | None) -> Verification:
        acks = acknowledgements(conn)
        accepted = {a.row: a.fingerprint for a in acks if a.row is not None and a.fingerprint}
        walked = walk(conn, events, anchor, accepted)
        doubled = [] if has_attempt_phase_index(conn) else duplicates(conn)
        seen_doubled = {d for a in acks for d in a.duplicates}
        by_row = {a.row: a for a in acks if a.row is not None}
        return Verification(
            rows=walked.rows,
            chained=walked.chained,
            unchained=walked.unchained,
            chained_since=walked.chained_since,
            head_hash=walked.head,
            broken=walked.broken,
            duplicates=[d for d in doubled if d not in seen_doubled],
            triggers_missing=missing_triggers(conn),
            trigger_notices=trigger_notices(conn),
            anchor=anchor,
            anchor_found=walked.anchor_found,
            acknowledged=[
                f"{b.describe()}; acknowledged by {by_row[b.id].actor} at "
                f"{by_row[b.id].at:%Y-%m-%d %H:%M} UTC: {by_row[b.id].reason}"
                for b in walked.acknowledged
            ]
            + [f"{d}; acknowledged" for d in doubled if d in seen_doubled],
        )

    def acknowledge(self, actor: str, reason: str) -> Verification:
        """Record that `actor` looked into what `verify` reports now: its first break (pinned, so
        any further change of that row shows again), the doubled rows and the trigger notices so
        far. Returns the verification that follows; call again for a next break."""
        with self._errors("write the audit log"), self.engine.begin() as conn:
            lock_for_append(conn)  # nothing appends while the break is pinned
            found = self._verify(conn, None)
            if found.intact and not found.trigger_notices:
                raise BadInput("nothing to acknowledge: the audit log verifies and no warning is pending")
            broken = found.broken
            acknowledge_in(
                conn,
                actor,
                redact(reason),
                row=broken.id if broken else None,
                fingerprint=broken.fingerprint if broken else None,
                duplicates=found.duplicates,
            )
        return self.verify()


def _attempt(intent: Any, result: Any | None) -> Attempt:
    return Attempt(
        attempt_id=intent["attempt_id"],
        at=_as_utc(intent["at"]),
        actor=intent["actor"],
        role=intent["role"],
        model=intent["model"],
        action=intent["action"],
        target=intent["target"],
        from_version=intent["from_version"],
        to_version=intent["to_version"],
        reason=redact(intent["reason"]),  # rows written before masking existed are masked on read
        outcome=result["outcome"] if result else "incomplete",
        error=redact(result["error"]) if result and result["error"] else None,
        forced=bool(intent["forced"]),
        finished_at=_as_utc(result["at"]) if result else None,
        checks=json.loads(intent["checks"] or "[]"),
    )


def _append(conn: Connection, values: dict[str, Any]) -> None:
    """Insert a row linked to the chain's head; call it under `lock_for_append`, taken first in the
    transaction, so no other writer links to the same head (the chain would fork)."""
    values["prev_hash"] = head(conn, events)
    values["row_hash"] = row_hash(values["prev_hash"], values)
    conn.execute(events.insert().values(**values))


def _connect_args(url: str, timeout_s: float) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"timeout": timeout_s}
    if url.startswith("postgresql") and "connect_timeout" not in url:
        return {"connect_timeout": max(1, round(timeout_s))}
    return {}


def _hint(reason: str) -> str:
    if "locked" in reason or "lock timeout" in reason:
        return "; another process holds a lock on the audit log: try again when it lets go"
    if "readonly" in reason or "read-only" in reason:
        return "; the audit log is read-only here, so no action can be recorded or applied"
    return ""


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _sqlite_pragmas(timeout_s: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        """WAL lets readers (the dashboard) and a writer (an action) work at once."""
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        # Switching a new file to WAL takes an exclusive lock and does not wait on busy_timeout: when
        # replicas open a new log at once, all but one get "database is locked" at once. Retry it.
        for attempt in Retrying(
            retry=retry_if_exception(_locked),
            stop=stop_after_delay(timeout_s),
            wait=wait_random(0.01, 0.1),
            reraise=True,
        ):
            with attempt:
                cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return on_connect


def _pg_session(timeout_s: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        """A write waits at most timeout_s for a lock; set outside a transaction so it sticks."""
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = {int(timeout_s * 1000)}")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return on_connect
