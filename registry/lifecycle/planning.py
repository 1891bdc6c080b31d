"""Planning in two halves: read a snapshot of the model once, then plan from it without any I/O.

`read_snapshot` does every read a plan needs (the audit sequence number first, then the model, its
audit history and the source runs of the candidate and of production). `plan_from` is a pure
function of that snapshot: the checks, the candidate against production and the changes the
model's mode would make, so every rule of planning is testable with a snapshot built by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow import MlflowClient

from registry.audit.log import AuditLog
from registry.audit.observe import observe, unavailable_versions
from registry.audit.replay import Replay, drift, replay, rollback_target
from registry.domain.actors import Actor, actor_for_model, leads_of
from registry.domain.checks import (
    Check,
    check_actor,
    check_gate,
    check_not_archived,
    check_not_holder,
    check_not_in_production,
    check_not_yet_archived,
    check_ready,
    check_required_tags,
    check_rollback_target,
    check_source_run,
)
from registry.domain.model_state import ModelState, VersionInfo
from registry.domain.policy import tags_in_force
from registry.domain.slots import check_movers, movers_of
from registry.errors import BadInput, NotFound
from registry.lifecycle.modes import MODES
from registry.lifecycle.plan import ACTIONS, Action, MetricComparison, Plan, Snapshot
from registry.lifecycle.reconcile import reconcile
from registry.settings import Settings
from registry.store.client import translate_errors
from registry.store.models import model_state, source_run_id


@dataclass(frozen=True)
class RunFacts:
    """A version's source run as the checks see it; `status` None when the run does not exist."""

    run_id: str | None = None
    status: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False  # get_run still returns a deleted run, until MLflow's gc removes it


@dataclass(frozen=True)
class PlanningSnapshot:
    """Everything a plan of one model depends on, read at one moment."""

    state: ModelState
    audit_seq: int
    history: Replay
    leads: frozenset[str] | None  # the model's own leads, when it names some
    runs: Mapping[str, RunFacts] = field(default_factory=dict)  # version -> its source run


