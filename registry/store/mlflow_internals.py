"""The only place that reaches past MLflow's public API: named, small, and checked against 3.17.2.

Reads: MLflow has a server-side downsampler for long metric lines (`get_metric_history_bulk_interval`) but
no public client method for it: the SQL store has the method, and `mlflow server` serves it on an
`/ajax-api/` route its own UI uses. Both are reached here and nowhere else, so an MLflow upgrade
that moves them breaks this module's tests (tests/store/test_mlflow_internals.py), not a chart.
Each function answers None when the internal it needs is not there, and the caller falls back to
the public `get_metric_history`.

Writes: logging a model works only through MLflow's "fluent" API, which reads process-wide globals
(the tracking and registry URIs, the active experiment). `mlflow.set_tracking_uri` would also write
MLFLOW_TRACKING_URI into os.environ, where `load_settings` on another thread would read it, so
`fluent_state` swaps the module globals directly, under one lock, and puts them back.

Checked against mlflow 3.17.2: `MlflowClient._tracking_client.store` is the tracking store
(`RestStore` over HTTP, `SqlAlchemyStore` for a database URI); `RestStore.get_host_creds` gives
the credentials `http_request` needs; the route and its limits are in mlflow/server/handlers.py;
the fluent globals are `mlflow.tracking._tracking_service.utils._tracking_uri`,
`mlflow.tracking._model_registry.utils._registry_uri` and `mlflow.tracking.fluent._active_experiment_id`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric

MLFLOW_CHECKED = "3.17.2"
BULK_INTERVAL_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
SERVER_MAX_RESULTS = 2500  # MAX_RESULTS_PER_RUN in mlflow/server/handlers.py
SERVER_MAX_RUNS = 100  # MAX_RUNS_GET_METRIC_HISTORY_BULK

# Guards MLflow's process-wide fluent state. Re-entrant so a nested run can be opened inside its
# parent's block on the same thread.
_FLUENT_LOCK = threading.RLock()


def tracking_store(client: MlflowClient) -> Any:
    """The store behind the client (private in MLflow: `client._tracking_client.store`)."""
    return client._tracking_client.store


def bulk_interval_http(
    client: MlflowClient, run_ids: Sequence[str], key: str, limit: int
) -> dict[str, list[dict[str, Any]]] | None:
    """The server's sample of each run's line, as its JSON rows; None when the client is not
    talking to a server, or the server has no such route (404)."""
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    get_creds = getattr(tracking_store(client), "get_host_creds", None)
    if get_creds is None:
        return None
    points: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(run_ids), SERVER_MAX_RUNS):
        chunk = list(run_ids[start : start + SERVER_MAX_RUNS])
        params = {"run_ids": chunk, "metric_key": key, "max_results": limit}
        response = http_request(  # type: ignore[no-untyped-call]  # mlflow's rest_utils are unannotated
            get_creds(), BULK_INTERVAL_PATH, "GET", params=params
        )
        if response.status_code == 404:
            return None
        verify_rest_response(response, BULK_INTERVAL_PATH)
        for metric in response.json().get("metrics", []):
            points.setdefault(metric["run_id"], []).append(metric)
    return points


def bulk_interval_sql(
    client: MlflowClient, run_ids: Sequence[str], key: str, limit: int
) -> dict[str, list[Metric]] | None:
    """The SQL store's sample of each run's line; None when the client's store is not SQL."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = tracking_store(client)
    if not isinstance(store, SqlAlchemyStore):
        return None
    sampled = store.get_metric_history_bulk_interval(
        run_ids=list(run_ids), metric_key=key, max_results=limit, start_step=None, end_step=None
    )
    points: dict[str, list[Metric]] = {}
    for item in sampled:
        points.setdefault(item.run_id, []).append(item)
    return points


@contextmanager
def fluent_state(tracking_uri: str, registry_uri: str) -> Iterator[None]:
    """Point MLflow's process-wide fluent state at these stores for the block, then put it back.

    The environment is left alone (a value the user exported survives), and the active experiment is
    cleared because resuming a run of another experiment fails against it.
    """
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _FLUENT_LOCK:
        saved: tuple[Any, Any, Any] = (
            tracking_utils._tracking_uri,
            registry_utils._registry_uri,
            fluent._active_experiment_id,
        )
        tracking_utils._tracking_uri = tracking_uri  # type: ignore[assignment]  # typed None in mlflow, holds a URI
        registry_utils._registry_uri = registry_uri  # type: ignore[assignment]  # as above
        fluent._active_experiment_id = None
        try:
            yield
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved
