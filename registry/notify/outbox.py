"""The outbox: one row per (audited event, webhook), in the audit database, until it is delivered.

Rows are written in the same transaction as the audit row they announce (AuditLog calls `enqueue`
with its connection), so an event is never announced without being recorded nor recorded without
being queued; sending happens later, outside the action, so a dead receiver never blocks or undoes
it. Unlike the audit table, outbox rows are updated: attempts, the next try, delivered or failed.
A row names its webhook by a hash (message.target_id); the URL itself stays in the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from registry.audit.log import Attempt
from registry.notify.message import encode, payload, target_id

metadata = MetaData()
outbox = Table(
    "registry_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(80), nullable=False),
    Column("target", String(16), nullable=False),  # message.target_id(url)
    Column("model", String(500), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(12), nullable=False, index=True),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text),
    UniqueConstraint("event_id", "target", name="uq_registry_outbox_event_target"),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Delivery:
    """One queued delivery, claimed by a worker."""

    id: int
    event_id: str
    target: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class OutboxStatus:
    """What the Overview shows: counts by state and the latest error (already masked)."""

    pending: int = 0
    retrying: int = 0  # pending rows that failed at least once
    delivered: int = 0
    failed: int = 0  # given up after the last try
    oldest_pending: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_delivered_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "retrying": self.retrying,
            "delivered": self.delivered,
            "failed": self.failed,
            "oldest_pending": self.oldest_pending.isoformat() if self.oldest_pending else None,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "last_delivered_at": self.last_delivered_at.isoformat() if self.last_delivered_at else None,
        }


def ensure_table(engine: Engine) -> None:
    """Create the outbox beside an existing audit table; replicas racing on it find it made."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError, IntegrityError) as exc:  # another replica made it first
        if "exist" not in str(exc).lower() and "unique" not in str(exc).lower():
            raise


def enqueue(conn: Connection, attempt: Attempt, urls: tuple[str, ...], event_id: str | None = None) -> int:
    """Queue `attempt` for every webhook, inside the caller's transaction; the number of rows."""
    if not urls:
        return 0
    event_id = event_id or attempt.attempt_id
    body = encode(payload(attempt, event_id)).decode()
    now = _utcnow()
    rows = [
        {
            "event_id": event_id,
            "target": target_id(url),
            "model": attempt.model,
            "body": body,
            "created_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for url in urls
    ]
    conn.execute(outbox.insert(), rows)
    return len(rows)


def claim_due(engine: Engine, lease_s: float, limit: int = 50, now: datetime | None = None) -> list[Delivery]:
    """Due pending rows this worker now owns for `lease_s`: a conditional UPDATE per row, so two
    workers (a replica's background pass and `notify run`) never send the same row at once."""
    now = now or _utcnow()
    free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
    due = and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, free)
    with engine.begin() as conn:
        candidates = conn.execute(
            select(outbox).where(due).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
        ).mappings()
        rows = list(candidates)
    claimed: list[Delivery] = []
    for row in rows:
        with engine.begin() as conn:
            won = conn.execute(
                update(outbox)
                .where(outbox.c.id == row["id"], due)
                .values(claimed_until=now + timedelta(seconds=lease_s))
            ).rowcount
        if won == 1:
            claimed.append(
                Delivery(row["id"], row["event_id"], row["target"], row["body"].encode(), row["attempts"])
            )
    return claimed


def mark_delivered(engine: Engine, delivery: Delivery, now: datetime | None = None) -> None:
    now = now or _utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == delivery.id)
            .values(
                status="delivered",
                attempts=delivery.attempts + 1,
                delivered_at=now,
                last_attempt_at=now,
                claimed_until=None,
            )
        )


def mark_failed(
    engine: Engine, delivery: Delivery, error: str, retry_at: datetime | None, now: datetime | None = None
) -> None:
    """A failed try: pending again from `retry_at`, or given up (`failed`) when it is None."""
    now = now or _utcnow()
    values: dict[str, Any] = {
        "attempts": delivery.attempts + 1,
        "last_error": error,
        "last_attempt_at": now,
        "claimed_until": None,
    }
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == delivery.id).values(**values))


def status(engine: Engine) -> OutboxStatus:
    with engine.connect() as conn:
        counts = dict(
            conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()  # type: ignore[arg-type]
        )
        retrying = conn.execute(
            select(func.count()).where(outbox.c.status == "pending", outbox.c.attempts > 0)
        ).scalar()
        oldest = conn.execute(
            select(func.min(outbox.c.created_at)).where(outbox.c.status == "pending")
        ).scalar()
        last_error = conn.execute(
            select(outbox.c.last_error, outbox.c.last_attempt_at)
            .where(outbox.c.last_error.is_not(None), outbox.c.status != "delivered")
            .order_by(outbox.c.last_attempt_at.desc())
            .limit(1)
        ).first()
        delivered_at = conn.execute(select(func.max(outbox.c.delivered_at))).scalar()
    return OutboxStatus(
        pending=int(counts.get("pending", 0)),
        retrying=int(retrying or 0),
        delivered=int(counts.get("delivered", 0)),
        failed=int(counts.get("failed", 0)),
        oldest_pending=_as_utc(oldest),
        last_error=last_error[0] if last_error else None,
        last_error_at=_as_utc(last_error[1]) if last_error else None,
        last_delivered_at=_as_utc(delivered_at),
    )
