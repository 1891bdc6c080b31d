"""What the audit history says about a model: the replayed state, the rollback chain, and drift.

Following GTO, the audit log is the history and MLflow's aliases or stages are the current state.
Replaying the completed events gives, per slot (`production` and `staging`, or the aliases a model
manages, registry.domain.policy.managed_slots), who holds it and the chain of versions that held it
before. Three kinds of event move a slot:
- the dashboard's own changes (promote, rollback, archive);
- `observed`: the state MLflow showed the first time the service met the model (the adoption
  baseline, actor `mlflow`), so a registry built by hand starts with its holders known;
- `outside`: a change made in MLflow directly, recorded by a webhook delivery or noticed by the
  service when MLflow and the audit disagreed.
Rollback walks a slot's chain back across all three alike. A row's `from_version` is a fact as well:
the version that held the slot before the first audited change is in the chain even when nothing
recorded how it got there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from registry.audit.log import Attempt
from registry.domain.labels import version_label as _v
from registry.domain.model_state import Holders
from registry.domain.policy import DEFAULT_SLOTS

SLOTS = DEFAULT_SLOTS  # the slots of a model that names none
NOT_SLOTS = ("archived", "alias", "version", "tag")  # targets of events that move no slot
OBSERVED = "observed"  # the state MLflow showed when the service first met the model
OUTSIDE = "outside"  # a change made in MLflow directly, not through the dashboard
POLICY = "policy"  # a model's registry.* tags changed in MLflow directly (registry/audit/policy_watch.py)
MLFLOW_ACTOR = "mlflow"  # who an observed, outside or policy event is attributed to
_MOVES = ("promote", "archive", "rollback", OBSERVED, OUTSIDE)
DASHBOARD = "dashboard"
FIRST_SEEN = "first seen in MLflow"
OUTSIDE_WEBHOOK = "outside: MLflow webhook"
OUTSIDE_NOTICED = "outside: noticed by the dashboard"


def origin_of(a: Attempt) -> str:
    """Where a change was made: through the dashboard, or in MLflow directly (and how we learnt it)."""
    if a.action == OBSERVED:
        return FIRST_SEEN
    if a.action in (OUTSIDE, POLICY):
        return OUTSIDE_WEBHOOK if a.reason.startswith("webhook") else OUTSIDE_NOTICED
    return DASHBOARD


@dataclass(frozen=True)
class SlotHistory:
    """One slot as the history leaves it: its holder, the chain of holders, and the last event."""

    holder: str | None = None
    chain: tuple[str, ...] = ()  # versions that held the slot, oldest first; rollback walks it back
    set_by: Attempt | None = None  # the event that last moved the slot


_EMPTY = SlotHistory()


@dataclass(frozen=True)
class Replay:
    """State rebuilt from completed events, per slot; `audited` once any event moved a slot."""

    slots: Mapping[str, SlotHistory] = field(default_factory=dict)
    audited: bool = False

    def as_dict(self) -> dict[str, object]:
        """Plain JSON for the CLI and MCP: holders, the production chain, and each slot's chain."""
        return {
            "production": self.production,
            "staging": self.staging,
            "production_stack": list(self.production_stack),
            "audited": self.audited,
            "slots": {
                name: {
                    "holder": s.holder,
                    "chain": list(s.chain),
                    "set_by": s.set_by.attempt_id if s.set_by else None,
                    "set_by_action": s.set_by.action if s.set_by else None,
                }
                for name, s in self.slots.items()
            },
        }

    def slot(self, name: str) -> SlotHistory:
        return self.slots.get(name, _EMPTY)

    @property
    def production(self) -> str | None:
        return self.slot("production").holder

    @property
    def staging(self) -> str | None:
        return self.slot("staging").holder

    @property
    def production_stack(self) -> tuple[str, ...]:
        return self.slot("production").chain


def moves_a_slot(a: Attempt) -> bool:
    """A completed event that changed (or recorded) who holds a slot."""
    if a.outcome != "done" or a.action not in _MOVES:
        return False
    if a.action in (OBSERVED, OUTSIDE):
        return bool(a.target) and a.target not in NOT_SLOTS
    return bool(a.to_version)


