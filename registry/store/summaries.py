"""Downsampled summaries of metric lines, read once per (run, metric) and kept.

A chart of 100 runs × 3 metrics × 100,000 steps cannot read 30 million points on every cold start,
and it does not need to: a finished run never changes. The first time a line is asked for, its whole
history is read (straight from MLflow's `metrics` table when the tracking URI is a database, else
through the client: one bulk-interval request per 100 runs, whose sample is the whole line when the
line is short, and the paged `get_metric_history` for long lines), reduced to at most `points` points
that keep the first, last, lowest and highest value (`registry.store.metrics.select_points`,
MinMaxLTTB), and stored with the line's exact statistics (count, first, last, min, max, mean) in a
small SQLite cache beside the audit log. Later reads of a finished run come from that cache.

A cached summary carries the run's *version* (its status and end time): a run that is still
running is read every time and never stored, and a run that was resumed (a new end time) is read
again. A finished run that never logged the metric is stored too, as an empty line, so the absence
is not asked again. The cache is only a cache: if it cannot be opened or written, lines are read
from the tracking store as if it were empty.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from sqlalchemy.engine import Engine, make_url

from registry.errors import BadInput
from registry.settings import make_sqlite_folder
from registry.store.client import translate_errors
from registry.store.metrics import (
    COLUMNS,
    MIN_POINTS,
    SERVER_MAX_RESULTS,
    Series,
    select_points,
    series_from_metrics,
)
from registry.store.readers import reader_for

log = logging.getLogger("registry.store.summaries")

SUMMARY_POINTS = 2000  # per line: what a chart may draw of it (issue 14: ≤ 2,000 points per line)
STATS = ["count", "first", "last", "min", "max", "mean", "last_step"]
FINISHED = frozenset({"FINISHED", "FAILED", "KILLED"})
_CHUNK = 500  # run ids per IN (...) of a cache read
_EMPTY = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class RunStamp:
    """A run to summarise, and its version: None while it runs (then nothing is stored)."""

    run_id: str
    version: str | None


@dataclass(frozen=True)
class LineSummary:
    """One (run, metric) line: ≤ `points` points for drawing, and the exact statistics of the whole line."""

    run_id: str
    key: str
    steps: np.ndarray
    timestamps: np.ndarray  # ms since the epoch
    values: np.ndarray
    count: int  # points in the whole history (0: the run never logged the metric)
    first: float
    last: float
    min: float
    max: float
    mean: float
    last_step: int

    @property
    def stats(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in STATS}


def summarize(run_id: str, key: str, series: Series, points: int = SUMMARY_POINTS) -> LineSummary:
    """A whole line reduced to `points` points, with its exact statistics (NaN where there is none)."""
    steps, stamps, values = series
    if not len(values):
        nan = math.nan
        return LineSummary(run_id, key, *_EMPTY, 0, nan, nan, nan, nan, nan, -1)
    keep = select_points(steps, values, points)
    finite = values[np.isfinite(values)]
    low, high, mean = (
        (float(finite.min()), float(finite.max()), float(finite.mean())) if finite.size else (math.nan,) * 3
    )
    return LineSummary(
        run_id, key, steps[keep].astype(np.int64), stamps[keep].astype(np.int64),
        values[keep].astype(np.float64), len(values), float(values[0]), float(values[-1]), low, high, mean,
        int(steps[-1]),
    )  # fmt: skip


def run_stamps(runs: pd.DataFrame) -> list[RunStamp]:
    """Stamps from a runs table (`run_id`, `status`, `end_time` columns, as `runs_to_frame` makes them)."""
    stamps = []
    for run_id, status, end in zip(runs["run_id"], runs["status"], runs["end_time"], strict=True):
        done = status in FINISHED and pd.notna(end)
        stamps.append(RunStamp(str(run_id), f"{status}@{pd.Timestamp(end).value}" if done else None))
    return stamps


class SummaryCache:
    """The table of kept summaries, keyed by (run, metric, points) and checked against the run's version."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._meta = sa.MetaData()
        self.table = sa.Table(
            "line_summaries", self._meta,
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("points", sa.Integer, primary_key=True),
            sa.Column("version", sa.String(80), nullable=False),
            *(sa.Column(name, sa.Float) for name in ("first", "last", "min", "max", "mean")),
            sa.Column("count", sa.BigInteger, nullable=False),
            sa.Column("last_step", sa.BigInteger, nullable=False),
            sa.Column("steps", sa.LargeBinary, nullable=False),
            sa.Column("timestamps", sa.LargeBinary, nullable=False),
            sa.Column("vals", sa.LargeBinary, nullable=False),
        )  # fmt: skip

    @cached_property
    def engine(self) -> Engine:
        url = make_url(self.url)
        connect_args: dict[str, object] = {}
        make_sqlite_folder(self.url)
        if url.get_backend_name() == "sqlite" and url.database:
            connect_args["timeout"] = 5
        engine = sa.create_engine(url, connect_args=connect_args)
        self._meta.create_all(engine)
        return engine

    def load(self, key: str, runs: Sequence[RunStamp], points: int) -> dict[str, LineSummary]:
        """The kept summaries of `key` for the finished runs among `runs` whose version still matches."""
        versions = {r.run_id: r.version for r in runs if r.version is not None}
        if not versions:
            return {}
        t = self.table
        found: dict[str, LineSummary] = {}
        ids = list(versions)
        try:
            with self.engine.connect() as conn:
                for start in range(0, len(ids), _CHUNK):
                    query = sa.select(t).where(
                        t.c.key == key, t.c.points == points, t.c.run_id.in_(ids[start : start + _CHUNK])
                    )
                    for row in conn.execute(query).mappings():
                        if row["version"] == versions[row["run_id"]]:
                            found[row["run_id"]] = _from_row(row)
        except sa.exc.SQLAlchemyError as exc:  # a cache that does not answer is an empty cache
            log.warning("summary cache %s unreadable, reading the tracking store: %s", self.url, exc)
        return found

    def save(self, summaries: Iterable[LineSummary], versions: Mapping[str, str | None], points: int) -> None:
        """Keep the summaries of finished runs (a running run's line still grows)."""
        rows = [_to_row(s, versions[s.run_id], points) for s in summaries if versions.get(s.run_id)]
        if not rows:
            return
        t = self.table
        try:
            with self.engine.begin() as conn:
                for row in rows:
                    conn.execute(
                        t.delete().where(
                            t.c.run_id == row["run_id"], t.c.key == row["key"], t.c.points == points
                        )
                    )
                conn.execute(t.insert(), rows)
        except sa.exc.SQLAlchemyError as exc:  # another process wrote them first, or the disk is full
            log.warning("summary cache %s not written: %s", self.url, exc)


