"""The registry service: one object that the pages, the CLI and the MCP server all talk to.

It owns the MLflow client and the audit log and exposes the lifecycle as plan/apply plus the one-call
shortcuts. Reads that need only the client live in their own modules (runs, metrics, artifacts,
models) and take `registry.client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from mlflow import MlflowClient

from registry.access.identity import Actor, actor_named, configured_actor
from registry.audit.log import Attempt, AuditLog
from registry.audit.observe import Adoption, reconcile, unavailable_versions
from registry.audit.replay import Replay, drift, replay, rollback_target
from registry.lifecycle.actions import ActionResult, Plan, apply_plan, plan_action
from registry.settings import Settings, load_settings
from registry.store.client import make_client
from registry.store.models import ModelState, all_model_names, model_state


@dataclass(frozen=True)
class ModelHistory:
    """A model's audit trail with what it implies: replayed state, rollback target, drift."""

    model: str
    attempts: list[Attempt]
    replayed: Replay
    rollback_to: str | None
    drift: list[str]


class Registry:
    """The guarded registry: settings, an MLflow client and the audit log, wired once."""

    def __init__(self, settings: Settings, client: MlflowClient | None = None, audit: AuditLog | None = None):
        self.settings = settings
        self.client = client or make_client(settings)
        self._audit = audit

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Registry:
        return cls(settings or load_settings())

    @cached_property
    def audit(self) -> AuditLog:
        """Opened on first use, so a read-only page works while the audit database is down."""
        return self._audit or AuditLog(self.settings.effective_audit_url, self.settings.audit_timeout_s)

    # identity ------------------------------------------------------------------------------------
    def actor(self, name: str | None = None) -> Actor:
        """The actor called `name` with the role the settings give it; default: the configured actor."""
        return actor_named(name, self.settings) if name else configured_actor(self.settings)

    # lifecycle -----------------------------------------------------------------------------------
    def plan(
        self, action: str, model: str, version: str | None = None, *, actor: Actor, target: str = "production"
    ) -> Plan:
        return plan_action(
            self.client, self.audit, self.settings, action, model, version, actor=actor, target=target
        )

    def apply(self, plan: Plan, reason: str, *, actor: Actor, force: bool = False) -> ActionResult:
        return apply_plan(self.client, self.audit, self.settings, plan, reason, actor=actor, force=force)

    def promote(
        self,
        model: str,
        version: str,
        reason: str,
        *,
        actor: Actor,
        target: str = "production",
        force: bool = False,
    ) -> ActionResult:
        plan = self.plan("promote", model, version, actor=actor, target=target)
        return self.apply(plan, reason, actor=actor, force=force)

    def archive(self, model: str, version: str, reason: str, *, actor: Actor) -> ActionResult:
        return self.apply(self.plan("archive", model, version, actor=actor), reason, actor=actor)

    def rollback(
        self, model: str, reason: str, *, actor: Actor, to_version: str | None = None
    ) -> ActionResult:
        return self.apply(self.plan("rollback", model, to_version, actor=actor), reason, actor=actor)

    # state and history ---------------------------------------------------------------------------
    def state(self, model: str) -> ModelState:
        return model_state(self.client, model, self.settings)

    def history(self, model: str | None = None, limit: int | None = None) -> list[Attempt]:
        """Audit attempts, oldest first, for one model or all."""
        return self.audit.attempts(model, limit)

    def model_history(self, model: str) -> ModelHistory:
        state = self.state(model)
        attempts = reconcile(self.audit, state)
        replayed = replay(attempts)
        unavailable = unavailable_versions(state, replayed.production_stack)
        return ModelHistory(
            model=model,
            attempts=attempts,
            replayed=replayed,
            rollback_to=rollback_target(replayed, state.holders.production, unavailable=unavailable),
            drift=drift(replayed, state.holders),
        )

    def adopt(self, model: str | None = None) -> list[Adoption]:
        """Record the baseline (what MLflow shows now) of one model or of every model the audit never
        met, and any outside change since; idempotent, so it may run on every deploy."""
        adopted = []
        for name in [model] if model else all_model_names(self.client):
            state = self.state(name)
            known = len(self.audit.attempts(name))
            after = reconcile(self.audit, state, record_empty=True)
            adopted.append(Adoption.of(state, recorded=len(after) - known))
        return adopted
