"""Kept line summaries: bounded lines with exact statistics, read once per finished run and reused."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from registry.errors import BadInput
from registry.settings import Settings
from registry.store.metrics import COLUMNS
from registry.store.runs import search_runs
from registry.store.summaries import (
    SUMMARY_POINTS,
    LineSummary,
    RunStamp,
    SummaryCache,
    line_summaries,
    run_stamps,
    stats_frame,
    summaries_frame,
    summarize,
)
from tests.run_data import log_steps, make_run
from tests.stack import create_experiment

LONG = 3_000  # over the server's 2,500-point sample: the client path reads the whole history
LOW_STEP, HIGH_STEP = 1_111, 2_222
POINTS = 200


@dataclass
class Logged:
    experiment_id: str
    long_run: str
    short_run: str
    running_run: str
    no_loss_run: str
    values: np.ndarray


@pytest.fixture(scope="module")
def logged(shared_client: MlflowClient, shared_settings: Settings) -> Logged:
    exp = create_experiment(shared_client, shared_settings)
    rng = np.random.default_rng(3)
    values = np.cos(np.arange(LONG) / 100.0) + rng.normal(0, 0.01, LONG)
    values[LOW_STEP], values[HIGH_STEP] = -9.0, 9.0
    long_run = make_run(shared_client, exp, "long", finished=False)
    log_steps(shared_client, long_run, "loss", values.tolist())
    shared_client.set_terminated(long_run, "FINISHED")
    short_run = make_run(shared_client, exp, "short", finished=False)
    log_steps(shared_client, short_run, "loss", [1.0, float("nan"), 0.5])
    shared_client.set_terminated(short_run, "FINISHED")
    running_run = make_run(shared_client, exp, "running", finished=False)
    log_steps(shared_client, running_run, "loss", [3.0, 2.0])
    no_loss_run = make_run(shared_client, exp, "no-loss", metrics={"acc": 0.5})
    return Logged(exp, long_run, short_run, running_run, no_loss_run, values)


def _stamps(client: MlflowClient, exp: str) -> list[RunStamp]:
    return run_stamps(search_runs(client, exp, max_results=100).runs)


def test_summarize_keeps_the_extremes_and_the_exact_statistics() -> None:
    steps = np.arange(10_000, dtype=np.int64)
    values = np.sin(steps / 50.0)
    values[4321], values[17] = 40.0, np.nan
    line = summarize("r", "loss", (steps, steps * 10, values), points=100)

    assert len(line.values) <= 100
    assert (line.steps[0], line.steps[-1]) == (0, 9_999)
    assert 4321 in line.steps.tolist() and np.nanmax(line.values) == 40.0
    assert line.count == 10_000 and line.last_step == 9_999
    assert line.max == 40.0 and line.min == pytest.approx(np.nanmin(values))
    assert line.mean == pytest.approx(np.nanmean(values))
    assert (line.first, line.last) == (values[0], values[-1])


def test_an_empty_line_is_a_summary_with_no_points() -> None:
    empty = np.empty(0, dtype=np.int64)
    line = summarize("r", "loss", (empty, empty, np.empty(0)), points=100)
    assert line.count == 0 and len(line.values) == 0 and math.isnan(line.mean)


def test_stamps_keep_finished_runs_and_leave_running_ones_out() -> None:
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "status": ["FINISHED", "RUNNING", "FAILED"],
            "end_time": pd.to_datetime([1_700_000_000_000, None, 1_700_000_000_500], unit="ms", utc=True),
        }
    )
    a, b, c = run_stamps(runs)
    assert a.version and a.version.startswith("FINISHED@") and b.version is None
    assert c.version and c.version != a.version


def test_every_line_is_bounded_keeps_its_extremes_and_counts_its_history(
    shared_client: MlflowClient, shared_settings: Settings, logged: Logged, tmp_path: Path
) -> None:
    cache = SummaryCache(f"sqlite:///{tmp_path / 'summaries.db'}")
    stamps = _stamps(shared_client, logged.experiment_id)
    found = line_summaries(
        shared_client, shared_settings.effective_tracking_uri, cache, stamps, ["loss"], POINTS
    )

    long = found[(logged.long_run, "loss")]
    assert len(long.values) <= POINTS and long.count == LONG
    assert (long.steps[0], long.steps[-1]) == (0, LONG - 1)
    assert long.values[list(long.steps).index(LOW_STEP)] == -9.0
    assert long.values[list(long.steps).index(HIGH_STEP)] == 9.0
    assert np.array_equal(long.values, logged.values[long.steps])  # real points, not interpolated
    assert long.mean == pytest.approx(logged.values.mean())
    short = found[(logged.short_run, "loss")]
    assert short.count == 3 and short.min == 0.5 and short.max == 1.0 and short.mean == pytest.approx(0.75)
    assert found[(logged.no_loss_run, "loss")].count == 0
    assert found[(logged.running_run, "loss")].values.tolist() == [3.0, 2.0]

    frame = summaries_frame(found.values())
    assert list(frame.columns) == COLUMNS
    assert set(frame["run_id"]) == {logged.long_run, logged.short_run, logged.running_run}
    stats = stats_frame(found.values()).set_index("run_id")
    assert stats.loc[logged.long_run, "max"] == 9.0 and logged.no_loss_run not in stats.index


def test_finished_runs_are_kept_and_a_running_run_is_read_again(
    shared_client: MlflowClient, shared_settings: Settings, logged: Logged, tmp_path: Path
) -> None:
    cache = SummaryCache(f"sqlite:///{tmp_path / 'summaries.db'}")
    stamps = _stamps(shared_client, logged.experiment_id)
    first = line_summaries(
        shared_client, shared_settings.effective_tracking_uri, cache, stamps, ["loss"], 100
    )

    kept = cache.load("loss", stamps, 100)
    assert set(kept) == {logged.long_run, logged.short_run, logged.no_loss_run}
    assert np.array_equal(kept[logged.long_run].values, first[(logged.long_run, "loss")].values)
    assert cache.load("loss", stamps, POINTS) == {}  # another resolution is another summary

    log_steps(shared_client, logged.running_run, "loss", [3.0, 2.0, 1.0])
    again = line_summaries(
        shared_client, shared_settings.effective_tracking_uri, cache, stamps, ["loss"], 100
    )
    assert again[(logged.running_run, "loss")].values.tolist() == [3.0, 2.0, 1.0]


def test_a_resumed_run_is_read_again(
    shared_client: MlflowClient, shared_settings: Settings, tmp_path: Path
) -> None:
    exp = create_experiment(shared_client, shared_settings)
    run_id = make_run(shared_client, exp, "resumed", finished=False)
    log_steps(shared_client, run_id, "loss", [1.0, 0.9])
    shared_client.set_terminated(run_id, "FINISHED")
    cache = SummaryCache(f"sqlite:///{tmp_path / 'summaries.db'}")
    uri = shared_settings.effective_tracking_uri
    assert (
        line_summaries(shared_client, uri, cache, _stamps(shared_client, exp), ["loss"])[
            (run_id, "loss")
        ].count
        == 2
    )

    shared_client.update_run(run_id, "RUNNING")
    log_steps(shared_client, run_id, "loss", [1.0, 0.9, 0.8])
    time.sleep(0.01)
    shared_client.set_terminated(run_id, "FINISHED")
    line = line_summaries(shared_client, uri, cache, _stamps(shared_client, exp), ["loss"])[(run_id, "loss")]
    assert line.count == 3 and line.last == 0.8


def test_a_broken_cache_only_costs_a_read(
    shared_client: MlflowClient, shared_settings: Settings, logged: Logged, tmp_path: Path
) -> None:
    (tmp_path / "summaries.db").write_text("this is not a database")
    cache = SummaryCache(f"sqlite:///{tmp_path / 'summaries.db'}")
    stamps = [RunStamp(logged.short_run, "FINISHED@1")]
    found = line_summaries(shared_client, shared_settings.effective_tracking_uri, cache, stamps, ["loss"])
    assert found[(logged.short_run, "loss")].count == 3


def test_too_few_points_are_refused(shared_client: MlflowClient, logged: Logged) -> None:
    with pytest.raises(BadInput, match="at least 4"):
        line_summaries(shared_client, "", None, [RunStamp(logged.short_run, None)], ["loss"], 3)


def test_summaries_frame_of_nothing_has_the_history_columns() -> None:
    frame = summaries_frame([])
    assert list(frame.columns) == COLUMNS and frame.empty
    assert isinstance(summarize("r", "k", (np.array([1]), np.array([5]), np.array([2.0]))), LineSummary)


def test_a_coarser_summary_is_made_from_the_kept_one_and_kept_too(
    shared_client: MlflowClient, shared_settings: Settings, logged: Logged, tmp_path: Path
) -> None:
    cache = SummaryCache(f"sqlite:///{tmp_path / 'summaries.db'}")
    stamps = [RunStamp(logged.long_run, "FINISHED@1")]
    uri = shared_settings.effective_tracking_uri
    coarse = line_summaries(shared_client, uri, cache, stamps, ["loss"], 50)[(logged.long_run, "loss")]
    assert len(coarse.values) <= 50 and coarse.count == LONG and coarse.max == 9.0
    assert 9.0 in coarse.values and -9.0 in coarse.values
    assert (
        set(cache.load("loss", stamps, 50))
        == set(cache.load("loss", stamps, SUMMARY_POINTS))
        == {logged.long_run}
    )


def test_the_cache_sits_beside_the_audit_log_unless_a_url_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_AUDIT_URL", f"sqlite:///{tmp_path / 'audit' / 'audit.db'}")
    monkeypatch.delenv("REGISTRY_SUMMARY_CACHE_URL", raising=False)
    assert Settings().summary_cache_url == f"sqlite:///{tmp_path / 'audit' / 'summaries.db'}"
    kept = f"sqlite:///{tmp_path / 'volume' / 'lines.db'}"
    monkeypatch.setenv("REGISTRY_SUMMARY_CACHE_URL", kept)
    assert Settings().summary_cache_url == kept
