"""Direct, read-only reads of MLflow's tables, for views over a whole experiment or a long history.

MLflow's client turns every run into a `Run` entity (each param, metric and tag an object of its own):
`mlflow.search_runs` over 10,000 runs took 10.5 s here, and `get_metric_history` builds a `Metric`
per point. A table of every run, or a chart of 100,000 steps, needs neither: when the tracking URI
is a database (`sqlite:///` or `postgresql://`), a handful of SQLAlchemy Core queries on MLflow's
own tables (runs, params, latest_metrics, tags, metrics; see
mlflow/store/tracking/dbmodels/models.py) and a pandas pivot give the same table in a fraction of
the time. Over HTTP the client path (`registry.store.runs.search_runs`, paged) is used instead;
`registry.store.readers` chooses between them.

The database is only read: SQLite is opened with `mode=ro`, PostgreSQL sessions are read-only. If
MLflow's schema ever differs from what these queries expect, the client path answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any, Literal
from urllib.parse import quote

import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
from sqlalchemy.engine import Engine, make_url

from registry.domain.columns import numeric_columns
from registry.errors import NotFound
from registry.store.client import translate_errors
from registry.store.runs import BASE_COLUMNS, TAGS_NOT_AS_COLUMNS, column_order, search_runs

log = logging.getLogger("registry.store.fastpath")

MAX_RUNS = 50_000
CLIENT_PAGE = 5_000
HISTORY_WORKERS = 4
_SQLITE_PREFIX = "sqlite:///"

# MLflow's tables, only the columns read here.
_RUN_COLUMNS = ["run_uuid", "name", "experiment_id", "status", "start_time", "end_time", "user_id"]
_runs = sa.table("runs", *(sa.column(c) for c in [*_RUN_COLUMNS, "lifecycle_stage"]))
_params = sa.table("params", sa.column("run_uuid"), sa.column("key"), sa.column("value"))
_tags = sa.table("tags", sa.column("run_uuid"), sa.column("key"), sa.column("value"))
_latest = sa.table(
    "latest_metrics", sa.column("run_uuid"), sa.column("key"), sa.column("value"), sa.column("is_nan")
)
_metrics = sa.table(
    "metrics", *(sa.column(c) for c in ("run_uuid", "key", "step", "timestamp", "value", "is_nan"))
)
_experiments = sa.table("experiments", sa.column("experiment_id"))
_models = sa.table("registered_models", sa.column("name"))
_model_tags = sa.table("registered_model_tags", sa.column("name"), sa.column("key"), sa.column("value"))
_versions = sa.table("model_versions", sa.column("name"), sa.column("current_stage"))
_BASE_TAGS = ("mlflow.runName", "mlflow.user", "mlflow.parentRunId")  # fallbacks for name, user; nesting

Series = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps, timestamps (ms), values


@dataclass(frozen=True)
class ExperimentRuns:
    """Every active run of an experiment as one table (runs_to_frame's columns), and how it was read."""

    runs: pd.DataFrame
    source: Literal["database", "client"]
    truncated: bool  # more than max_runs runs: the newest max_runs are in the table
    # Params whose values all read as numbers (axes of the charts): found once per read, kept with it
    numeric_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numeric_params", tuple(numeric_columns(self.runs, "params.")))


def is_database_uri(uri: str | None) -> bool:
    """A tracking URI we can read directly: a SQLite file or a PostgreSQL database."""
    if not uri:
        return False
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "sqlite":
        return uri.startswith(_SQLITE_PREFIX) and len(uri) > len(_SQLITE_PREFIX)  # not in-memory
    return scheme.split("+", 1)[0] in ("postgresql", "postgres")


@lru_cache(maxsize=8)
def read_only_engine(uri: str) -> Engine:
    """One engine per database URI for the process, opened so that it cannot write."""
    if uri.lower().startswith("sqlite"):
        path = uri[len(_SQLITE_PREFIX) :]
        return sa.create_engine(f"sqlite:///file:{quote(path)}?mode=ro&uri=true")
    url = make_url(uri.replace("postgres://", "postgresql://", 1))
    connect_args: dict[str, Any] = {}
    if url.get_driver_name() in ("psycopg2", "psycopg"):
        connect_args["options"] = "-c default_transaction_read_only=on"
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, pool_size=HISTORY_WORKERS)


