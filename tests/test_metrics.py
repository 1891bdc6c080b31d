"""Metric histories: bounded lines that never lose the first, last, lowest or highest point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from registry.errors import BadInput, NotFound
from registry.settings import Settings, load_settings
from registry.store.metrics import COLUMNS, metric_history, select_points
from tests.conftest import build_settings
from tests.run_data import log_steps, make_run
from tests.stack import Stack, create_experiment

LONG = 20_000
LOW_STEP, HIGH_STEP = 7_777, 12_345


@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=False, width=32), min_size=1, max_size=400),
    max_points=st.integers(min_value=4, max_value=60),
)
@settings(max_examples=200, deadline=None)
def test_select_points_is_bounded_sorted_and_keeps_the_extremes(values: list[float], max_points: int) -> None:
    y = np.array(values, dtype=np.float64)
    x = np.arange(len(y), dtype=np.int64)

    keep = select_points(x, y, max_points)

    assert len(keep) <= max_points
    assert list(keep) == sorted(set(keep.tolist()))
    assert keep[0] == 0 and keep[-1] == len(y) - 1
    finite = y[np.isfinite(y)]
    if finite.size:
        assert np.nanmin(y[keep]) == finite.min()
        assert np.nanmax(y[keep]) == finite.max()
    if len(y) <= max_points:
        assert len(keep) == len(y)


def _long_values() -> list[float]:
    rng = np.random.default_rng(7)
    y = np.sin(np.arange(LONG) / 300.0) + rng.normal(0, 0.05, LONG)
    y[LOW_STEP], y[HIGH_STEP] = -50.0, 50.0  # one-step spikes that even-spaced sampling would miss
    return [float(v) for v in y]


@dataclass
class Logged:
    long_run: str
    short_runs: list[str]
    values: list[float]


@pytest.fixture(scope="module", params=["http", "sqlite"])
def shared_settings(
    request: pytest.FixtureRequest, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The session server over HTTP, and the same server's database read directly: both read the
    lines `logged` wrote once (the REST path samples on the server, the direct one reads MLflow's
    metrics table itself)."""
    home = tmp_path_factory.mktemp(f"metrics-{request.param}")
    if request.param == "http":
        return build_settings(request, "http", home)
    return build_settings(request, "sqlite", home, tracking_uri=stack.sqlite_uri_of_server_backend)


@pytest.fixture(scope="module")
def logged(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """The lines, written once for both backends by a plain client on the server's own database:
    20 batches of 1,000 points over HTTP cost the server ~4x what the direct store does."""
    home = tmp_path_factory.mktemp("metrics-data")
    settings = load_settings(tracking_uri=stack.sqlite_uri_of_server_backend, home=home)
    client = MlflowClient(settings.effective_tracking_uri)
    exp = create_experiment(client, settings)
    values = _long_values()
    long_run = make_run(client, exp, "long")
    log_steps(client, long_run, "loss", values)
    short_runs = []
    for i in range(3):
        run_id = make_run(client, exp, f"short-{i}")
        log_steps(client, run_id, "accuracy", [i + s / 100 for s in range(50)])
        if i != 2:
            log_steps(client, run_id, "loss", [10 * i - s / 10 for s in range(50)])
        short_runs.append(run_id)
    return Logged(long_run, short_runs, values)


def _assert_real_points(frame: pd.DataFrame, values: list[float]) -> None:
    truth = np.array(values)
    assert np.array_equal(frame["value"].to_numpy(), truth[frame["step"].to_numpy()])


@pytest.mark.parametrize("max_points", [1000, 5000])  # 5000 is over the server's 2,500 sample limit
def test_a_long_line_keeps_first_last_min_and_max_exactly(
    shared_client: MlflowClient, logged: Logged, max_points: int
) -> None:
    frame = metric_history(shared_client, logged.long_run, "loss", max_points=max_points)

    assert list(frame.columns) == COLUMNS
    assert 0.9 * max_points <= len(frame) <= max_points
    steps = frame["step"].tolist()
    assert steps == sorted(steps)
    assert (steps[0], steps[-1]) == (0, LONG - 1)
    assert frame.loc[frame["value"].idxmin(), ["step", "value"]].tolist() == [LOW_STEP, -50.0]
    assert frame.loc[frame["value"].idxmax(), ["step", "value"]].tolist() == [HIGH_STEP, 50.0]
    _assert_real_points(frame, logged.values)
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_the_store_sample_alone_is_bounded_and_keeps_the_ends(
    shared_client: MlflowClient, logged: Logged
) -> None:
    frame = metric_history(shared_client, [logged.long_run], ["loss"], max_points=500, exact_extremes=False)

    assert len(frame) <= 500
    assert (frame["step"].iloc[0], frame["step"].iloc[-1]) == (0, LONG - 1)
    _assert_real_points(frame, logged.values)


def test_short_lines_of_many_runs_and_keys_come_back_whole(
    shared_client: MlflowClient, logged: Logged
) -> None:
    frame = metric_history(shared_client, logged.short_runs, ["accuracy", "loss"], max_points=100)

    counts = frame.groupby(["run_id", "key"]).size().to_dict()
    a, b, c = logged.short_runs
    assert counts == {
        (a, "accuracy"): 50,
        (b, "accuracy"): 50,
        (c, "accuracy"): 50,
        (a, "loss"): 50,
        (b, "loss"): 50,
    }
    line = frame[(frame["run_id"] == b) & (frame["key"] == "loss")]
    assert line["step"].tolist() == list(range(50))
    assert line["value"].tolist() == pytest.approx([10 - s / 10 for s in range(50)])


def test_many_values_at_one_step_are_downsampled_by_position(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    run_id = make_run(any_client, create_experiment(any_client, any_settings), "no-steps")
    values = [float((i * 37) % 101) for i in range(3000)]
    values[1234] = -1.0
    from mlflow.entities import Metric

    for start in range(0, 3000, 1000):
        batch = [Metric("x", values[i], 1_700_000_000_000 + i, 0) for i in range(start, start + 1000)]
        any_client.log_batch(run_id, metrics=batch)

    frame = metric_history(any_client, run_id, "x", max_points=100)

    assert len(frame) <= 100
    assert frame["value"].min() == -1.0 and frame["value"].max() == 100.0
    assert frame["value"].iloc[0] == values[0] and frame["value"].iloc[-1] == values[-1]


def test_unknown_run_key_and_bad_limits_are_explained(shared_client: MlflowClient, logged: Logged) -> None:
    with pytest.raises(NotFound, match="run 0123456789abcdef0123456789abcdef: no such run"):
        metric_history(shared_client, [logged.long_run, "0123456789abcdef0123456789abcdef"], "loss")
    with pytest.raises(BadInput, match=r"none of the chosen runs logged it; did you mean metrics\.loss"):
        metric_history(shared_client, logged.long_run, "los")
    with pytest.raises(BadInput, match="at least 4"):
        metric_history(shared_client, logged.long_run, "loss", max_points=3)
    with pytest.raises(BadInput, match="at least one run"):
        metric_history(shared_client, [], "loss")
