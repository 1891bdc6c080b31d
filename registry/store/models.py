"""Registry reads: models, versions with their aliases, who holds production and staging, lineage.

MLflow's search calls leave aliases out (`search_model_versions` returns empty `aliases`, mlflow#16734;
`latest_versions` omits them, #9952), so aliases always come from `get_registered_model(name).aliases`
and are joined onto versions here, in one place.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from registry.domain.model_state import STAGE_NONE, Holders, ModelInfo, ModelState, VersionInfo
from registry.domain.policy import ModelPolicy, resolve_policy, tags_in_force
from registry.errors import BadInput, RegistryError
from registry.settings import Settings
from registry.store.client import translate_errors
from registry.store.filters import (
    contains,
    name_contains_filter,
    name_equals_filter,
    name_like_filter,
    quoted,
)

log = logging.getLogger("registry.store.models")

# The state types are pure (registry.domain.model_state); importing them from here keeps working.
__all__ = [
    "STAGE_NONE",
    "Holders",
    "ModelInfo",
    "ModelState",
    "ModelsPage",
    "VersionInfo",
    "get_model",
    "get_version",
    "holders_of",
    "list_versions",
    "model_state",
    "read_versions",
    "search_models",
    "source_run_id",
]


@dataclass(frozen=True)
class ModelsPage:
    models: list[ModelInfo]
    next_page_token: str | None


def _model_info(rm: Any) -> ModelInfo:
    """MLflow's RegisteredModel (an untyped entity) as our typed ModelInfo."""
    return ModelInfo(
        name=rm.name,
        description=rm.description or "",
        tags=dict(rm.tags or {}),
        aliases={str(k): str(v) for k, v in (rm.aliases or {}).items()},
        created_ms=int(rm.creation_timestamp or 0),
        updated_ms=int(rm.last_updated_timestamp or 0),
    )


def _version_info(mv: Any, aliases_by_version: dict[str, list[str]]) -> VersionInfo:
    """MLflow's ModelVersion (an untyped entity) as our typed VersionInfo, aliases joined."""
    return version_info(mv, sorted(aliases_by_version.get(str(mv.version), [])))


def version_info(mv: Any, aliases: Sequence[str]) -> VersionInfo:
    """MLflow's ModelVersion (an untyped entity) as our typed VersionInfo, with these aliases."""
    return VersionInfo(
        model=mv.name,
        version=str(mv.version),
        status=str(mv.status),
        stage=str(mv.current_stage or STAGE_NONE),
        aliases=tuple(aliases),
        tags=dict(mv.tags or {}),
        run_id=mv.run_id or None,
        source=mv.source or "",
        created_ms=int(mv.creation_timestamp or 0),
        updated_ms=int(mv.last_updated_timestamp or 0),
        description=mv.description or "",
        status_message=getattr(mv, "status_message", None) or "",
    )


def search_models(
    client: MlflowClient, name_contains: str = "", max_results: int = 100, page_token: str | None = None
) -> ModelsPage:
    """One page of registered models whose name contains `name_contains` (case-insensitive).

    The server is asked for a superset (registry/store/filters.py) and the page is narrowed here, so
    `_` or `%` in the text are characters, never wildcards; a page may come back shorter than asked.
    """
    if max_results < 1:
        raise BadInput(f"max results {max_results}: ask for at least 1")
    with translate_errors("search registered models"):
        page = client.search_registered_models(
            filter_string=name_contains_filter(name_contains),
            max_results=max_results,
            page_token=page_token,
            order_by=["name ASC"],
        )
    models = [_model_info(m) for m in page if contains(m.name, name_contains)]
    return ModelsPage(models, page.token or None)


def all_model_names(client: MlflowClient, page_size: int = 1000) -> list[str]:
    """Every registered model's name, by name, across pages."""
    names: list[str] = []
    token = None
    with translate_errors("list registered models"):
        while True:
            page = client.search_registered_models(
                max_results=page_size, page_token=token, order_by=["name ASC"]
            )
            names += [m.name for m in page]
            token = page.token
            if not token:
                return names


def get_model(client: MlflowClient, name: str) -> ModelInfo:
    with translate_errors(f"model {name}"):
        rm = client.get_registered_model(name)
    return _model_info(rm)


def list_versions(client: MlflowClient, name: str, model: ModelInfo | None = None) -> list[VersionInfo]:
    """Every version of a model, newest first, with aliases joined from the registered model."""
    model = model or get_model(client, name)
    aliases_by_version: dict[str, list[str]] = {}
    for alias, version in model.aliases.items():
        aliases_by_version.setdefault(version, []).append(alias)
    # A name that cannot be quoted (both quote kinds) is searched wider and compared here.
    filter_string = name_equals_filter(name) or name_like_filter(name)
    versions: list[VersionInfo] = []
    token = None
    with translate_errors(f"versions of {name}"):
        while True:
            page = client.search_model_versions(filter_string, max_results=1000, page_token=token)
            versions.extend(_version_info(mv, aliases_by_version) for mv in page if mv.name == name)
            token = page.token
            if not token:
                break
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


# One search reads the versions of many models at once: at most this many versions per search
# (estimated from each model's newest version), of at most this many models (the IN list's length).
BATCH_VERSIONS = 1000
BATCH_MODELS = 50


