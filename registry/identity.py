"""Who is acting, and what they may do.

Authorization lives here, in the service, so the CLI, the MCP server and every page enforce the same
rule; the UI only hides buttons as a courtesy. How a name is learned (the OS user, a proxy header, an
OIDC login) is the front's job; what that name may do is decided here.
"""

from __future__ import annotations

import getpass
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
    """The role of `name`: leads come from REGISTRY_LEADS; with no list, the local user is the lead.

    The local user is the OS user running the process, not REGISTRY_ACTOR: naming another actor must
    not grant the lead role. The fallback only holds in `local` identity mode: behind a proxy or OIDC
    an empty list must not make anyone a lead.
    """
    if not name:
        return "viewer"
    if settings.leads:
        return "lead" if name in settings.leads else "viewer"
    if settings.identity == "local" and name == getpass.getuser():
        return "lead"
    return "viewer"


def actor_named(name: str, settings: Settings) -> Actor:
    return Actor(name=name, role=role_of(name, settings))


def configured_actor(settings: Settings) -> Actor:
    """The actor of the CLI and the MCP server: REGISTRY_ACTOR, or the OS user."""
    return actor_named(settings.actor, settings)
