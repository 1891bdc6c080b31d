"""Runs, metric histories and logged models for the read-side tests, made through the client."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
model_id: {model_id}
"""


def make_run(
    client: MlflowClient,
    experiment_id: str,
    name: str = "run",
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    finished: bool = True,
) -> str:
    """A run with its params, last metrics (step 0) and tags; a child if `parent_run_id` is set."""
    all_tags = dict(tags or {})
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, run_name=name, tags=all_tags)
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, v) for k, v in (params or {}).items()],
    )
    if finished:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def log_steps(client: MlflowClient, run_id: str, key: str, values: list[float], batch: int = 1000) -> None:
    """A metric history, one value per step, in batches of MLflow's 1,000-metric limit."""
    for start in range(0, len(values), batch):
        chunk = values[start : start + batch]
        client.log_batch(
            run_id,
            metrics=[Metric(key, v, 1_700_000_000_000 + start + i, start + i) for i, v in enumerate(chunk)],
        )


def make_logged_model(
    client: MlflowClient,
    experiment_id: str,
    run_id: str | None,
    name: str = "model",
    files: dict[str, bytes] | None = None,
) -> str:
    """An MLflow 3 logged model with files, as `mlflow.<flavor>.log_model` makes (without a flavor)."""
    model = client.create_logged_model(experiment_id=experiment_id, name=name, source_run_id=run_id)
    contents = {"MLmodel": MLMODEL.format(model_id=model.model_id).encode(), "weights.bin": b"\x00\x01" * 64}
    contents.update(files or {})
    with tempfile.TemporaryDirectory() as folder:
        for rel, data in contents.items():
            path = Path(folder, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        client.log_model_artifacts(model.model_id, folder)
    client.finalize_logged_model(model.model_id, "READY")
    return model.model_id


def register_logged_model(client: MlflowClient, name: str, model_id: str) -> str:
    """Register a logged model as a new version of `name`; returns the version.

    MLflow 3.17.2's SQL registry store resolves `models:/m-<id>` with `MlflowClient()` on the
    *global* tracking URI, not the client's: on a direct `sqlite:///` URI it looks in the wrong
    database (and creates ./mlflow.db). So the global URI is pointed at the client's for the call.
    """
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = client.tracking_uri
    try:
        version = client.create_model_version(name, f"models:/{model_id}", model_id=model_id)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return str(version.version)