def client_runs(
    client: MlflowClient,
    experiment_id: str,
    tags: Sequence[str] | None = None,
    max_runs: int = MAX_RUNS,
    filter_string: str = "",
) -> tuple[pd.DataFrame, bool]:
    """The experiment's runs (those the filter keeps) through the client, page after page (any URI)."""
    pages: list[pd.DataFrame] = []
    token: str | None = None
    count = 0
    while True:
        size = min(CLIENT_PAGE, max_runs - count)
        page = search_runs(client, experiment_id, filter_string, max_results=size, page_token=token)
        pages.append(page.runs)
        count += len(page.runs)
        token = page.next_page_token
        if not token or count >= max_runs:
            break
    frame = pd.concat(pages, ignore_index=True) if len(pages) > 1 else pages[0]
    if tags is not None:
        keep = {f"tags.{t}" for t in tags}
        frame = frame[[c for c in frame.columns if not c.startswith("tags.") or c in keep]]
    extra = sorted((c for c in frame.columns if c not in BASE_COLUMNS), key=column_order)
    return frame[BASE_COLUMNS + extra].reset_index(drop=True), token is not None


def _of_experiment(table: sa.TableClause, experiment_id: int) -> sa.Select[Any]:
    """(run_uuid, key, value[, is_nan]) rows of `table` that belong to the experiment's active runs."""
    return (
        sa.select(*(c for c in table.c if c.name in ("run_uuid", "key", "value", "is_nan")))
        .join(_runs, _runs.c.run_uuid == table.c.run_uuid)
        .where(_runs.c.experiment_id == experiment_id, _runs.c.lifecycle_stage == "active")
    )


