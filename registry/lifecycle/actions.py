"""Promote, archive and roll back: every action is a plan first, then an audited apply.

`plan_action` reads the model and returns what would change and every check with pass/fail; nothing
is written. `apply_plan` re-reads the state, refuses if it moved since the plan (Conflict), enforces
the guards (Refused), records the intent, performs the change, and records the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mlflow import MlflowClient

from registry.access.identity import Actor
from registry.access.permissions import actor_for_model, leads_of, model_leads
from registry.audit.log import Attempt, AuditLog
from registry.audit.observe import reconcile, unavailable_versions
from registry.audit.replay import drift, replay, rollback_target
from registry.domain.checks import (
    Check,
    check_actor,
    check_gate,
    check_not_archived,
    check_not_holder,
    check_ready,
    check_required_tags,
    check_source_run,
)
from registry.domain.policy import TAG_ARCHIVED
from registry.errors import BadInput, Conflict, NotFound, Refused, RegistryError
from registry.settings import Settings
from registry.store.client import translate_errors
from registry.store.models import ModelState, VersionInfo, model_state, source_run_id

Action = Literal["promote", "archive", "rollback"]
Target = Literal["production", "staging", "archived"]
ACTIONS: tuple[Action, ...] = ("promote", "archive", "rollback")

TAG_PROMOTED_BY = "registry.promoted_by"
TAG_PROMOTED_AT = "registry.promoted_at"
TAG_PROMOTED_TO = "registry.promoted_to"
TAG_ARCHIVED_BY = "registry.archived_by"
TAG_ARCHIVED_AT = "registry.archived_at"


@dataclass(frozen=True)
class Snapshot:
    """The part of the model's state a plan depends on; apply refuses if it changed."""

    production: str | None
    staging: str | None
    version_stage: str | None
    version_aliases: tuple[str, ...]
    version_archived: bool | None


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
    mode: str
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "outcome": self.outcome,
            "message": self.message,
            "plan": self.plan.as_dict(),
        }


@dataclass(frozen=True)
class RunFacts:
    """What a plan needs of a run; `status` None when the run does not exist (any more)."""

    status: str | None = None
    deleted: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _run_facts(client: MlflowClient, run_id: str | None) -> RunFacts:
    if not run_id:
        return RunFacts()
    try:
        with translate_errors(f"run {run_id}"):
            run = client.get_run(run_id)
    except NotFound:
        return RunFacts()
    return RunFacts(
        run.info.status,
        run.info.lifecycle_stage == "deleted",  # get_run still returns a deleted run, until gc
        dict(run.data.metrics),
        dict(run.data.tags),
    )


def _version(state: ModelState, version: str | None) -> VersionInfo:
    if version is None:
        raise BadInput(f"{state.model.name}: which version? name one of {', '.join(state.versions)}")
    found = state.versions.get(str(version).removeprefix("v"))
    if found is None:
        known = ", ".join(sorted(state.versions, key=int)) or "none"
        raise NotFound(f"{state.model.name} has no version {version} (versions: {known})")
    return found


def _snapshot(state: ModelState, version: VersionInfo | None) -> Snapshot:
    return Snapshot(
        production=state.holders.production,
        staging=state.holders.staging,
        version_stage=version.stage if version else None,
        version_aliases=version.aliases if version else (),
        version_archived=version.archived if version else None,
    )


