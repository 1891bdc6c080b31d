"""Policy tags changed in MLflow directly (issue 12 item 6): recorded once, shown, and a plan made
under the old policy does not apply under the new one.

The model and its tags are set with the plain MlflowClient, as a viewer with MLflow write access would.
"""

from __future__ import annotations

import pytest

from registry.access.identity import Actor
from registry.audit.replay import POLICY
from registry.errors import BadInput, Conflict, Refused
from registry.service import Registry
from registry.settings import load_settings
from tests.factories import make_model

BOB, MALLORY = Actor("bob", "lead"), Actor("mallory", "viewer")


@pytest.fixture(scope="module")
def reg(shared_settings) -> Registry:
    return Registry.connect(shared_settings)


def policy_events(reg: Registry, model: str):
    return [a for a in reg.history(model) if a.action == POLICY]


def test_a_lead_named_by_hand_is_recorded_once_and_a_plan_made_before_conflicts(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.leads": "bob"})
    reg.promote(model, "1", "first", actor=BOB)  # the service meets the model: its policy as first seen
    assert policy_events(reg, model) == []
    plan = reg.plan("promote", model, "2", actor=BOB)

    reg.client.set_registered_model_tag(model, "registry.leads", "bob,mallory")  # in MLflow, by hand
    with pytest.raises(Conflict):
        reg.apply(plan, "planned under the old leads", actor=BOB)

    [event] = policy_events(reg, model)
    assert (event.actor, event.outcome) == ("mlflow", "done")
    assert "registry.leads 'bob' → 'bob,mallory'" in event.reason
    assert reg.model_history(model).drift == []  # holders did not move
    assert len(policy_events(reg, model)) == 1  # read again: nothing new to record
    assert [c.attempt_id for c in reg.model_view(model).policy_changes] == [event.attempt_id]

    # The tags are in force (mallory, a global viewer, now leads the model), and on record before it.
    reg.promote(model, "2", "mallory named herself", actor=MALLORY)
    assert [(a.action, a.actor, a.outcome) for a in reg.history(model)] == [
        ("promote", "bob", "done"),
        (POLICY, "mlflow", "done"),
        ("promote", "bob", "conflict"),
        ("promote", "mallory", "done"),
    ]


def test_set_changed_and_removed_policy_tags_each_say_what_they_were(reg):
    model = make_model(reg.client, [{"acc": 0.8}], model_tags={"registry.gate.metric": "acc"})
    reg.model_history(model)  # first seen
    reg.client.set_registered_model_tag(model, "registry.approvals", "0")
    reg.client.set_registered_model_tag(model, "registry.gate.metric", "loss")
    reg.client.delete_registered_model_tag(model, "registry.gate.metric")
    reg.client.set_registered_model_tag(model, "owner", "not policy")  # other tags are not watched
    reg.model_history(model)

    [event] = policy_events(reg, model)
    assert "registry.approvals set to '0'" in event.reason
    assert "registry.gate.metric removed (was 'acc')" in event.reason
    assert "owner" not in event.reason
    reg.client.set_registered_model_tag(model, "registry.gate.metric", "acc")
    reg.model_history(model)
    assert "registry.gate.metric set to 'acc'" in policy_events(reg, model)[-1].reason


def test_policy_locked_to_the_config_file_ignores_the_tags_but_still_records_their_change(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.leads": "bob"})
    locked = Registry.connect(load_settings(**{**reg.settings.model_dump(), "policy_source_env": "config"}))
    assert locked.settings.policy_locked

    ada = Actor("ada", "lead")  # a global lead: the tag naming bob alone is not in force
    locked.promote(model, "1", "leads come from registry.toml here", actor=ada)
    reg.client.set_registered_model_tag(model, "registry.leads", "mallory")  # by hand
    with pytest.raises(Refused):
        locked.promote(model, "2", "a global viewer stays a viewer", actor=MALLORY)

    [event] = policy_events(locked, model)
    assert "registry.leads 'bob' → 'mallory'" in event.reason  # inert, but on record
    assert locked.model_view(model).ignored_policy_tags == {"registry.leads": "mallory"}
    assert reg.model_view(model).ignored_policy_tags == {}


def test_an_unknown_policy_source_in_the_config_file_is_bad_input(tmp_path):
    config = tmp_path / "registry.toml"
    config.write_text('[policy]\nsource = "tag"\n')
    with pytest.raises(BadInput, match='use "tags" or "config"'):
        _ = load_settings(config_file=config, home=tmp_path).policy_locked
