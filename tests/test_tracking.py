"""track_model: what it logs can be read back, the version is READY and serves, bad input writes nothing."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from registry.errors import BadInput, Unreachable
from registry.settings import Settings, load_settings
from registry.store.client import make_client
from registry.training.tracking import track_model
from tests.factories import unique
from tests.stack import free_port

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    return data.data, data.target


@pytest.fixture(scope="module")
def classifier(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    x, y = iris
    return LogisticRegression(max_iter=500).fit(x, y)


class Doubler(mlflow.pyfunc.PythonModel):
    """A non-scikit-learn model: logged with the pyfunc flavour."""

    def predict(self, context: object, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return model_input * 2


@pytest.fixture
def load_version(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Settings, str, str], mlflow.pyfunc.PyFuncModel]:
    """Load `models:/name/version` the way a user would, with MLflow pointed at the settings' store.

    The URIs are set on MLflow's module globals and undone after the test: mlflow.set_tracking_uri
    would also write os.environ, and MLflow resolves `models:/` URIs through the global registry
    URI whatever registry_uri `mlflow.artifacts.download_artifacts` is given.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    def load(settings: Settings, name: str, version: str) -> mlflow.pyfunc.PyFuncModel:
        monkeypatch.setattr(tracking_utils, "_tracking_uri", settings.effective_tracking_uri)
        monkeypatch.setattr(registry_utils, "_registry_uri", settings.effective_registry_uri)
        return mlflow.pyfunc.load_model(f"models:/{name}/{version}")

    return load


def read_artifact(settings: Settings, run_id: str, path: str, tmp_path: Path) -> bytes:
    """By explicit URI: MlflowClient.download_artifacts resolves `mlflow-artifacts:` via the global URI."""
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path=path,
        dst_path=str(tmp_path),
        tracking_uri=settings.effective_tracking_uri,
    )
    return Path(local).read_bytes()