def check_request(action: str, target: str | None) -> None:
    """Refuse an unknown action before anything is read (which slots a model has is read with it)."""
    if action not in ACTIONS:
        raise BadInput(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")


def slot_for(state: ModelState, action: str, target: str | None, settings: Settings) -> str:
    """The slot an action moves: the one named (by slot or alias), else the model's primary slot.
    Archiving moves no slot of its own (`archived`)."""
    if action == "archive":
        return "archived"
    if target is None:
        return state.policy.primary_slot
    return state.policy.slot_named(target, settings.slot_aliases)


def archive_version(
    state: ModelState, version: str | None, target: str | None, settings: Settings
) -> str | None:
    """The version an archive acts on: the one named, else (archiving from a slot) the slot's holder."""
    if version is not None or target in (None, "archived"):
        return version
    slot = state.policy.slot_named(target, settings.slot_aliases)
    holder = state.holders.of(slot)
    if holder is None:
        raise BadInput(f"{state.model.name}: no version holds {slot}, so there is nothing to archive from it")
    return holder


def read_snapshot(
    client: MlflowClient,
    audit: AuditLog,
    settings: Settings,
    model: str,
    action: str,
    version: str | None,
    target: str | None = None,
) -> PlanningSnapshot:
    """Read what planning `action` on `model` needs; the sequence number first, so a change recorded
    while the rest is read makes the snapshot stale rather than silently mixed."""
    reconcile(client, audit, settings, model)  # an unfinished attempt MLflow shows applied is settled
    # first meeting: baseline; MLflow moved: outside event (ours are part of what this plan is made on)
    seen = observe(audit, model, lambda: model_state(client, model, settings))
    state, seq = seen.state, seen.seq
    history = replay(seen.attempts, state.policy.slots)
    leads = leads_of(
        tags_in_force(state.model.tags, settings.policy_locked), settings.model_overrides.get(model)
    )
    if action == "archive":
        version = archive_version(state, version, target, settings)
    if version is None and action == "rollback":
        version = _rollback_target(state, history, slot_for(state, action, target, settings))
    wanted = [str(version).removeprefix("v")] if version is not None else []
    primary = state.holders.of(state.policy.primary_slot)
    if action != "archive" and primary:
        wanted.append(primary)
    runs = {v: _run_facts(client, state.versions[v]) for v in dict.fromkeys(wanted) if v in state.versions}
    return PlanningSnapshot(state, seq, history, leads, runs)


def plan_from(
    snap: PlanningSnapshot,
    action: Action,
    version: str | None,
    *,
    actor: Actor,
    target: str | None,
    settings: Settings,
) -> Plan:
    """The plan of `action` on the snapshot's model: changes, every check, candidate against the
    primary slot's holder (production, unless the model manages other slots)."""
    state = snap.state
    checks: list[Check | None] = [check_actor(actor, state.model.name, snap.leads)]
    actor = actor_for_model(actor, snap.leads)
    if action == "archive":
        version = archive_version(state, version, target, settings)
    target = slot_for(state, action, target, settings)
    if action == "rollback" and version is None:
        version = _rollback_target(state, snap.history, target)
        checks.append(check_rollback_target(version, target))
    candidate = None if version is None and action == "rollback" else _version(state, version)
    comparison: tuple[MetricComparison, ...] = ()
    changes: list[str] = []
    from_version = state.holders.of(target)
    if candidate is not None:
        facts = snap.runs.get(candidate.version, RunFacts())
        checks += [
            check_ready(candidate),
            check_source_run(facts.run_id, facts.status, deleted=facts.deleted, source=candidate.source),
        ]
        if action == "archive":
            checks.append(check_not_yet_archived(candidate))
            from_version = candidate.version
        else:
            checks += _serving_checks(snap, candidate, facts, action, target)
            comparison = _comparison(snap, facts)
        changes = MODES[state.policy.mode].changes(state, candidate, action, target, settings)
    override = settings.model_overrides.get(state.model.name)
    for slot in moved_slots(state, candidate, action, target):
        checks.append(
            check_movers(
                actor,
                slot,
                movers_of(tags_in_force(state.model.tags, settings.policy_locked), override, slot),
            )
        )
    return Plan(
        model=state.model.name,
        action=action,
        target=target,
        version=candidate.version if candidate else None,
        from_version=from_version,
        mode=state.policy.mode,
        changes=tuple(changes),
        checks=tuple(c for c in checks if c is not None),
        comparison=comparison,
        snapshot=_snapshot(state, candidate),
        audit_seq=snap.audit_seq,
        actor=actor,
        drift=tuple(drift(snap.history, state.holders)),
    )


def moved_slots(state: ModelState, candidate: VersionInfo | None, action: str, target: str) -> list[str]:
    """The slots an action moves: the target of a promotion or rollback; what an archived version held."""
    if action != "archive":
        return [target]
    if candidate is None:
        return []
    return [slot for slot, holder in state.holders.by_slot.items() if holder == candidate.version]


def _serving_checks(
    snap: PlanningSnapshot, candidate: VersionInfo, facts: RunFacts, action: str, target: str
) -> list[Check | None]:
    """Promote and rollback: the candidate may take the slot, and (to the primary slot, production
    unless the model manages others) pass the metric gate and the required tags."""
    state = snap.state
    primary = state.policy.primary_slot
    checks: list[Check | None] = [check_not_archived(candidate)] if action == "promote" else []
    checks.append(check_not_holder(candidate.version, state.holders.of(target), target))
    if target != primary:
        checks.append(check_not_in_production(candidate.version, state.holders.of(primary), primary))
    if action == "promote" and target == primary:
        current = _production_facts(snap)
        checks.append(
            check_gate(
                state.policy.gate,
                facts.metrics,
                current.metrics if current else None,
                state.holders.of(primary) if current else None,
                primary,
            )
        )
        checks.append(check_required_tags(state.policy.required_tags, {**facts.tags, **candidate.tags}))
    return checks


def _comparison(snap: PlanningSnapshot, facts: RunFacts) -> tuple[MetricComparison, ...]:
    """The candidate's metrics against production's: key and gate metric first, then every other."""
    policy = snap.state.policy
    current = _production_facts(snap)
    cur_metrics = current.metrics if current else {}
    keys = [k for k in (policy.key_metric, policy.gate.metric if policy.gate else None) if k]
    keys += sorted(set(facts.metrics) | set(cur_metrics))
    return tuple(
        MetricComparison(k, facts.metrics.get(k), cur_metrics.get(k) if current else None)
        for k in dict.fromkeys(keys)
    )


def _production_facts(snap: PlanningSnapshot) -> RunFacts | None:
    """The primary slot's holder's source run; None when no version holds it."""
    holder = snap.state.holders.of(snap.state.policy.primary_slot)
    if not holder or holder not in snap.state.versions:
        return None
    return snap.runs.get(holder, RunFacts())


def _rollback_target(state: ModelState, history: Replay, slot: str) -> str | None:
    """The slot's previous holder that can still serve (not deleted, not archived by tag)."""
    unavailable = unavailable_versions(state, history.slot(slot).chain)
    return rollback_target(history, state.holders.of(slot), slot, unavailable=unavailable)


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
        slots=tuple(state.holders.by_slot.items()),
    )


def _run_facts(client: MlflowClient, version: VersionInfo) -> RunFacts:
    """The source run of `version`; a run that does not exist has status None."""
    run_id = source_run_id(client, version)
    if not run_id:
        return RunFacts()
    try:
        with translate_errors(f"run {run_id}"):
            run = client.get_run(run_id)
    except NotFound:
        return RunFacts(run_id)
    deleted = run.info.lifecycle_stage == "deleted"
    return RunFacts(run_id, run.info.status, dict(run.data.metrics), dict(run.data.tags), deleted)
