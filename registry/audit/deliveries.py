"""MLflow's webhook deliveries as audit events: changes made in MLflow directly, with MLflow's time.

MLflow 3.x (SQL backends) posts an event for each alias created or deleted, version created and version
tag set (payloads: mlflow/webhooks/types.py). Each becomes an `outside` event, actor `mlflow`, whose
attempt id is MLflow's delivery id, so a redelivery records nothing twice. Deliveries of the
dashboard's own writes are recognised and skipped: an alias that the replayed audit (or a change in
flight) already gives to that version, a version registered with our `registry.registered_by` tag,
our provenance tags while our change of that version is recent.

An alias that names a slot (the production or staging alias) moves the slot, like a change noticed
by detection (registry/audit/observe.py); any other alias, a version and a tag are recorded for the
history only (target `alias`, `version`, `tag`). So is a slot's alias change that arrives after a
later change of that slot was recorded: MLflow sends deliveries from a thread pool, out of order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.audit.log import Attempt, AuditLog
from registry.audit.replay import MLFLOW_ACTOR, OUTSIDE, replay
from registry.errors import BadInput, Conflict
from registry.settings import Settings

EVENTS = (
    ("model_version_alias", "created"),
    ("model_version_alias", "deleted"),
    ("model_version", "created"),
    ("model_version_tag", "set"),
)
OWN_TAGS = frozenset(
    {
        "registry.promoted_by",
        "registry.promoted_at",
        "registry.promoted_to",
        "registry.archived_by",
        "registry.archived_at",
        "registry.archived",
        "registry.registered_by",
    }
)
OWN_WRITES_WINDOW = timedelta(minutes=10)  # how late a delivery of our own tag writes may arrive
_TRIES = 3


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery, as MLflow sent it."""

    delivery_id: str
    entity: str
    action: str
    at: datetime
    data: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.data.get("name", ""))


def parse_delivery(delivery_id: str, body: dict[str, Any]) -> Delivery:
    """The delivery from its JSON body: {"entity", "action", "timestamp", "data"}."""
    try:
        at = datetime.fromisoformat(str(body["timestamp"]))
        entity, action, data = str(body["entity"]), str(body["action"]), dict(body["data"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"not an MLflow webhook payload ({exc.__class__.__name__}: {exc})") from exc
    if not data.get("name"):
        raise BadInput("not an MLflow webhook payload: no model name")
    return Delivery(delivery_id, entity, action, at if at.tzinfo else at.replace(tzinfo=UTC), data)


def record_delivery(
    audit: AuditLog, settings: Settings, delivery: Delivery, slots: Mapping[str, str] | None = None
) -> str:
    """Record the delivery as an outside event unless it is ours or seen before; says which.

    `slots` maps the model's managed aliases to their slots (alias -> slot); by default production
    and staging, as REGISTRY_PRODUCTION_ALIAS and REGISTRY_STAGING_ALIAS name them."""
    slots = slots if slots is not None else {alias: slot for slot, alias in settings.slot_aliases.items()}
    if (delivery.entity, delivery.action) not in EVENTS:
        return "ignored: not an event the dashboard records"
    for _ in range(_TRIES):
        if audit.has_attempt(delivery.delivery_id):
            return "already recorded"
        attempts = audit.attempts(delivery.model)
        event = _event(delivery, attempts, slots, in_flight=audit.pending_change(delivery.model))
        if event is None:
            return "skipped: a change made through the dashboard"
        moves = event["target"] in slots.values()
        try:
            seq = audit.last_seq(delivery.model) + 1 if moves else None
            audit.record("done", seq=seq, at=delivery.at, attempt_id=delivery.delivery_id, **event)
        except Conflict:
            continue  # another event claimed the model's next seq first: look again
        return "recorded"
    raise Conflict(f"{delivery.model}: the audit log kept moving; MLflow will deliver again")


def _event(
    d: Delivery, attempts: list[Attempt], slots: Mapping[str, str], in_flight: Attempt | None
) -> dict[str, Any] | None:
    data = d.data
    version = str(data["version"]) if data.get("version") is not None else None
    base = {"actor": MLFLOW_ACTOR, "role": MLFLOW_ACTOR, "model": d.model, "action": OUTSIDE, "checks": []}
    where = f"webhook {d.entity}.{d.action}"
    if d.entity == "model_version_alias":
        alias = str(data.get("alias", ""))
        slot = slots.get(alias)
        if slot is None:
            said = f"set to v{version}" if d.action == "created" else "removed"
            return {**base, "target": "alias", "from_version": None, "to_version": version,
                    "reason": f"{where}: alias '{alias}' {said}"}  # fmt: skip
        if in_flight is not None:
            return None  # our change is being applied: its result will say
        state = replay(attempts, list(dict.fromkeys(slots.values()))).slot(slot)
        new = version if d.action == "created" else None
        said = f"set to v{version}" if new else "removed"
        if state.set_by is not None and d.at < state.set_by.at:
            # MLflow delivers from a thread pool: a later change of the slot came first. The earlier
            # one happened and stays in the history, but moving the slot now would undo the later.
            later = f"{state.set_by.at:%Y-%m-%d %H:%M:%S} UTC"
            return {**base, "target": "alias", "from_version": None, "to_version": version,
                    "reason": f"{where}: alias '{alias}' {said}; arrived after the later change "
                              f"of {slot} at {later}, so it moves nothing"}  # fmt: skip
        if state.holder == new:
            return None  # the audit already says so: ours, or noticed before the delivery came
        return {**base, "target": slot, "from_version": state.holder, "to_version": new,
                "reason": f"{where}: alias '{alias}' {said}"}  # fmt: skip
    if d.entity == "model_version":
        tags = data.get("tags") or {}
        if "registry.registered_by" in tags:
            return None
        source = data.get("source") or "an unknown source"
        return {**base, "target": "version", "from_version": None, "to_version": version,
                "reason": f"{where}: v{version} registered from {source}"}  # fmt: skip
    key, value = str(data.get("key", "")), str(data.get("value", ""))
    if key in OWN_TAGS and _ours_recently(attempts, version, d.at, in_flight):
        return None
    return {**base, "target": "tag", "from_version": None, "to_version": version,
            "reason": f"{where}: tag {key}={value} on v{version}"}  # fmt: skip


def _ours_recently(
    attempts: list[Attempt], version: str | None, at: datetime, in_flight: Attempt | None
) -> bool:
    """A change of ours to this version in flight, or begun shortly before the delivery was sent."""
    if in_flight is not None and in_flight.to_version == version:
        return True
    return any(
        a.to_version == version
        and a.actor != MLFLOW_ACTOR
        and a.outcome in ("done", "failed", "incomplete")
        and a.at - timedelta(seconds=5) <= at <= a.at + OWN_WRITES_WINDOW
        for a in attempts
    )
