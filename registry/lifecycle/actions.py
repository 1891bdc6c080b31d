"""Promote, archive and roll back: every action is a plan first, then an audited apply.

`plan_action` reads the model and returns what would change and every check with pass/fail; nothing
is written. `apply_plan` re-reads the state, refuses if it moved since the plan (Conflict), enforces
the guards (Refused), records the intent, performs the change, and records the result.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from mlflow import MlflowClient
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential

from registry.access.permissions import actor_for_model, model_leads
from registry.audit.log import Attempt, AuditLog
from registry.domain.actors import Actor
from registry.domain.checks import check_actor
from registry.domain.labels import version_label as _v
from registry.errors import BadInput, Conflict, Refused, RegistryError, Unreachable
from registry.lifecycle.modes import MODES
from registry.lifecycle.plan import ACTIONS, Action, ActionResult, MetricComparison, Plan, Snapshot, Target
from registry.lifecycle.planning import check_request, plan_from, read_snapshot
from registry.lifecycle.reconcile import reconcile
from registry.redaction import redact
from registry.settings import Settings
from registry.store.client import translate_errors

log = logging.getLogger(__name__)

# The plan's types live in registry.lifecycle.plan; importing them from here keeps working.
__all__ = [
    "ACTIONS",
    "Action",
    "ActionResult",
    "MetricComparison",
    "Plan",
    "Snapshot",
    "Target",
    "apply_plan",
    "plan_action",
]

TAG_PROMOTED_BY = "registry.promoted_by"
TAG_PROMOTED_AT = "registry.promoted_at"
TAG_PROMOTED_TO = "registry.promoted_to"
TAG_ARCHIVED_BY = "registry.archived_by"
TAG_ARCHIVED_AT = "registry.archived_at"


def plan_action(
    client: MlflowClient,
    audit: AuditLog,
    settings: Settings,
    action: str,
    model: str,
    version: str | None = None,
    *,
    actor: Actor,
    target: str | None = None,
) -> Plan:
    """Read the model and describe the action: changes, checks, candidate against production.

    `target` is the slot a promote or rollback moves (by slot or alias name; default: the model's
    primary slot, production unless it manages others) or, for archive, the slot whose holder goes."""
    check_request(action, target)
    snap = read_snapshot(client, audit, settings, model, action, version, target)
    return plan_from(snap, cast(Action, action), version, actor=actor, target=target, settings=settings)


def apply_plan(
    client: MlflowClient,
    audit: AuditLog,
    settings: Settings,
    plan: Plan,
    reason: str,
    *,
    actor: Actor,
    force: bool = False,
    before_change: Callable[[], None] | None = None,
) -> ActionResult:
    """Carry out a plan, behind every guard, recording the attempt whatever happens.

    `before_change` runs after the intent is recorded and before MLflow is touched; fronts leave it
    unset, the crash tests use it to die at the worst moment.
    """
    reason = (reason or "").strip()
    intent: dict[str, Any] = {
        "actor": actor.name,
        "role": actor.role,
        "model": plan.model,
        "action": plan.action,
        "target": plan.target,
        "from_version": plan.from_version,
        "to_version": plan.version,
        "reason": reason,
        "checks": [c.as_dict() for c in plan.checks],
        "forced": force,
    }
    if not reason:
        try:  # recorded when it can be; a read-only or locked log must not turn bad input into "unreachable"
            audit.record("refused", "a reason is required", **intent)
        except Unreachable as exc:
            log.warning("refusal (no reason) not recorded: %s", exc)
        raise BadInput("a reason is required: say why, it goes into the audit history")
    leads = model_leads(client, settings, plan.model)
    allowed = check_actor(actor, plan.model, leads)
    actor = actor_for_model(actor, leads)
    intent["role"] = actor.role
    if not allowed.passed:
        message = (
            allowed.detail  # names the model's leads
            if leads is not None
            else f"{actor.name} is a viewer: only leads may {plan.action} versions of {plan.model}"
        )
        audit.record("refused", message, **intent)
        raise Refused(message)

    # Before the re-read: with no change in flight now, every earlier claim has finished its MLflow
    # writes, so the state read next includes them and the seq claim below serializes ours after.
    # A claim whose result row never came but whose change MLflow shows is settled first.
    reconcile(client, audit, settings, plan.model)
    in_flight = audit.pending_change(plan.model)
    if in_flight and (datetime.now(UTC) - in_flight.at).total_seconds() < settings.change_lease_s:
        message = _in_flight_message(in_flight, settings.change_lease_s)
        audit.record("conflict", message, **intent)
        raise Conflict(message)
    fresh = plan_action(
        client,
        audit,
        settings,
        plan.action,
        plan.model,
        plan.version,
        actor=actor,
        target=plan.target,
    )
    if fresh.snapshot != plan.snapshot or fresh.audit_seq != plan.audit_seq:
        message = _conflict_message(plan, fresh)
        audit.record("conflict", message, **{**intent, "checks": [c.as_dict() for c in fresh.checks]})
        raise Conflict(message)
    intent["checks"] = [c.as_dict() for c in fresh.checks]
    if fresh.blocking:
        message = "refused: " + "; ".join(f"{c.name}: {c.detail}" for c in fresh.blocking)
        audit.record("refused", message, **intent)
        raise Refused(message)
    if fresh.overridable_failures and not force:
        message = "refused: " + "; ".join(c.detail for c in fresh.overridable_failures)
        message += ". A lead may override this with force and a reason."
        audit.record("refused", message, **intent)
        raise Refused(message)
    intent["forced"] = force and bool(fresh.overridable_failures)

    try:
        attempt_id = audit.begin(**intent, seq=plan.audit_seq + 1)
    except Conflict as exc:
        audit.record("conflict", str(exc), **intent)
        raise
    try:
        if before_change:
            before_change()
        _perform(client, settings, fresh, actor, reason)
    except Exception as exc:
        error = str(exc) if isinstance(exc, RegistryError) else redact(f"{exc.__class__.__name__}: {exc}")
        _record_result(audit, attempt_id, "failed", error, settings)  # the failure is what to report
        if isinstance(exc, RegistryError):
            raise
        raise RegistryError(f"{plan.action} {plan.model} v{plan.version} failed: {error}") from exc
    unrecorded = _record_result(audit, attempt_id, "done", None, settings)
    if unrecorded is None:
        return ActionResult(attempt_id, fresh, "done", _done_message(fresh))
    message = (
        f"{_done_message(fresh)}: applied in MLflow, but its audit record is pending ({unrecorded}); "
        "it is settled from MLflow's state on the next read"
    )
    return ActionResult(attempt_id, fresh, "done", message, record_pending=True)


def _record_result(
    audit: AuditLog, attempt_id: str, outcome: str, error: str | None, settings: Settings
) -> Unreachable | None:
    """Write an attempt's result, retrying a transient failure; the error if it still cannot be.

    MLflow has already changed (or failed) by now: an audit log that will not take the result row
    must not turn that into "not applied". The attempt stays unfinished and `reconcile` settles it.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(Unreachable),
        stop=stop_after_attempt(4) | stop_after_delay(2 * settings.audit_timeout_s),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                audit.finish(attempt_id, outcome, error)
    except Unreachable as exc:
        log.warning("result of attempt %s (%s) not recorded: %s", attempt_id, outcome, exc)
        return exc
    return None


