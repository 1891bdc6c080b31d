"""How long `audit verify` takes on a big audit log, and what one append costs there.

`python -m bench.audit_verify [ROWS] [AUDIT_URL]`: fills a new audit log (a SQLite file in a temporary
folder unless a URL is given) with ROWS chained rows (default 100,000; intent and result pairs over 50
models, written in bulk with the chain's own hashing), then times `AuditLog.verify()` twice (cold
and warm page cache) and ten appends through `AuditLog.record` (each takes the lock and reads the
chain's head).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from registry.audit.chain import GENESIS, row_hash
from registry.audit.log import AuditLog, events


def fill(audit: AuditLog, rows: int) -> None:
    start, current, batch = datetime(2026, 1, 1, tzinfo=UTC), GENESIS, []
    with audit.engine.begin() as conn:
        for n in range(rows):
            attempt, phase = divmod(n, 2)
            row = {
                "attempt_id": f"bench-{attempt:08d}", "phase": "result" if phase else "intent",
                "at": start + timedelta(seconds=n), "actor": "ada@example.com", "role": "lead",
                "model": f"model-{attempt % 50}", "action": "promote", "target": "production",
                "from_version": str(attempt % 7), "to_version": str(attempt % 7 + 1),
                "reason": f"benchmark row {n}: a reason of ordinary length, as a lead would write it",
                "checks": '[{"name": "actor may change the registry", "passed": true}]', "forced": False,
                "outcome": "done" if phase else "pending", "error": None, "seq": None,
            }  # fmt: skip
            row["prev_hash"] = current
            row["row_hash"] = current = row_hash(current, row)
            batch.append(row)
            if len(batch) == 5000:
                conn.execute(events.insert(), batch)
                batch = []
        if batch:
            conn.execute(events.insert(), batch)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    folder = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{folder / 'audit.db'}"
    audit = AuditLog(url)
    began = time.perf_counter()
    fill(audit, rows)
    print(f"filled {rows} rows in {time.perf_counter() - began:.1f} s ({audit.engine.dialect.name})")
    for label in ("first", "second"):
        found = audit.verify()
        assert found.intact and found.rows == rows, found.as_dict()
        print(f"verify ({label}): {found.seconds:.2f} s, {found.rows / found.seconds:,.0f} rows/s")
    intent = dict(actor="ada", role="lead", model="m", action="promote", target="production",
                  from_version=None, to_version="1", reason="timed", checks=[])  # fmt: skip
    began = time.perf_counter()
    for _ in range(10):
        audit.record("done", **intent)
    each_ms = (time.perf_counter() - began) / 10 * 1000
    print(f"append (intent + result, each under the lock): {each_ms:.1f} ms")


if __name__ == "__main__":
    main()
