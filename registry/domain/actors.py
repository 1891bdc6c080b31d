"""Who may change which model, as pure rules: roles, the actor, and a model's own leads.

How a name is learned and which global role the settings give it is `registry.access`; what a role
means for one model (a model may name its own leads) is decided here, without reading anything, so
the checks and the planner that use it stay pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from registry.errors import BadInput

Role = Literal["viewer", "lead", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "lead", "admin")
TAG_LEADS = "registry.leads"
CONFIG_LEADS = "leads"
# Who an unidentified user is (header mode without proof, OIDC before a login): never a lead or an
# admin, whatever a list, a tag or the config file names.
ANONYMOUS_NAME = "anonymous"


def is_anonymous(name: str) -> bool:
    return name.strip().casefold() == ANONYMOUS_NAME


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


def parse_leads(value: object, where: str = TAG_LEADS) -> frozenset[str] | None:
    """`"ada, bob"` or `["ada", "bob"]` → {"ada", "bob"}; None, blank or empty means "not set"."""
    if value is None:
        return None
    if isinstance(value, str):
        names: Iterable[object] = value.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        names = value
    else:
        raise BadInput(f'{where}: give a list of user names, e.g. leads = ["ada@example.com"]')
    leads = frozenset(str(n).strip() for n in names if str(n).strip())
    return leads or None


def leads_of(model_tags: Mapping[str, str], override: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The model's own leads: the config file's `leads` if it has one, else the `registry.leads` tag."""
    if override and override.get(CONFIG_LEADS) is not None:
        return parse_leads(override[CONFIG_LEADS], f"config file: {CONFIG_LEADS}")
    return parse_leads(model_tags.get(TAG_LEADS))


def role_for_model(actor: Actor, leads: frozenset[str] | None) -> Role:
    """The actor's role for one model: admins stay admins; named leads lead; the rest view."""
    if is_anonymous(actor.name):
        return "viewer"
    if leads is None or actor.role == "admin":
        return actor.role
    return "lead" if actor.name in leads else "viewer"


def actor_for_model(actor: Actor, leads: frozenset[str] | None) -> Actor:
    """The same person with the role they have for a model that names `leads` (None: global role)."""
    role = role_for_model(actor, leads)
    return actor if role == actor.role else replace(actor, role=role)
