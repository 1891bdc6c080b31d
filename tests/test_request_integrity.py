"""An approval request is applied only as its audit record says it was made and approved.

The request's own rows (registry_request_events) are plain rows anyone who can write the audit
database can add to or edit, outside the audit log's hash chain. The two-person rule must not rest on
them alone: a forged approval, or a request edited to need fewer approvals, to move another version
or to force past failed checks, is refused at the final approval, applies nothing and is audited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from registry.audit import requests as request_store
from registry.errors import Refused
from registry.service import Registry
from tests.test_approvals import LEADS, production, two_person_model


@pytest.fixture
def reg(make_settings) -> Registry:
    return Registry.connect(make_settings("http", leads_csv=LEADS))


def edit_request_body(reg: Registry, request_id: str, **changes: object) -> None:
    """What a hostile writer of the audit database does to a request's `requested` row."""
    table = request_store.request_events
    where = (table.c.request_id == request_id) & (table.c.phase == "requested")
    with reg.audit.engine.begin() as conn:
        body = json.loads(conn.execute(select(table.c.body).where(where)).scalar_one())
        conn.execute(update(table).where(where).values(body=json.dumps({**body, **changes})))


def forge_approval(reg: Registry, request_id: str, model: str, actor: str) -> None:
    row = {
        "request_id": request_id, "key": f"approved:{actor}", "phase": "approved", "model": model,
        "actor": actor, "at": datetime.now(UTC), "reason": "lgtm", "body": "{}",
    }  # fmt: skip
    with reg.audit.engine.begin() as conn:
        conn.execute(request_store.request_events.insert().values(**row))


def refusals(reg: Registry, model: str) -> list[str]:
    return [a.error or "" for a in reg.history(model) if a.outcome == "refused"]


def test_a_forged_approval_does_not_count_towards_the_two_person_rule(reg):
    model = two_person_model(reg, approvals=2)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    forge_approval(reg, req, model, "cy")  # cy never approved

    with pytest.raises(Refused, match="approval by cy has no audit record"):
        reg.approve(req, "ok", actor=reg.actor("bob"))

    assert production(reg, model) == "1"
    assert reg.request(req).is_open and reg.request(req).approvers == ("cy",)  # bob's was not added
    assert any("approval by cy has no audit record" in r for r in refusals(reg, model))


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"needed": 1}, "approvals needed"),
        ({"version": "3"}, "version"),
        ({"force": True}, "forced"),
    ],
)
def test_a_request_edited_after_it_was_made_is_refused_at_the_final_approval(reg, changes, said):
    model = two_person_model(reg, approvals=2 if "needed" in changes else 1)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    edit_request_body(reg, req, **changes)

    with pytest.raises(Refused, match=f"differs from its audit record.*{said}"):
        reg.approve(req, "ok", actor=reg.actor("bob"))

    assert production(reg, model) == "1" and reg.request(req).is_open
    assert any("differs from its audit record" in r for r in refusals(reg, model))


def test_a_request_made_and_approved_through_the_service_still_applies(reg):
    """The check vouches for the rows the service wrote: two real approvals apply the change."""
    model = two_person_model(reg, approvals=2)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    reg.approve(req, "ok", actor=reg.actor("bob"))
    done = reg.approve(req, "second pair of eyes", actor=reg.actor("cy"))
    assert done.outcome == "done" and production(reg, model) == "2"
