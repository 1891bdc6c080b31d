"""Metric histories for charts: many runs by many metrics, at most `max_points` per line.

A chart of 200,000 steps per line is slow to fetch and to draw, and the eye needs ~1,000 points, but
it must not hide the spike that made a run fail: every line keeps its first, last, minimum and
maximum points exactly.

MLflow 3.17.2's bulk-interval sampling (the SQL store's `get_metric_history_bulk_interval`, served by
`mlflow server` at `/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`) takes every n-th row
(NTILE buckets) and keeps the first and last row, not the minimum and maximum. So we use it as a
cheap first pass: one request per metric for up to 100 runs. A line that comes back shorter than
the limit is complete. A line that was sampled is fetched in full and downsampled here with
MinMaxLTTB, with the extremes added back, unless the caller accepts the server's sample as it is
(`exact_extremes=False`: faster on very long lines, extremes approximate).

When the tracking URI is a database, whole lines are read straight from MLflow's `metrics` table as
arrays (`registry.store.fastpath.metric_series`): no sampling pass, and no `Metric` object per point,
which is what made a 100,000-step line cost seconds through `get_metric_history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric
from tsdownsample import MinMaxLTTBDownsampler

from registry.domain.search_hints import KnownKeys, suggest
from registry.errors import BadInput, NotFound
from registry.store.client import translate_errors
from registry.store.fastpath import is_database_uri, metric_series

COLUMNS = ["run_id", "key", "step", "timestamp", "value"]
MIN_POINTS = 4  # first, last, min, max
BULK_INTERVAL_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
SERVER_MAX_RESULTS = 2500  # MAX_RESULTS_PER_RUN in mlflow/server/handlers.py
SERVER_MAX_RUNS = 100  # MAX_RUNS_GET_METRIC_HISTORY_BULK
_LTTB_MIN_OUT = 3  # tsdownsample panics below this

Series = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps, timestamps (ms), values


def select_points(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most `max_points` points of a line sorted by x: MinMaxLTTB plus the extremes.

    First, last, the minimum and the maximum (of the finite values) are always in; the rest of the
    budget goes to MinMaxLTTB, which keeps the shape. Non-finite values other than the first and
    last point are dropped from the sample.
    """
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    finite = np.flatnonzero(np.isfinite(y))
    must = {0, n - 1}
    if finite.size:
        must |= {int(finite[np.argmin(y[finite])]), int(finite[np.argmax(y[finite])])}
    budget = max_points - len(must)
    chosen = set(must)
    if budget >= finite.size:
        chosen |= {int(i) for i in finite}
    elif budget >= _LTTB_MIN_OUT:
        xs = x[finite]
        if xs.size > 1 and not np.all(np.diff(xs) > 0):
            xs = finite  # repeated steps: downsample by position instead
        picked = MinMaxLTTBDownsampler().downsample(
            np.ascontiguousarray(xs, dtype=np.int64),
            np.ascontiguousarray(y[finite], dtype=np.float64),
            n_out=budget,
        )
        chosen |= {int(i) for i in finite[picked.astype(np.int64)]}
    return np.array(sorted(chosen), dtype=np.int64)


def series_from_metrics(metrics: Sequence[Metric] | Sequence[dict[str, Any]]) -> Series:
    """Steps, timestamps and values as arrays sorted by (step, timestamp)."""
    rows = [m if isinstance(m, dict) else {"step": m.step, "timestamp": m.timestamp, "value": m.value}
            for m in metrics]  # fmt: skip
    steps = np.array([int(r.get("step", 0)) for r in rows], dtype=np.int64)
    stamps = np.array([int(r.get("timestamp", 0)) for r in rows], dtype=np.int64)
    values = np.array([float(r.get("value", np.nan)) for r in rows], dtype=np.float64)
    order = np.lexsort((stamps, steps))
    return steps[order], stamps[order], values[order]