def _to_row(s: LineSummary, version: str | None, points: int) -> dict[str, object]:
    return {
        "run_id": s.run_id, "key": s.key, "points": points, "version": version,
        "first": s.first, "last": s.last, "min": s.min, "max": s.max, "mean": s.mean,
        "count": s.count, "last_step": s.last_step, "steps": s.steps.astype("<i8").tobytes(),
        "timestamps": s.timestamps.astype("<i8").tobytes(), "vals": s.values.astype("<f8").tobytes(),
    }  # fmt: skip


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _from_row(row: Mapping[Any, Any]) -> LineSummary:
    """A cache row (SQLAlchemy's untyped mapping) as a summary."""
    return LineSummary(
        run_id=str(row["run_id"]), key=str(row["key"]), count=int(row["count"]),
        steps=np.frombuffer(row["steps"], dtype="<i8"),
        timestamps=np.frombuffer(row["timestamps"], dtype="<i8"),
        values=np.frombuffer(row["vals"], dtype="<f8"),
        first=_float(row["first"]), last=_float(row["last"]), min=_float(row["min"]), max=_float(row["max"]),
        mean=_float(row["mean"]), last_step=int(row["last_step"]),
    )  # fmt: skip


def _read_lines(client: MlflowClient, tracking_uri: str, run_ids: list[str], key: str) -> dict[str, Series]:
    """Whole lines of `key`: from the tables for a database URI, else one bulk sample per 100 runs and
    the paged history for the lines that sample cut."""
    reader = reader_for(client, tracking_uri)
    whole = reader.whole_lines(run_ids, key)
    if whole is not None:
        return whole
    sample = reader.sampled_lines(run_ids, key, SERVER_MAX_RESULTS)
    lines: dict[str, Series] = {}
    for run_id in run_ids:
        series = sample.get(run_id, _EMPTY) if sample is not None else None
        if series is None or len(series[0]) >= SERVER_MAX_RESULTS:
            with translate_errors(f"metric history {key} of run {run_id}"):
                series = series_from_metrics(client.get_metric_history(run_id, key))
        lines[run_id] = series
    return lines


