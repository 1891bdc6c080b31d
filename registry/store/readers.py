"""One interface for the reads that have a faster path, with the backend chosen once from the URI.

Following MLflow's own client → store split: a whole experiment's runs and whole or sampled metric
lines are read through a `TrackingReader`. `SqlReader` reads MLflow's tables directly when the
tracking URI is a database (registry.store.fastpath); `ClientReader` goes through the MLflow client
(paged search, the server's bulk sampling, `get_metric_history`). `reader_for` is the one place
that looks at the URI to choose; everything else asks the reader it was given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES

from registry.errors import RegistryError, Unreachable
from registry.store import mlflow_internals
from registry.store.activity import ExperimentActivity, by_activity, client_activity, database_activity
from registry.store.client import translate_errors
from registry.store.fastpath import (
    MAX_RUNS,
    ExperimentRuns,
    RunLatest,
    client_runs,
    database_latest_metrics,
    database_registry_counts,
    database_runs,
    is_database_uri,
    metric_series,
)

log = logging.getLogger("registry.store.readers")

Series = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps, timestamps (ms), values
Backend = Literal["database", "server", "local"]
_SERVER_SCHEMES = ("http://", "https://", "databricks")


def backend_of(uri: str | None) -> Backend:
    """What a tracking URI points at: a database we can read directly, a server, or local files."""
    if is_database_uri(uri):
        return "database"
    if (uri or "").startswith(_SERVER_SCHEMES):
        return "server"
    return "local"


class TrackingReader(Protocol):
    """The tracking reads with a backend-specific fast path; every other read uses the client."""

    source: Literal["database", "client"]

    def experiment_runs(
        self,
        experiment_id: str,
        tags: Sequence[str] | None = None,
        max_runs: int = MAX_RUNS,
        filter_string: str = "",
    ) -> ExperimentRuns:
        """Every active run of the experiment (those `filter_string` keeps), newest first, as one table."""
        ...

    def whole_lines(self, run_ids: Sequence[str], key: str) -> dict[str, Series] | None:
        """Each run's whole line of `key` when the backend reads it cheaply; None: it does not."""
        ...

    def experiment_activity(self) -> list[ExperimentActivity]:
        """Active experiments with their run counts and newest run, the most recently active first."""
        ...

    def sampled_lines(self, run_ids: Sequence[str], key: str, limit: int) -> dict[str, Series] | None:
        """The store's own sample (≤ `limit` points, first and last kept); None: it has none."""
        ...

    def counts(self, registry_uri: str) -> tuple[int, int, int, int] | None:
        """Exact counts of active experiments, their active runs, registered models and versions when
        the backend has them cheaply; None: count with the client (capped, registry.store.status)."""
        ...

    def latest_metrics(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, RunLatest]:
        """Status and latest values of `keys` (all when None) of the runs it reads cheaply, by run; a
        run left out is read with `get_run` by the caller (which then learns why it could not be read)."""
        ...


def _series(rows: Sequence[Any]) -> Series:
    """Metric entities (SQL store) or the server's JSON rows as arrays."""
    from registry.store.metrics import series_from_metrics  # metrics reads through this module

    return series_from_metrics(rows)


class ClientReader:
    """Through the MLflow client: any URI (a server, a local file store, a database)."""

    source: Literal["database", "client"] = "client"

    def __init__(self, client: MlflowClient, tracking_uri: str) -> None:
        self.client = client
        self.tracking_uri = tracking_uri

    def experiment_runs(
        self,
        experiment_id: str,
        tags: Sequence[str] | None = None,
        max_runs: int = MAX_RUNS,
        filter_string: str = "",
    ) -> ExperimentRuns:
        frame, truncated = client_runs(self.client, experiment_id, tags, max_runs, filter_string.strip())
        return ExperimentRuns(frame, "client", truncated)

    def whole_lines(self, run_ids: Sequence[str], key: str) -> dict[str, Series] | None:
        return None

    def experiment_activity(self) -> list[ExperimentActivity]:
        return by_activity(client_activity(self.client))

    def sampled_lines(self, run_ids: Sequence[str], key: str, limit: int) -> dict[str, Series] | None:
        if limit > mlflow_internals.SERVER_MAX_RESULTS or not run_ids:
            return None
        with translate_errors(f"sample metric {key}"):
            rows: Mapping[str, Sequence[Any]] | None
            if self.tracking_uri.startswith(("http://", "https://")):
                rows = mlflow_internals.bulk_interval_http(self.client, run_ids, key, limit)
            else:
                rows = mlflow_internals.bulk_interval_sql(self.client, run_ids, key, limit)
        return None if rows is None else {run_id: _series(points) for run_id, points in rows.items()}

    def latest_metrics(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, RunLatest]:
        return {}  # one get_run per run is all the client has: the caller does that

    def counts(self, registry_uri: str) -> tuple[int, int, int, int] | None:
        return None


