"""Log a trained model as a run and register it: the one write path for training results.

The dashboard, the demo seeder and (later) the MCP tool all log models through `track_model`, so a
version always arrives with its params, metrics, artifacts and tags, and lands READY in the registry.

MLflow's model logging only works through its "fluent" API, which reads process-wide state: the
global tracking and registry URIs, the active experiment and a per-thread stack of active runs. A
dashboard serves many callers in one process, so that state is never trusted: `open_run` sets it for
the duration of one run under a lock and puts back whatever was there before.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.models.model import ModelInfo
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from registry.errors import BadInput
from registry.settings import Settings
from registry.store.client import make_client, translate_errors
from registry.store.readers import backend_of

MODEL_ARTIFACT_NAME = "model"
REGISTRATION_TIMEOUT_S = 120
_SKOPS_TRUSTED_PACKAGES = frozenset({"sklearn", "numpy", "scipy"})

# Guards MLflow's process-wide fluent state (see the module docstring). Re-entrant so a nested run
# can be opened inside its parent's block on the same thread.
_FLUENT_LOCK = threading.RLock()

ArtifactValue = Any
"""bytes as is; str as UTF-8 text; dict/list as JSON; DataFrame as CSV; a matplotlib Figure (anything
with `savefig`) as PNG; a `pathlib.Path` as a copy of that local file or folder. A plain str is
always content, never a path: text and paths cannot be told apart safely."""


@dataclass(frozen=True)
class TrackedModel:
    """What `track_model` created: the run, the logged model and, when registered, the version."""

    run_id: str
    model_uri: str  # models:/m-<id>: the logged model itself, which is also each version's `source`
    version: str | None
    model_id: str


def track_model(
    settings: Settings,
    name: str,
    model: Any,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: Mapping[str, ArtifactValue] | None = None,
    register: bool = True,
    tags: Mapping[str, Any] | None = None,
    *,
    experiment: str | None = None,
    run_name: str | None = None,
    step_metrics: Mapping[str, Iterable[float]] | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    client: MlflowClient | None = None,
) -> TrackedModel:
    """Log `model` with its results as one FINISHED run and register it as a new version of `name`.

    `metrics` are final values; `step_metrics` are per-step histories (step = position), e.g. a loss
    per epoch. A key belongs to one or the other, so the run's latest value of a metric is never
    ambiguous; every latest value is also linked to the logged model. `tags` go on the run and on the
    version: lifecycle checks such as required tags read the version, people browsing runs read the
    run. `client` reuses an open client on the same store (the demo seeder logs many models).

    `experiment` defaults to the model's name, never MLflow's Default experiment, whose artifact root
    in a direct SQLite store is ./mlruns of whatever folder first created the database.
    `pip_requirements` defaults to the flavour's own (scikit-learn and skops, or cloudpickle): MLflow's
    inference starts a subprocess that costs seconds per model and picks up whatever the logging
    process happened to import; a pyfunc model that needs more packages must list them.

    Raises BadInput for malformed arguments (before anything is written), Unreachable when the store
    does not answer. If logging fails midway the run is left FAILED; if registration fails the run
    stays FINISHED and can be registered later from `models:/m-<id>`.
    """
    name = _check_model_name(name)
    sklearn_model = _is_sklearn_estimator(model)
    if not sklearn_model and not _is_pyfunc_model(model):
        raise BadInput(
            f"model: a {type(model).__name__} is neither a scikit-learn estimator nor an "
            "mlflow.pyfunc.PythonModel; wrap it in a PythonModel to log it"
        )
    clean_params = _check_params(params)
    clean_metrics = _check_metrics(metrics)
    clean_steps = _check_step_metrics(step_metrics or {}, clean_metrics)
    clean_tags = _check_tags(tags or {})
    clean_artifacts = _prepare_artifacts(artifacts or {})
    experiment = experiment if experiment is not None else name

    client = client or make_client(settings)
    with translate_errors(f"track model {name}"):
        experiment_id = ensure_experiment(settings, client, experiment)
        with open_run(settings, client, experiment_id, run_name=run_name, tags=clean_tags) as run_id:
            client.log_batch(run_id, params=[Param(k, v) for k, v in clean_params.items()])
            info = _log_model(model, sklearn_model, input_example, pip_requirements)
            model_id = info.model_id
            log_results(client, run_id, metrics=clean_metrics, step_metrics=clean_steps, model_id=model_id)
            log_artifacts(client, run_id, clean_artifacts)
        version = None
        if register:
            with _fluent_state(settings):
                created = mlflow.register_model(
                    f"models:/{model_id}",
                    name,
                    await_registration_for=REGISTRATION_TIMEOUT_S,
                    tags=clean_tags,
                )
            version = str(created.version)
    return TrackedModel(run_id=run_id, model_uri=f"models:/{model_id}", version=version, model_id=model_id)


def ensure_experiment(settings: Settings, client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created with an artifact location that stays under our home.

    A direct database store has no artifact root of its own: MLflow would put artifacts under
    ./mlruns of the current folder, so a dashboard started elsewhere could not find them. A tracking
    server decides for itself (and proxies S3), so there we pass nothing.
    """
    if not name.strip():
        raise BadInput("experiment: the name is empty")
    with translate_errors(f"open experiment {name}"):
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise BadInput(f"experiment {name!r} is deleted; restore it in MLflow or choose another name")
            return found.experiment_id
        return client.create_experiment(name, artifact_location=experiment_artifact_location(settings, name))


