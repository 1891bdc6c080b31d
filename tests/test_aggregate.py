"""Grouped runs as a band: the maths checked against plain numpy/pandas/scipy on hand-made groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from registry.domain.aggregate import (
    AGGREGATES,
    align,
    band,
    ema,
    grid_of,
    group_band,
    group_labels,
    inlier_range,
    value_at_steps,
)
from registry.errors import BadInput

NAN = float("nan")
# Three runs on shared steps, one with a NaN and one that stops early.
RUNS = {
    "a": ([0, 1, 2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    "b": ([0, 1, 2, 3, 4, 5], [2.0, NAN, 5.0, 3.0, 1.0, 0.0]),
    "c": ([0, 1, 2], [4.0, 4.0, 10.0]),
}


def _long(runs: dict[str, tuple[list[int], list[float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(r, s, v) for r, (steps, values) in runs.items() for s, v in zip(steps, values, strict=True)],
        columns=["run_id", "step", "value"],
    )


def _lines(runs: dict[str, tuple[list[int], list[float]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array(s, dtype=float), np.array(v)) for s, v in runs.values()]


@pytest.fixture
def wide() -> pd.DataFrame:
    """The same group as pandas sees it: one column per run, NaN where a run has no value."""
    return _long(RUNS).pivot(index="step", columns="run_id", values="value")


def test_aligned_runs_on_shared_steps_are_the_pandas_pivot(wide: pd.DataFrame) -> None:
    grid = grid_of([x for x, _ in _lines(RUNS)])
    assert grid.tolist() == [0, 1, 2, 3, 4, 5]
    matrix = align(_lines(RUNS), grid)
    np.testing.assert_array_equal(matrix, wide.to_numpy().T)  # NaN logged stays NaN; c ends at 2


def test_mean_std_matches_pandas(wide: pd.DataFrame) -> None:
    found = group_band(_lines(RUNS), "mean_std")
    mean, std, n = wide.mean(axis=1), wide.std(axis=1, ddof=1).fillna(0.0), wide.count(axis=1)
    np.testing.assert_allclose(found.center, mean)
    np.testing.assert_allclose(found.lower, mean - std)
    np.testing.assert_allclose(found.upper, mean + std)
    assert found.n.tolist() == n.tolist() == [3, 2, 3, 2, 2, 2]


def test_mean_ci_matches_scipy_t_interval(wide: pd.DataFrame) -> None:
    found = group_band(_lines(RUNS), "mean_ci")
    for i, (_, row) in enumerate(wide.iterrows()):
        values = row.dropna().to_numpy()
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert (found.lower[i], found.upper[i]) == pytest.approx((low, high))


def test_median_iqr_and_min_max_match_pandas(wide: pd.DataFrame) -> None:
    iqr = group_band(_lines(RUNS), "median_iqr")
    np.testing.assert_allclose(iqr.center, wide.median(axis=1))
    np.testing.assert_allclose(iqr.lower, wide.quantile(0.25, axis=1))
    np.testing.assert_allclose(iqr.upper, wide.quantile(0.75, axis=1))
    spread = group_band(_lines(RUNS), "min_max")
    np.testing.assert_allclose(spread.center, wide.mean(axis=1))
    np.testing.assert_allclose(spread.lower, wide.min(axis=1))
    np.testing.assert_allclose(spread.upper, wide.max(axis=1))


@pytest.mark.parametrize("how", list(AGGREGATES))
def test_a_single_run_group_is_its_own_line_with_no_spread(how: str) -> None:
    x, y = np.arange(5.0), np.array([3.0, 1.0, NAN, 4.0, 1.0])
    found = group_band([(x, y)], how)  # type: ignore[arg-type]
    finite = np.isfinite(y)
    assert found.x.tolist() == x[finite].tolist()  # an x no run has a value at is left out
    np.testing.assert_allclose(found.center, y[finite])
    np.testing.assert_allclose(found.lower, y[finite])
    np.testing.assert_allclose(found.upper, y[finite])
    assert set(found.n.tolist()) == {1}


def test_runs_logged_at_different_steps_are_interpolated_inside_their_own_range() -> None:
    early = (np.array([0.0, 2.0, 4.0]), np.array([0.0, 2.0, 4.0]))
    late = (np.array([1.0, 3.0]), np.array([10.0, 30.0]))
    grid = grid_of([early[0], late[0]])
    matrix = align([early, late], grid)
    np.testing.assert_allclose(matrix[0], np.interp(grid, early[0], early[1]))
    assert np.isnan(matrix[1][[0, 4]]).all()  # before it started, after it stopped
    np.testing.assert_allclose(matrix[1][1:4], [10.0, 20.0, 30.0])
    assert group_band([early, late], "mean_std").n.tolist() == [1, 2, 2, 2, 1]


def test_repeated_x_counts_once_with_its_last_value() -> None:
    matrix = align(
        [(np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 5.0, 7.0, 2.0]))], np.array([0.0, 1.0, 2.0])
    )
    assert matrix.tolist() == [[0.0, 7.0, 2.0]]


def test_a_long_group_gets_an_even_grid_of_bounded_size() -> None:
    x = np.arange(100_000, dtype=float)
    grid = grid_of([x, x[:500]], max_points=1000)
    assert len(grid) == 1000 and (grid[0], grid[-1]) == (0.0, 99_999.0)
    found = group_band([(x, np.sin(x / 1000)), (x[:500], np.cos(x[:500]))], "mean_std", max_points=1000)
    assert len(found.x) == 1000 and found.n.max() == 2 and found.n[-1] == 1


def test_no_lines_make_an_empty_band() -> None:
    found = group_band([], "mean_std")
    assert len(found.x) == 0
    assert len(group_band([(np.array([0.0, 1.0]), np.array([NAN, NAN]))], "mean_ci").x) == 0


def test_an_unknown_aggregate_is_refused() -> None:
    with pytest.raises(BadInput, match="choose one of mean_std, mean_ci, median_iqr, min_max"):
        band(np.ones((2, 2)), "mean")  # type: ignore[arg-type]


def test_group_labels_join_several_keys_and_name_missing_values() -> None:
    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3"],
            "params.lr": ["0.1", "0.1", None],
            "tags.team": ["a", "b", "a"],
        }
    )
    labels = group_labels(runs, ["params.lr", "tags.team"])
    assert labels.to_dict() == {"r1": "lr=0.1, team=a", "r2": "lr=0.1, team=b", "r3": "lr=(none), team=a"}
    assert group_labels(runs, []).to_dict() == {"r1": "r1", "r2": "r2", "r3": "r3"}
    with pytest.raises(BadInput, match=r"no column params\.seed"):
        group_labels(runs, ["params.seed"])


def test_ema_is_pandas_ewm_and_zero_is_raw() -> None:
    y = np.array([1.0, 5.0, 2.0, 8.0, NAN, 3.0])
    np.testing.assert_allclose(ema(y, 0.6), pd.Series(y).ewm(alpha=0.4, adjust=True).mean())
    np.testing.assert_array_equal(ema(y, 0.0), y)
    with pytest.raises(BadInput, match=r"between 0 and 0\.99"):
        ema(y, 1.0)


def test_the_inlier_range_is_the_5th_to_95th_percentile_with_a_margin() -> None:
    values = np.r_[np.linspace(0, 1, 200), 1e6, NAN]
    low, high = inlier_range(values)
    p5, p95 = np.nanpercentile(values, [5, 95])
    assert (low, high) == pytest.approx((p5 - (p95 - p5) * 0.05, p95 + (p95 - p5) * 0.05))
    assert inlier_range(np.array([NAN])) is None
    assert inlier_range(np.array([2.0, 2.0])) == pytest.approx((1.9, 2.1))


def test_another_metric_as_x_is_its_value_at_or_before_each_step() -> None:
    loss = pd.DataFrame(
        {"run_id": ["a", "a", "a", "b"], "step": [0, 5, 10, 0], "value": [9.0, 5.0, 1.0, 7.0]}
    )
    lr = pd.DataFrame({"run_id": ["a", "a", "b"], "step": [0, 6, 1], "value": [0.1, 0.01, 0.5]})
    x = value_at_steps(loss, lr)
    assert x.iloc[:3].tolist() == [0.1, 0.1, 0.01]
    assert np.isnan(x.iloc[3])  # b logged lr only from step 1


def test_ema_without_gaps_is_pandas_ewm_too() -> None:
    y = np.random.default_rng(5).normal(size=5000).cumsum()
    for smoothing in (0.3, 0.9, 0.99):
        expected = pd.Series(y).ewm(alpha=1 - smoothing, adjust=True).mean()
        np.testing.assert_allclose(ema(y, smoothing), expected, rtol=1e-9)
