"""A hash chain over the audit rows, so a rewritten, deleted or inserted row shows.

The triggers refuse UPDATE and DELETE, but whoever can drop them can rewrite history, and the next
start recreates them as if nothing happened. So each row also carries `prev_hash`, the hash of the
row before it, and `row_hash`, SHA-256 over `prev_hash` and the row's own content. Rewriting a row
breaks its own hash; deleting one breaks the next row's link; inserting one breaks either.

One chain over the whole table (ordered by id), not one per model: deleting a model's whole
history, or the newest row of each model, still breaks a link, and the order of events across
models is sealed too. The price is that every insert is serialised on one lock; audit writes are
a few per human action, and SQLite serialises its writers anyway.

What a chain cannot do: someone with write access can recompute every hash after a rewrite. The
head hash that `verify` prints is the anchor for that: kept elsewhere (a ticket, a CI log), it is
passed back as `anchor`, and a chain that no longer holds a row with that hash was rewritten.

Rows written before the chain existed have no hashes. The first chained row links to a hash rolled
over all of them, so they are sealed from that moment on, and `verify` reports them as unchained
(before the first chained row's time), not as broken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.engine import Connection

GENESIS = "0" * 64
# Every column but the hashes and the id (assigned by the database on insert, after the hash is made;
# the order of rows is sealed by the links instead).
HASHED = (
    "attempt_id", "phase", "at", "actor", "role", "model", "action", "target", "from_version",
    "to_version", "reason", "checks", "forced", "outcome", "error", "seq",
)  # fmt: skip
_PG_CHAIN_LOCK = 0x72656763  # advisory lock key serialising appends across replicas ("regc")
_BATCH = 10_000


def canonical_time(value: datetime) -> str:
    """A time as every backend reads it back: UTC, microseconds (SQLite keeps no zone)."""
    utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds")


_AT, _FORCED, _SEQ = HASHED.index("at"), HASHED.index("forced"), HASHED.index("seq")
_TEXT = [i for i in range(len(HASHED)) if i not in (_AT, _FORCED, _SEQ)]
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def row_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """SHA-256 over the previous row's hash and this row's content."""
    return values_hash(prev_hash, [row.get(name) for name in HASHED])


def values_hash(prev_hash: str, values: Sequence[Any]) -> str:
    """The same over the HASHED values in order, as the database gives them back: a JSON list with
    the time canonical and text columns as text (SQLite stores a number given for text as text).
    Positional, not a mapping: `verify` calls this once per row of the whole log."""
    content = list(values)
    content[_AT] = canonical_time(content[_AT])
    content[_FORCED] = bool(content[_FORCED])
    seq = content[_SEQ]
    content[_SEQ] = None if seq is None else int(seq)
    for i in _TEXT:
        value = content[i]
        if value is not None and type(value) is not str:
            content[i] = str(value)
    return hashlib.sha256(f"{prev_hash}\n{_encode(content)}".encode()).hexdigest()


def lock_for_append(conn: Connection) -> None:
    """Take the lock that makes "read the head, insert after it" atomic across threads and processes.

    SQLite: BEGIN IMMEDIATE takes the database's write lock at once (waiting up to busy_timeout), so
    no other writer can insert between our read of the head and our insert. PostgreSQL: a
    transaction-scoped advisory lock (bounded by lock_timeout), released at commit, after which the
    next holder's statement sees our row.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})


def head(conn: Connection, table: Table) -> str:
    """The hash the next row links to: the newest row's; when that row has none (the log predates the
    chain, or a row came in without one), the newest chained row's rolled over every row after it
    (all rows, the first time). Call under `lock_for_append`."""
    c = table.c
    newest = conn.execute(select(c.row_hash).order_by(c.id.desc()).limit(1)).first()
    if newest is None:
        return GENESIS
    if newest.row_hash is not None:  # the usual case: one indexed read
        return str(newest.row_hash)
    last = conn.execute(
        select(c.id, c.row_hash).where(c.row_hash.is_not(None)).order_by(c.id.desc()).limit(1)
    ).first()
    current = last.row_hash if last else GENESIS
    rest = select(*[c[name] for name in HASHED]).order_by(c.id)
    if last is not None:
        rest = rest.where(c.id > last.id)
    for values in conn.execute(rest):
        current = values_hash(current, values)
    return str(current)


@dataclass(frozen=True)
class Break:
    """The first row where the chain does not hold, and what is wrong there."""

    id: int
    model: str
    at: datetime
    problem: str
    fingerprint: str = ""  # the row and its links as found: an acknowledgement covers exactly this

    def describe(self) -> str:
        return f"row {self.id} (model {self.model}, at {canonical_time(self.at)[:19]} UTC): {self.problem}"