def experiment_artifact_location(settings: Settings, experiment: str) -> str | None:
    """Where a new experiment's artifacts go: under the dashboard's home, unless a server decides."""
    if backend_of(settings.effective_tracking_uri) == "server":
        return None
    folder = re.sub(r"[^A-Za-z0-9._-]+", "-", experiment).strip("-.") or "experiment"
    return f"{settings.local_artifact_root}/{folder}"


@contextmanager
def open_run(
    settings: Settings,
    client: MlflowClient,
    experiment_id: str,
    *,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[str]:
    """Create a run and make it MLflow's active run for the block; FINISHED on exit, FAILED on error.

    The run is created with the client and then resumed as the active run, so a run the caller
    already has open on this thread neither blocks it nor becomes its parent by accident; the parent
    is only ever the one passed. Inside the block both the client and MLflow's fluent functions
    (model logging) write to this run in `settings`' store.
    """
    run_tags = dict(tags or {})
    if parent_run_id:
        run_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    with _fluent_state(settings):
        from mlflow.tracking.context.registry import resolve_tags

        run = client.create_run(experiment_id, run_name=run_name, tags=resolve_tags(run_tags))
        with mlflow.start_run(run_id=run.info.run_id, nested=True):
            yield run.info.run_id


def log_results(
    client: MlflowClient,
    run_id: str,
    *,
    metrics: Mapping[str, float] | None = None,
    step_metrics: Mapping[str, Sequence[float]] | None = None,
    params: Mapping[str, Any] | None = None,
    model_id: str | None = None,
) -> None:
    """Log final metrics, per-step histories and params in batches.

    With `model_id`, each metric's latest value (a final value, or a history's last step) is linked to
    that logged model, so MLflow's model page shows the same numbers as the run. Histories get one
    millisecond per step so MLflow's wall-time axis keeps their order.
    """
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in (metrics or {}).items()]
    for key, values in (step_metrics or {}).items():
        start, last = now - len(values), len(values) - 1
        batch.extend(
            Metric(key, float(v), start + step, step, model_id=model_id if step == last else None)
            for step, v in enumerate(values)
        )
    client.log_batch(run_id, metrics=batch, params=[Param(k, str(v)) for k, v in (params or {}).items()])


def log_artifacts(client: MlflowClient, run_id: str, artifacts: Mapping[str, ArtifactValue]) -> None:
    """Write each artifact to its relative path in a scratch folder and upload the folder at once."""
    if not artifacts:
        return
    with tempfile.TemporaryDirectory(prefix="registry-artifacts-") as scratch:
        for relative, content in _prepare_artifacts(artifacts).items():
            target = Path(scratch, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            elif content.is_dir():
                shutil.copytree(content, target)
            else:
                shutil.copyfile(content, target)
        client.log_artifacts(run_id, scratch)


@contextmanager
def _fluent_state(settings: Settings) -> Iterator[None]:
    """Point MLflow's process-wide fluent state at `settings`' store, and put it back afterwards.

    `mlflow.set_tracking_uri` also writes MLFLOW_TRACKING_URI into os.environ, where our own
    `load_settings` (on another thread) would read it, and setting it back to None deletes a value
    the user exported. So the module globals are swapped directly and the environment is left alone.
    The active experiment is cleared because resuming a run of another experiment fails against it.
    """
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _FLUENT_LOCK:
        saved = (tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id)
        tracking_utils._tracking_uri = settings.effective_tracking_uri
        registry_utils._registry_uri = settings.effective_registry_uri
        fluent._active_experiment_id = None
        try:
            yield
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved


def _log_model(
    model: Any, sklearn_model: bool, input_example: Any, pip_requirements: Sequence[str] | None
) -> ModelInfo:
    """Log `model` under the active run with the flavour that can serve it back through pyfunc."""
    if sklearn_model:
        import mlflow.sklearn

        trusted = _skops_trusted_types(model)
        skops = trusted is not None
        return mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT_NAME,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS
            if skops
            else mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            skops_trusted_types=trusted or None,
            input_example=input_example,
            pip_requirements=list(
                pip_requirements
                or mlflow.sklearn.get_default_pip_requirements(
                    include_skops=skops, include_cloudpickle=not skops
                )
            ),
        )
    import mlflow.pyfunc

    return mlflow.pyfunc.log_model(
        name=MODEL_ARTIFACT_NAME,
        python_model=model,
        input_example=input_example,
        pip_requirements=list(pip_requirements or mlflow.pyfunc.get_default_pip_requirements()),
    )


