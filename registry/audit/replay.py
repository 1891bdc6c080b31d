"""What the audit history says about a model: the replayed state, the rollback chain, and drift.

Following GTO, the audit log is the history and MLflow's aliases or stages are the current state.
Replaying the completed attempts gives who should hold production and staging; when MLflow says
otherwise, someone changed the model outside the dashboard and we say so instead of staying silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from registry.audit.log import Attempt
from registry.domain.labels import version_label as _v
from registry.domain.model_state import Holders


@dataclass(frozen=True)
class Replay:
    """State rebuilt from completed attempts: holders, and the stack of production holders."""

    production: str | None = None
    staging: str | None = None
    production_stack: tuple[str, ...] = field(default_factory=tuple)
    audited: bool = False  # whether any completed attempt exists for the model


def replay(attempts: Iterable[Attempt]) -> Replay:
    """Fold completed attempts, oldest first, into the state they produced.

    The production stack is how rollback walks back: a promotion pushes, a rollback pops back to its
    target, an archive removes the version (an archived version is never an automatic target).
    """
    production: str | None = None
    staging: str | None = None
    stack: list[str] = []
    audited = False
    for a in attempts:
        if a.outcome != "done" or not a.to_version or a.action not in ("promote", "archive", "rollback"):
            continue  # registrations and other audited events do not move holders
        audited = True
        v = a.to_version
        if a.action == "promote" and a.target == "staging":
            staging = v
            continue
        if a.action == "archive":
            production = None if production == v else production
            staging = None if staging == v else staging
            stack = [s for s in stack if s != v]
            continue
        if a.action == "rollback" and v in stack:
            while stack and stack[-1] != v:
                stack.pop()
        elif not stack or stack[-1] != v:
            stack.append(v)
        production = v
        staging = None if staging == v else staging
    return Replay(production, staging, tuple(stack), audited)


def rollback_target(state: Replay, current_production: str | None) -> str | None:
    """The version that held production before the current holder, per the audit history."""
    for version in reversed(state.production_stack):
        if version != current_production:
            return version
    return None


def drift(state: Replay, holders: Holders) -> list[str]:
    """Differences between the audited state and MLflow's: changes made outside the dashboard."""
    found = []
    for role, audited, actual in (
        ("production", state.production, holders.production),
        ("staging", state.staging, holders.staging),
    ):
        if audited != actual and (state.audited or actual is not None):
            found.append(
                f"{role}: MLflow says {_v(actual)}, the audit log says {_v(audited)}"
                " (changed outside the dashboard)"
            )
    if holders.extra_production:
        found.append(
            f"production: more than one version in stage Production ({', '.join(holders.extra_production)})"
        )
    return found