def test_logs_params_metrics_histories_tags_and_artifacts(
    any_settings: Settings,
    classifier: LogisticRegression,
    iris: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
    load_version: Callable[[Settings, str, str], mlflow.pyfunc.PyFuncModel],
) -> None:
    x, y = iris
    name = unique("iris")
    notes = tmp_path / "notes.md"
    notes.write_text("# trained on iris\n")
    figure = Figure()
    figure.subplots().plot([3, 2, 1])
    predictions = pd.DataFrame({"target": y[:5], "prediction": classifier.predict(x[:5])})

    tracked = track_model(
        any_settings,
        name,
        classifier,
        {"C": 1.0, "max_iter": 500},
        {"val_f1": 0.97},
        artifacts={
            "config.json": {"features": 4, "solver": "lbfgs"},
            "predictions.csv": predictions,
            "plots/loss.png": figure,
            "report.txt": "all good\n",
            "raw.bin": b"\x00\x01",
            "docs/notes.md": notes,
        },
        tags={"team": "botany", "validation": "passed"},
        run_name="baseline",
        step_metrics={"val_loss": [0.9, 0.5, 0.3], "val_accuracy": np.array([0.7, 0.9, 0.95])},
        input_example=x[:2],
    )

    client = make_client(any_settings)
    run = client.get_run(tracked.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "baseline"
    assert run.data.params == {"C": "1.0", "max_iter": "500"}
    assert run.data.metrics == {"val_f1": 0.97, "val_loss": 0.3, "val_accuracy": 0.95}
    assert [(m.step, m.value) for m in client.get_metric_history(tracked.run_id, "val_loss")] == [
        (0, 0.9),
        (1, 0.5),
        (2, 0.3),
    ]
    assert run.data.tags["team"] == "botany"
    assert client.get_experiment(run.info.experiment_id).name == name  # the experiment defaults to the model

    files = {a.path for a in client.list_artifacts(tracked.run_id)}
    assert {"config.json", "predictions.csv", "plots", "report.txt", "raw.bin", "docs"} <= files
    assert json.loads(read_artifact(any_settings, tracked.run_id, "config.json", tmp_path / "a")) == {
        "features": 4,
        "solver": "lbfgs",
    }
    csv = pd.read_csv(
        io.BytesIO(read_artifact(any_settings, tracked.run_id, "predictions.csv", tmp_path / "f"))
    )
    pd.testing.assert_frame_equal(csv, predictions)
    assert read_artifact(any_settings, tracked.run_id, "plots/loss.png", tmp_path / "b").startswith(PNG_MAGIC)
    assert read_artifact(any_settings, tracked.run_id, "report.txt", tmp_path / "c") == b"all good\n"
    assert read_artifact(any_settings, tracked.run_id, "raw.bin", tmp_path / "d") == b"\x00\x01"
    assert (
        read_artifact(any_settings, tracked.run_id, "docs/notes.md", tmp_path / "e") == b"# trained on iris\n"
    )

    version = client.get_model_version(name, tracked.version)
    assert version.status == "READY"
    assert version.source == tracked.model_uri == f"models:/{tracked.model_id}"
    assert version.run_id == tracked.run_id
    assert version.tags == {"team": "botany", "validation": "passed"}
    logged = client.get_logged_model(tracked.model_id)
    assert logged.source_run_id == tracked.run_id
    assert {m.key: m.value for m in logged.metrics} == {"val_f1": 0.97, "val_loss": 0.3, "val_accuracy": 0.95}

    served = load_version(any_settings, name, tracked.version)
    np.testing.assert_array_equal(served.predict(x[:10]), classifier.predict(x[:10]))


def test_successive_calls_make_successive_versions(
    sqlite_settings: Settings, classifier: LogisticRegression
) -> None:
    first = track_model(sqlite_settings, "iris", classifier, {}, {"acc": 0.9})
    second = track_model(sqlite_settings, "iris", classifier, {}, {"acc": 0.95})
    assert (first.version, second.version) == ("1", "2")
    assert first.run_id != second.run_id and first.model_id != second.model_id


def test_without_registration_the_model_is_logged_but_not_registered(
    sqlite_settings: Settings, classifier: LogisticRegression
) -> None:
    tracked = track_model(sqlite_settings, "unregistered", classifier, {}, {"acc": 0.9}, register=False)
    client = make_client(sqlite_settings)
    assert tracked.version is None
    assert client.search_registered_models() == []
    assert client.get_logged_model(tracked.model_id).source_run_id == tracked.run_id


def test_a_python_model_is_logged_with_pyfunc(
    sqlite_settings: Settings, load_version: Callable[[Settings, str, str], mlflow.pyfunc.PyFuncModel]
) -> None:
    tracked = track_model(
        sqlite_settings, "doubler", Doubler(), {"factor": 2}, {"error": 0.0}, experiment="utilities"
    )
    served = load_version(sqlite_settings, "doubler", tracked.version)
    result = served.predict(pd.DataFrame({"a": [1.0, 2.5]}))
    assert list(result["a"]) == [2.0, 5.0]
    run = make_client(sqlite_settings).get_run(tracked.run_id)
    assert make_client(sqlite_settings).get_experiment(run.info.experiment_id).name == "utilities"


def _boosted(x: np.ndarray, y: np.ndarray) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y)


def _partially_fitted_mlp(x: np.ndarray, y: np.ndarray) -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(4,), random_state=0).partial_fit(x, y, classes=np.unique(y))


def _pipeline_with_a_lambda(x: np.ndarray, y: np.ndarray) -> Pipeline:
    return make_pipeline(
        FunctionTransformer(lambda values: values * 2), LogisticRegression(max_iter=500)
    ).fit(x, y)


@pytest.mark.parametrize("build", [_boosted, _partially_fitted_mlp, _pipeline_with_a_lambda])
def test_models_outside_skops_defaults_log_and_load(
    sqlite_settings: Settings,
    iris: tuple[np.ndarray, np.ndarray],
    load_version: Callable[[Settings, str, str], mlflow.pyfunc.PyFuncModel],
    build: Callable[[np.ndarray, np.ndarray], Any],
) -> None:
    """Trees and MLP optimisers are not on skops' default trusted list, and a lambda cannot be skops'd."""
    x, y = iris
    model = build(x, y)
    tracked = track_model(sqlite_settings, "special", model, {}, {"acc": 1.0})
    served = load_version(sqlite_settings, "special", tracked.version)
    np.testing.assert_array_equal(served.predict(x[:5]), model.predict(x[:5]))