def plan_action(
    client: MlflowClient,
    audit: AuditLog,
    settings: Settings,
    action: str,
    model: str,
    version: str | None = None,
    *,
    actor: Actor,
    target: str = "production",
) -> Plan:
    """Read the model and describe the action: changes, checks, candidate against production."""
    if action not in ACTIONS:
        raise BadInput(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if action == "promote" and target not in ("production", "staging"):
        raise BadInput(f"promote to {target!r}: use 'production' or 'staging'")
    state = model_state(client, model, settings)
    history = replay(reconcile(audit, state))  # first meeting: baseline; MLflow moved: outside event
    seq = audit.last_seq(model)
    drifted = tuple(drift(history, state.holders))
    leads = leads_of(state.model.tags, settings.model_overrides.get(model))  # per-model leads, if any
    checks: list[Check] = [check_actor(actor, model, leads)]
    actor = actor_for_model(actor, leads)
    if action == "rollback":
        target = "production"
        if version is None:
            chain = history.production_stack
            version = rollback_target(
                history, state.holders.production, unavailable=unavailable_versions(state, chain)
            )
            if version is None:
                checks.append(
                    Check(
                        "a rollback target exists",
                        False,
                        "no earlier production version in the history (audited, first seen or outside "
                        "changes) that can serve; name one with --to VERSION",
                    )
                )
                return Plan(
                    model,
                    "rollback",
                    "production",
                    None,
                    state.holders.production,
                    state.policy.mode,
                    (),
                    tuple(checks),
                    (),
                    _snapshot(state, None),
                    seq,
                    actor,
                    drifted,
                )
    elif action == "archive":
        target = "archived"
    candidate = _version(state, version)
    run_id = source_run_id(client, candidate)
    facts = _run_facts(client, run_id)
    cand_metrics, run_tags = facts.metrics, facts.tags
    checks.append(check_ready(candidate))
    checks.append(check_source_run(run_id, facts.status, deleted=facts.deleted, source=candidate.source))

    holder = state.holders.production if target in ("production", "archived") else state.holders.staging
    comparison: tuple[MetricComparison, ...] = ()
    if action == "archive":
        checks.append(
            Check(
                "version is not archived",
                not candidate.archived,
                f"v{candidate.version} " + ("is already archived" if candidate.archived else "is active"),
            )
        )
    else:
        if action == "promote":
            checks.append(check_not_archived(candidate))
        checks.append(check_not_holder(candidate.version, holder, target))
        if target == "staging" and candidate.version == state.holders.production:
            checks.append(
                Check(
                    "version is not in production", False, f"v{candidate.version} already serves production"
                )
            )
        current = state.versions.get(state.holders.production or "")
        cur_metrics = _run_facts(client, source_run_id(client, current)).metrics if current else {}
        if action == "promote" and target == "production":
            gate = check_gate(
                state.policy.gate,
                cand_metrics,
                cur_metrics if current else None,
                current.version if current else None,
            )
            if gate:
                checks.append(gate)
            tags = check_required_tags(state.policy.required_tags, {**run_tags, **candidate.tags})
            if tags:
                checks.append(tags)
        keys = [
            k for k in (state.policy.key_metric, state.policy.gate.metric if state.policy.gate else None) if k
        ]
        keys += sorted(set(cand_metrics) | set(cur_metrics))
        comparison = tuple(
            MetricComparison(k, cand_metrics.get(k), cur_metrics.get(k) if current else None)
            for k in dict.fromkeys(keys)
        )
    from_version = state.holders.staging if target == "staging" else state.holders.production
    if action == "archive":
        from_version = candidate.version
    changes = _describe_changes(state, candidate, action, target, settings)
    return Plan(
        model,
        action,
        target,
        candidate.version,
        from_version,
        state.policy.mode,  # type: ignore[arg-type]
        tuple(changes),
        tuple(checks),
        comparison,
        _snapshot(state, candidate),
        seq,
        actor,
        drifted,
    )


def _describe_changes(
    state: ModelState, v: VersionInfo, action: str, target: str, settings: Settings
) -> list[str]:
    h = state.holders
    out: list[str] = []
    if state.policy.mode == "aliases":
        if action == "archive":
            out.append(f"v{v.version}: tag {TAG_ARCHIVED}=true")
            out += [f"alias '{a}' removed from v{v.version}" for a in v.aliases]
            return out
        alias = settings.production_alias if target == "production" else settings.staging_alias
        current = h.production if target == "production" else h.staging
        out.append(f"alias '{alias}': {_v(current)} → v{v.version}")
        if target == "production" and h.staging == v.version:
            out.append(f"alias '{settings.staging_alias}' removed from v{v.version}")
        if v.archived:
            out.append(f"v{v.version}: tag {TAG_ARCHIVED} removed")
        return out
    if action == "archive":
        return [f"v{v.version}: stage {v.stage} → Archived"]
    stage = "Production" if target == "production" else "Staging"
    out.append(f"v{v.version}: stage {v.stage} → {stage}")
    current = h.production if target == "production" else h.staging
    if current and current != v.version:
        out.append(f"v{current}: stage {stage} → {'Archived' if target == 'production' else 'None'}")
    out += [
        f"v{x}: stage Production → Archived"
        for x in h.extra_production
        if target == "production" and x != v.version
    ]
    return out


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


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
    intent = {
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
        audit.record("refused", "a reason is required", **intent)
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
        target=plan.target if plan.action == "promote" else "production",
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
        error = str(exc) if isinstance(exc, RegistryError) else f"{exc.__class__.__name__}: {exc}"
        audit.finish(attempt_id, "failed", error)
        if isinstance(exc, RegistryError):
            raise
        raise RegistryError(f"{plan.action} {plan.model} v{plan.version} failed: {error}") from exc
    audit.finish(attempt_id, "done")
    return ActionResult(attempt_id, fresh, "done", _done_message(fresh))


def _in_flight_message(attempt: Attempt, lease_s: float) -> str:
    return (
        f"{attempt.model}: another change is in progress ({attempt.action} {_v(attempt.to_version)} by "
        f"{attempt.actor}, started {attempt.at:%H:%M:%S} UTC); wait for it to finish, then plan again "
        f"(an attempt that never finishes stops blocking after {lease_s:.0f} s)"
    )


def _conflict_message(plan: Plan, fresh: Plan) -> str:
    now = f"production is {_v(fresh.snapshot.production)}, staging is {_v(fresh.snapshot.staging)}"
    return f"{plan.model} changed since the plan was made (now {now}); review the new state and plan again"


def _done_message(plan: Plan) -> str:
    if plan.action == "archive":
        return f"{plan.model} v{plan.version} archived"
    verb = "rolled back to" if plan.action == "rollback" else f"promoted to {plan.target}:"
    return f"{plan.model} {verb} v{plan.version} (was {_v(plan.from_version)})"


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
        if plan.mode == "aliases":
            if plan.action == "archive":
                client.set_model_version_tag(name, v, TAG_ARCHIVED, "true")
                for alias in plan.snapshot.version_aliases:
                    client.delete_registered_model_alias(name, alias)
            else:
                if plan.snapshot.version_archived:
                    client.delete_model_version_tag(name, v, TAG_ARCHIVED)
                alias = settings.production_alias if plan.target == "production" else settings.staging_alias
                client.set_registered_model_alias(name, alias, v)
                if plan.target == "production" and plan.snapshot.staging == v:
                    client.delete_registered_model_alias(name, settings.staging_alias)
        else:
            if plan.action == "archive":
                client.transition_model_version_stage(name, v, "Archived")
            elif plan.target == "production":
                client.transition_model_version_stage(name, v, "Production", archive_existing_versions=True)
            else:
                if plan.snapshot.staging and plan.snapshot.staging != v:
                    client.transition_model_version_stage(name, plan.snapshot.staging, "None")
                client.transition_model_version_stage(name, v, "Staging")
