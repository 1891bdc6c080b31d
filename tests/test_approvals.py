"""Protected slots and approval requests (two-person rule) against the real mlflow server.

Leads: ada (requests), bob and cy (approve); vera is a viewer. Every refusal leaves MLflow as it was
and is in the audit log.
"""

from __future__ import annotations

import threading
import time

import pytest

from registry.audit import requests as request_store
from registry.errors import BadInput, Conflict, Refused
from registry.service import Registry
from tests.factories import make_model

LEADS = "ada,bob,cy"


@pytest.fixture
def reg(make_settings) -> Registry:
    return Registry.connect(make_settings("http", leads_csv=LEADS))


def two_person_model(reg: Registry, approvals: int = 1, **tags: str) -> str:
    model = make_model(
        reg.client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.95}], model_tags={"registry.approvals": "0"}
    )
    reg.promote(model, "1", "baseline", actor=reg.actor("ada"))  # no approvals yet: applied at once
    reg.client.set_registered_model_tag(model, "registry.approvals", str(approvals))
    for key, value in tags.items():
        reg.client.set_registered_model_tag(model, key, value)
    return model


def production(reg: Registry, model: str) -> str | None:
    return reg.state(model).holders.production


def outcomes(reg: Registry, model: str) -> list[tuple[str, str]]:
    return [(a.actor, a.outcome) for a in reg.history(model)]


def test_a_promotion_becomes_a_request_and_another_lead_applies_it(reg):
    model = two_person_model(reg)
    asked = reg.promote(model, "2", "better accuracy", actor=reg.actor("ada"))

    assert asked.outcome == "requested" and asked.request_id
    assert production(reg, model) == "1"  # nothing moved yet
    [open_request] = reg.requests(model)
    assert (open_request.requester, open_request.version, open_request.needed) == ("ada", "2", 1)

    done = reg.approve(asked.request_id, "checked the eval", actor=reg.actor("bob"))

    assert done.outcome == "done" and production(reg, model) == "2"
    assert reg.requests(model) == []
    assert reg.request(asked.request_id).status == "applied"
    last = reg.history(model)[-1]
    assert (last.actor, last.action, last.to_version, last.outcome) == ("ada", "promote", "2", "done")
    assert "approved by bob" in last.reason
    assert outcomes(reg, model)[-3:] == [("ada", "requested"), ("bob", "approved"), ("ada", "done")]


def test_self_approval_and_a_second_approval_by_the_same_lead_are_refused(reg):
    model = two_person_model(reg, approvals=2)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id

    with pytest.raises(Refused, match="another lead must approve"):
        reg.approve(req, "looks fine to me", actor=reg.actor("ada"))
    reg.approve(req, "ok", actor=reg.actor("bob"))
    with pytest.raises(Refused, match="already approved"):
        reg.approve(req, "really ok", actor=reg.actor("bob"))
    with pytest.raises(Refused, match="viewer"):
        reg.approve(req, "me too", actor=reg.actor("vera"))

    assert production(reg, model) == "1" and reg.request(req).approvers == ("bob",)
    refused = [a.actor for a in reg.history(model) if a.outcome == "refused"]
    assert refused == ["ada", "bob", "vera"]
    reg.approve(req, "second pair of eyes", actor=reg.actor("cy"))
    assert production(reg, model) == "2"


def test_approval_after_the_model_changed_is_a_conflict_and_applies_nothing(reg):
    model = two_person_model(reg)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    reg.client.set_registered_model_alias(model, "production", "3")  # someone moves it in MLflow's UI

    with pytest.raises(Conflict, match="production was v1 when requested, now v3"):
        reg.approve(req, "ok", actor=reg.actor("bob"))

    assert production(reg, model) == "3" and reg.request(req).is_open
    assert reg.history(model)[-1].outcome == "conflict"
    now = reg.request_plan_now(req)
    assert now.snapshot.production == "3"
    rejected = reg.reject(req, "stale: the model moved", actor=reg.actor("bob"))
    assert rejected.status == "rejected" and reg.requests(model) == []


def test_expiry_withdraw_and_reject_close_a_request(make_settings):
    reg = Registry.connect(make_settings("http", leads_csv=LEADS, request_ttl_s=1))
    model = two_person_model(reg)
    expiring = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    time.sleep(1.5)
    assert reg.requests(model) == []
    assert reg.request(expiring).status == "expired"
    with pytest.raises(Conflict, match="already expired"):
        reg.approve(expiring, "late", actor=reg.actor("bob"))

    reg2 = Registry.connect(make_settings("http", leads_csv=LEADS))
    withdrawn = reg2.promote(model, "2", "again", actor=reg2.actor("ada")).request_id
    with pytest.raises(Refused, match="only ada"):
        reg2.withdraw(withdrawn, actor=reg2.actor("bob"))
    assert reg2.withdraw(withdrawn, actor=reg2.actor("ada")).status == "withdrawn"
    with pytest.raises(BadInput, match="reason"):
        reg2.reject(withdrawn, "", actor=reg2.actor("bob"))
    assert production(reg2, model) == "1"
    assert {"expired", "withdrawn", "requested"} <= {a.outcome for a in reg2.history(model)}