def read_versions(
    client: MlflowClient, wanted: Sequence[tuple[str, str, str | None]]
) -> dict[tuple[str, str], Any]:
    """Versions (name, version) of many models in a few searches, not one `get_model_version` each.

    `wanted` holds (name, version, the model's newest version). A list of models reads one version
    of each (its production one): one call per model cost ~7 ms of CPU on SQLite (~0.7 s for the
    Overview's 100 models), one search of 23 models' versions ~60 ms. Each search asks for
    `name IN (...) AND version_number >= <lowest wanted>`, so it also returns the newer versions of
    those models; models are grouped so that a search returns at most `BATCH_VERSIONS` versions.
    A version not in the result (a name no filter can quote, a model whose newer versions alone pass
    the bound, a version that is gone) is left out: the caller reads it alone, and learns why.
    Versions come without aliases (mlflow#16734).
    """
    batchable = sorted(
        ((name, int(version), max(int(newest or version), int(version))) for name, version, newest in wanted
         if _single_quoted(name) and version.isdigit() and (newest or "0").isdigit()),
        key=lambda w: -w[1],
    )  # fmt: skip
    found: dict[tuple[str, str], Any] = {}
    for names, lowest in _batches(batchable):
        literal = ", ".join(str(quoted(name)) for name in sorted(names))
        try:
            with translate_errors("read model versions"), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                page = client.search_model_versions(
                    f"name IN ({literal}) AND version_number >= {lowest}", max_results=BATCH_VERSIONS
                )
        except RegistryError as exc:  # each version is then read alone, and its row says what failed
            log.warning("reading %d models' versions together failed: %s", len(names), exc)
            continue
        found.update(((mv.name, str(mv.version)), mv) for mv in page if mv.name in names)
    wanted_keys = {(name, str(version)) for name, version, _ in wanted}
    return {key: mv for key, mv in found.items() if key in wanted_keys}


def _single_quoted(name: str) -> bool:
    literal = quoted(name)
    return literal is not None and literal.startswith("'")


def _batches(wanted: Sequence[tuple[str, int, int]]) -> list[tuple[set[str], int]]:
    """Groups of models for one search each, from (name, version, newest) sorted by version, highest
    first: a group's search returns Σ(newest − its lowest version + 1) versions at most."""
    batches: list[tuple[set[str], int]] = []
    names: set[str] = set()
    tops: list[int] = []
    lowest = 0
    for name, version, newest in wanted:
        if newest - version + 1 > BATCH_VERSIONS:
            continue  # this model alone would fill a search: read its version on its own
        cost = sum(top - version + 1 for top in tops) + newest - version + 1
        if names and (cost > BATCH_VERSIONS or len(names) >= BATCH_MODELS):
            batches.append((names, lowest))
            names, tops = set(), []
        names.add(name)
        tops.append(newest)
        lowest = version
    if names:
        batches.append((names, lowest))
    return batches


def get_version(client: MlflowClient, name: str, version: str) -> VersionInfo:
    model = get_model(client, name)
    aliases = [a for a, v in model.aliases.items() if v == str(version)]
    with translate_errors(f"model {name} version {version}"):
        mv = client.get_model_version(name, str(version))
    return _version_info(mv, {str(version): aliases})


def holders_of(
    versions: dict[str, VersionInfo], model: ModelInfo, policy: ModelPolicy, settings: Settings
) -> Holders:
    """The holders of the model's managed slots under its mode."""
    if policy.mode == "aliases":
        by_slot = {slot: model.aliases.get(settings.alias_of(slot)) for slot in policy.slots}
        return Holders(
            production=by_slot.get("production"),
            staging=by_slot.get("staging"),
            slots=by_slot,
        )
    production = sorted(
        (v for v in versions.values() if v.stage == "Production"), key=lambda v: -int(v.version)
    )
    staging = sorted((v for v in versions.values() if v.stage == "Staging"), key=lambda v: -int(v.version))
    by_stage = {
        "production": production[0].version if production else None,
        "staging": staging[0].version if staging else None,
    }
    return Holders(
        production=by_stage["production"],
        staging=by_stage["staging"],
        extra_production=tuple(v.version for v in production[1:]),
        slots={slot: by_stage[slot] for slot in policy.slots},
    )


def model_state(client: MlflowClient, name: str, settings: Settings) -> ModelState:
    """Everything a plan needs about one model, read in three calls."""
    model = get_model(client, name)
    versions = {v.version: v for v in list_versions(client, name, model)}
    uses_stages = any(v.stage in ("Production", "Staging") for v in versions.values())
    policy = resolve_policy(
        tags_in_force(model.tags, settings.policy_locked),
        settings.model_overrides.get(name),
        uses_stages,
        bool(model.aliases),
    )
    return ModelState(model, versions, policy, holders_of(versions, model, policy, settings))


def source_run_id(client: MlflowClient, version: VersionInfo) -> str | None:
    """The run that produced a version: its `run_id`, or the run its MLflow 3 logged model links to."""
    if version.run_id:
        return version.run_id
    if version.model_id:
        with translate_errors(f"logged model {version.model_id}"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return client.get_logged_model(version.model_id).source_run_id or None
    return None
