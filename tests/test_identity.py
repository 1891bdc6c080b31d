"""Who may act: roles from settings, and proxy headers honoured only with proof."""

from __future__ import annotations

import getpass

import pytest

from registry.access.identity import actor_from_headers, role_of
from registry.errors import BadInput
from registry.settings import load_settings


def test_leads_list_decides_roles():
    s = load_settings(leads_csv="ada, bob", actor="ada")
    assert role_of("ada", s) == "lead" and role_of("bob", s) == "lead"
    assert role_of("carol", s) == "viewer"
    assert role_of("", s) == "viewer"


def test_without_a_list_only_the_os_user_is_a_lead_locally():
    s = load_settings(actor="someone-else")
    assert role_of(getpass.getuser(), s) == "lead"
    assert role_of("someone-else", s) == "viewer"  # naming an actor grants nothing


def test_without_a_list_nobody_is_a_lead_behind_a_proxy():
    s = load_settings(identity="header", header_secret="s3cret")
    assert role_of(getpass.getuser(), s) == "viewer"


def test_header_identity_needs_the_shared_secret():
    s = load_settings(identity="header", leads_csv="ada@example.com", header_secret="s3cret")
    claimed = {"X-Forwarded-Email": "ada@example.com"}
    assert actor_from_headers(claimed, s).name == "anonymous"  # spoofed: no proof
    assert actor_from_headers({**claimed, "X-Registry-Proxy-Secret": "wrong"}, s).role == "viewer"
    with_secret = actor_from_headers({**claimed, "x-registry-proxy-secret": "s3cret"}, s)
    assert (with_secret.name, with_secret.role) == ("ada@example.com", "lead")
    # X-Forwarded-For is the client's to choose (uvicorn believes it from loopback peers): no proof
    forged = {**claimed, "X-Forwarded-For": "10.9.9.9", "X-Real-Ip": "10.9.9.9"}
    assert actor_from_headers(forged, s).name == "anonymous"


def test_the_secret_is_compared_in_constant_time(monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    s = load_settings(identity="header", leads_csv="ada@example.com", header_secret="s3cret")
    actor_from_headers({"X-Forwarded-Email": "ada@example.com", "X-Registry-Proxy-Secret": "s3cre"}, s)
    assert compared == [(b"s3cre", b"s3cret")]


@pytest.mark.parametrize("twice", ["X-Forwarded-Email", "X-Registry-Proxy-Secret"])
def test_a_header_sent_twice_is_refused(twice):
    """A proxy that appends to a header the client already sent lets the client's value come first."""
    s = load_settings(identity="header", leads_csv="ada@example.com", header_secret="s3cret")
    headers: dict[str, list[str]] = {
        "X-Forwarded-Email": ["ada@example.com"],
        "X-Registry-Proxy-Secret": ["s3cret"],
    }
    assert actor_from_headers(headers, s).name == "ada@example.com"
    headers[twice] = [*headers[twice], headers[twice][0]]
    assert actor_from_headers(headers, s).name == "anonymous"


def test_trusting_a_proxy_by_its_address_refuses_to_start():
    with pytest.raises(BadInput, match=r"REGISTRY_TRUSTED_PROXIES.*X-Forwarded-For.*REGISTRY_HEADER_SECRET"):
        load_settings(identity="header", header_secret="s3cret", trusted_proxies_csv="10.9.9.9")


def test_header_mode_without_a_secret_refuses_to_start():
    with pytest.raises(BadInput, match="REGISTRY_HEADER_SECRET"):
        load_settings(identity="header")


def test_header_is_ignored_unless_header_mode_is_on():
    s = load_settings(leads_csv="ada@example.com", header_secret="s3cret")
    headers = {"X-Forwarded-Email": "ada@example.com", "X-Registry-Proxy-Secret": "s3cret"}
    assert actor_from_headers(headers, s).name == "anonymous"


def test_secrets_never_appear_in_what_settings_show():
    s = load_settings(header_secret="s3cret", audit_url="postgresql://u:pw@db/audit")
    shown = str(s.describe()) + repr(s)
    assert "s3cret" not in shown and "pw@" not in shown


def test_anonymous_is_never_a_lead():
    """A header-mode browser with no headers is `anonymous`: naming it anywhere must grant nothing."""
    from registry.domain.actors import Actor, role_for_model

    s = load_settings(leads_csv="anonymous, ada", admins_csv="anonymous")
    assert role_of("anonymous", s) == "viewer"
    assert role_of("ANONYMOUS ", s) == "viewer"
    assert role_for_model(Actor("anonymous", "viewer"), frozenset({"anonymous", "ada"})) == "viewer"
    assert role_for_model(Actor("ada", "viewer"), frozenset({"anonymous", "ada"})) == "lead"
