"""Plan tokens round-trip, bind to one action, and reject anything that did not come from plan_token."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from registry.access.identity import Actor
from registry.errors import BadInput
from registry.lifecycle.actions import Plan, Snapshot
from registry.lifecycle.plan_tokens import approved_plan, plan_token, read_token


def make_plan(version: str | None = "2", production: str | None = "1", seq: int = 3, **kw) -> Plan:
    fields = {
        "model": "iris",
        "action": "promote",
        "target": "production",
        "version": version,
        "from_version": production,
        "mode": "aliases",
        "changes": (),
        "checks": (),
        "comparison": (),
        "snapshot": Snapshot(production, None, "None", ("staging",), False),
        "audit_seq": seq,
        "actor": Actor("ada", "lead"),
    }
    fields.update(kw)
    return Plan(**fields)


def test_round_trip_puts_the_approved_snapshot_on_the_fresh_plan():
    approved = make_plan()
    fresh = make_plan(production="3", seq=5)
    applied = approved_plan(fresh, plan_token(approved))
    assert applied.snapshot == approved.snapshot and applied.audit_seq == 3
    assert applied.checks == fresh.checks  # everything else is the fresh plan's


@pytest.mark.parametrize(
    "other",
    [
        {"version": "3"},
        {"model": "wine"},
        {"action": "archive", "target": "archived"},
        {"target": "staging"},
    ],
)
def test_a_token_for_another_action_is_bad_input(other):
    with pytest.raises(BadInput, match="plan_token is for promote iris v2"):
        approved_plan(make_plan(**other), plan_token(make_plan()))


def test_rollback_token_carries_its_version():
    token = plan_token(make_plan(action="rollback", version="1"))
    assert read_token(token)["version"] == "1"


def _forge(body: object) -> str:
    return "plan1." + base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "plan1.",
        "plan1.!!!",
        "plan2." + plan_token(make_plan()).removeprefix("plan1."),
        _forge([1, 2]),
        _forge({"model": "iris"}),
        _forge({**read_token(plan_token(make_plan())), "audit_seq": "3"}),
        _forge({**read_token(plan_token(make_plan())), "snapshot": {"production": 1}}),
        "plan1." + "A" * 5000,
    ],
)
def test_anything_else_is_bad_input(token):
    with pytest.raises(BadInput, match="not a token returned by plan"):
        read_token(token)


def test_snapshot_fields_are_all_carried():
    body = read_token(plan_token(make_plan()))
    assert set(body["snapshot"]) == {f.name for f in dataclasses.fields(Snapshot)}
