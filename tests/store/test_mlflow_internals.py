"""The one adapter over MLflow's private API, against the pinned MLflow (3.17.2) and a real server.

If an MLflow upgrade moves the tracking store, the bulk-interval route or the fluent globals, these
fail here, naming the internal, instead of a chart quietly reading every point.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.tracking import fluent

from registry.settings import Settings
from registry.store import mlflow_internals
from tests.run_data import log_steps, make_run
from tests.stack import create_experiment


def test_checked_against_the_pinned_mlflow() -> None:
    assert mlflow.__version__ == mlflow_internals.MLFLOW_CHECKED


@pytest.fixture(scope="module")
def line(shared_client: MlflowClient, shared_settings: Settings) -> str:
    run_id = make_run(shared_client, create_experiment(shared_client, shared_settings), "internals")
    log_steps(shared_client, run_id, "loss", [float(v) for v in range(300)])
    return run_id


def test_the_store_samples_a_line_keeping_its_ends(
    shared_client: MlflowClient, shared_settings: Settings, line: str
) -> None:
    remote = shared_settings.effective_tracking_uri.startswith("http")
    sample = (mlflow_internals.bulk_interval_http if remote else mlflow_internals.bulk_interval_sql)(
        shared_client, [line], "loss", 50
    )
    assert sample is not None
    steps = [p["step"] if isinstance(p, dict) else p.step for p in sample[line]]
    assert 0 < len(steps) <= 60 and steps[0] == 0 and steps[-1] == 299


def test_the_other_backend_says_none_instead_of_guessing(
    shared_client: MlflowClient, shared_settings: Settings, line: str
) -> None:
    remote = shared_settings.effective_tracking_uri.startswith("http")
    other = mlflow_internals.bulk_interval_sql if remote else mlflow_internals.bulk_interval_http
    assert other(shared_client, [line], "loss", 50) is None


def test_fluent_state_is_pointed_at_a_store_and_put_back() -> None:
    from mlflow.tracking._tracking_service import utils as tracking_utils

    before = (tracking_utils._tracking_uri, fluent._active_experiment_id)
    with mlflow_internals.fluent_state("sqlite:////tmp/elsewhere.db", "sqlite:////tmp/elsewhere.db"):
        assert mlflow.get_tracking_uri() == "sqlite:////tmp/elsewhere.db"
        assert fluent._active_experiment_id is None
    assert (tracking_utils._tracking_uri, fluent._active_experiment_id) == before
