"""Plan tokens: carry a plan that a person approved across stateless calls (MCP tools, scripts).

The dashboard keeps the plan it showed in the session and applies exactly that one; a front that
answers one call at a time cannot. `plan_token` packs what `apply_plan` compares against (the model's
snapshot and audit sequence number) with what the plan was for, and `approved_plan` puts them back
on a freshly made plan, so applying refuses with a Conflict, recorded in the audit log, when the
model changed after the person looked at the plan.

A token is not a secret or a permission: forging one can only make apply refuse. Every guard still
runs on the fresh state.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from registry.errors import BadInput
from registry.lifecycle.actions import Plan, Snapshot

_PREFIX = "plan1."
_FIELDS = ("model", "action", "target", "version", "audit_seq", "snapshot")


def plan_token(plan: Plan) -> str:
    body = {
        "model": plan.model,
        "action": plan.action,
        "target": plan.target,
        "version": plan.version,
        "audit_seq": plan.audit_seq,
        "snapshot": dataclasses.asdict(plan.snapshot),
    }
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str) -> dict[str, Any]:
    """The token's fields; BadInput for anything that did not come from `plan_token`."""
    bad = BadInput("plan_token: not a token returned by plan; call plan again and pass its plan_token")
    token = (token or "").strip()
    if not token.startswith(_PREFIX) or len(token) > 4096:
        raise bad
    encoded = token.removeprefix(_PREFIX)
    try:
        body = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if not isinstance(body, dict) or set(body) != set(_FIELDS) or not _valid(body):
        raise bad
    return body


def approved_plan(fresh: Plan, token: str) -> Plan:
    """`fresh` carrying the approved plan's snapshot, so apply checks the state against it.

    The token must be for the same model, action, target and version; a rollback made without a
    version should be planned with the token's version (`read_token(token)["version"]`).
    """
    body = read_token(token)
    wanted = {"model": fresh.model, "action": fresh.action, "target": fresh.target, "version": fresh.version}
    for key, value in wanted.items():
        if body[key] != value:
            raise BadInput(
                f"plan_token is for {body['action']} {body['model']} v{body['version']} → {body['target']}, "
                f"not {fresh.action} {fresh.model} v{fresh.version} → {fresh.target}; plan this action first"
            )
    snap = body["snapshot"]
    snapshot = Snapshot(
        production=snap["production"],
        staging=snap["staging"],
        version_stage=snap["version_stage"],
        version_aliases=tuple(snap["version_aliases"]),
        version_archived=snap["version_archived"],
        slots=tuple((str(slot), holder) for slot, holder in snap.get("slots", [])),
    )
    return dataclasses.replace(fresh, snapshot=snapshot, audit_seq=body["audit_seq"])


def _valid_slots(slots: Any) -> bool:
    return isinstance(slots, list) and all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in slots
    )


def _valid(body: dict[str, Any]) -> bool:
    def text(value: Any) -> bool:
        return value is None or isinstance(value, str)

    snap = body["snapshot"]
    return (
        all(isinstance(body[k], str) for k in ("model", "action", "target"))
        and text(body["version"])
        and isinstance(body["audit_seq"], int)
        and not isinstance(body["audit_seq"], bool)
        and isinstance(snap, dict)
        and set(snap) | {"slots"} == {f.name for f in dataclasses.fields(Snapshot)}
        and _valid_slots(snap.get("slots", []))
        and all(text(snap[k]) for k in ("production", "staging", "version_stage"))
        and isinstance(snap["version_aliases"], list)
        and all(isinstance(a, str) for a in snap["version_aliases"])
        and (snap["version_archived"] is None or isinstance(snap["version_archived"], bool))
    )
