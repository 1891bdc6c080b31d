"""Approval requests (the two-person rule): a move of a slot that needs approvals becomes a request.

A lead's promote or rollback of a slot with `approvals = N` (registry/domain/slots.py) passes every
check as usual and is then held as a request with the plan as the requester saw it. N other leads
approve it (never the requester, never the same person twice); the last approval re-plans on the
state at that moment and, only if the model is as it was when requested, applies the change as the
requester with the approvers named in the reason. A changed model is a conflict shown to the
approver, and the request stays open for someone to reject. Requests can be rejected (with a
reason), withdrawn by the requester, and expire. Every step is in the audit log, so it is notified.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from registry.audit import requests as store
from registry.domain.actors import Actor, actor_for_model
from registry.domain.checks import check_actor
from registry.domain.labels import version_label as _v
from registry.errors import BadInput, Conflict, NotFound, Refused
from registry.lifecycle.plan import ActionResult, Plan

if TYPE_CHECKING:
    from registry.service import Registry

SYSTEM = "registry"  # the actor of an expiry


@dataclass(frozen=True)
class Approval:
    actor: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class ApprovalRequest:
    """A request folded from its events."""

    id: str
    model: str
    action: str
    version: str | None
    target: str
    from_version: str | None
    requester: str
    reason: str
    force: bool
    needed: int
    requested_at: datetime
    expires_at: datetime
    plan: dict[str, Any]  # as the requester saw it
    snapshot: dict[str, Any]
    audit_seq: int
    approvals: tuple[Approval, ...] = ()
    status: str = "open"  # open | applied | rejected | withdrawn | expired | failed
    closed_by: str | None = None
    closed_reason: str = ""
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.actor for a in self.approvals)

    def summary(self) -> str:
        verb = "roll back" if self.action == "rollback" else "promote"
        what = (
            f"{self.model} {self.target} to v{self.version}"
            if self.action == "rollback"
            else (f"{self.model} v{self.version} to {self.target}")
        )
        return f"{verb} {what} (was {_v(self.from_version)})"

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["approvals"] = [dataclasses.asdict(a) for a in self.approvals]
        out["summary"] = self.summary()
        return out


def _snap(plan: Plan) -> dict[str, Any]:
    """The plan's snapshot as stored (JSON: tuples become lists), so stored and fresh compare equal."""
    stored: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(plan.snapshot)))
    return stored


def fold(events: Iterable[store.RequestEvent]) -> list[ApprovalRequest]:
    """Requests from their events, oldest first."""
    found: dict[str, ApprovalRequest] = {}
    for e in events:
        if e.phase == "requested":
            b = e.body
            found[e.request_id] = ApprovalRequest(
                id=e.request_id,
                model=b["model"],
                action=b["action"],
                version=b.get("version"),
                target=b["target"],
                from_version=b.get("from_version"),
                requester=e.actor,
                reason=e.reason,
                force=bool(b.get("force")),
                needed=int(b["needed"]),
                requested_at=e.at,
                expires_at=datetime.fromisoformat(b["expires_at"]),
                plan=b["plan"],
                snapshot=b["snapshot"],
                audit_seq=int(b["audit_seq"]),
            )
            continue
        req = found.get(e.request_id)
        if req is None:
            continue
        if e.phase == "approved":
            found[e.request_id] = dataclasses.replace(
                req, approvals=(*req.approvals, Approval(e.actor, e.at, e.reason))
            )
        elif e.phase in store.CLOSING:
            found[e.request_id] = dataclasses.replace(
                req, status=e.phase, closed_by=e.actor, closed_reason=e.reason, closed_at=e.at
            )
    return list(found.values())


def _intent(req_or_plan: ApprovalRequest | Plan, actor: Actor, reason: str) -> dict[str, Any]:
    p = req_or_plan
    return {
        "actor": actor.name,
        "role": actor.role,
        "model": p.model,
        "action": p.action,
        "target": p.target,
        "from_version": p.from_version,
        "to_version": p.version,
        "reason": reason,
        "checks": [],
    }


