"""A plan as a lead reads it before confirming: a title, every check, the candidate against production.

Pure functions over `registry.lifecycle.actions.Plan`, shared by the dialog on the Models page and by
any other front that wants the same tables.
"""

from __future__ import annotations

import pandas as pd

from registry.lifecycle.actions import Plan


def plan_title(plan: Plan) -> str:
    """'Promote v3 to production', 'Archive v2', 'Roll back production to v1'."""
    version = f"v{plan.version}" if plan.version else "an earlier version"
    if plan.action == "archive":
        return f"Archive {version}"
    if plan.action == "rollback":
        return f"Roll back {plan.target} to {version}"
    return f"Promote {version} to {plan.target}"


def checks_frame(plan: Plan) -> pd.DataFrame:
    """Every check, failures first so they are seen; `forceable` marks the metric gate."""
    rows = [
        {
            "result": "pass" if c.passed else "FAIL",
            "check": c.name,
            "detail": c.detail,
            "forceable": c.overridable,
        }
        for c in plan.checks
    ]
    frame = pd.DataFrame(rows, columns=["result", "check", "detail", "forceable"])
    return frame.sort_values("result", key=lambda s: s != "FAIL", kind="stable").reset_index(drop=True)


def comparison_frame(plan: Plan) -> pd.DataFrame:
    """Candidate against the primary slot's holder (production), metric by metric, with the difference."""
    slot = plan.snapshot.primary_slot
    holder = plan.snapshot.holders().get(slot)
    current = f"{slot} (v{holder})" if holder else f"{slot} (none)"
    rows = [
        {"metric": m.metric, "candidate": m.candidate, current: m.current, "delta": m.delta}
        for m in plan.comparison
    ]
    return pd.DataFrame(rows, columns=["metric", "candidate", current, "delta"])


def blocking_reason(plan: Plan) -> str:
    """Why Confirm is disabled: the checks no one can override."""
    return "; ".join(f"{c.name}: {c.detail}" for c in plan.blocking)
