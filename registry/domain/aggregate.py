"""Grouped runs as one line with a band: alignment on a shared x, the band statistics, smoothing.

Runs of one group rarely share their x values: they stop at different steps, log at different
intervals, and their downsampled lines keep different points. So each run is first put on one grid
(`align`): its value at every grid x where it has a point, a linear interpolation between its own
points elsewhere inside its range, and nothing (NaN) outside it, so a run that stopped early stops
counting instead of being extended. The band is then computed across runs at every grid x, over
the runs that have a value there (`band`), and the count goes with it.

Pure numpy and pandas: the pages draw what these return, and tests check them against plain
numpy/pandas on hand-made groups.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from registry.errors import BadInput

Aggregate = Literal["mean_std", "mean_ci", "median_iqr", "min_max"]
AGGREGATES: dict[str, str] = {
    "mean_std": "mean ± std",
    "mean_ci": "mean ± 95% CI",
    "median_iqr": "median, IQR",
    "min_max": "mean, min–max",
}
MAX_SMOOTHING = 0.99
GRID_POINTS = 2000
OUTLIER_PERCENTILES = (5.0, 95.0)
NO_VALUE = "(none)"


@dataclass(frozen=True)
class Band:
    """A centre line with a lower and upper edge at each x, and how many runs had a value there."""

    x: np.ndarray
    center: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: np.ndarray


def ema(values: np.ndarray | pd.Series, smoothing: float) -> np.ndarray:
    """Exponential moving average with weight `smoothing` on the past (0 = raw, 0.99 = very smooth).

    TensorBoard's slider: each point is `smoothing * previous + (1 - smoothing) * value`, debiased
    at the start (pandas `ewm(adjust=True)`), so the line does not start at zero.
    """
    if not 0 <= smoothing <= MAX_SMOOTHING:
        raise BadInput(f"smoothing: {smoothing} is not between 0 and {MAX_SMOOTHING}")
    y = np.asarray(values, dtype="float64")
    if smoothing == 0 or not len(y):
        return y.copy()
    if not np.isfinite(y).all():  # pandas' NaN rules (a gap keeps the running mean)
        smoothed: np.ndarray = pd.Series(y).ewm(alpha=1 - smoothing, adjust=True).mean().to_numpy()
        return smoothed  # pandas is untyped here (no pandas-stubs)
    # The same debiased average as two linear filters (a thousand lines: milliseconds, not seconds):
    # sum of smoothing^k * y[t-k] over sum of smoothing^k. Imported here: scipy.signal costs 0.5-2 s
    # to import, which every first visit of Experiments & runs paid before it drew anything.
    from scipy import signal

    weighted: np.ndarray = signal.lfilter([1.0], [1.0, -smoothing], y)  # scipy is untyped here
    weights: np.ndarray = signal.lfilter([1.0], [1.0, -smoothing], np.ones_like(y))
    debiased: np.ndarray = weighted / weights
    return debiased


def grid_of(xs: Sequence[np.ndarray], max_points: int = GRID_POINTS) -> np.ndarray:
    """The shared x: every x any run has when there are few enough, else evenly spaced over all of them."""
    finite = [x[np.isfinite(x)] for x in xs if len(x)]
    if not finite or not any(len(x) for x in finite):
        return np.empty(0, dtype=np.float64)
    every = np.unique(np.concatenate(finite))
    if len(every) <= max_points:
        return every.astype(np.float64)
    return np.linspace(every[0], every[-1], max_points)


def align(lines: Sequence[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> np.ndarray:
    """A (runs × grid) matrix: each run's (x, y) line on the grid, NaN outside its own x range.

    Where a run logged NaN at a grid x, it stays NaN there (a gap, skipped by the band); repeated x
    values of one run count once, with their last value.
    """
    out = np.full((len(lines), len(grid)), np.nan)
    for row, (x, y) in enumerate(lines):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        x, y = x[np.isfinite(x)], y[np.isfinite(x)]
        last = np.r_[x[1:] != x[:-1], True]  # the last value of each repeated x
        x, y = x[last], y[last]
        ok = np.isfinite(y)
        if not ok.any():
            continue
        inside = (grid >= x[ok][0]) & (grid <= x[ok][-1])
        at = grid[inside]
        values = np.interp(at, x[ok], y[ok])
        nearest = np.minimum(np.searchsorted(x, at), len(x) - 1)
        values[(x[nearest] == at) & ~ok[nearest]] = np.nan  # logged as NaN right there
        out[row, inside] = values
    return out


def band(matrix: np.ndarray, how: Aggregate) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre, lower, upper and count across the rows of `matrix`, column by column, NaN skipped.

    mean_std: mean ± sample std (ddof 1); mean_ci: mean ± t(0.975, n-1)·std/√n; median_iqr: median,
    25th–75th percentile; min_max: mean, min–max. A column with one value has no spread (the band
    is the line); a column with none is NaN throughout.
    """
    if how not in AGGREGATES:
        raise BadInput(f"aggregate {how!r}: choose one of {', '.join(AGGREGATES)}")
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    n = np.isfinite(matrix).sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN is the answer
        if how == "median_iqr":
            lower, center, upper = np.nanpercentile(matrix, [25, 50, 75], axis=0)
            return center, lower, upper, n
        mean = np.nanmean(matrix, axis=0)
        if how == "min_max":
            return mean, np.nanmin(matrix, axis=0), np.nanmax(matrix, axis=0), n
        std = np.where(n > 1, np.nanstd(matrix, axis=0, ddof=1), 0.0)
        if how == "mean_ci":
            from scipy import stats  # here, not at the top: see `ema`

            half = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(n), 0.0)
        else:
            half = std
    return mean, mean - half, mean + half, n