def test_artifacts_stay_under_home_whatever_the_working_directory(
    sqlite_settings: Settings, classifier: LogisticRegression, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    tracked = track_model(sqlite_settings, "placed", classifier, {}, {"acc": 0.9}, artifacts={"a.txt": "x"})
    client = make_client(sqlite_settings)
    run = client.get_run(tracked.run_id)
    home_artifacts = sqlite_settings.home / "artifacts"
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(home_artifacts)
    model_files = Path(client.get_logged_model(tracked.model_id).artifact_location.removeprefix("file://"))
    assert (model_files / "MLmodel").exists() and model_files.is_relative_to(home_artifacts)
    assert list(elsewhere.iterdir()) == []


def test_mlflow_global_state_is_left_as_the_caller_had_it(
    sqlite_settings: Settings, classifier: LogisticRegression, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller with its own tracking URI and an active run keeps both; the model goes to our store."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    own_store = f"sqlite:///{tmp_path / 'callers.db'}"
    # what mlflow.set_tracking_uri(own_store) does, undone by monkeypatch after the test
    monkeypatch.setattr(tracking_utils, "_tracking_uri", own_store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", own_store)
    with mlflow.start_run() as callers_run:
        tracked = track_model(sqlite_settings, "isolated", classifier, {}, {"acc": 0.9})
        assert mlflow.active_run().info.run_id == callers_run.info.run_id
    assert mlflow.get_tracking_uri() == own_store
    assert os.environ["MLFLOW_TRACKING_URI"] == own_store
    ours = make_client(sqlite_settings).get_run(tracked.run_id)
    assert "mlflow.parentRunId" not in ours.data.tags
    assert MlflowClient(own_store).search_registered_models() == []
    assert make_client(sqlite_settings).get_registered_model("isolated").latest_versions


def test_tracking_does_not_touch_the_environment(
    sqlite_settings: Settings, classifier: LogisticRegression
) -> None:
    """MLflow's set_tracking_uri writes os.environ, where load_settings would read another store."""
    before = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    track_model(sqlite_settings, "quiet", classifier, {}, {"acc": 0.9})
    assert {key: os.environ.get(key) for key in before} == before


class Opaque:
    """Neither a scikit-learn estimator nor a PythonModel."""


BAD_CALLS = {
    "empty name": dict(name="  "),
    "slash in name": dict(name="team/model"),
    "model of unknown kind": dict(model=Opaque()),
    "text metric": dict(metrics={"acc": "high"}),
    "boolean metric": dict(metrics={"acc": True}),
    "NaN metric": dict(metrics={"acc": float("nan")}),
    "metric given twice": dict(metrics={"acc": 0.9}, step_metrics={"acc": [0.5, 0.9]}),
    "empty history": dict(step_metrics={"loss": []}),
    "infinite step": dict(step_metrics={"loss": [1.0, float("inf")]}),
    "params not a mapping": dict(params=["C", 1.0]),
    "absolute artifact path": dict(artifacts={"/etc/passwd": "x"}),
    "artifact path escapes the run": dict(artifacts={"../outside.txt": "x"}),
    "artifact of unknown kind": dict(artifacts={"model.obj": Opaque()}),
    "artifact not JSON": dict(artifacts={"config.json": {"when": Opaque()}}),
    "missing local file": dict(artifacts={"notes.md": Path("/nonexistent/notes.md")}),
}


@pytest.mark.parametrize("bad", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_input_is_refused_before_anything_is_written(
    sqlite_settings: Settings, classifier: LogisticRegression, bad: dict[str, object]
) -> None:
    call: dict[str, object] = {"name": "refused", "model": classifier, "params": {}, "metrics": {"acc": 0.9}}
    with pytest.raises(BadInput):
        track_model(sqlite_settings, **{**call, **bad})  # type: ignore[arg-type]
    client = make_client(sqlite_settings)
    experiments = client.search_experiments()
    assert [e.name for e in experiments] == ["Default"]
    assert client.search_runs([e.experiment_id for e in experiments]) == []
    assert client.search_registered_models() == []


def test_a_deleted_experiment_is_refused(sqlite_settings: Settings, classifier: LogisticRegression) -> None:
    client = make_client(sqlite_settings)
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(BadInput, match="deleted"):
        track_model(sqlite_settings, "m", classifier, {}, {"acc": 0.9}, experiment="gone")


def test_a_store_that_does_not_answer_is_unreachable(tmp_path: Path, classifier: LogisticRegression) -> None:
    settings = load_settings(tracking_uri=f"http://127.0.0.1:{free_port()}", home=tmp_path)
    with pytest.raises(Unreachable):
        track_model(settings, "m", classifier, {}, {"acc": 0.9})