# requesting ------------------------------------------------------------------------------------------
def request_change(
    reg: Registry, plan: Plan, reason: str, *, actor: Actor, force: bool, needed: int
) -> ActionResult:
    """Hold the change as a request: the same guards as an apply, then a `requested` audit entry."""
    reason = (reason or "").strip()
    fresh = reg.plan(plan.action, plan.model, plan.version, actor=actor, target=plan.target)
    forced = force and bool(fresh.overridable_failures)
    intent = {
        **_intent(fresh, fresh.actor, reason),
        "checks": [c.as_dict() for c in fresh.checks],
        "forced": forced,  # what the final approval applies: on record, beside the request's own row
    }
    if not reason:
        reg.audit.record("refused", "a reason is required", **intent)
        raise BadInput("a reason is required: say why, it goes into the audit history")
    if fresh.snapshot != plan.snapshot or fresh.audit_seq != plan.audit_seq:
        message = f"{plan.model} changed since the plan was made; review the new state and plan again"
        reg.audit.record("conflict", message, **intent)
        raise Conflict(message)
    if fresh.blocking or (fresh.overridable_failures and not force):
        failed = fresh.blocking or fresh.overridable_failures
        message = "refused: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        reg.audit.record("refused", message, **intent)
        raise Refused(message)
    store.ensure_table(reg.audit.engine)
    request_id = str(uuid.uuid4())
    expires = datetime.now(UTC) + timedelta(seconds=reg.settings.request_ttl_s)
    body = {
        "model": fresh.model,
        "action": fresh.action,
        "version": fresh.version,
        "target": fresh.target,
        "from_version": fresh.from_version,
        "force": forced,
        "needed": needed,
        "expires_at": expires.isoformat(),
        "plan": fresh.as_dict(),
        "snapshot": _snap(fresh),
        "audit_seq": fresh.audit_seq,
    }
    store.add_event(reg.audit.engine, request_id, "requested", fresh.model, actor.name, reason, body)
    reg.audit.record("requested", _requested_entry(request_id, needed), **intent)
    message = (
        f"request {request_id}: {fresh.model} {fresh.action} v{fresh.version} → {fresh.target} needs "
        f"{needed} approval(s) by other leads (python -m registry approve {request_id} --reason ...)"
    )
    return ActionResult(request_id, fresh, "requested", message, request_id=request_id)


def _requested_entry(request_id: str, needed: int) -> str:
    """What the audit log says of a new request: the final approval checks the request against it."""
    return f"request {request_id}: needs {needed} approval(s)"


# reading ---------------------------------------------------------------------------------------------
def list_requests(reg: Registry, model: str | None = None, open_only: bool = True) -> list[ApprovalRequest]:
    """Requests of one model or all (open ones by default); an overdue request is expired first."""
    found = fold(store.events(reg.audit.engine, model=model))
    now = datetime.now(UTC)
    for req in found:
        if req.is_open and req.expires_at <= now:
            _expire(reg, req)
    if any(r.is_open and r.expires_at <= now for r in found):
        found = fold(store.events(reg.audit.engine, model=model))
    return [r for r in found if r.is_open] if open_only else found


def get_request(reg: Registry, request_id: str) -> ApprovalRequest:
    found = fold(store.events(reg.audit.engine, request_id=(request_id or "").strip()))
    if not found:
        raise NotFound(f"no approval request {request_id!r} (list them with: python -m registry requests)")
    req = found[0]
    if req.is_open and req.expires_at <= datetime.now(UTC):
        _expire(reg, req)
        req = fold(store.events(reg.audit.engine, request_id=req.id))[0]
    return req


def _expire(reg: Registry, req: ApprovalRequest) -> None:
    if store.add_event(reg.audit.engine, req.id, "expired", req.model, SYSTEM, "no decision in time"):
        system = Actor(SYSTEM, "admin")
        reg.audit.record(
            "expired", f"request {req.id} expired unanswered", **_intent(req, system, req.reason)
        )


def _open(req: ApprovalRequest) -> None:
    if not req.is_open:
        by = f" by {req.closed_by}" if req.closed_by else ""
        raise Conflict(f"request {req.id} is already {req.status}{by}; nothing to do")


# deciding --------------------------------------------------------------------------------------------
def _lead_for(reg: Registry, req: ApprovalRequest, actor: Actor, verb: str, reason: str) -> Actor:
    """The actor with their role for the model; a viewer's approval or rejection is refused (audited)."""
    from registry.access.permissions import model_leads

    leads = model_leads(reg.client, reg.settings, req.model)
    check = check_actor(actor, req.model, leads)
    actor = actor_for_model(actor, leads)
    if not check.passed:
        message = f"{actor.name} may not {verb} requests for {req.model}: {check.detail}"
        reg.audit.record("refused", message, **_intent(req, actor, reason))
        raise Refused(message)
    return actor