class SqlReader(ClientReader):
    """MLflow's tables read directly (read-only), the client for anything they cannot answer."""

    source: Literal["database", "client"] = "database"

    def experiment_runs(
        self,
        experiment_id: str,
        tags: Sequence[str] | None = None,
        max_runs: int = MAX_RUNS,
        filter_string: str = "",
    ) -> ExperimentRuns:
        if (filter_string or "").strip():  # a filter is MLflow's to evaluate: the client path
            return super().experiment_runs(experiment_id, tags, max_runs, filter_string)
        try:
            frame, truncated = database_runs(self.tracking_uri, experiment_id, tags, max_runs)
            return ExperimentRuns(frame, "database", truncated)
        except sa.exc.DBAPIError as exc:  # a schema we do not know: the client still knows it
            log.warning("fast path failed on experiment %s, using the client: %s", experiment_id, exc)
        return super().experiment_runs(experiment_id, tags, max_runs)

    def whole_lines(self, run_ids: Sequence[str], key: str) -> dict[str, Series] | None:
        return metric_series(self.tracking_uri, run_ids, key)

    def counts(self, registry_uri: str) -> tuple[int, int, int, int] | None:
        if registry_uri != self.tracking_uri:  # a registry elsewhere: the client counts it
            return None
        try:
            with translate_errors("count the store"):
                activity = database_activity(self.tracking_uri)
                models, versions = database_registry_counts(registry_uri)
        except Unreachable:
            raise  # the client would wait on the same database again
        except (sa.exc.DBAPIError, RegistryError) as exc:
            log.warning("fast path failed on the store's counts, using the client: %s", exc)
            return None
        return len(activity), sum(e.runs for e in activity), models, versions

    def latest_metrics(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, RunLatest]:
        try:
            return database_latest_metrics(self.tracking_uri, run_ids, keys)
        except (sa.exc.DBAPIError, RegistryError) as exc:  # the caller reads each run through the client
            log.warning(
                "fast path failed on %d runs' latest metrics, using the client: %s", len(run_ids), exc
            )
        return super().latest_metrics(run_ids, keys)

    def experiment_activity(self) -> list[ExperimentActivity]:
        try:
            with translate_errors("count the runs of each experiment"):
                return by_activity(database_activity(self.tracking_uri))
        except sa.exc.DBAPIError as exc:  # a schema we do not know: the client still knows it
            log.warning("fast path failed on experiment activity, using the client: %s", exc)
        return super().experiment_activity()


def reader_for(client: MlflowClient, tracking_uri: str | None = None) -> TrackingReader:
    """The reader for this store: the one place that decides "SQL or client" from the URI.

    With MLflow's workspaces on, teams share one database and MLflow's store keeps each session to
    its workspace; our SQL reads see every row, so the client answers there.
    """
    uri = tracking_uri or client.tracking_uri or ""
    direct = backend_of(uri) == "database" and not MLFLOW_ENABLE_WORKSPACES.get()  # type: ignore[no-untyped-call]
    return SqlReader(client, uri) if direct else ClientReader(client, uri)


def experiment_runs(
    client: MlflowClient,
    experiment_id: str,
    tracking_uri: str | None = None,
    tags: Sequence[str] | None = None,
    max_runs: int = MAX_RUNS,
    filter_string: str = "",
) -> ExperimentRuns:
    """Every active run of the experiment, newest first, through the reader for the URI.

    `tags`: the tag keys to make `tags.*` columns of (None: every tag, as `runs_to_frame` does).
    `filter_string`: MLflow's search syntax; a filter is MLflow's to evaluate, so it goes through the
    client whatever the URI.
    """
    return reader_for(client, tracking_uri).experiment_runs(experiment_id, tags, max_runs, filter_string)