def test_a_protected_slot_refuses_other_leads_and_the_refusal_is_audited(reg):
    model = two_person_model(reg, approvals=0, **{"registry.slots.production.movers": "bob,role:admin"})
    with pytest.raises(Refused, match="production is protected: only bob, role:admin may move it, not ada"):
        reg.promote(model, "2", "better", actor=reg.actor("ada"))
    assert production(reg, model) == "1"
    assert reg.history(model)[-1].outcome == "refused"
    reg.promote(model, "2", "staging is not protected", actor=reg.actor("ada"), target="staging")
    assert reg.promote(model, "2", "bob may", actor=reg.actor("bob")).outcome == "done"


@pytest.mark.parametrize("backend", ["http", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_final_approvals_apply_exactly_once(make_settings, backend):
    reg = Registry.connect(make_settings(backend, leads_csv=LEADS))
    model = two_person_model(reg, approvals=1)
    req = reg.promote(model, "2", "better", actor=reg.actor("ada")).request_id
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def approve(name: str) -> None:
        other = Registry.connect(reg.settings)  # its own connections, as another replica would have
        start.wait()
        try:
            results[name] = other.approve(req, f"{name} approves", actor=other.actor(name))
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=approve, args=(n,)) for n in ("bob", "cy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    applied = [r for r in results.values() if getattr(r, "outcome", None) == "done"]
    assert len(applied) == 1, results
    assert all(isinstance(r, Conflict) for r in results.values() if r not in applied)
    assert production(reg, model) == "2"
    done = [a for a in reg.history(model) if a.action == "promote" and a.outcome == "done"]
    assert [a.to_version for a in done] == ["1", "2"]
    phases = [e.phase for e in request_store.events(reg.audit.engine, request_id=req)]
    assert phases.count("applied") == 1


def test_cli_request_list_self_approval_and_approval(sqlite_settings, monkeypatch):
    import json

    from tests.cli import run_cli

    monkeypatch.setenv("REGISTRY_ADMINS", "bob")  # run_cli makes ada the only lead
    reg = Registry.connect(sqlite_settings)
    model = make_model(reg.client, [{"acc": 0.8}], model_tags={"registry.approvals": "1"})

    asked = run_cli(sqlite_settings, "promote", model, "1", "--reason", "first release")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("request ")
    listed = json.loads(run_cli(sqlite_settings, "requests", model, "--json").stdout)
    [request_id] = [r["id"] for r in listed]
    assert request_id in asked.stdout

    own = run_cli(sqlite_settings, "approve", request_id, "--reason", "mine is fine")
    assert own.returncode == 3 and "two-person rule" in own.stderr
    assert reg.state(model).holders.production is None

    approved = run_cli(sqlite_settings, "approve", request_id, "--reason", "checked", actor="bob")
    assert approved.returncode == 0, approved.stderr
    assert reg.state(model).holders.production == "1"
    assert json.loads(run_cli(sqlite_settings, "requests", "--json").stdout) == []


def test_a_managed_challenger_needing_approval_is_requested_and_a_conflict_names_the_slot(reg):
    model = make_model(
        reg.client,
        [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.95}],
        model_tags={"registry.slots": "champion, challenger", "registry.slots.challenger.approvals": "1"},
    )
    reg.promote(model, "1", "baseline", actor=reg.actor("ada"))  # champion needs no approval
    asked = reg.promote(model, "2", "candidate", actor=reg.actor("ada"), target="challenger")
    assert asked.outcome == "requested" and reg.request(asked.request_id).target == "challenger"
    assert (
        "promote" in reg.request(asked.request_id).summary()
        and "challenger" in reg.request(asked.request_id).summary()
    )
    done = reg.approve(asked.request_id, "fine", actor=reg.actor("bob"))
    assert done.outcome == "done" and reg.state(model).holders.by_slot == {"champion": "1", "challenger": "2"}

    stale = reg.promote(model, "3", "next candidate", actor=reg.actor("ada"), target="challenger").request_id
    reg.client.set_registered_model_alias(model, "challenger", "1")  # by hand, meanwhile
    with pytest.raises(Conflict, match="challenger was v2 when requested, now v1"):
        reg.approve(stale, "fine", actor=reg.actor("cy"))
    assert reg.state(model).holders.of("challenger") == "1"