def approve(reg: Registry, request_id: str, reason: str, *, actor: Actor) -> ApprovalRequest | ActionResult:
    """One approval; the last one needed applies the change (or reports the conflict, applying nothing)."""
    reason = (reason or "").strip()
    req = get_request(reg, request_id)
    if not reason:
        raise BadInput("a reason is required to approve: say why, it goes into the audit history")
    _open(req)
    actor = _lead_for(reg, req, actor, "approve", reason)
    intent = _intent(req, actor, reason)
    if actor.name == req.requester:
        message = f"{actor.name} made request {req.id}: another lead must approve it (two-person rule)"
        reg.audit.record("refused", message, **intent)
        raise Refused(message)
    if actor.name in req.approvers:
        message = f"{actor.name} already approved request {req.id}: it needs a different lead"
        reg.audit.record("refused", message, **intent)
        raise Refused(message)
    final = len(req.approvals) + 1 >= req.needed
    requester = reg.actor(req.requester)
    fresh = None
    if final:  # only what the audit log vouches for: the request's own rows are outside its chain
        unvouched = unvouched_for(req, reg.audit.request_record(req.model, req.id))
        if unvouched:
            message = (
                f"request {req.id} differs from its audit record ({'; '.join(unvouched)}): nothing was "
                "applied. Its rows in the audit database were changed outside the dashboard: reject it, "
                "and have an admin look into who can write that database"
            )
            reg.audit.record("refused", message, **intent)
            raise Refused(message)
        # re-plan on the state now: apply only what the requester asked for, on what they saw
        fresh = reg.plan(req.action, req.model, req.version, actor=requester, target=req.target)
        if _snap(fresh) != req.snapshot or fresh.audit_seq != req.audit_seq:
            message = conflict_message(req, fresh)
            reg.audit.record("conflict", message, **intent)
            raise Conflict(message)
    if not store.add_event(reg.audit.engine, req.id, "approved", req.model, actor.name, reason):
        message = f"{actor.name} already approved request {req.id}: it needs a different lead"
        reg.audit.record("refused", message, **intent)
        raise Refused(message)
    reg.audit.record("approved", f"request {req.id}", **intent)
    if fresh is None:
        return get_request(reg, req.id)
    approvers = ", ".join((*req.approvers, actor.name))
    if not store.add_event(reg.audit.engine, req.id, "applied", req.model, actor.name, reason):
        raise Conflict(f"request {req.id} was closed by a concurrent decision; look at it again")
    from registry.lifecycle.actions import apply_plan

    try:
        return apply_plan(
            reg.client,
            reg.audit,
            reg.settings,
            fresh,
            f"{req.reason} (request {req.id[:8]}, approved by {approvers})",
            actor=requester,
            force=req.force,
        )
    except Exception as exc:
        store.add_event(
            reg.audit.engine, req.id, "failed", req.model, actor.name, str(exc), {"key": "failed"}
        )
        raise


def unvouched_for(req: ApprovalRequest, record: Iterable[dict[str, Any]]) -> list[str]:
    """What of a request its audit record does not vouch for, in words (nothing: it may apply).

    The request's rows are plain rows of the audit database, outside the hash chain: whoever can
    write them could add an approval, lower the approvals needed, change the version or force past
    failed checks. The log's own `requested` and `approved` entries, chained, say what was asked and
    who approved; a final approval applies only what they agree with.
    """
    entries = list(record)
    asked = [e for e in entries if e["outcome"] == "requested" and e["actor"] == req.requester]
    if not asked:
        return [f"no audit record of {req.requester} making it"]
    made = asked[0]
    fields = {
        "approvals needed": (_requested_entry(req.id, req.needed), made["error"]),
        "action": (req.action, made["action"]),
        "target": (req.target, made["target"]),
        "version": (req.version, made["to_version"]),
        "from version": (req.from_version, made["from_version"]),
        "forced": (req.force, bool(made["forced"])),
    }
    said = [f"{name} changed" for name, (now, recorded) in fields.items() if now != recorded]
    approved = {e["actor"] for e in entries if e["outcome"] == "approved"}
    said += [
        f"the approval by {a.actor} has no audit record" for a in req.approvals if a.actor not in approved
    ]
    return said


def conflict_message(req: ApprovalRequest, fresh: Plan) -> str:
    was, now = req.snapshot, _snap(fresh)
    was_by, now_by = dict(was.get("slots") or []), dict(now.get("slots") or [])
    for key in ("production", "staging"):
        was_by.setdefault(key, was.get(key))
        now_by.setdefault(key, now.get(key))
    said = [
        f"{key} was {_v(was_by.get(key))} when requested, now {_v(now_by.get(key))}"
        for key in dict.fromkeys([*was_by, *now_by])
        if was_by.get(key) != now_by.get(key)
    ] or ["another change was recorded since the request"]
    return (
        f"{req.model} changed since request {req.id} was made ({'; '.join(said)}): nothing was applied; "
        "reject the request, and the requester can ask again on the new state"
    )


def reject(reg: Registry, request_id: str, reason: str, *, actor: Actor) -> ApprovalRequest:
    reason = (reason or "").strip()
    if not reason:
        raise BadInput("a reason is required to reject: say why, it goes into the audit history")
    req = get_request(reg, request_id)
    _open(req)
    actor = _lead_for(reg, req, actor, "reject", reason)
    if not store.add_event(reg.audit.engine, req.id, "rejected", req.model, actor.name, reason):
        raise Conflict(f"request {req.id} was closed by a concurrent decision; look at it again")
    reg.audit.record("rejected", f"request {req.id}", **_intent(req, actor, reason))
    return get_request(reg, req.id)


def withdraw(reg: Registry, request_id: str, *, actor: Actor, reason: str = "") -> ApprovalRequest:
    req = get_request(reg, request_id)
    _open(req)
    intent = _intent(req, actor, reason or "withdrawn by the requester")
    if actor.name != req.requester:
        message = f"only {req.requester}, who made request {req.id}, may withdraw it (others may reject it)"
        reg.audit.record("refused", message, **intent)
        raise Refused(message)
    if not store.add_event(reg.audit.engine, req.id, "withdrawn", req.model, actor.name, intent["reason"]):
        raise Conflict(f"request {req.id} was closed by a concurrent decision; look at it again")
    reg.audit.record("withdrawn", f"request {req.id}", **intent)
    return get_request(reg, req.id)