def line_summaries(
    client: MlflowClient,
    tracking_uri: str,
    cache: SummaryCache | None,
    runs: Sequence[RunStamp],
    keys: Sequence[str],
    points: int = SUMMARY_POINTS,
) -> dict[tuple[str, str], LineSummary]:
    """Each (run, key) summary, from the cache where it holds the run's version, else read and kept.

    A coarser summary (`points` < SUMMARY_POINTS, for a chart of many lines) is made from the
    SUMMARY_POINTS one rather than from the history, and kept too: a thousand lines are then drawn
    without thinning any of them again. A run that never logged a key gets an empty summary (count 0),
    so callers can say so.
    """
    if points < MIN_POINTS:
        raise BadInput(f"points: {points} is too few; at least {MIN_POINTS} (first, last, min, max)")
    versions = {r.run_id: r.version for r in runs}
    found: dict[tuple[str, str], LineSummary] = {}
    for key in dict.fromkeys(keys):
        kept = cache.load(key, runs, points) if cache is not None else {}
        missing = [r for r in runs if r.run_id not in kept]
        if not missing:
            fresh: list[LineSummary] = []
        elif points < SUMMARY_POINTS:
            finer = line_summaries(client, tracking_uri, cache, missing, [key], SUMMARY_POINTS)
            fresh = [coarser(finer[(r.run_id, key)], points) for r in missing]
        else:
            read = _read_lines(client, tracking_uri, [r.run_id for r in missing], key)
            fresh = [summarize(r.run_id, key, read.get(r.run_id, _EMPTY), points) for r in missing]
        if cache is not None:
            cache.save(fresh, versions, points)
        found.update({(run_id, key): s for run_id, s in kept.items()})
        found.update({(s.run_id, key): s for s in fresh})
    return found


def coarser(line: LineSummary, points: int) -> LineSummary:
    """The same line with at most `points` of its points (its statistics stay those of the history)."""
    if len(line.values) <= points:
        return line
    keep = select_points(line.steps, line.values, points)
    return replace(line, steps=line.steps[keep], timestamps=line.timestamps[keep], values=line.values[keep])


def summaries_frame(summaries: Iterable[LineSummary]) -> pd.DataFrame:
    """The drawn points as the long table of `registry.store.metrics.metric_history` (same columns),
    with `run_id` and `key` as categories: a million rows group and sort in milliseconds."""
    lines = [s for s in summaries if len(s.values)]
    sizes = [len(s.values) for s in lines]
    empty = _EMPTY

    def joined(arrays: list[np.ndarray], kind: int) -> np.ndarray:
        return np.concatenate(arrays) if arrays else empty[kind]

    def category(names: list[str]) -> pd.Categorical:
        labels, codes = np.unique(np.array(names, dtype=object), return_inverse=True) if names else ([], [])
        return pd.Categorical.from_codes(np.repeat(np.asarray(codes, dtype=np.int64), sizes), labels)

    return pd.DataFrame(
        {
            "run_id": category([s.run_id for s in lines]),
            "key": category([s.key for s in lines]),
            "step": joined([s.steps for s in lines], 0),
            "timestamp": pd.to_datetime(joined([s.timestamps for s in lines], 1), unit="ms", utc=True),
            "value": joined([s.values for s in lines], 2),
        },
        columns=COLUMNS,
    )


def stats_frame(summaries: Iterable[LineSummary]) -> pd.DataFrame:
    """One row per (run, key) that logged it: count, first, last, min, max, mean and last step."""
    rows = [{"run_id": s.run_id, "key": s.key, **s.stats} for s in summaries if s.count]
    return pd.DataFrame(rows, columns=["run_id", "key", *STATS])