def _frame(conn: sa.Connection, query: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
    """A query's rows as a frame, built column-wise from the driver's tuples (no Row objects)."""
    return pd.DataFrame(conn.execute(query).cursor.fetchall(), columns=columns)


def _wide(long: pd.DataFrame, prefix: str, order: pd.Index, truncated: bool = True) -> pd.DataFrame:
    """Long (run_uuid, key, value) rows as one column per key, rows in `order`.

    `truncated`: some runs of the rows are not in `order`; only then are their rows dropped first (a
    key only they have is no column), since `isin` on 200,000 string ids costs a third of a second.
    """
    if truncated:
        long = long[long["run_uuid"].isin(order)]
    if long.empty:
        return pd.DataFrame(index=order)
    wide = long.pivot(index="run_uuid", columns="key", values="value").reindex(order)
    wide.columns = [f"{prefix}{k}" for k in wide.columns]
    return wide


def database_runs(
    tracking_uri: str, experiment_id: str, tags: Sequence[str] | None = None, max_runs: int = MAX_RUNS
) -> tuple[pd.DataFrame, bool]:
    """The experiment's runs from MLflow's tables: four queries and a pivot; True if cut at max_runs."""
    with translate_errors(f"read the runs of experiment {experiment_id}"):
        return _database_runs(read_only_engine(tracking_uri), experiment_id, tags, max_runs)


def _database_runs(
    engine: Engine, experiment_id: str, tags: Sequence[str] | None, max_runs: int
) -> tuple[pd.DataFrame, bool]:
    try:
        eid = int(experiment_id)
    except ValueError as exc:
        raise NotFound(f"experiment {experiment_id!r}: no such experiment") from exc
    run_query = (
        sa.select(*(_runs.c[c] for c in _RUN_COLUMNS))
        .where(_runs.c.experiment_id == eid, _runs.c.lifecycle_stage == "active")
        .order_by(_runs.c.start_time.desc(), _runs.c.run_uuid)  # MLflow's own order
        .limit(max_runs + 1)
    )
    experiment = sa.select(_experiments).where(_experiments.c.experiment_id == eid)
    tag_query = _of_experiment(_tags, eid)
    if tags is not None:
        tag_query = tag_query.where(_tags.c.key.in_({*tags, *_BASE_TAGS}))
    with engine.connect() as conn:
        runs = _frame(conn, run_query, _RUN_COLUMNS)
        if runs.empty and conn.execute(experiment).first() is None:
            raise NotFound(f"experiment {experiment_id}: no such experiment")
        params = _frame(conn, _of_experiment(_params, eid), ["run_uuid", "key", "value"])
        metrics = _frame(conn, _of_experiment(_latest, eid), ["run_uuid", "key", "value", "is_nan"])
        tag_rows = _frame(conn, tag_query, ["run_uuid", "key", "value"])
    truncated = len(runs) > max_runs
    runs = runs.iloc[:max_runs]
    order = pd.Index(runs["run_uuid"], name="run_uuid")
    if not metrics.empty:
        metrics["value"] = metrics["value"].astype("float64").where(~metrics["is_nan"].astype(bool), np.nan)
        metrics = metrics.drop(columns="is_nan")
    wide = [_wide(params, "params.", order, truncated), _wide(metrics, "metrics.", order, truncated)]
    return _assemble(runs, _wide(tag_rows, "", order, truncated), *wide), truncated


def _tag(tag_wide: pd.DataFrame, key: str) -> pd.Series:
    if key in tag_wide.columns:
        return tag_wide[key]
    return pd.Series([None] * len(tag_wide), index=tag_wide.index, dtype=object)


def _assemble(
    runs: pd.DataFrame, tag_wide: pd.DataFrame, params: pd.DataFrame, metrics: pd.DataFrame
) -> pd.DataFrame:
    """The columns and types of `registry.store.runs.runs_to_frame`, so every view reads one shape."""
    start = runs["start_time"].astype("float64").to_numpy()
    end = runs["end_time"].astype("float64").to_numpy()
    known_start = np.where(start > 0, start, np.nan)
    known_end = np.where(end > 0, end, np.nan)
    name = runs["name"].where(runs["name"].fillna("") != "", _tag(tag_wide, "mlflow.runName").to_numpy())
    user = runs["user_id"].where(runs["user_id"].fillna("") != "", _tag(tag_wide, "mlflow.user").to_numpy())
    parent = _tag(tag_wide, "mlflow.parentRunId").to_numpy()
    base = pd.DataFrame(
        {
            "run_id": runs["run_uuid"].to_numpy(),
            "run_name": name.fillna("").to_numpy(),
            "experiment_id": runs["experiment_id"].astype(str).to_numpy(),
            "status": runs["status"].to_numpy(),
            "start_time": pd.to_datetime(known_start, unit="ms", utc=True),
            "end_time": pd.to_datetime(known_end, unit="ms", utc=True),
            "duration_s": (known_end - known_start) / 1000,
            "user": user.fillna("").to_numpy(),
            "parent_run_id": pd.Series(parent, dtype=object).where(pd.notna(parent), None).to_numpy(),
        },
        columns=BASE_COLUMNS,
    )
    user_tags = tag_wide[[c for c in tag_wide.columns if c not in TAGS_NOT_AS_COLUMNS]]
    user_tags.columns = [f"tags.{c}" for c in user_tags.columns]
    extra = pd.concat([params, metrics, user_tags], axis=1)
    extra = extra[sorted(extra.columns, key=column_order)].reset_index(drop=True)
    frame = pd.concat([base, extra], axis=1)
    for column in ("start_time", "end_time"):
        frame[column] = frame[column].astype("datetime64[us, UTC]")
    return frame


@dataclass(frozen=True)
class RunLatest:
    """What a list needs of a run: its status, whether it was deleted, its latest metric values."""

    status: str
    deleted: bool
    metrics: dict[str, float]


def database_latest_metrics(
    tracking_uri: str, run_ids: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, RunLatest]:
    """Each found run's status and latest values of `keys` (all when None), as `get_run` has them
    (MLflow's latest_metrics table, NaN where MLflow says NaN), in one query; a run the store lacks
    is left out.

    Lists of models and versions show each version's run metrics: `get_run` per version builds every
    param, metric and tag of the run (~7 ms of CPU each on SQLite, 0.7 s for the Overview's 100).
    """
    if not run_ids:
        return {}
    joined = _latest.c.run_uuid == _runs.c.run_uuid
    query = (
        sa.select(_runs.c.run_uuid, _runs.c.status, _runs.c.lifecycle_stage, _latest.c.key, _latest.c.value,
                  _latest.c.is_nan)
        .select_from(_runs)
        .outerjoin(_latest, joined if keys is None else sa.and_(joined, _latest.c.key.in_(list(keys))))
        .where(_runs.c.run_uuid.in_(list(run_ids)))
    )  # fmt: skip
    found: dict[str, RunLatest] = {}
    with translate_errors("read the runs' latest metrics"), read_only_engine(tracking_uri).connect() as conn:
        for run_id, status, stage, key, value, is_nan in conn.execute(query).cursor.fetchall():
            run = found.setdefault(run_id, RunLatest(str(status), stage == "deleted", {}))
            if key is not None:
                run.metrics[key] = float("nan") if is_nan else float(value)
    return found


def database_registry_counts(registry_uri: str) -> tuple[int, int]:
    """Registered models and their versions, counted as MLflow's searches list them: without MLflow
    3's prompts (they share the tables, marked by a tag) and without deleted versions.

    MLflow has no count call: counting through the client reads every version (4,000 versions took
    0.6 s of CPU on SQLite); two COUNT queries take milliseconds.
    """
    prompts = sa.select(_model_tags.c.name).where(
        _model_tags.c.key == IS_PROMPT_TAG_KEY, _model_tags.c.value == "true"
    )
    models = sa.select(sa.func.count()).select_from(_models).where(_models.c.name.not_in(prompts))
    versions = (
        sa.select(sa.func.count())
        .select_from(_versions)
        .where(_versions.c.current_stage != STAGE_DELETED_INTERNAL, _versions.c.name.not_in(prompts))
    )
    with translate_errors("count registered models"), read_only_engine(registry_uri).connect() as conn:
        return int(conn.execute(models).scalar_one()), int(conn.execute(versions).scalar_one())


# histories -------------------------------------------------------------------------------------------
def metric_series(tracking_uri: str, run_ids: Sequence[str], key: str) -> dict[str, Series]:
    """Each run's whole history of `key` as arrays sorted by (step, timestamp); NaN where MLflow says NaN.

    No `Metric` objects: a 100,000-point history is three arrays. Lines are read in parallel (a
    database spends most of a read outside Python's lock).
    """
    engine = read_only_engine(tracking_uri)

    def read(run_id: str) -> tuple[str, Series]:
        # Ordered by step only: MLflow's (run_uuid, key, step) index gives that order for free, where
        # adding the timestamp costs a sort in SQLite (a third of the read on a 100,000-step line).
        query = (
            sa.select(_metrics.c.step, _metrics.c.timestamp, _metrics.c.value, _metrics.c.is_nan)
            .where(_metrics.c.run_uuid == run_id, _metrics.c.key == key)
            .order_by(_metrics.c.step)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).cursor.fetchall()
        table = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=4 * len(rows)).reshape(-1, 4)
        steps, stamps = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
        if steps.size > 1 and not np.all(np.diff(steps) > 0):  # repeated steps: order them by time too
            order = np.lexsort((stamps, steps))
            table, steps, stamps = table[order], steps[order], stamps[order]
        values = np.where(table[:, 3] != 0, np.nan, table[:, 2])
        return run_id, (steps, stamps, values)

    with translate_errors(f"metric history {key}"):
        if len(run_ids) == 1:
            return dict([read(run_ids[0])])
        with ThreadPoolExecutor(max_workers=min(HISTORY_WORKERS, len(run_ids))) as pool:
            return dict(pool.map(read, run_ids))
