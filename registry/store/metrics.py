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

When the tracking URI is a database, the reader (registry.store.readers) reads whole lines straight
from MLflow's `metrics` table as arrays (`registry.store.fastpath.metric_series`): no sampling
pass, and no `Metric` object per point, which is what made a 100,000-step line cost seconds
through `get_metric_history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric

from registry.domain.downsample import select_points as select_points  # where charts read it
from registry.domain.search_hints import KnownKeys, suggest
from registry.errors import BadInput, NotFound
from registry.store.client import translate_errors
from registry.store.mlflow_internals import BULK_INTERVAL_PATH as BULK_INTERVAL_PATH
from registry.store.mlflow_internals import SERVER_MAX_RESULTS as SERVER_MAX_RESULTS
from registry.store.mlflow_internals import SERVER_MAX_RUNS as SERVER_MAX_RUNS
from registry.store.readers import TrackingReader, reader_for

COLUMNS = ["run_id", "key", "step", "timestamp", "value"]
MIN_POINTS = 4  # first, last, min, max

Series = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps, timestamps (ms), values


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


def bulk_sample(
    client: MlflowClient, run_ids: list[str], key: str, limit: int, tracking_uri: str | None = None
) -> dict[str, Series] | None:
    """The store's sample of each run's line (≤ `limit` points, first and last kept), or None if the
    store offers no sampling. A line shorter than `limit` comes back whole."""
    return reader_for(client, tracking_uri).sampled_lines(run_ids, key, limit)


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
    reader: TrackingReader | None = None,
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
    reader = reader or reader_for(client, tracking_uri)
    frames: list[pd.DataFrame] = []
    for key in wanted:
        holders = [run_id for run_id in ids if key in keys_of[run_id]]
        lines = reader.whole_lines(holders, key) if exact_extremes else None
        if lines is not None:  # whole lines, as arrays, straight from the tables
            frames += [series_frame(run_id, key, lines[run_id], max_points) for run_id in holders]
            continue
        sample = reader.sampled_lines(holders, key, max_points)
        for run_id in holders:
            series = sample.get(run_id) if sample is not None else None
            sampled = series is not None and len(series[0]) >= max_points
            if series is None or (sampled and exact_extremes):
                series = _full_series(client, run_id, key)
            frames.append(series_frame(run_id, key, series, max_points))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else _empty()
