"""Which points of a long line to draw: pure, so charts and the metric reads share one rule.

A chart of 200,000 steps per line is slow to fetch and to draw, and the eye needs ~1,000 points, but
it must not hide the spike that made a run fail: the first, last, minimum and maximum are always kept.
"""

from __future__ import annotations

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

_LTTB_MIN_OUT = 3  # tsdownsample panics below this


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