@dataclass(frozen=True)
class Verification:
    """What `verify` found. `intact` is False for a broken chain or a doubled result; missing
    triggers are warnings (the chain still vouches for the rows)."""

    rows: int
    chained: int
    unchained: int
    chained_since: datetime | None
    head_hash: str
    broken: Break | None
    duplicates: list[str] = field(default_factory=list)
    triggers_missing: list[str] = field(default_factory=list)
    trigger_notices: list[datetime] = field(default_factory=list)
    seconds: float = 0.0
    anchor: str | None = None  # a head kept from an earlier verify, looked for in the chain
    anchor_found: bool = True
    acknowledged: list[str] = field(default_factory=list)  # breaks an admin looked into, and why

    @property
    def intact(self) -> bool:
        return self.broken is None and not self.duplicates and self.anchor_found

    @property
    def problems(self) -> list[str]:
        """Sentences for a failed check, most important first."""
        found = []
        if self.broken:
            found.append(f"the audit log's hash chain is broken at {self.broken.describe()}")
        if self.duplicates:
            found.append(
                "attempts with more than one intent or result row (their outcome may have been changed): "
                + ", ".join(self.duplicates)
            )
        if not self.anchor_found and self.broken is None:
            found.append(
                f"the head kept earlier ({self.anchor}) is not in the chain: rows up to it were rewritten "
                "and their hashes recomputed, or removed"
            )
        return found

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.triggers_missing:
            found.append(
                "the append-only triggers are missing now (" + ", ".join(self.triggers_missing) + "): "
                "rows can be rewritten until the next start recreates them"
            )
        if self.trigger_notices:
            times = ", ".join(f"{canonical_time(t)[:19]} UTC" for t in self.trigger_notices[-3:])
            found.append(
                f"the append-only triggers were missing when the log was opened at {times} (recreated "
                "then): someone with database access dropped them"
            )
        return found

    def summary(self) -> str:
        """One line for an intact log: how much was checked and from when the chain vouches."""
        parts = [f"{self.rows} row(s) checked in {self.seconds:.2f} s", f"{self.chained} chained"]
        if self.chained_since:
            parts[-1] += f" since {canonical_time(self.chained_since)[:19]} UTC"
        if self.unchained:
            before = f" (before {canonical_time(self.chained_since)[:19]} UTC)" if self.chained_since else ""
            parts.append(f"{self.unchained} unchained{before}")
        if self.acknowledged:
            parts.append(f"{len(self.acknowledged)} acknowledged break(s)")
        anchored = "; the kept head is in the chain" if self.anchor and self.anchor_found else ""
        return ", ".join(parts) + anchored + f"; head {self.head_hash}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "rows": self.rows,
            "chained": self.chained,
            "unchained": self.unchained,
            "chained_since": self.chained_since.isoformat() if self.chained_since else None,
            "head_hash": self.head_hash,
            "anchor": self.anchor,
            "anchor_found": self.anchor_found if self.anchor else None,
            "broken": None
            if self.broken is None
            else {
                "id": self.broken.id,
                "model": self.broken.model,
                "at": self.broken.at.isoformat(),
                "problem": self.broken.problem,
            },
            "duplicates": self.duplicates,
            "acknowledged": self.acknowledged,
            "problems": self.problems,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Walk:
    rows: int
    chained: int
    unchained: int
    chained_since: datetime | None
    head: str
    broken: Break | None
    anchor_found: bool
    acknowledged: list[Break]


def walk(
    conn: Connection, table: Table, anchor: str | None = None, accepted: Mapping[int, str] | None = None
) -> Walk:
    """Recompute the chain oldest first, in batches by id (a steady memory footprint on a big log),
    up to the first break; with `anchor` (a full hash or a prefix), also whether a row has it.

    `accepted` maps row ids to the fingerprints of breaks an admin acknowledged: such a break is
    noted and the walk goes on from that row's own hash, so a later change still shows."""
    c = table.c
    columns = [c.id, c.model, c.prev_hash, c.row_hash, *[c[name] for name in HASHED]]
    current, started, broken, anchor_found = GENESIS, None, None, anchor is None
    acknowledged: list[Break] = []
    rows = chained = unchained = 0
    last_id = -1
    while broken is None:
        query = select(*columns).where(c.id > last_id).order_by(c.id).limit(_BATCH)
        batch = conn.execute(query).all()
        if not batch:
            break
        for row in batch:
            rows += 1
            last_id, model, prev, own = row[0], row[1], row[2], row[3]
            values = row[4:]
            if own is None and started is None:
                unchained += 1  # written before the chain existed: rolled in, sealed by the first link
                current = values_hash(current, values)
                continue
            problem = _problem(prev, own, values, current, started is not None)
            if problem:
                at = values[_AT]
                found = Break(
                    last_id, model, at if at.tzinfo else at.replace(tzinfo=UTC), problem,
                    _fingerprint(prev, own, values, current),
                )  # fmt: skip
                if (accepted or {}).get(last_id) != found.fingerprint:
                    broken = found
                    break
                acknowledged.append(found)
                own = own or values_hash(current, values)
            started = started or values[_AT]
            chained += 1
            current = own
            anchor_found = anchor_found or own.startswith(anchor or "")
    since = started.replace(tzinfo=UTC) if started and started.tzinfo is None else started
    return Walk(rows, chained, unchained, since, current, broken, anchor_found, acknowledged)


def _fingerprint(prev: str | None, own: str | None, values: Sequence[Any], current: str) -> str:
    return hashlib.sha256(f"{current}|{prev}|{own}|{values_hash(current, values)}".encode()).hexdigest()


def _problem(
    prev: str | None, own: str | None, values: Sequence[Any], current: str, started: bool
) -> str | None:
    """What is wrong with a row whose predecessor hashes to `current`, or None."""
    if own is None:
        return "a row without a hash after the chain began (inserted by hand, or by an old version)"
    if prev != current:
        if not started:
            return "rows written before the chain began were changed or deleted since"
        return (
            "its link does not match the row before it: a row before it was deleted or changed, "
            "or this row was inserted"
        )
    if values_hash(current, values) != own:
        return "its content does not match its hash: the row was rewritten"
    return None
