"""A registry like a real team's, built with the plain MlflowClient only (never the service).

Teams point the dashboard at registries made by hand: aliases set from notebooks (MLflow's documented
`champion`/`challenger` among them), legacy stages with two versions left in Production, versions
registered from a bucket with no run, runs deleted since, MLflow 3 logged models, long histories and
names no test of ours would choose. Every model here is made the way a team would make it, so the
tests see what a new user sees on day one.
"""

from __future__ import annotations

import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from tests.run_data import make_logged_model, make_run, register_logged_model

MANY_VERSIONS = 120  # past MLflow's page of 100


@dataclass(frozen=True)
class Foreign:
    """The models of one foreign registry, by role; names are unique per build."""

    aliases: str  # production→2 set by hand, champion→2, challenger→3 (alias mode)
    stages: str  # legacy stages: v1 and v2 in Production, v3 in Staging, v4 None
    both: str  # v1 in stage Production and alias production→2 (aliases win)
    empty: str  # no versions
    odd_sources: str  # v1 external URI (no run), v2 run deleted, v3 MLflow 3 logged model; production→3
    many: str  # 120 versions, production→100
    # registry.slots tag "champion, challenger" (set by hand, like the aliases): champion→1,
    # challenger→2, and production→1 set by hand though the model does not manage production
    slotted: str
    experiment_id: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.aliases, self.stages, self.both, self.empty, self.odd_sources, self.many, self.slotted)


def _version(client: MlflowClient, name: str, exp: str, metrics: dict[str, float]) -> str:
    run_id = make_run(client, exp, metrics=metrics)
    return str(client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version)


def _stage(client: MlflowClient, name: str, version: str, stage: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(name, version, stage, archive_existing_versions=False)


def _artifacts_beside(client: MlflowClient, tag: str) -> str | None:
    """Where a store read directly keeps the experiment's artifacts: beside its SQLite file, or in a
    temporary folder. Left to MLflow, they would go to ./mlruns of the working directory (the
    project's tree). A server chooses its own."""
    uri = client.tracking_uri
    if uri.startswith(("http://", "https://")):
        return None
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / f"foreign-artifacts-{tag}").as_uri()
    return Path(tempfile.mkdtemp(prefix=f"foreign-artifacts-{tag}-")).as_uri()


def build_foreign_registry(client: MlflowClient, *, many: int = MANY_VERSIONS) -> Foreign:
    """Build the registry; names carry spaces, quotes, `%`, `_` and non-ASCII, plus a unique suffix."""
    tag = uuid.uuid4().hex[:6]
    exp = client.create_experiment(f"team notebooks {tag}", artifact_location=_artifacts_beside(client, tag))
    f = Foreign(
        aliases=f"churn model {tag}",
        stages=f"digits_sgd 100% {tag}",
        both=f'o\'brien "fraud" {tag}',
        empty=f"empty model {tag}",
        odd_sources=f"modèle détourné ñ {tag}",
        many=f"ranker_v2 {tag}",
        slotted=f"scorer (champion, challenger) {tag}",
        experiment_id=exp,
    )
    client.create_registered_model(f.aliases, description="made from a notebook")
    for acc in (0.80, 0.85, 0.90):
        _version(client, f.aliases, exp, {"accuracy": acc})
    client.set_registered_model_alias(f.aliases, "production", "2")
    client.set_registered_model_alias(f.aliases, "champion", "2")
    client.set_registered_model_alias(f.aliases, "challenger", "3")

    client.create_registered_model(f.stages)
    for acc in (0.70, 0.75, 0.78, 0.79):
        _version(client, f.stages, exp, {"accuracy": acc})
    _stage(client, f.stages, "1", "Production")
    _stage(client, f.stages, "2", "Production")  # left behind: two in Production
    _stage(client, f.stages, "3", "Staging")

    client.create_registered_model(f.both)
    for acc in (0.6, 0.65):
        _version(client, f.both, exp, {"accuracy": acc})
    _stage(client, f.both, "1", "Production")
    client.set_registered_model_alias(f.both, "production", "2")

    client.create_registered_model(f.empty)

    client.create_registered_model(f.odd_sources)
    client.create_model_version(f.odd_sources, "s3://team-bucket/models/fraud/7")  # no run
    deleted_run = make_run(client, exp, metrics={"accuracy": 0.5})
    client.create_model_version(f.odd_sources, f"runs:/{deleted_run}/model", run_id=deleted_run)
    client.delete_run(deleted_run)
    logged_run = make_run(client, exp, metrics={"accuracy": 0.55})
    register_logged_model(client, f.odd_sources, make_logged_model(client, exp, logged_run))
    client.set_registered_model_alias(f.odd_sources, "production", "3")

    client.create_registered_model(f.many)
    run_id = make_run(client, exp, metrics={"accuracy": 0.9})
    for _ in range(many):
        client.create_model_version(f.many, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(f.many, "production", str(min(many, 100)))

    client.create_registered_model(f.slotted, tags={"registry.slots": "champion, challenger"})
    for acc in (0.81, 0.83, 0.86):
        _version(client, f.slotted, exp, {"accuracy": acc})
    client.set_registered_model_alias(f.slotted, "champion", "1")
    client.set_registered_model_alias(f.slotted, "challenger", "2")
    client.set_registered_model_alias(f.slotted, "production", "1")
    return f
