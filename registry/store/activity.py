"""Where the work is: every experiment with its run count and last activity, and the newest runs.

A newcomer's first question is where the recent work is, and MLflow's "Default" experiment (id 0)
is empty in most real stores. MLflow has no call that counts runs, and an experiment's
`last_update_time` moves on a rename or a delete, not when a run starts. So from a database URI one
GROUP BY over MLflow's runs table answers for every experiment at once (`database_activity`);
through the client the newest runs of each experiment are read, up to a cap, in parallel
(`client_activity`; the count then says "at least"). The reader for the URI (store/readers) chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient

from registry.store.experiments import ExperimentInfo, ms_to_datetime, search_experiments
from registry.store.fastpath import read_only_engine
from registry.store.runs import BASE_COLUMNS, search_runs

COUNT_CAP = 100  # over HTTP: runs read per experiment to count them and find the newest
CLIENT_EXPERIMENTS = 200  # over HTTP: experiments looked at (the most recently created or changed)
WORKERS = 8
RECENT_EXPERIMENTS = 100  # the newest runs are searched in this many of the most active experiments
_NEVER = datetime.min.replace(tzinfo=UTC)

_runs = sa.table("runs", *map(sa.column, ("run_uuid", "experiment_id", "start_time", "lifecycle_stage")))
_EXPERIMENT_COLUMNS = ("experiment_id", "name", "lifecycle_stage", "creation_time")
_experiments = sa.table("experiments", *map(sa.column, _EXPERIMENT_COLUMNS))


@dataclass(frozen=True)
class ExperimentActivity:
    experiment_id: str
    name: str
    runs: int
    runs_capped: bool  # True: the experiment has at least `runs` runs (counted over HTTP, up to a cap)
    last_run: datetime | None  # when its newest run started
    created: datetime | None

    @property
    def last_activity(self) -> datetime | None:
        """The newest run's start, else the experiment's creation: what "recently active" sorts by."""
        return self.last_run or self.created


def by_activity(found: Sequence[ExperimentActivity]) -> list[ExperimentActivity]:
    """The most recently active first (its newest run's start, else its creation)."""
    return sorted(found, key=lambda e: (e.last_activity or _NEVER, e.experiment_id), reverse=True)


def database_activity(uri: str) -> list[ExperimentActivity]:
    runs = (
        sa.select(
            _runs.c.experiment_id,
            sa.func.count(_runs.c.run_uuid).label("runs"),
            sa.func.max(_runs.c.start_time).label("last_run"),
        )
        .where(_runs.c.lifecycle_stage == "active")
        .group_by(_runs.c.experiment_id)
        .subquery()
    )
    query = (
        sa.select(
            _experiments.c.experiment_id,
            _experiments.c.name,
            _experiments.c.creation_time,
            sa.func.coalesce(runs.c.runs, 0),
            runs.c.last_run,
        )
        .select_from(_experiments.outerjoin(runs, runs.c.experiment_id == _experiments.c.experiment_id))
        .where(_experiments.c.lifecycle_stage == "active")
    )
    with read_only_engine(uri).connect() as conn:
        rows = conn.execute(query).all()
    return [
        ExperimentActivity(str(eid), name, int(count), False, ms_to_datetime(last), ms_to_datetime(created))
        for eid, name, created, count, last in rows
    ]


def client_activity(client: MlflowClient) -> list[ExperimentActivity]:
    experiments = search_experiments(client)
    experiments.sort(key=lambda e: e.last_update_time or e.creation_time or _NEVER, reverse=True)

    def read(info: ExperimentInfo) -> ExperimentActivity:
        page = search_runs(client, info.experiment_id, "", ["attributes.start_time DESC"], COUNT_CAP)
        starts = page.runs["start_time"].dropna()
        last = starts.max().to_pydatetime() if len(starts) else None
        capped = page.next_page_token is not None
        count = len(page.runs)
        return ExperimentActivity(info.experiment_id, info.name, count, capped, last, info.creation_time)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(read, experiments[:CLIENT_EXPERIMENTS]))


def recent_runs(client: MlflowClient, active: Sequence[ExperimentActivity], limit: int = 50) -> pd.DataFrame:
    """The newest `limit` runs of the most active experiments (runs_to_frame's columns), newest first."""
    ids = [e.experiment_id for e in active if e.runs][:RECENT_EXPERIMENTS]
    if not ids:
        return pd.DataFrame(columns=BASE_COLUMNS)
    return search_runs(client, ids, "", ["attributes.start_time DESC"], limit).runs
