"""Meeting a registry the dashboard did not build: the adoption baseline and outside changes noticed.

Teams point the dashboard at registries they built by hand. The first time the service meets a model
it records what MLflow shows (an `observed` event, actor `mlflow`), so holders set before the
dashboard arrived are neither flagged as drift nor lost to rollback. Afterwards, when MLflow and the
replayed audit disagree and no change of ours is in flight, the difference was made in MLflow
directly: it is recorded once as an `outside` event (the next read replays to MLflow's state, so a
page view does not record it again). A webhook delivery records the same kind of event earlier and
with MLflow's own time (registry/fronts/webhooks.py).

Events claim the model's next `seq`, like the dashboard's changes: two replicas noticing the same
thing at once cannot both record it, and a plan made before the event conflicts on apply.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from registry.audit.log import Attempt, AuditLog
from registry.audit.policy_watch import known_policy, policy_event, policy_tags
from registry.audit.replay import (
    MLFLOW_ACTOR,
    OBSERVED,
    OUTSIDE,
    Replay,
    differences,
    moves_a_slot,
    replay,
    rollback_target,
    slot_of,
)
from registry.domain.labels import version_label as _v
from registry.domain.model_state import Holders, ModelState
from registry.domain.policy import DEFAULT_SLOTS, TAG_ARCHIVED
from registry.errors import Conflict, Unreachable

_TRIES = 3


@dataclass(frozen=True)
class Adoption:
    """One model as `adopt` met it: its holders now and how many events were recorded."""

    model: str
    mode: str
    production: str | None
    staging: str | None
    recorded: int

    slots: dict[str, str | None] | None = None  # every managed slot and its holder

    @classmethod
    def of(cls, state: ModelState, recorded: int) -> Adoption:
        h = state.holders
        return cls(state.model.name, state.policy.mode, h.production, h.staging, recorded, h.by_slot)


@dataclass(frozen=True)
class Observation:
    """A model's MLflow state and audit attempts read so that they agree in time, after recording
    whatever baseline or outside change that showed; `seq` is the audit's last change slot then."""

    state: ModelState
    attempts: list[Attempt]
    seq: int
    recorded: int


def observe(
    audit: AuditLog, model: str, read_state: Callable[[], ModelState], *, record_empty: bool = False
) -> Observation:
    """Read the model's state and audit attempts, recording its baseline or the outside changes MLflow
    shows.

    The audit's last `seq` is read before MLflow and again after the attempts: when it moved, one of
    our own changes landed in between, MLflow's answer may predate it, and both are read again. A
    change already claimed but unfinished before MLflow is read may finish at any moment of the reads,
    so then nothing is recorded either: only a difference seen with the audit standing still and
    nothing in flight is an outside change. A model never met gets its
    baseline when something holds a slot (or always with `record_empty`, as `adopt` does). When the
    audit log cannot be written (read-only, locked), the difference shows as drift instead.
    """
    recorded = 0
    for _ in range(_TRIES):
        seq = audit.last_seq(model)
        in_flight = audit.pending_change(model) is not None
        state = read_state()
        attempts = audit.attempts(model)
        if audit.last_seq(model) != seq:
            continue  # a change of ours was claimed while MLflow was read: its answer may be stale
        events = events_to_record(attempts, state, record_empty=record_empty)
        events += _policy_events(audit, state, attempts)
        if not events or in_flight:
            break  # nothing to record, or a change in flight explains the difference; its result will say
        try:
            for event in events:
                seq += 1
                audit.record("done", seq=seq, **event)  # conflicts when anyone claimed the slot first
                recorded += 1
        except Conflict:
            continue  # another replica recorded first: read again and see what is left
        except Unreachable:
            break
        return Observation(state, audit.attempts(model), seq, recorded)
    return Observation(state, attempts, seq, recorded)


def _policy_events(audit: AuditLog, state: ModelState, attempts: list[Attempt]) -> list[dict[str, Any]]:
    """A policy event when the model's policy tags differ from what the audit knows; a model met
    for the first time has its policy tags kept as they are (nothing to differ from yet)."""
    model = state.model.name
    first_seen = audit.first_seen_policy(model)
    if first_seen is None:
        with suppress(Unreachable):  # a read-only or locked log: kept on a later read
            audit.keep_first_seen_policy(model, policy_tags(state.model.tags))
        return []
    event = policy_event(model, known_policy(first_seen, attempts), state.model.tags)
    return [] if event is None else [event]


def events_to_record(
    attempts: list[Attempt], state: ModelState, *, record_empty: bool = False
) -> list[dict[str, Any]]:
    """The baseline for a model never met, or one outside event per slot MLflow moved."""
    holders = state.holders
    base = {
        "actor": MLFLOW_ACTOR,
        "role": MLFLOW_ACTOR,
        "model": state.model.name,
        "checks": [],
    }
    seen = _first_seen(holders, state.policy.mode)
    if not attempts:
        if not (record_empty or any(holders.by_slot.values())):
            return []
        primary = state.policy.primary_slot
        slots = [s for s, v in holders.by_slot.items() if s == primary or v]
        return [_observed(base, slot, holders.of(slot), seen) for slot in slots]
    named = {slot_of(a) for a in attempts if moves_a_slot(a)}
    events = []
    for slot, (audited, actual) in differences(replay(attempts, holders.by_slot), holders).items():
        if slot not in DEFAULT_SLOTS and slot not in named:
            # a slot the history never named: managed since its model's slots were configured, so
            # what it holds is first seen now, not changed outside the dashboard
            events.append(_observed(base, slot, actual, seen))
            continue
        events.append(
            {
                **base,
                "action": OUTSIDE,
                "target": slot,
                "from_version": audited,
                "to_version": actual,
                "reason": f"noticed by the dashboard: MLflow says {_v(actual)}, "
                f"the audit log said {_v(audited)}",
            }
        )
    return events


def _observed(base: dict[str, Any], slot: str, version: str | None, seen: str) -> dict[str, Any]:
    return {**base, "action": OBSERVED, "target": slot, "from_version": None, "to_version": version,
            "reason": seen}  # fmt: skip


def unavailable_versions(state: ModelState, chain: tuple[str, ...]) -> set[str]:
    """Versions of a rollback chain that may not serve: deleted, or archived with the archive tag.

    A version in stage Archived is not among them: stage mode archives the previous holder on every
    promotion, and rolling back to it is the point.
    """
    gone = {v for v in chain if v not in state.versions}
    tagged = {v.version for v in state.versions.values() if v.tags.get(TAG_ARCHIVED, "").lower() == "true"}
    return gone | tagged


def rollback_targets(state: ModelState, history: Replay) -> dict[str, str | None]:
    """Each managed slot's rollback target: its previous holder that can still serve."""
    return {
        slot: rollback_target(
            history, holder, slot, unavailable=unavailable_versions(state, history.slot(slot).chain)
        )
        for slot, holder in state.holders.by_slot.items()
    }


def _first_seen(holders: Holders, mode: str) -> str:
    text = f"state when first seen ({mode} mode): "
    text += ", ".join(f"{slot} {_v(version)}" for slot, version in holders.by_slot.items())
    if holders.extra_production:
        text += f"; also in stage Production: {', '.join('v' + v for v in holders.extra_production)}"
    return text