def _skops_trusted_types(model: Any) -> list[str] | None:
    """The types skops must be told to trust to load `model`, or None when skops cannot hold it.

    MLflow 3 saves scikit-learn models with skops, which refuses on load any type not on its default
    list, and that list leaves out scikit-learn's own tree structures and MLP optimisers: a
    GradientBoostingClassifier fails to log without help. Types from scikit-learn, NumPy and SciPy are
    as trustworthy as the library itself, so they are trusted; a model holding types from elsewhere
    (a third-party estimator) falls back to cloudpickle, MLflow's format before skops.
    """
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    if all(name.split(".", 1)[0] in _SKOPS_TRUSTED_PACKAGES for name in untrusted):
        return list(untrusted)
    return None


def _is_sklearn_estimator(model: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def _is_pyfunc_model(model: Any) -> bool:
    from mlflow.pyfunc import PythonModel

    return isinstance(model, PythonModel)


def _check_model_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInput("name: give the registered model a non-empty name")
    if name != name.strip():
        raise BadInput(f"name {name!r}: remove the leading or trailing spaces")
    if "/" in name or ":" in name:
        raise BadInput(f"name {name!r}: '/' and ':' are not allowed (they delimit models:/<name>/<version>)")
    return name


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise BadInput(f"{kind}: every key must be a non-empty string, got {key!r}")
    return key


def _check_params(params: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(params, Mapping):
        raise BadInput(f"params: expected a mapping of name to value, got {type(params).__name__}")
    return {_check_key("params", k): str(v) for k, v in params.items()}


def _check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise BadInput(f"tags: expected a mapping of name to value, got {type(tags).__name__}")
    return {_check_key("tags", k): str(v) for k, v in tags.items()}


def _finite_number(where: str, value: Any) -> float:
    """A metric must be a real, finite number: a gate cannot compare a string, a bool or a NaN."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise BadInput(f"{where}: {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(f"{where}: {number} is not finite")
    return number


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise BadInput(f"metrics: expected a mapping of name to number, got {type(metrics).__name__}")
    return {_check_key("metrics", k): _finite_number(f"metric {k}", v) for k, v in metrics.items()}


def _check_step_metrics(
    histories: Mapping[str, Iterable[Any]], final: Mapping[str, float]
) -> dict[str, list[float]]:
    if not isinstance(histories, Mapping):
        raise BadInput(
            f"step_metrics: expected a mapping of name to a list of numbers, got {type(histories).__name__}"
        )
    clean: dict[str, list[float]] = {}
    for key, values in histories.items():
        _check_key("step_metrics", key)
        if key in final:
            raise BadInput(
                f"metric {key}: give it either as a final value (metrics) or as a history (step_metrics)"
            )
        steps = list(values) if isinstance(values, Iterable) and not isinstance(values, str | bytes) else []
        if not steps:
            raise BadInput(f"step_metrics {key}: expected a non-empty list of numbers, one per step")
        clean[key] = [_finite_number(f"metric {key} step {step}", v) for step, v in enumerate(steps)]
    return clean


def _prepare_artifacts(artifacts: Mapping[str, ArtifactValue]) -> dict[str, bytes | Path]:
    """Render every artifact to bytes (or check its local path) before the run exists.

    A figure that cannot be drawn or a dict that is not JSON must not leave a half-logged run behind.
    """
    if not isinstance(artifacts, Mapping):
        raise BadInput(
            f"artifacts: expected a mapping of relative path to content, got {type(artifacts).__name__}"
        )
    prepared: dict[str, bytes | Path] = {}
    for relative, value in artifacts.items():
        path = PurePosixPath(relative) if isinstance(relative, str) and relative.strip() else None
        if path is None or path.is_absolute() or ".." in path.parts or "\\" in relative:
            raise BadInput(f"artifact path {relative!r}: use a relative path such as 'plots/loss.png'")
        prepared[relative] = _render_artifact(relative, value)
    return prepared


def _render_artifact(relative: str, value: ArtifactValue) -> bytes | Path:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, pd.DataFrame):
        return value.to_csv(index=False).encode("utf-8")
    if isinstance(value, Mapping | list):
        try:
            return json.dumps(value, indent=2, sort_keys=True).encode("utf-8")
        except TypeError as exc:
            raise BadInput(f"artifact {relative}: not JSON-serialisable ({exc})") from exc
    if isinstance(value, os.PathLike):
        source = Path(value)
        if not source.exists():
            raise BadInput(f"artifact {relative}: no local file or folder at {source}")
        return source
    if hasattr(value, "savefig"):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()
    raise BadInput(
        f"artifact {relative}: cannot store a {type(value).__name__}; give bytes, str, dict, list, "
        "a DataFrame, a matplotlib Figure or a pathlib.Path"
    )