def _in_flight_message(attempt: Attempt, lease_s: float) -> str:
    return (
        f"{attempt.model}: another change is in progress ({attempt.action} {_v(attempt.to_version)} by "
        f"{attempt.actor}, started {attempt.at:%H:%M:%S} UTC); wait for it to finish, then plan again "
        f"(an attempt that never finishes stops blocking after {lease_s:.0f} s)"
    )


def _conflict_message(plan: Plan, fresh: Plan) -> str:
    now = ", ".join(f"{slot} is {_v(holder)}" for slot, holder in fresh.snapshot.holders().items())
    return f"{plan.model} changed since the plan was made (now {now}); review the new state and plan again"


def _done_message(plan: Plan) -> str:
    if plan.action == "archive":
        return f"{plan.model} v{plan.version} archived"
    if plan.action == "rollback":
        slot = "" if plan.target == "production" else f" {plan.target}"
        return f"{plan.model}{slot} rolled back to v{plan.version} (was {_v(plan.from_version)})"
    return f"{plan.model} promoted to {plan.target}: v{plan.version} (was {_v(plan.from_version)})"


def _perform(client: MlflowClient, settings: Settings, plan: Plan, actor: Actor, reason: str) -> None:
    """The MLflow writes for a plan; nothing is ever deleted but aliases and the archived tag.

    Provenance tags first, the holder last: a change is several calls, and if the store dies part way
    the holders must still be the ones the audit's `failed` attempt implies (a moved alias with the
    tags missing read as a change made outside the dashboard).
    """
    name, v = plan.model, str(plan.version)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with translate_errors(f"{plan.action} {name} v{v}"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # stages are deprecated, and still in use
        if plan.action == "archive":
            client.set_model_version_tag(name, v, TAG_ARCHIVED_BY, actor.name)
            client.set_model_version_tag(name, v, TAG_ARCHIVED_AT, now)
        else:
            client.set_model_version_tag(name, v, TAG_PROMOTED_BY, actor.name)
            client.set_model_version_tag(name, v, TAG_PROMOTED_AT, now)
            client.set_model_version_tag(name, v, TAG_PROMOTED_TO, plan.target)
        MODES[plan.mode].perform(client, settings, plan)
