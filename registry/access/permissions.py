"""Who may change which model: global roles, per-model leads, and admins above both.

Global roles come from REGISTRY_LEADS and REGISTRY_ADMINS (registry/access/identity.py). A model may name
its own leads, in its `registry.leads` tag (comma-separated) or as `leads = [...]` in its table of
the TOML config file (which wins over the tag, like every other per-model setting). When a model
names leads, exactly those people and the admins may change it, and everyone else, global leads
included, is a viewer for that model. Admins may change every model whatever it names.

The tag lives in MLflow, so whoever may write the model's tags in MLflow decides who leads it in the
dashboard; teams that want that decided in review keep `leads` in the config file instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mlflow import MlflowClient

from registry.access.identity import Actor, Role
from registry.errors import BadInput, NotFound
from registry.settings import Settings
from registry.store.models import get_model

TAG_LEADS = "registry.leads"
CONFIG_LEADS = "leads"


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


def model_leads(client: MlflowClient, settings: Settings, model: str) -> frozenset[str] | None:
    """The leads `model` names, read from the registry; None when it names none or does not exist."""
    try:
        info = get_model(client, model)
    except NotFound:
        return None
    return leads_of(info.tags, settings.model_overrides.get(model))


def role_for_model(actor: Actor, leads: frozenset[str] | None) -> Role:
    """The actor's role for one model: admins stay admins; named leads lead; the rest view."""
    if leads is None or actor.role == "admin":
        return actor.role
    return "lead" if actor.name in leads else "viewer"


def actor_for_model(actor: Actor, leads: frozenset[str] | None) -> Actor:
    """The same person with the role they have for a model that names `leads` (None: global role)."""
    role = role_for_model(actor, leads)
    return actor if role == actor.role else replace(actor, role=role)
