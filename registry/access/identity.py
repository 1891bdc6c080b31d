"""Who is acting, and what they may do.

Authorization lives here, in the service, so the CLI, the MCP server and every page enforce the same
rule; the UI only hides buttons as a courtesy. How a name is learned (the OS user, a proxy header, an
OIDC login) is the front's job; what that name may do is decided here.
"""

from __future__ import annotations

import getpass
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from registry.settings import Settings

Role = Literal["viewer", "lead", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "lead", "admin")


@dataclass(frozen=True)
class Actor:
    """A person or process acting on the registry, with the role the settings give them."""

    name: str
    role: Role = "viewer"

    @property
    def may_change_registry(self) -> bool:
        return self.role in ("lead", "admin")

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


def role_of(name: str, settings: Settings) -> Role:
    """The global role of `name`: admins from REGISTRY_ADMINS, leads from REGISTRY_LEADS, else viewer.

    With neither list set, the local user is the lead. The local user is the OS user running the
    process, not REGISTRY_ACTOR: naming another actor must not grant the lead role. The fallback only
    holds in `local` identity mode: behind a proxy or OIDC an empty list must not make anyone a lead.
    A model may name its own leads, which changes the role for that model only (registry/permissions).
    """
    if not name:
        return "viewer"
    if name in settings.admins:
        return "admin"
    if settings.leads or settings.admins:
        return "lead" if name in settings.leads else "viewer"
    if settings.identity == "local" and name == getpass.getuser():
        return "lead"
    return "viewer"


def actor_named(name: str, settings: Settings) -> Actor:
    return Actor(name=name, role=role_of(name, settings))


def configured_actor(settings: Settings) -> Actor:
    """The actor of the CLI and the MCP server: REGISTRY_ACTOR, or the OS user."""
    return actor_named(settings.actor, settings)


ANONYMOUS = Actor("anonymous", "viewer")


def oidc_name(claims: Mapping[str, object]) -> str:
    """The actor name of an OIDC login: the email claim, which is what REGISTRY_LEADS lists.

    A provider that says the address is unverified (`email_verified` false) may let anyone type any
    address, so the subject (`sub`) names that user instead and can never match an email in a list.
    """
    email = str(claims.get("email") or "").strip()
    if email and claims.get("email_verified") is not False:
        return email
    sub = str(claims.get("sub") or "").strip()
    return f"sub:{sub}" if sub else ""


def actor_from_headers(
    headers: Mapping[str, str], settings: Settings, remote_addr: str | None = None
) -> Actor:
    """The user named by a trusted reverse proxy (oauth2-proxy and the like), or an anonymous viewer.

    The header is honoured only in `header` mode and only when the request proves it came through
    the proxy: the shared secret header matches, or the peer is an allowed proxy address. Anyone can
    send `X-Forwarded-Email`; without that proof it is ignored.
    """
    if settings.identity != "header":
        return ANONYMOUS
    lower = {k.lower(): v for k, v in headers.items()}
    via_secret = bool(settings.header_secret) and hmac.compare_digest(
        lower.get(settings.header_secret_name.lower(), "").encode(), settings.header_secret.encode()
    )
    via_address = remote_addr is not None and remote_addr in settings.trusted_proxies
    name = lower.get(settings.header_user.lower(), "").strip()
    if not name or not (via_secret or via_address):
        return ANONYMOUS
    return actor_named(name, settings)