def group_band(
    lines: Sequence[tuple[np.ndarray, np.ndarray]], how: Aggregate, max_points: int = GRID_POINTS
) -> Band:
    """One group's lines aligned on a shared grid and reduced to a band; x where no run has a value
    is left out."""
    grid = grid_of([np.asarray(x, dtype=np.float64) for x, _ in lines], max_points)
    center, lower, upper, n = band(align(lines, grid), how) if len(grid) else (grid,) * 4
    keep = np.asarray(n) > 0
    return Band(grid[keep], center[keep], lower[keep], upper[keep], np.asarray(n)[keep])


def group_labels(runs: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Each run's group, as "key=value, key=value" over the chosen columns (run_id → label).

    A run without a value for a key is in the "(none)" group for it, so no run disappears.
    """
    missing = [k for k in keys if k not in runs.columns]
    if missing:
        raise BadInput(f"group by: no column {', '.join(missing)} in these runs")
    if not keys:
        return pd.Series(runs["run_id"].to_numpy(), index=runs["run_id"].to_numpy(), dtype=object)
    parts = [
        f"{_short(k)}=" + runs[k].astype(object).where(runs[k].notna(), NO_VALUE).astype(str) for k in keys
    ]
    label = parts[0]
    for part in parts[1:]:
        label = label + ", " + part
    return pd.Series(label.to_numpy(), index=runs["run_id"].to_numpy(), dtype=object)


def _short(column: str) -> str:
    return column.split(".", 1)[1] if column.startswith(("params.", "tags.", "metrics.")) else column


def inlier_range(
    values: np.ndarray, percentiles: tuple[float, float] = OUTLIER_PERCENTILES
) -> tuple[float, float] | None:
    """The axis range that leaves out what lies beyond the 5th–95th percentile (with a 5% margin).

    "Ignore outliers" zooms the axis rather than deleting points: a spike is still in the data, the
    CSV and the hover, but no longer flattens every other line. None when there is nothing to range.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    low, high = np.percentile(finite, percentiles)
    margin = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return float(low - margin), float(high + margin)


def value_at_steps(history: pd.DataFrame, other: pd.DataFrame) -> pd.Series:
    """For an x axis of another metric: that metric's value at each row's step, per run.

    Both are long tables (run_id, step, value). The other metric's last value logged at or before
    the step is taken (its downsampled line may skip the exact step); NaN where it has none yet.
    """
    left = history[["run_id", "step"]].reset_index().sort_values("step", kind="stable")
    right = other[["run_id", "step", "value"]].dropna(subset=["step"]).sort_values("step", kind="stable")
    merged = pd.merge_asof(left, right.rename(columns={"value": "_x"}), on="step", by="run_id")
    return merged.set_index("index")["_x"].reindex(history.index)
