"""Whether the audit log is as it was written, said at the top of the pages that show it.

The verification walks the whole hash chain (2.5–3.5 s per 100,000 rows on our 2-core machine,
docs/benchmarks.md), so it is cached for a few minutes across sessions (a rewrite shows within that
time) and the pages run it last, filling a container at their top, so nothing waits for it.
"""

from __future__ import annotations

from typing import Any

from pages.views.shared import cached_read, plain
from registry.errors import Unreachable
from registry.service import Registry

VERIFY_TTL_S = 300
HOW_TO_CHECK = "Run `python -m registry audit verify` for the full report."


def audit_integrity(into: Any) -> None:
    """An error when the log was altered, a warning when its triggers are or were missing; nothing
    when all is well. `into` is the container (or `st`) the messages go to."""
    try:
        found = cached_read(Registry.verify_audit, ttl=VERIFY_TTL_S)
    except Unreachable:
        return  # the log not answering is said where the page reads it (and on the Overview's stores)
    for problem in found.problems:
        into.error(f"Audit log altered: {plain(problem)}. {plain(HOW_TO_CHECK)}", icon=":material/gpp_bad:")
    for warning in found.warnings:
        into.warning(f"Audit log: {plain(warning)}.", icon=":material/gpp_maybe:")
