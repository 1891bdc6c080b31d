"""The audit database's tables, its append-only triggers, and bringing an existing database up to date.

Set-up runs when a log is opened and finds something missing: the tables, the triggers, the chain's
columns or the UNIQUE(attempt_id, phase) index. Triggers found missing on a table that already
existed mean someone dropped them (this code never does): the fact is kept in
`registry_audit_notices` before they are recreated, so `verify` and the pages can say so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

log = logging.getLogger("registry.audit")
metadata = MetaData()
ATTEMPT_PHASE_INDEX = "uq_registry_audit_attempt_phase"
events = Table(
    "registry_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("attempt_id", String(36), nullable=False, index=True),
    Column("phase", String(8), nullable=False),  # intent | result
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("model", String(500), nullable=False, index=True),
    Column("action", String(20), nullable=False),
    Column("target", String(20), nullable=False),
    Column("from_version", String(20)),
    Column("to_version", String(20)),
    Column("reason", Text, nullable=False, default=""),
    Column("checks", Text, nullable=False, default="[]"),
    Column("forced", Boolean, nullable=False, default=False),
    Column("outcome", String(20), nullable=False),  # pending | done | refused | conflict | failed
    Column("error", Text),
    Column("seq", Integer),
    Column("prev_hash", String(64)),  # the hash chain (registry/audit/chain.py); NULL before it existed
    Column("row_hash", String(64)),
    UniqueConstraint("model", "seq", name="uq_registry_audit_model_seq"),
    # An index rather than a constraint: an existing table gets it by CREATE UNIQUE INDEX (SQLite
    # cannot add a constraint to a table), so new and upgraded databases hold the same thing.
    Index(ATTEMPT_PHASE_INDEX, "attempt_id", "phase", unique=True),
)
notices = Table(  # facts about the log itself, found when it was opened
    "registry_audit_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
policy_seen = Table(  # each model's policy tags when the service first met it (audit/policy_watch.py)
    "registry_policy_seen",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(500), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("tags", Text, nullable=False, default="{}"),
)
TRIGGERS_MISSING = "triggers_missing"
ACKNOWLEDGED = "acknowledged"
APPEND_ONLY = (events.name, notices.name, policy_seen.name)
_PG_SETUP_LOCK = 0x72656769  # the advisory lock key that serializes the set-up across replicas ("regi")


def trigger_names(dialect: str, table: str) -> tuple[str, ...]:
    if dialect == "sqlite":
        return (f"{table}_no_update", f"{table}_no_delete")
    if dialect == "postgresql":
        return (f"{table}_no_change", f"{table}_no_truncate")
    return ()


def _sqlite_triggers(table: str) -> list[str]:
    update, delete = trigger_names("sqlite", table)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for name, verb in ((update, "UPDATE"), (delete, "DELETE"))
    ]


# PostgreSQL: an integrity error like SQLite's ABORT (not a generic P0001 that reads as "unreachable");
# TRUNCATE skips row triggers, so it gets a statement trigger of its own. Triggers are created only
# when missing: replacing them on every open would lock the table against every replica's writes.
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION registry_audit_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation'; "
    "END; $$ LANGUAGE plpgsql"
)


def _pg_triggers(table: str) -> list[str]:
    row, truncate = trigger_names("postgresql", table)

    def absent(name: str) -> str:
        found = f"SELECT 1 FROM pg_trigger WHERE tgname = '{name}' AND tgrelid = '{table}'::regclass"
        return f"IF NOT EXISTS ({found})"

    return [
        "DO $$ BEGIN "
        f"{absent(row)} THEN CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION registry_audit_append_only(); END IF; "
        f"{absent(truncate)} THEN CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_append_only(); END IF; "
        "END $$"
    ]


def missing_triggers(conn: Connection, table: str = events.name) -> list[str]:
    """The append-only triggers of `table` that are not there now."""
    expected = trigger_names(conn.dialect.name, table)
    if not expected:
        return []
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:table)"
    present = set(conn.execute(text(query), {"table": table}).scalars())
    return [name for name in expected if name not in present]


def has_attempt_phase_index(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        return bool(conn.execute(text(f"SELECT to_regclass('{ATTEMPT_PHASE_INDEX}') IS NOT NULL")).scalar())
    return any(ix["name"] == ATTEMPT_PHASE_INDEX for ix in inspect(conn).get_indexes(events.name))


def is_set_up(conn: Connection) -> bool:
    """Tables, triggers and the attempt/phase index present (the index is made after the chain's
    columns, so it marks an up-to-date table). One query: opening a set-up log writes nothing."""
    dialect = conn.dialect.name
    triggers = ", ".join(f"'{name}'" for table in APPEND_ONLY for name in trigger_names(dialect, table))
    if dialect == "sqlite":
        expected = len(APPEND_ONLY) * 3 + 1  # tables, two triggers each, the index
        query = f"SELECT count(*) FROM sqlite_master WHERE name IN ({triggers}, '{ATTEMPT_PHASE_INDEX}', "
        query += ", ".join(f"'{table}'" for table in APPEND_ONLY) + ")"
    elif dialect == "postgresql":  # triggers on the tables imply the tables
        expected = len(APPEND_ONLY) * 2 + 1
        tables = ", ".join(f"to_regclass('{table}')" for table in APPEND_ONLY)
        query = (
            f"SELECT count(*) + (to_regclass('{ATTEMPT_PHASE_INDEX}') IS NOT NULL)::int FROM pg_trigger "
            f"WHERE tgrelid IN ({tables}) "
            f"AND tgname IN ({triggers})"
        )
    else:
        return all(inspect(conn).has_table(t) for t in APPEND_ONLY)
    return bool(conn.execute(text(query)).scalar() == expected)


def set_up(conn: Connection) -> None:
    """Create or bring up to date, under a lock: replicas opening a new log at once race on CREATE
    TABLE (and CREATE FUNCTION); the first takes the lock, the others find everything made."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SETUP_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    existed = inspect(conn).has_table(events.name)
    # Only the row trigger counts on PostgreSQL: logs made before the TRUNCATE trigger never had it.
    dropped = [t for t in missing_triggers(conn) if not t.endswith("_no_truncate")] if existed else []
    metadata.create_all(conn)
    if existed:
        _add_chain_columns(conn)
        _add_attempt_phase_index(conn)
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for statement in _sqlite_triggers(table):
                conn.execute(text(statement))
    elif conn.dialect.name == "postgresql":
        conn.execute(text(_PG_FUNCTION))
        for table in APPEND_ONLY:
            for statement in _pg_triggers(table):
                conn.execute(text(statement))
    if dropped:
        log.warning("the audit log's append-only triggers were missing (%s): recreated", ", ".join(dropped))
        conn.execute(
            notices.insert().values(at=datetime.now(UTC), kind=TRIGGERS_MISSING, detail=", ".join(dropped))
        )