def series_frame(run_id: str, key: str, series: Series, max_points: int) -> pd.DataFrame:
    steps, stamps, values = series
    keep = select_points(steps, values, max_points)
    return pd.DataFrame(
        {
            "run_id": run_id,
            "key": key,
            "step": steps[keep],
            "timestamp": pd.to_datetime(stamps[keep], unit="ms", utc=True),
            "value": values[keep],
        },
        columns=COLUMNS,
    )


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: [] for c in COLUMNS})
    frame["step"] = frame["step"].astype("int64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["value"] = frame["value"].astype("float64")
    return frame


def _as_list(value: str | Sequence[str], what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    items = list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
    if not items:
        raise BadInput(f"metric history: choose at least one {what}")
    return items


def _latest_keys(client: MlflowClient, run_ids: list[str]) -> dict[str, set[str]]:
    """The metric keys of each run; an unknown run id is a NotFound here, not an empty chart."""
    keys: dict[str, set[str]] = {}
    for run_id in run_ids:
        try:
            with translate_errors(f"get run {run_id}"):
                keys[run_id] = set(client.get_run(run_id).data.metrics)
        except NotFound as exc:
            raise NotFound(f"run {run_id}: no such run") from exc
    return keys


def _bulk_sample_http(
    client: MlflowClient, run_ids: list[str], key: str, limit: int
) -> dict[str, Series] | None:
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    store = client._tracking_client.store
    get_creds = getattr(store, "get_host_creds", None)
    if get_creds is None:
        return None
    points: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(run_ids), SERVER_MAX_RUNS):
        chunk = run_ids[start : start + SERVER_MAX_RUNS]
        params = {"run_ids": chunk, "metric_key": key, "max_results": limit}
        response = http_request(get_creds(), BULK_INTERVAL_PATH, "GET", params=params)
        if response.status_code == 404:
            return None  # a server without the endpoint: fetch each history instead
        verify_rest_response(response, BULK_INTERVAL_PATH)
        for metric in response.json().get("metrics", []):
            points.setdefault(metric["run_id"], []).append(metric)
    return {run_id: series_from_metrics(rows) for run_id, rows in points.items()}


def _bulk_sample_sql(
    client: MlflowClient, run_ids: list[str], key: str, limit: int
) -> dict[str, Series] | None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore):
        return None
    sampled = store.get_metric_history_bulk_interval(
        run_ids=run_ids, metric_key=key, max_results=limit, start_step=None, end_step=None
    )
    points: dict[str, list[Metric]] = {}
    for item in sampled:
        points.setdefault(item.run_id, []).append(item)
    return {run_id: series_from_metrics(rows) for run_id, rows in points.items()}


def bulk_sample(
    client: MlflowClient, run_ids: list[str], key: str, limit: int, tracking_uri: str | None = None
) -> dict[str, Series] | None:
    """The store's sample of each run's line (≤ `limit` points, first and last kept), or None if the
    store offers no sampling. A line shorter than `limit` comes back whole."""
    if limit > SERVER_MAX_RESULTS or not run_ids:
        return None
    uri = tracking_uri or client.tracking_uri or ""
    with translate_errors(f"sample metric {key}"):
        if uri.startswith(("http://", "https://")):
            return _bulk_sample_http(client, run_ids, key, limit)
        return _bulk_sample_sql(client, run_ids, key, limit)


def _full_series(client: MlflowClient, run_id: str, key: str) -> Series:
    with translate_errors(f"metric history {key} of run {run_id}"):
        return series_from_metrics(client.get_metric_history(run_id, key))


def metric_history(
    client: MlflowClient,
    run_ids: str | Sequence[str],
    keys: str | Sequence[str],
    max_points: int = 1000,
    tracking_uri: str | None = None,
    exact_extremes: bool = True,
) -> pd.DataFrame:
    """Long table (run_id, key, step, timestamp, value), ≤ `max_points` rows per (run, key) line.

    A run that did not log a key has no rows for it; a key that none of the runs logged is an error
    with a suggestion, since it is almost always a typo.
    """
    ids = _as_list(run_ids, "run")
    wanted = _as_list(keys, "metric")
    if max_points < MIN_POINTS:
        raise BadInput(f"max_points: {max_points} is too few; at least {MIN_POINTS} (first, last, min, max)")
    keys_of = _latest_keys(client, ids)
    logged = set().union(*keys_of.values())
    for key in wanted:
        if key not in logged:
            close = suggest("metric", key, KnownKeys(metrics=frozenset(logged)))
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise BadInput(f"metric {key!r}: none of the chosen runs logged it{hint}")
    uri = tracking_uri or client.tracking_uri or ""
    frames: list[pd.DataFrame] = []
    for key in wanted:
        holders = [run_id for run_id in ids if key in keys_of[run_id]]
        if exact_extremes and is_database_uri(uri):  # whole lines, as arrays, straight from the tables
            lines = metric_series(uri, holders, key)
            frames += [series_frame(run_id, key, lines[run_id], max_points) for run_id in holders]
            continue
        sample = bulk_sample(client, holders, key, max_points, tracking_uri)
        for run_id in holders:
            series = sample.get(run_id) if sample is not None else None
            sampled = series is not None and len(series[0]) >= max_points
            if series is None or (sampled and exact_extremes):
                series = _full_series(client, run_id, key)
            frames.append(series_frame(run_id, key, series, max_points))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else _empty()
