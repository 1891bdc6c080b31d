"""The database fast path reads the same runs and values as the client, and is used only on a database."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities import Metric

from registry.errors import NotFound, Unreachable
from registry.service import Registry
from registry.settings import Settings
from registry.store import fastpath
from registry.store.client import make_client
from registry.store.fastpath import client_runs, database_runs, is_database_uri, metric_series
from registry.store.readers import ClientReader, SqlReader, backend_of, experiment_runs, reader_for
from registry.store.runs import BASE_COLUMNS
from tests.run_data import log_steps, make_run
from tests.stack import create_experiment, free_port


@dataclass
class Store:
    uri: str
    experiment_id: str
    ids: dict[str, str]


@pytest.fixture
def store(sqlite_settings: Settings) -> Store:
    """A small experiment made with the client: nesting, NaN and infinite metrics, a metric logged at
    several steps, a running run, a deleted run, a run with nothing logged, and a second experiment."""
    client = make_client(sqlite_settings)
    eid = create_experiment(client, sqlite_settings)
    ids = {
        "plain": make_run(client, eid, "plain", params={"lr": "0.1", "optimizer": "adam"},
                          metrics={"accuracy": 0.9, "loss": 0.1}, tags={"team": "vision"}),
        "odd": make_run(client, eid, "odd", params={"lr": "0.2", "depth": "3", "note": "it's \"quoted\" ü"},
                        metrics={"nan_metric": math.nan, "big": math.inf, "small": -math.inf},
                        tags={"team": "nlp", "extra": "x"}),
        "running": make_run(client, eid, "running", params={"lr": "0.3"}, finished=False),
        "empty": make_run(client, eid, "empty"),
    }  # fmt: skip
    ids["child"] = make_run(client, eid, "child", params={"lr": "0.05"}, metrics={"accuracy": 0.7},
                            parent_run_id=ids["plain"])  # fmt: skip
    client.log_batch(ids["plain"], metrics=[Metric("accuracy", 0.95, 1_700_000_000_500, 2),
                                            Metric("accuracy", 0.92, 1_700_000_000_400, 1)])  # fmt: skip
    deleted = make_run(client, eid, "deleted", params={"lr": "9"})
    client.delete_run(deleted)
    other = create_experiment(client, sqlite_settings)
    make_run(client, other, "elsewhere", params={"lr": "1"})
    return Store(sqlite_settings.effective_tracking_uri, eid, ids)


def test_the_fast_path_gives_the_client_paths_frame(store: Store) -> None:
    client = MlflowClient(store.uri)
    fast = experiment_runs(client, store.experiment_id)
    slow, truncated = client_runs(client, store.experiment_id)

    assert fast.source == "database" and not fast.truncated and not truncated
    pd.testing.assert_frame_equal(fast.runs, slow)
    assert list(fast.runs.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    # neither the deleted run nor the other experiment's
    assert sorted(fast.runs["run_id"]) == sorted(store.ids.values())
    by_name = fast.runs.set_index("run_name")
    assert by_name.loc["plain", "metrics.accuracy"] == 0.95  # the latest step's value
    assert math.isnan(by_name.loc["odd", "metrics.nan_metric"])
    # MLflow's SQL store keeps ±inf as ±float max; both paths read what it kept
    assert by_name.loc["odd", "metrics.big"] > 1e308 and by_name.loc["odd", "metrics.small"] < -1e308
    assert by_name.loc["odd", "params.note"] == 'it\'s "quoted" ü'
    assert by_name.loc["child", "parent_run_id"] == store.ids["plain"]
    assert pd.isna(by_name.loc["plain", "parent_run_id"])
    assert pd.isna(by_name.loc["running", "end_time"]) and pd.isna(by_name.loc["running", "duration_s"])
    assert by_name.loc["plain", "tags.team"] == "vision"


def test_chosen_tags_and_a_cap_on_runs_read_the_same_both_ways(store: Store) -> None:
    client = MlflowClient(store.uri)
    fast, fast_cut = database_runs(store.uri, store.experiment_id, tags=["team"])
    slow, slow_cut = client_runs(client, store.experiment_id, tags=["team"])
    assert not fast_cut and not slow_cut
    pd.testing.assert_frame_equal(fast, slow)
    assert [c for c in fast.columns if c.startswith("tags.")] == ["tags.team"]

    fast, fast_cut = database_runs(store.uri, store.experiment_id, max_runs=3)
    slow, slow_cut = client_runs(client, store.experiment_id, max_runs=3)
    assert fast_cut and slow_cut and len(fast) == 3
    pd.testing.assert_frame_equal(fast, slow)  # also: no column for a key only the cut runs have


def test_an_unknown_experiment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        database_runs(store.uri, "987654")
    with pytest.raises(NotFound):
        database_runs(store.uri, "not-a-number")


def test_an_experiment_without_runs_is_an_empty_table(store: Store, sqlite_settings: Settings) -> None:
    client = make_client(sqlite_settings)
    empty = create_experiment(client, sqlite_settings)
    frame, truncated = database_runs(store.uri, empty)
    assert frame.empty and not truncated
    assert list(frame.columns) == BASE_COLUMNS


def test_the_database_is_opened_read_only(store: Store) -> None:
    engine = fastpath.read_only_engine(store.uri)
    with pytest.raises(sa.exc.OperationalError, match="readonly"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM params"))


def test_a_whole_history_reads_like_get_metric_history(store: Store) -> None:
    client = MlflowClient(store.uri)
    run_id = store.ids["plain"]
    values = [float(v) for v in np.linspace(1, 0, 1500)]
    values[700] = math.nan
    log_steps(client, run_id, "curve", values)

    steps, stamps, got = metric_series(store.uri, [run_id], "curve")[run_id]
    expected = sorted(client.get_metric_history(run_id, "curve"), key=lambda m: (m.step, m.timestamp))

    assert steps.tolist() == [m.step for m in expected]
    assert stamps.tolist() == [m.timestamp for m in expected]
    np.testing.assert_array_equal(got, np.array([m.value for m in expected]))
    assert math.isnan(got[700])
    assert metric_series(store.uri, [run_id], "never-logged")[run_id][0].size == 0


def test_is_database_uri() -> None:
    assert is_database_uri("sqlite:////tmp/mlflow.db")
    assert is_database_uri("postgresql://u:p@db:5432/mlflow")
    assert is_database_uri("postgresql+psycopg2://u@db/mlflow")
    assert not is_database_uri("sqlite://")  # in memory: nothing to open twice
    assert not is_database_uri("http://127.0.0.1:5000")
    assert not is_database_uri("file:///tmp/mlruns")
    assert not is_database_uri("databricks")
    assert not is_database_uri("")


def test_over_http_the_client_path_answers(http_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(http_settings)
    eid = create_experiment(client, http_settings)
    ids = {make_run(client, eid, f"r{i}", params={"lr": str(i)}, metrics={"acc": i / 10}) for i in range(3)}

    def no_database(uri: str) -> None:
        raise AssertionError(f"the fast path must not open {uri}")

    monkeypatch.setattr(fastpath, "read_only_engine", no_database)
    result = experiment_runs(client, eid)

    assert result.source == "client" and not result.truncated
    assert set(result.runs["run_id"]) == ids
    assert sorted(result.runs["params.lr"]) == ["0", "1", "2"]
    assert sorted(result.runs["metrics.acc"]) == [0.0, 0.1, 0.2]


def test_the_reader_is_chosen_once_from_the_uri() -> None:
    client = cast(MlflowClient, object())  # the choice reads only the URI; no store is touched
    assert isinstance(reader_for(client, "sqlite:////tmp/mlflow.db"), SqlReader)
    assert isinstance(reader_for(client, "postgresql://u@db/mlflow"), SqlReader)
    for uri in ("http://127.0.0.1:5000", "file:///tmp/mlruns", "sqlite://", "databricks"):
        reader = reader_for(client, uri)
        assert type(reader) is ClientReader and reader.whole_lines(["r"], "loss") is None
    assert [backend_of(u) for u in ("sqlite:////x.db", "https://h", "databricks", "file:///x", "")] == [
        "database",
        "server",
        "server",
        "local",
        "local",
    ]


def test_with_workspaces_a_database_store_shows_only_the_active_workspace(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's workspaces (MLFLOW_ENABLE_WORKSPACES) isolate teams sharing one database; our SQL
    reads see every row, so they must not be what answers a workspace's session."""
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    client = make_client(sqlite_settings)
    made: dict[str, tuple[str, str]] = {}
    for team in ("team-a", "team-b"):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        eid = client.create_experiment(f"{team}-experiment")  # a workspace chooses where artifacts go
        made[team] = (eid, make_run(client, eid, f"{team}-run", metrics={"acc": 0.5}))
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    reg = Registry.connect(sqlite_settings)

    seen = {e.name for e in reg.experiment_activity()}
    assert "team-a-experiment" in seen and "team-b-experiment" not in seen, seen
    assert reg.store_counts().experiments.value == len(client.search_experiments())
    assert reg.store_counts().runs.value == 1
    other_eid, other_run = made["team-b"]
    try:
        leaked = set(reg.experiment_runs(other_eid).runs["run_id"])
    except NotFound:
        leaked = set()
    assert other_run not in leaked
    assert other_run not in reg.reader.latest_metrics([other_run, made["team-a"][1]])


def test_an_unreachable_database_is_reported_once_not_asked_again_through_the_client() -> None:
    """A database that does not answer will not answer the client either: the fast reads of the one
    store say so at once, rather than falling back and waiting on the same connection a second time.
    (A run's latest metrics still fall back to one get_run per run: with the registry elsewhere, the
    models list keeps its rows and says which run could not be read.)"""
    uri = f"postgresql://u@127.0.0.1:{free_port()}/mlflow"  # nothing listens there
    reader = reader_for(cast(MlflowClient, object()), uri)  # asking the client would fail otherwise
    assert isinstance(reader, SqlReader)
    reads = {
        "runs": lambda: reader.experiment_runs("1"),
        "counts": lambda: reader.counts(uri),
        "activity": reader.experiment_activity,
    }
    for name, read in reads.items():
        with pytest.raises(Unreachable):
            read()
            pytest.fail(f"{name}: no error")
