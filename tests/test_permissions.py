"""Roles and per-model leads, enforced by the service and so on every front: service, CLI and MCP.

Global roles: REGISTRY_ADMINS > REGISTRY_LEADS > viewer. A model that names its own leads (tag
`registry.leads`, or `leads = [...]` in the config file, which wins) may be changed by exactly those
people and the admins; everyone else, a global lead included, is a viewer for it. The UI half of the
story (buttons disabled for a per-model viewer) is in tests/ui/test_permissions_page.py.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from registry.access.identity import Actor, oidc_name, role_of
from registry.access.permissions import TAG_LEADS, actor_for_model, leads_of, parse_leads
from registry.domain.checks import check_actor
from registry.errors import BadInput, Refused
from registry.lifecycle.registration import register_version
from registry.service import Registry
from registry.settings import load_settings
from tests.cli import run_cli
from tests.factories import make_model

ADA, BOB, ADMIN, VICTOR = "ada", "bob", "ines", "victor"  # global lead, per-model lead, admin, viewer


# the rules, as pure functions ---------------------------------------------------------------------
def test_admins_outrank_leads_and_any_list_turns_off_the_local_fallback():
    s = load_settings(leads_csv="ada", admins_csv="ines, ada")
    assert [role_of(n, s) for n in ("ines", "ada", "bob")] == ["admin", "admin", "viewer"]
    only_admins = load_settings(admins_csv="ines", actor="someone")
    assert role_of(getpass.getuser(), only_admins) == "viewer"  # roles are explicit once a list is set
    assert load_settings(admins_csv="ines").describe()["admins"] == "ines"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob, carol ,", frozenset({"bob", "carol"})),
        (["bob", " carol "], frozenset({"bob", "carol"})),
        ("", None),
        (" , ", None),
        ([], None),
        (None, None),
    ],
)
def test_leads_parse_from_a_tag_or_a_config_list(value, expected):
    assert parse_leads(value) == expected


def test_config_leads_win_over_the_tag_and_must_be_names():
    tags = {TAG_LEADS: "bob"}
    assert leads_of(tags, None) == {"bob"}
    assert leads_of(tags, {"leads": ["carol"]}) == {"carol"}
    assert leads_of(tags, {"mode": "aliases"}) == {"bob"}
    with pytest.raises(BadInput, match="list of user names"):
        leads_of({}, {"leads": 42})


def test_role_for_a_model_that_names_its_leads():
    leads = frozenset({BOB})
    assert actor_for_model(Actor(ADA, "lead"), leads).role == "viewer"
    assert actor_for_model(Actor(BOB, "viewer"), leads).role == "lead"
    assert actor_for_model(Actor(ADMIN, "admin"), leads).role == "admin"
    assert actor_for_model(Actor(ADA, "lead"), None).role == "lead"  # no list: the global role
    refused = check_actor(Actor(ADA, "lead"), "m", leads)
    assert (
        not refused.passed
        and "ada is a viewer for model m: only its leads (bob) and admins" in refused.detail
    )
    assert check_actor(Actor(ADMIN, "admin"), "m", leads).detail == "ines is an admin"


def test_oidc_names_are_verified_emails_or_the_subject():
    assert oidc_name({"email": "ada@example.com", "sub": "1"}) == "ada@example.com"
    assert oidc_name({"email": "ada@example.com", "email_verified": True, "sub": "1"}) == "ada@example.com"
    assert oidc_name({"email": "ada@example.com", "email_verified": False, "sub": "1"}) == "sub:1"
    assert oidc_name({"name": "Ada", "sub": "1"}) == "sub:1"  # a display name is not an identity
    assert oidc_name({}) == ""


# the service --------------------------------------------------------------------------------------
@pytest.fixture
def reg(make_settings, tmp_path: Path) -> Registry:
    config = tmp_path / "registry.toml"
    config.write_text('[models."from-config"]\nleads = ["carol"]\n')
    return Registry.connect(make_settings("sqlite", leads_csv=ADA, admins_csv=ADMIN, config_file=config))


def aliases(reg: Registry, model: str) -> dict[str, str]:
    return {k: str(v) for k, v in reg.client.get_registered_model(model).aliases.items()}


def test_a_model_with_leads_refuses_everyone_else_even_global_leads(reg):
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={TAG_LEADS: BOB})

    plan = reg.plan("promote", model, "1", actor=reg.actor(ADA))
    assert not plan.allowed and plan.actor == Actor(ADA, "viewer")
    with pytest.raises(Refused, match=f"ada is a viewer for model {model}: only its leads \\(bob\\)"):
        reg.promote(model, "1", "I lead elsewhere", actor=reg.actor(ADA))
    with pytest.raises(Refused, match="victor is a viewer"):
        reg.promote(model, "1", "me neither", actor=reg.actor(VICTOR))
    assert aliases(reg, model) == {}

    reg.promote(model, "1", "bob leads this one", actor=reg.actor(BOB))  # a global viewer, named here
    reg.promote(model, "2", "admins may act anywhere", actor=reg.actor(ADMIN))
    with pytest.raises(Refused, match="viewer for model"):
        reg.rollback(model, "no", actor=reg.actor(ADA))
    with pytest.raises(Refused, match="viewer for model"):
        reg.archive(model, "1", "no", actor=reg.actor(ADA))
    assert aliases(reg, model) == {"production": "2"}
    assert [(a.actor, a.role, a.to_version, a.outcome) for a in reg.history(model)] == [
        (ADA, "viewer", "1", "refused"),
        (VICTOR, "viewer", "1", "refused"),
        (BOB, "lead", "1", "done"),
        (ADMIN, "admin", "2", "done"),
        (ADA, "viewer", "1", "refused"),
        (ADA, "viewer", "1", "refused"),
    ]


def test_a_model_without_leads_keeps_the_global_roles(reg):
    model = make_model(reg.client, [{"acc": 0.8}])
    with pytest.raises(Refused, match="bob is a viewer: only leads may promote"):
        reg.promote(model, "1", "not a lead", actor=reg.actor(BOB))
    reg.promote(model, "1", "a global lead", actor=reg.actor(ADA))
    assert aliases(reg, model) == {"production": "1"}


def test_the_config_file_names_the_leads_over_the_tag(reg):
    make_model(reg.client, [{"acc": 0.8}], name="from-config", model_tags={TAG_LEADS: BOB})
    with pytest.raises(Refused, match=r"bob is a viewer for model from-config: only its leads \(carol\)"):
        reg.promote("from-config", "1", "the tag says me", actor=reg.actor(BOB))
    reg.promote("from-config", "1", "the config says me", actor=reg.actor("carol"))


def test_a_plan_made_by_a_lead_cannot_be_applied_by_a_per_model_viewer(reg):
    model = make_model(reg.client, [{"acc": 0.8}], model_tags={TAG_LEADS: BOB})
    plan = reg.plan("promote", model, "1", actor=reg.actor(BOB))
    assert plan.allowed
    with pytest.raises(Refused, match="viewer for model"):
        reg.apply(plan, "someone else's plan", actor=reg.actor(ADA))
    assert aliases(reg, model) == {}


def test_registering_a_version_of_a_model_with_leads_is_theirs_too(reg):
    model = make_model(reg.client, [{"acc": 0.8}], model_tags={TAG_LEADS: BOB})
    with pytest.raises(Refused, match="ada is a viewer for model"):
        register_version(reg.settings, reg.client, reg.audit, "0" * 32, model, actor=reg.actor(ADA))
    [attempt] = reg.history(model)
    assert (attempt.actor, attempt.role, attempt.action, attempt.outcome) == (
        ADA,
        "viewer",
        "register",
        "refused",
    )


# the CLI (a subprocess each: ~3 s) ----------------------------------------------------------------
def test_cli_refuses_global_and_per_model_viewers_with_exit_3(reg):
    model = make_model(reg.client, [{"acc": 0.8}], model_tags={TAG_LEADS: BOB})
    per_model = run_cli(reg.settings, "promote", model, "1", "--reason", "I lead others", actor=ADA)
    assert per_model.returncode == 3, per_model.stderr
    assert f"refused: ada is a viewer for model {model}" in per_model.stderr
    plain_model = make_model(reg.client, [{"acc": 0.8}])
    global_viewer = run_cli(reg.settings, "promote", plain_model, "1", "--reason", "mine", actor=VICTOR)
    assert global_viewer.returncode == 3 and "victor is a viewer" in global_viewer.stderr
    for done in (per_model, global_viewer):
        assert "Traceback" not in done.stderr
    assert aliases(reg, model) == {} and aliases(reg, plain_model) == {}


# MCP (one stdio server acting as ada, a global lead) ---------------------------------------------
def test_mcp_refuses_a_per_model_viewer_with_a_tool_error(reg, tmp_path: Path):
    from tests.test_mcp import mcp_session

    theirs = make_model(reg.client, [{"acc": 0.8}], model_tags={TAG_LEADS: f"{BOB}, carol"})
    ours = make_model(reg.client, [{"acc": 0.8}], model_tags={TAG_LEADS: ADA})
    with mcp_session(reg.settings, ADA, tmp_path / "mcp.log") as ada:
        plan = ada.ok("plan", action="promote", model=theirs, version="1")
        assert not plan["allowed"] and plan["actor"] == {"name": ADA, "role": "viewer"}
        refused = ada.error("promote", model=theirs, version="1", reason="not mine")
        assert refused.startswith(
            f"Error executing tool promote: refused: ada is a viewer for model {theirs}"
        )
        assert "bob, carol" in refused
        registering = ada.error("register_model", source="0" * 32, model=theirs)
        assert "refused: ada is a viewer for model" in registering
        assert ada.ok("promote", model=ours, version="1", reason="mine")["outcome"] == "done"
    assert aliases(reg, theirs) == {} and aliases(reg, ours) == {"production": "1"}
    assert [(a.action, a.role, a.outcome) for a in reg.history(theirs)] == [
        ("promote", "viewer", "refused"),
        ("register", "viewer", "refused"),
    ]
