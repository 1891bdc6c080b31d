"""The only place that reaches past MLflow's public API: named, small, and checked against 3.17.2.

MLflow has a server-side downsampler for long metric lines (`get_metric_history_bulk_interval`) but
no public client method for it: the SQL store has the method, and `mlflow server` serves it on an
`/ajax-api/` route its own UI uses. Both are reached here and nowhere else, so an MLflow upgrade
that moves them breaks this module's tests (tests/store/test_mlflow_internals.py), not a chart.
Each function answers None when the internal it needs is not there, and the caller falls back to
the public `get_metric_history`.

Checked against mlflow 3.17.2: `MlflowClient._tracking_client.store` is the tracking store
(`RestStore` over HTTP, `SqlAlchemyStore` for a database URI); `RestStore.get_host_creds` gives
the credentials `http_request` needs; the route and its limits are in mlflow/server/handlers.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric

MLFLOW_CHECKED = "3.17.2"
BULK_INTERVAL_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
SERVER_MAX_RESULTS = 2500  # MAX_RESULTS_PER_RUN in mlflow/server/handlers.py
SERVER_MAX_RUNS = 100  # MAX_RUNS_GET_METRIC_HISTORY_BULK


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
        response = http_request(get_creds(), BULK_INTERVAL_PATH, "GET", params=params)
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
