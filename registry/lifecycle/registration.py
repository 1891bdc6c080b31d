"""Register a new version from a run or a logged model, and the write guard for the tracking tools.

Registering adds a version; it does not change who serves (promotion does), so it needs no plan or
reason. It is still a change to the registry, so only leads may do it, and a viewer's attempt is
refused and recorded in the audit log like any other refusal.

A successful registration is recorded too (action `register`, outcome done); `registry.audit.replay.replay`
folds only promote, archive and rollback into holders, so it moves nothing. The version also carries
`registry.registered_by`, which MLflow's own UI shows.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry.access.identity import Actor
from registry.access.permissions import actor_for_model, model_leads
from registry.audit.log import AuditLog
from registry.domain.checks import check_actor
from registry.domain.policy import RESERVED_TAG_PREFIX
from registry.errors import BadInput, Refused
from registry.settings import Settings
from registry.store.client import translate_errors
from registry.store.runs import fetch_run, logged_models_of
from registry.training.tracking import (
    REGISTRATION_TIMEOUT_S,
    _fluent_state,  # the one guard of MLflow's process-wide state
    track_model,
)

if TYPE_CHECKING:
    from registry.domain.model_specs import ParamValue  # scikit-learn: loaded only to train

TAG_REGISTERED_BY = "registry.registered_by"
TARGET_NEW_VERSION = "new version"
_LOGGED_MODEL_URI = re.compile(r"models:/(m-[0-9a-f]{1,64})")
_RUN_FOLDER_URI = re.compile(r"runs:/([0-9a-f]{1,64})/(.+)")
MLMODEL = "MLmodel"
_RUN_ID = re.compile(r"[0-9a-f]{1,64}")
_MAX_LOGGED = 20


@dataclass(frozen=True)
class RegisteredVersion:
    model: str
    version: str
    source: str  # models:/m-<id> (a logged model) or runs:/<run>/<folder> (a model artifact folder)
    run_id: str | None
    model_id: str | None
    status: str
    registered_by: str


@dataclass(frozen=True)
class TrackedSpec:
    """A model trained from a JSON spec and logged (and, by default, registered)."""

    run_id: str
    model_uri: str
    version: str | None
    model_id: str
    model: str
    metrics: dict[str, float]
    params: dict[str, str]


@dataclass(frozen=True)
class SourceOption:
    """Something of a run that can become a version: a logged model, or an artifact folder with an
    MLmodel file (MLflow 2 style, or a model saved with `log_artifacts`)."""

    source: str
    label: str


_WRITES = {
    "register": "register versions of",
    "track": "log runs and models for",
    "describe": "describe versions of",
}


def require_writer(
    audit: AuditLog, actor: Actor, model: str, action: str, leads: frozenset[str] | None = None
) -> None:
    """Refuse a viewer (recorded in the audit log as refused); leads and admins pass.

    `action` is `register` (a new version) or `track` (a run with a model, not registered). `leads`
    are the model's own leads, when it exists and names some (registry/permissions.model_leads).
    """
    check = check_actor(actor, model, leads)
    if check.passed:
        return
    message = f"{actor.name} is a viewer: only leads may {_WRITES[action]} {model}"
    if leads is not None:
        message = check.detail  # names the model's leads
    audit.record(
        "refused",
        message,
        actor=actor.name,
        role=actor_for_model(actor, leads).role,
        model=model,
        action=action,
        target=TARGET_NEW_VERSION,
        from_version=None,
        to_version=None,
        reason="",
        checks=[check.as_dict()],
    )
    raise Refused(message)


def registrable_sources(client: MlflowClient, run_id: str) -> list[SourceOption]:
    """A run's logged models, then its artifact folders holding an MLmodel file."""
    from registry.store.artifacts import artifact_tree

    run = fetch_run(client, run_id)
    options = [
        SourceOption(f"models:/{m.model_id}", f"logged model {m.name} (models:/{m.model_id})")
        for m in logged_models_of(client, run, _MAX_LOGGED)
    ]
    for entry in artifact_tree(client, run_id).entries:
        folder, _, name = entry.path.rpartition("/")
        if name == MLMODEL and not entry.is_dir:
            uri = f"runs:/{run_id}/{folder}" if folder else f"runs:/{run_id}"
            options.append(SourceOption(uri, f"artifact folder {folder or '(root)'} ({uri})"))
    return options


def _resolve_folder(client: MlflowClient, run_id: str, folder: str) -> None:
    """A `runs:/<run>/<folder>` source must be a folder of that run with an MLmodel file in it."""
    from registry.store.artifacts import list_artifacts, safe_path

    folder = safe_path(folder.strip("/"))
    fetch_run(client, run_id)
    names = {e.path.rpartition("/")[2] for e in list_artifacts(client, run_id, folder)}
    if MLMODEL not in names:
        raise BadInput(f"runs:/{run_id}/{folder} holds no {MLMODEL} file, so it is not a model to register")


