"""Approval requests as rows in the audit database: one row per event, never updated.

A request is its `requested` row (holding the plan as the requester saw it) plus what happened to
it since: approvals, and at most one closing row (applied, rejected, withdrawn, expired, failed).
`key` is unique per request, and is how the database itself enforces the two-person rule's edges:
an approval's key names its approver (nobody approves twice) and every closing row has the key
`closed` (a request is applied, or closed any other way, exactly once, whatever races).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = MetaData()
request_events = Table(
    "registry_request_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("key", String(240), nullable=False),  # requested | approved:<actor> | closed
    Column("phase", String(12), nullable=False),  # requested | approved | applied | rejected | ...
    Column("model", String(500), nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("body", Text, nullable=False, default="{}"),
    UniqueConstraint("request_id", "key", name="uq_registry_request_events_key"),
)
CLOSING = ("applied", "rejected", "withdrawn", "expired", "failed")


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RequestEvent:
    request_id: str
    phase: str
    actor: str
    at: datetime
    reason: str
    body: dict[str, Any] = field(default_factory=dict)


def ensure_table(engine: Engine) -> None:
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError, IntegrityError) as exc:  # another replica made it first
        if "exist" not in str(exc).lower() and "unique" not in str(exc).lower():
            raise


def add_event(
    engine: Engine,
    request_id: str,
    phase: str,
    model: str,
    actor: str,
    reason: str = "",
    body: dict[str, Any] | None = None,
) -> bool:
    """Append one event; False when its key is taken (an approver twice, a second close)."""
    keys = {"requested": "requested", "approved": f"approved:{actor}", "failed": "failed"}
    key = keys.get(phase, "closed")
    row = {
        "request_id": request_id,
        "key": key,
        "phase": phase,
        "model": model,
        "actor": actor,
        "at": datetime.now(UTC),
        "reason": reason,
        "body": json.dumps(body or {}, default=str),
    }
    try:
        with engine.begin() as conn:
            conn.execute(request_events.insert().values(**row))
    except IntegrityError:
        return False
    return True


def events(engine: Engine, model: str | None = None, request_id: str | None = None) -> list[RequestEvent]:
    """Events oldest first, of one model, one request, or all."""
    query = select(request_events).order_by(request_events.c.id)
    if model is not None:
        query = query.where(request_events.c.model == model)
    if request_id is not None:
        query = query.where(request_events.c.request_id == request_id)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    except (OperationalError, ProgrammingError):  # no table yet: no request was ever made
        return []
    return [
        RequestEvent(
            r["request_id"], r["phase"], r["actor"], _as_utc(r["at"]), r["reason"], json.loads(r["body"])
        )
        for r in rows
    ]