def _add_chain_columns(conn: Connection) -> None:
    present = {c["name"] for c in inspect(conn).get_columns(events.name)}
    for name in ("prev_hash", "row_hash"):
        if name not in present:
            conn.execute(text(f"ALTER TABLE {events.name} ADD COLUMN {name} VARCHAR(64)"))


def _add_attempt_phase_index(conn: Connection) -> None:
    """Added to a table made before it; a table already holding a doubled row keeps working without
    it (the doubles are what `verify` reports) and the next open tries again."""
    try:
        with conn.begin_nested():
            conn.execute(
                text(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {ATTEMPT_PHASE_INDEX} "
                    f"ON {events.name} (attempt_id, phase)"
                )
            )
    except IntegrityError:
        log.warning("the audit log holds an attempt with two intent or result rows: see `audit verify`")


def duplicates(conn: Connection, limit: int = 5) -> list[str]:
    """A few attempts with more than one row of a phase, as "<attempt_id> (2 result rows)"."""
    c = events.c
    n = func.count().label("n")
    query = (
        select(c.attempt_id, c.phase, n)
        .group_by(c.attempt_id, c.phase)
        .having(func.count() > 1)
        .order_by(c.attempt_id)
        .limit(limit)
    )
    return [f"{row.attempt_id} ({row.n} {row.phase} rows)" for row in conn.execute(query)]


def trigger_notices(conn: Connection) -> list[datetime]:
    """When the triggers were found missing at an open since the last acknowledgement, oldest first."""
    since = conn.execute(select(func.max(notices.c.id)).where(notices.c.kind == ACKNOWLEDGED)).scalar()
    query = select(notices.c.at).where(notices.c.kind == TRIGGERS_MISSING, notices.c.id > (since or 0))
    found = conn.execute(query.order_by(notices.c.id)).scalars()
    return [t if t.tzinfo else t.replace(tzinfo=UTC) for t in found]


@dataclass(frozen=True)
class Acknowledgement:
    """An admin saying "we looked into it": the break it covers (pinned by its fingerprint, so a
    further change of that row shows again) and the trigger notices before it."""

    at: datetime
    actor: str
    reason: str
    row: int | None
    fingerprint: str | None
    duplicates: tuple[str, ...] = ()


def acknowledgements(conn: Connection) -> list[Acknowledgement]:
    rows = conn.execute(
        select(notices.c.at, notices.c.detail).where(notices.c.kind == ACKNOWLEDGED).order_by(notices.c.id)
    ).all()
    found = []
    for at, detail in rows:
        said = json.loads(detail)
        when = at if at.tzinfo else at.replace(tzinfo=UTC)
        pinned = said["row"], said["fingerprint"], tuple(said.get("duplicates", ()))
        found.append(Acknowledgement(when, said["actor"], said["reason"], *pinned))
    return found


def acknowledge(
    conn: Connection,
    actor: str,
    reason: str,
    *,
    row: int | None,
    fingerprint: str | None,
    duplicates: list[str],
) -> None:
    said = {"actor": actor, "reason": reason, "row": row, "fingerprint": fingerprint}
    detail = json.dumps({**said, "duplicates": duplicates})
    conn.execute(notices.insert().values(at=datetime.now(UTC), kind=ACKNOWLEDGED, detail=detail))