def slot_of(a: Attempt) -> str:
    """The slot an event moves: its target (a rollback recorded without one moved production)."""
    if a.action == "rollback" and (not a.target or a.target in NOT_SLOTS):
        return "production"
    return a.target


def replay(attempts: Iterable[Attempt], slots: Collection[str] = SLOTS) -> Replay:
    """Fold completed events, oldest first, into the state they produced, one chain per slot.

    A promotion or an outside change pushes onto the slot's chain (after its `from_version`, when
    the chain did not know it), a rollback pops back to its target, an archive removes the version
    from every chain (an archived version is never an automatic target).
    """
    holders: dict[str, str | None] = dict.fromkeys(slots)
    chains: dict[str, list[str]] = {s: [] for s in slots}
    set_by: dict[str, Attempt | None] = dict.fromkeys(slots)
    audited = False
    for a in attempts:
        if not moves_a_slot(a):
            continue
        audited = True
        v = a.to_version
        if a.action == "archive":
            for s in slots:
                if holders[s] == v:
                    holders[s], set_by[s] = None, a
                chains[s] = [x for x in chains[s] if x != v]
            continue
        slot = slot_of(a)
        if slot not in holders:
            continue
        chain = chains[slot]
        if a.action == "rollback" and v in chain:
            while chain and chain[-1] != v:
                chain.pop()
        else:
            if a.from_version and a.action != OBSERVED and (not chain or chain[-1] != a.from_version):
                chain.append(a.from_version)  # it held the slot before this change: a fact
            if v and (not chain or chain[-1] != v):
                chain.append(v)
        holders[slot], set_by[slot] = v, a
        if v and a.action != OBSERVED:
            for other in slots:  # one version holds one slot: promoting the staging holder frees staging
                if other != slot and holders[other] == v:
                    holders[other], set_by[other] = None, a
    slot_histories = {s: SlotHistory(holders[s], tuple(chains[s]), set_by[s]) for s in slots}
    return Replay(slot_histories, audited)


def rollback_target(
    state: Replay,
    current: str | None,
    slot: str = "production",
    unavailable: Collection[str] = (),
) -> str | None:
    """The version that held `slot` before the current holder, walking the chain back.

    `unavailable` are versions that may not serve any more (deleted, or archived outside the
    dashboard): they are skipped, never chosen automatically.
    """
    for version in reversed(state.slot(slot).chain):
        if version != current and version not in unavailable:
            return version
    return None


def differences(state: Replay, holders: Holders) -> dict[str, tuple[str | None, str | None]]:
    """Managed slots whose holder in MLflow differs from the replayed one: slot -> (audited, actual)."""
    found = {}
    for slot, actual in holders.by_slot.items():
        audited = state.slot(slot).holder
        if audited != actual and (state.audited or actual is not None):
            found[slot] = (audited, actual)
    return found


def drift(state: Replay, holders: Holders) -> list[str]:
    """What a lead should know before changing the model: holders set outside the dashboard.

    A difference not yet recorded (the audit log could not be written) and a holder whose last move
    was recorded as an outside change both count; the adoption baseline does not.
    """
    found = []
    unrecorded = differences(state, holders)
    for slot in holders.by_slot:
        if slot in unrecorded and state.audited:  # never met: nothing to differ from
            audited, actual = unrecorded[slot]
            found.append(
                f"{slot}: MLflow says {_v(actual)}, the audit log says {_v(audited)}"
                " (changed outside the dashboard)"
            )
            continue
        last = state.slot(slot).set_by
        if last is not None and last.action == OUTSIDE:
            found.append(
                f"{slot}: MLflow says {_v(last.to_version)}, the audit log says {_v(last.from_version)}"
                f" (changed outside the dashboard; recorded {last.at:%Y-%m-%d %H:%M} UTC)"
            )
    if holders.extra_production:
        found.append(
            f"production: more than one version in stage Production ({', '.join(holders.extra_production)})"
        )
    return found
