"""Who is acting, and what they may do.

Authorization lives here, in the service, so the CLI, the MCP server and every page enforce the same
rule; the UI only hides buttons as a courtesy. How a name is learned (the OS user, a proxy header, an
OIDC login) is the front's job; what that name may do is decided here.
"""

from __future__ import annotations

import getpass
import hmac
import logging
from collections.abc import Mapping, Sequence

from registry.domain.actors import ANONYMOUS_NAME, ROLES, Actor, Role, is_anonymous
from registry.settings import Settings

# Actor and Role are pure (registry.domain.actors); importing them from here keeps working.
__all__ = [
    "ANONYMOUS",
    "ROLES",
    "Actor",
    "Role",
    "actor_from_headers",
    "actor_named",
    "configured_actor",
    "oidc_name",
    "role_of",
]

log = logging.getLogger(__name__)


def role_of(name: str, settings: Settings) -> Role:
    """The global role of `name`: admins from REGISTRY_ADMINS, leads from REGISTRY_LEADS, else viewer.

    With neither list set, the local user is the lead. The local user is the OS user running the
    process, not REGISTRY_ACTOR: naming another actor must not grant the lead role. The fallback only
    holds in `local` identity mode: behind a proxy or OIDC an empty list must not make anyone a lead.
    A model may name its own leads, which changes the role for that model only (registry/permissions).
    """
    if not name or is_anonymous(name):  # an unidentified user is never a lead
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


ANONYMOUS = Actor(ANONYMOUS_NAME, "viewer")


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


def actor_from_headers(headers: Mapping[str, str | Sequence[str]], settings: Settings) -> Actor:
    """The user named by the reverse proxy (oauth2-proxy and the like), or an anonymous viewer.

    Honoured only in `header` mode and only when the request carries the proxy's shared secret
    (compared in constant time). Anyone can send `X-Forwarded-Email`, and the client address is no
    proof either: uvicorn takes it from `X-Forwarded-For`, which the client chooses. `headers` maps a
    name to every value it was sent with; a user or secret header sent twice is refused, because a
    proxy that appends to a client's header would otherwise let the client's value through.
    """
    if settings.identity != "header":
        return ANONYMOUS
    values = {k.lower(): [v] if isinstance(v, str) else list(v) for k, v in headers.items()}
    secret = values.get(settings.header_secret_name.lower(), [])
    named = values.get(settings.header_user.lower(), [])
    if len(secret) > 1 or len(named) > 1:
        log.warning("header identity: %s or %s sent twice; treated as anonymous", *_header_names(settings))
        return ANONYMOUS
    proven = bool(settings.header_secret) and hmac.compare_digest(
        (secret[0] if secret else "").encode(), settings.header_secret.encode()
    )
    name = named[0].strip() if named else ""
    if not name or not proven:
        return ANONYMOUS
    return actor_named(name, settings)


def _header_names(settings: Settings) -> tuple[str, str]:
    return settings.header_user, settings.header_secret_name
