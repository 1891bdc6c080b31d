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

from mlflow import MlflowClient

from registry.domain.actors import (
    CONFIG_LEADS,
    TAG_LEADS,
    actor_for_model,
    leads_of,
    parse_leads,
    role_for_model,
)
from registry.domain.policy import tags_in_force
from registry.errors import NotFound
from registry.settings import Settings
from registry.store.models import get_model

__all__ = [
    "CONFIG_LEADS",
    "TAG_LEADS",
    "actor_for_model",
    "leads_of",
    "model_leads",
    "parse_leads",
    "role_for_model",
]


def model_leads(client: MlflowClient, settings: Settings, model: str) -> frozenset[str] | None:
    """The leads `model` names, read from the registry; None when it names none or does not exist."""
    try:
        info = get_model(client, model)
    except NotFound:
        return None
    return leads_of(tags_in_force(info.tags, settings.policy_locked), settings.model_overrides.get(model))
