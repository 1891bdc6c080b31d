"""A plan and its result, as data: what an action would change, every check, and the snapshot it read.

The planner (registry.lifecycle.planning) makes these without writing anything; `apply_plan`
(registry.lifecycle.actions) compares a plan's snapshot against a fresh one before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from registry.domain.actors import Actor
from registry.domain.checks import Check
from registry.domain.policy import Mode

Action = Literal["promote", "archive", "rollback"]
Target = str  # a slot the model manages (production, staging, champion, ...), or "archived"
ACTIONS: tuple[Action, ...] = ("promote", "archive", "rollback")


@dataclass(frozen=True)
class Snapshot:
    """The part of the model's state a plan depends on; apply refuses if it changed."""

    production: str | None
    staging: str | None
    version_stage: str | None
    version_aliases: tuple[str, ...]
    version_archived: bool | None
    slots: tuple[tuple[str, str | None], ...] = ()  # every managed slot and its holder

    def holders(self) -> dict[str, str | None]:
        """Every managed slot's holder (a snapshot from before slots were listed: the default pair)."""
        return dict(self.slots) if self.slots else {"production": self.production, "staging": self.staging}

    @property
    def primary_slot(self) -> str:
        """The slot the candidate is compared against (as registry.domain.policy says)."""
        held = self.holders()
        return "production" if "production" in held else next(iter(held), "production")


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    candidate: float | None
    current: float | None

    @property
    def delta(self) -> float | None:
        if self.candidate is None or self.current is None:
            return None
        return self.candidate - self.current


@dataclass(frozen=True)
class Plan:
    """What an action would do, and whether it may."""

    model: str
    action: Action
    target: Target
    version: str | None
    from_version: str | None
    mode: Mode
    changes: tuple[str, ...]
    checks: tuple[Check, ...]
    comparison: tuple[MetricComparison, ...]
    snapshot: Snapshot
    audit_seq: int
    actor: Actor
    drift: tuple[str, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and not c.overridable]

    @property
    def overridable_failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and c.overridable]

    @property
    def allowed(self) -> bool:
        """True when apply would go ahead without force."""
        return not self.blocking and not self.overridable_failures

    @property
    def needs_force(self) -> bool:
        return not self.blocking and bool(self.overridable_failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "action": self.action,
            "target": self.target,
            "version": self.version,
            "from_version": self.from_version,
            "mode": self.mode,
            "changes": list(self.changes),
            "checks": [c.as_dict() for c in self.checks],
            "comparison": [
                {"metric": m.metric, "candidate": m.candidate, "current": m.current, "delta": m.delta}
                for m in self.comparison
            ],
            "allowed": self.allowed,
            "needs_force": self.needs_force,
            "actor": {"name": self.actor.name, "role": self.actor.role},
            "drift": list(self.drift),
        }


@dataclass(frozen=True)
class ActionResult:
    attempt_id: str
    plan: Plan
    outcome: str
    message: str
    record_pending: bool = False  # applied, but the audit log would not take the result row yet
    request_id: str | None = None  # outcome `requested`: the approval request that now holds the plan

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "outcome": self.outcome,
            "message": self.message,
            "record_pending": self.record_pending,
            "request_id": self.request_id,
            "plan": self.plan.as_dict(),
        }
