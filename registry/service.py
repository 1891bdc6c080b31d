"""The registry service: one object that the pages, the CLI and the MCP server all talk to.

It owns the MLflow client and the audit log and exposes the lifecycle as plan/apply plus the one-call
shortcuts. Reads that need only the client live in their own modules (runs, metrics, artifacts,
models) and take `registry.client`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial

from mlflow import MlflowClient

from registry.access.identity import Actor, actor_named, configured_actor
from registry.audit.log import Attempt, AuditLog
from registry.audit.replay import Replay, drift, replay, rollback_target
from registry.lifecycle.actions import ActionResult, Plan, apply_plan, plan_action
from registry.notify import outbox
from registry.notify.delivery import (
    BackgroundDelivery,
    NotificationStatus,
    notification_status,
    notify_wiring,
)
from registry.settings import Settings, load_settings
from registry.store.client import make_client
from registry.store.models import ModelState, model_state
from registry.store.summaries import SUMMARY_POINTS, LineSummary, RunStamp, SummaryCache, line_summaries


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
        self.background_delivery: BackgroundDelivery | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Registry:
        return cls(settings or load_settings())

    @cached_property
    def audit(self) -> AuditLog:
        """Opened on first use, so a read-only page works while the audit database is down.

        With webhooks configured, every result row queues its notification in the same transaction,
        and a background pass sends it once committed (registry/notify)."""
        if self._audit:
            return self._audit
        log = AuditLog(self.settings.effective_audit_url, self.settings.audit_timeout_s)
        urls = self.settings.notify_urls
        if urls and notify_wiring(log, self.settings, urls):
            log.on_result = partial(outbox.enqueue, urls=urls)
            if self.settings.notify_background:
                self.background_delivery = BackgroundDelivery(log.engine, self.settings)
                log.after_commit = self.background_delivery.kick
        return log

    @cached_property
    def summaries(self) -> SummaryCache:
        """The kept downsampled metric lines (opened on first use; a cache that fails is skipped)."""
        return SummaryCache(self.settings.summary_cache_url)

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

    # metric lines --------------------------------------------------------------------------------
    def line_summaries(
        self, runs: Sequence[RunStamp], keys: Sequence[str], points: int = SUMMARY_POINTS
    ) -> dict[tuple[str, str], LineSummary]:
        """Each (run, metric) line downsampled to `points` with its exact statistics, kept once per run."""
        return line_summaries(
            self.client, self.settings.effective_tracking_uri, self.summaries, runs, keys, points
        )

    # state and history ---------------------------------------------------------------------------
    def state(self, model: str) -> ModelState:
        return model_state(self.client, model, self.settings)

    def history(self, model: str | None = None, limit: int | None = None) -> list[Attempt]:
        """Audit attempts, oldest first, for one model or all."""
        return self.audit.attempts(model, limit)

    def model_history(self, model: str) -> ModelHistory:
        attempts = self.audit.attempts(model)
        state = self.state(model)
        replayed = replay(attempts)
        return ModelHistory(
            model=model,
            attempts=attempts,
            replayed=replayed,
            rollback_to=rollback_target(replayed, state.holders.production),
            drift=drift(replayed, state.holders),
        )

    # notifications -------------------------------------------------------------------------------
    def notification_status(self) -> NotificationStatus:
        """The outbox's counts and latest error, and the webhooks configured (masked)."""
        return notification_status(self.audit.engine, self.settings)