def resolve_logged_model(client: MlflowClient, source: str) -> tuple[str, str | None]:
    """(model_id, run_id) for `models:/m-<id>`, or for a run id that logged exactly one model."""
    source = (source or "").strip()
    match = _LOGGED_MODEL_URI.fullmatch(source)
    if match:
        model_id = match.group(1)
        with translate_errors(f"logged model {model_id}"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logged = client.get_logged_model(model_id)
        return model_id, logged.source_run_id or None
    if source.startswith(("models:/", "runs:/")) or not _RUN_ID.fullmatch(source):
        raise BadInput(
            f"source {source!r}: give a run id (32 hex characters), a logged model URI models:/m-<id>, "
            "or a model folder of a run, runs:/<run id>/<folder>"
        )
    logged_models = logged_models_of(client, fetch_run(client, source), _MAX_LOGGED)
    if not logged_models:
        raise BadInput(f"run {source} logged no model, so there is nothing to register")
    if len(logged_models) > 1:
        choices = ", ".join(f"models:/{m.model_id} ({m.name})" for m in logged_models)
        raise BadInput(f"run {source} logged {len(logged_models)} models; register one of: {choices}")
    return logged_models[0].model_id, source


def register_version(
    settings: Settings,
    client: MlflowClient,
    audit: AuditLog,
    source: str,
    model: str,
    *,
    actor: Actor,
    description: str = "",
) -> RegisteredVersion:
    """A new version of `model` (created if needed) from a run id, `models:/m-<id>` or a run's model
    folder `runs:/<run id>/<folder>`; leads only.

    MLflow's SQL registry store resolves a `models:/m-<id>` source through the process-wide tracking
    URI, not the client's, so the version is created with MLflow's fluent state pointed at ours.
    """
    model = (model or "").strip()
    if not model:
        raise BadInput("model: give the registered model a name")
    leads = model_leads(client, settings, model)
    require_writer(audit, actor, model, "register", leads)
    actor = actor_for_model(actor, leads)
    source = (source or "").strip()
    folder = _RUN_FOLDER_URI.fullmatch(source)
    model_id: str | None
    if folder:
        run_id, model_id, uri = folder.group(1), None, source
        _resolve_folder(client, run_id, folder.group(2))
    else:
        model_id, run_id = resolve_logged_model(client, source)
        uri = f"models:/{model_id}"
    with translate_errors(f"register {model}"), _fluent_state(settings):
        try:
            client.create_registered_model(model)
        except MlflowException as exc:  # a new version of an existing model: the usual case
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        created = client.create_model_version(
            model,
            uri,
            run_id=run_id,
            tags={TAG_REGISTERED_BY: actor.name},
            description=description or None,
            await_creation_for=REGISTRATION_TIMEOUT_S,
            model_id=model_id,
        )
    audit.record(
        "done",
        actor=actor.name,
        role=actor.role,
        model=model,
        action="register",
        target="none",
        from_version=None,
        to_version=str(created.version),
        reason=description or f"registered from {source}",
        checks=[],
    )
    return RegisteredVersion(
        model=model,
        version=str(created.version),
        source=uri,
        run_id=run_id,
        model_id=model_id,
        status=str(created.status),
        registered_by=actor.name,
    )


def track_from_spec(
    settings: Settings,
    client: MlflowClient,
    audit: AuditLog,
    name: str,
    estimator: str,
    dataset: str,
    params: dict[str, ParamValue] | None = None,
    *,
    actor: Actor,
    experiment: str | None = None,
    run_name: str | None = None,
    register: bool = True,
    tags: dict[str, str] | None = None,
    test_size: float = 0.3,
    seed: int = 0,
) -> TrackedSpec:
    """Train an allow-listed estimator on a bundled dataset, log it, and register it unless told not to.

    Leads only (a viewer is refused and audited). Tags named `registry.*` are refused: they are the
    registry's own bookkeeping (archived, promoted_by, ...), never set by hand.
    """
    leads = model_leads(client, settings, name)
    require_writer(audit, actor, name, "register" if register else "track", leads)
    reserved = sorted(k for k in tags or {} if k.startswith(RESERVED_TAG_PREFIX))
    if reserved:
        raise BadInput(f"tags: names starting registry. are the registry's own ({', '.join(reserved)})")
    from registry.domain.model_specs import train_from_spec  # scikit-learn: imported only to train

    trained = train_from_spec(estimator, dataset, params, test_size=test_size, seed=seed)
    tracked = track_model(
        settings,
        name,
        trained.model,
        trained.params,
        trained.metrics,
        register=register,
        tags={**(tags or {}), TAG_REGISTERED_BY: actor.name},
        experiment=experiment,
        run_name=run_name,
        input_example=trained.input_example,
        client=client,
    )
    return TrackedSpec(
        run_id=tracked.run_id,
        model_uri=tracked.model_uri,
        version=tracked.version,
        model_id=tracked.model_id,
        model=name,
        metrics=dict(trained.metrics),
        params=dict(trained.params),
    )


MAX_DESCRIPTION_CHARS = 5000


def set_description(
    settings: Settings,
    client: MlflowClient,
    audit: AuditLog,
    model: str,
    version: str,
    description: str,
    *,
    actor: Actor,
) -> str:
    """Set or edit a version's description (what it is, how it was validated); leads only, audited
    (action `describe`, the new text as the reason). It moves nothing, so it needs no plan."""
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise BadInput(f"description: at most {MAX_DESCRIPTION_CHARS} characters ({len(description)} given)")
    leads = model_leads(client, settings, model)
    require_writer(audit, actor, model, "describe", leads)
    actor = actor_for_model(actor, leads)
    version = str(version).removeprefix("v")
    with translate_errors(f"{model} v{version}"):
        client.get_model_version(model, version)  # NotFound names the version, before anything is written
        client.update_model_version(model, version, description=description)
    audit.record(
        "done",
        actor=actor.name,
        role=actor.role,
        model=model,
        action="describe",
        target="description",
        from_version=None,
        to_version=version,
        reason=description or "(description cleared)",
        checks=[],
    )
    return description
