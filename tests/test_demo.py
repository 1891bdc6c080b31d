"""seed_demo: an empty store gets real experiments, curves, a search, a failed run and models, once."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from sklearn.datasets import load_diabetes, load_iris, load_wine

from registry.errors import BadInput
from registry.settings import Settings
from registry.store.client import make_client
from registry.training.demo import DEMO_EXPERIMENTS, DEMO_MODELS, DemoSummary, seed_demo, seed_history
from tests.demo_store import DemoStore, embedded_settings

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEATURES = {"iris-classifier": load_iris, "wine-classifier": load_wine, "diabetes-regressor": load_diabetes}


@dataclass
class Seeded:
    settings: Settings
    client: MlflowClient
    summary: DemoSummary
    progress: list[tuple[float, str]]


@pytest.fixture(scope="module")
def seeded(demo_store: DemoStore) -> Seeded:
    """The session's demo (tests/demo_store.py: trained once, without the promotion history, which
    is tested on a copy). These tests only read it: the browser tests serve the same store."""
    settings = demo_store.settings
    return Seeded(settings, make_client(settings), demo_store.summary, demo_store.progress)


def runs_in(client: MlflowClient, experiment: str) -> list[Run]:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.search_runs([experiment_id], max_results=1000)


def all_runs(client: MlflowClient) -> list[Run]:
    return [run for name in DEMO_EXPERIMENTS for run in runs_in(client, name)]


def read_artifact(seeded: Seeded, run_id: str, path: str, tmp_path: Path) -> bytes:
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path=path,
        dst_path=str(tmp_path / run_id),
        tracking_uri=seeded.settings.effective_tracking_uri,
    )
    return Path(local).read_bytes()


def test_creates_the_demo_experiments_with_artifacts_under_home(seeded: Seeded) -> None:
    for name in DEMO_EXPERIMENTS:
        experiment = seeded.client.get_experiment_by_name(name)
        assert experiment is not None and experiment.lifecycle_stage == "active"
        assert experiment.artifact_location.startswith(seeded.settings.local_artifact_root)
    assert set(seeded.summary.experiments) == set(DEMO_EXPERIMENTS)
    assert seeded.summary.runs == len(all_runs(seeded.client))


def test_every_run_finished_except_the_one_that_diverged(seeded: Seeded, tmp_path: Path) -> None:
    runs = all_runs(seeded.client)
    failed = [run for run in runs if run.info.status == "FAILED"]
    assert len(failed) == 1
    assert {run.info.status for run in runs if run not in failed} == {"FINISHED"}
    diverged = failed[0]
    assert diverged.info.run_id in {run.info.run_id for run in runs_in(seeded.client, "diabetes-regression")}
    assert "too high" in diverged.data.tags["error"]
    curve = [m.value for m in seeded.client.get_metric_history(diverged.info.run_id, "val_rmse")]
    assert len(curve) >= 2 and curve[-1] > 100 * curve[0]
    assert read_artifact(seeded, diverged.info.run_id, "plots/learning_curve.png", tmp_path).startswith(
        PNG_MAGIC
    )


def test_the_search_is_a_parent_run_with_nested_children(seeded: Seeded) -> None:
    runs = runs_in(seeded.client, "iris-classification")
    parents = [run for run in runs if "best_val_accuracy" in run.data.metrics]
    assert len(parents) == 1
    parent = parents[0]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) >= 4
    assert {child.data.params["alpha"] for child in children} >= {"0.0001", "0.1"}
    best = max(child.data.metrics["val_accuracy"] for child in children)
    assert parent.data.metrics["best_val_accuracy"] == best
    assert parent.data.tags["best_run_id"] in {child.info.run_id for child in children}


def test_registered_models_have_versions_and_lifecycle_settings(seeded: Seeded) -> None:
    models = {model.name: model for model in seeded.client.search_registered_models()}
    assert set(models) == set(DEMO_MODELS)
    for name, model in models.items():
        versions = seeded.client.search_model_versions(f"name = '{name}'")
        assert len(versions) >= 2
        assert {version.status for version in versions} == {"READY"}
        assert all(version.source.startswith("models:/m-") for version in versions)
        assert {"registry.key_metric", "registry.gate.metric", "registry.gate.direction"} <= set(model.tags)
        assert model.tags["registry.gate.direction"] in ("max", "min")
        float(model.tags["registry.gate.tolerance"])
    assert len(seeded.client.search_model_versions("name = 'iris-classifier'")) >= 3
    assert models["wine-classifier"].tags["registry.mode"] == "stages"
    assert models["iris-classifier"].tags["registry.mode"] == "aliases"
    assert models["wine-classifier"].tags["registry.required_tags"] == "validation=passed"
    assert seeded.summary.versions == {
        name: sorted(
            (str(v.version) for v in seeded.client.search_model_versions(f"name = '{name}'")), key=int
        )
        for name in DEMO_MODELS
    }


def test_validation_tags_follow_the_key_metric(seeded: Seeded) -> None:
    """Good versions carry validation=passed; the one below the bar says failed."""
    results = {}
    for version in seeded.client.search_model_versions("name = 'iris-classifier'"):
        metrics = seeded.client.get_run(version.run_id).data.metrics
        results[str(version.version)] = (version.tags["validation"], metrics["val_accuracy"])
    assert {tag for tag, _ in results.values()} == {"passed", "failed"}
    worst_passed = min(accuracy for tag, accuracy in results.values() if tag == "passed")
    best_failed = max(accuracy for tag, accuracy in results.values() if tag == "failed")
    assert best_failed < worst_passed


def test_training_curves_have_one_point_per_epoch_and_fall(seeded: Seeded) -> None:
    for name in ("iris-classifier", "wine-classifier"):
        for version in seeded.client.search_model_versions(f"name = '{name}'"):
            history = seeded.client.get_metric_history(version.run_id, "val_loss")
            assert [m.step for m in history] == list(range(len(history)))
            assert len(history) >= 10
            assert history[-1].value < history[0].value


def test_versions_carry_plots_reports_config_and_predictions(seeded: Seeded, tmp_path: Path) -> None:
    for version in seeded.client.search_model_versions("name = 'wine-classifier'"):
        run = version.run_id
        names = {a.path for a in seeded.client.list_artifacts(run)}
        assert {"config.json", "predictions.csv", "classification_report.txt", "plots"} <= names
        config = json.loads(read_artifact(seeded, run, "config.json", tmp_path))
        assert config["dataset"] == "wine"
        predictions = pd.read_csv(io.BytesIO(read_artifact(seeded, run, "predictions.csv", tmp_path)))
        assert {"target", "prediction"} <= set(predictions.columns) and len(predictions) > 0
        assert read_artifact(seeded, run, "plots/confusion_matrix.png", tmp_path).startswith(PNG_MAGIC)


def test_every_latest_version_serves_predictions(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", seeded.settings.effective_tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", seeded.settings.effective_registry_uri)
    for name, load in FEATURES.items():
        latest = max(int(v.version) for v in seeded.client.search_model_versions(f"name = '{name}'"))
        features = load().data[:4]
        predictions = np.asarray(mlflow.pyfunc.load_model(f"models:/{name}/{latest}").predict(features))
        assert predictions.shape == (4,)


def test_seeding_again_changes_nothing(seeded: Seeded) -> None:
    before = (len(all_runs(seeded.client)), len(seeded.client.search_model_versions("")))
    again = seed_demo(seeded.settings, with_history=False)
    assert again.already_seeded
    assert set(again.experiments) == set(DEMO_EXPERIMENTS)
    assert (len(all_runs(seeded.client)), len(seeded.client.search_model_versions(""))) == before


def test_progress_is_reported_from_start_to_finish(seeded: Seeded) -> None:
    fractions = [fraction for fraction, _ in seeded.progress]
    assert fractions == sorted(fractions)
    assert fractions[0] < 0.1 and fractions[-1] == 1.0
    assert all(message for _, message in seeded.progress)


def test_a_store_with_foreign_models_of_the_same_names_is_refused(sqlite_settings: Settings) -> None:
    client = make_client(sqlite_settings)
    client.create_registered_model("iris-classifier")
    with pytest.raises(BadInput, match="iris-classifier"):
        seed_demo(sqlite_settings, client, with_history=False)
    assert all(client.get_experiment_by_name(name) is None for name in DEMO_EXPERIMENTS)


def test_the_promotion_history_gives_rollback_a_target(seeded: Seeded, tmp_path: Path) -> None:
    """On a copy of the seeded store, so the other tests see it as seeding left it."""
    from registry.service import Registry

    shutil.copyfile(
        Path(seeded.settings.effective_tracking_uri.removeprefix("sqlite:///")), tmp_path / "mlflow.db"
    )
    registry = Registry.connect(embedded_settings(tmp_path))
    seed_history(registry)

    iris = registry.client.get_registered_model("iris-classifier")
    assert {alias: str(version) for alias, version in iris.aliases.items()} == {
        "production": "2",
        "staging": "3",
    }
    assert registry.model_history("iris-classifier").rollback_to == "1"
    wine_stages = {
        str(v.version): v.current_stage
        for v in registry.client.search_model_versions("name = 'wine-classifier'")
    }
    assert wine_stages["2"] == "Production"
    attempts = registry.history()
    assert {attempt.model for attempt in attempts} == set(DEMO_MODELS)
    assert {attempt.actor for attempt in attempts} == {"seed-demo"}
