"""Small real data for service tests: runs and model versions created through MLflow's client."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from mlflow import MlflowClient


def unique(prefix: str) -> str:
    """Names unique per test: the HTTP test server is shared by the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_model(
    client: MlflowClient,
    metrics: Sequence[Mapping[str, float]],
    *,
    name: str | None = None,
    model_tags: Mapping[str, str] | None = None,
    run_tags: Sequence[Mapping[str, str]] | None = None,
    run_status: Sequence[str] | None = None,
) -> str:
    """A registered model with one version per entry of `metrics`, each from its own run."""
    name = name or unique("model")
    exp_name = unique("exp")
    exp_id = client.create_experiment(exp_name)
    client.create_registered_model(name, tags=dict(model_tags or {}))
    for i, values in enumerate(metrics):
        run = client.create_run(exp_id, tags=dict(run_tags[i]) if run_tags else None)
        for key, value in values.items():
            client.log_metric(run.info.run_id, key, value)
        status = run_status[i] if run_status else "FINISHED"
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status=status)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return name
