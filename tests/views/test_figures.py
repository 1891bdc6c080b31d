"""What the figure builders draw: traces, x values per mode, smoothing, log axes and point caps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pages.views.figures import (
    lines_to_draw,
    metric_history_figure,
    parallel_coordinates_data,
    parallel_coordinates_figure,
    plotly_text,
    scatter_figure,
    smooth,
    svg_points_per_line,
)
from registry.errors import BadInput

T0 = pd.Timestamp("2025-01-01 12:00:00", tz="UTC")


def history(
    runs: dict[str, dict[str, list[float]]], start_offsets: dict[str, int] | None = None
) -> pd.DataFrame:
    """The long table of metric_history: one row per (run, key, step), one second per step."""
    rows = []
    for run_id, keys in runs.items():
        offset = (start_offsets or {}).get(run_id, 0)
        for key, values in keys.items():
            for step, value in enumerate(values):
                rows.append((run_id, key, step, T0 + pd.Timedelta(seconds=offset + step), value))
    return pd.DataFrame(rows, columns=["run_id", "key", "step", "timestamp", "value"])


def test_one_trace_per_run_and_metric_with_one_legend_entry_per_run():
    data = history({"r1": {"loss": [3, 2, 1], "acc": [0.1, 0.5]}, "r2": {"loss": [4, 3]}})
    fig = metric_history_figure(data, names={"r1": "first", "r2": "second"})
    assert len(fig.data) == 3
    assert sorted(t.name for t in fig.data) == ["first", "first", "second"]
    assert sum(bool(t.showlegend) for t in fig.data) == 2
    assert [a.text for a in fig.layout.annotations] == ["loss", "acc"]  # one panel per metric
    by_run = {t.legendgroup for t in fig.data}
    assert by_run == {"r1", "r2"}
    colors = {t.legendgroup: t.line.color for t in fig.data}
    assert colors["r1"] != colors["r2"]


@pytest.mark.parametrize("mode", ["step", "wall", "relative"])
def test_x_values_per_mode(mode):
    data = history({"r1": {"loss": [3, 2, 1]}, "r2": {"loss": [5, 4, 3]}}, start_offsets={"r2": 100})
    fig = metric_history_figure(data, x=mode)
    r2 = next(t for t in fig.data if t.legendgroup == "r2")
    if mode == "step":
        assert list(r2.x) == [0, 1, 2]
    elif mode == "wall":
        assert pd.Timestamp(r2.x[0]) == T0 + pd.Timedelta(seconds=100)
    else:  # seconds since the run's own first point, so runs started at different times line up
        assert list(r2.x) == [0.0, 1.0, 2.0]
    assert fig.layout.xaxis.title.text in ("Step", "Wall time", "Relative time (s)")


def test_unknown_x_mode_is_bad_input():
    with pytest.raises(BadInput):
        metric_history_figure(history({"r1": {"loss": [1, 2]}}), x="epoch")


def test_smoothing_is_an_ema_and_raw_values_stay_in_hover():
    values = [0.0, 10.0, 0.0, 10.0, 0.0, 10.0]
    fig = metric_history_figure(history({"r1": {"loss": values}}), smoothing=0.6)
    trace = fig.data[0]
    expected = pd.Series(values).ewm(alpha=0.4, adjust=True).mean().to_numpy()
    assert np.allclose(trace.y, expected)
    assert list(trace.customdata) == values
    assert np.ptp(trace.y) < np.ptp(values)  # smoothed: less jumpy than the raw line
    raw = metric_history_figure(history({"r1": {"loss": values}}), smoothing=0)
    assert list(raw.data[0].y) == values


def test_smooth_rejects_out_of_range():
    with pytest.raises(BadInput):
        smooth(pd.Series([1.0, 2.0]), 1.0)
    with pytest.raises(BadInput):
        metric_history_figure(history({"r1": {"loss": [1, 2]}}), smoothing=-0.1)


def test_log_y_sets_every_panel_to_a_log_axis():
    data = history({"r1": {"loss": [3, 2, 1], "acc": [0.1, 0.5]}})
    fig = metric_history_figure(data, log_y=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert metric_history_figure(data).layout.yaxis.type == "linear"


def test_every_trace_is_capped_and_keeps_the_extremes():
    values = np.sin(np.linspace(0, 60, 10_000))
    values[1234] = 50.0  # the spike must survive downsampling
    data = history({"r1": {"loss": list(values)}, "r2": {"loss": list(values[:500])}})
    fig = metric_history_figure(data, max_points=300)
    assert all(len(t.x) <= 300 for t in fig.data)
    long = next(t for t in fig.data if t.legendgroup == "r1")
    assert max(long.y) == 50.0 and long.x[0] == 0 and long.x[-1] == 9999
    assert 250 < len(next(t for t in fig.data if t.legendgroup == "r2").x) <= 300


def test_empty_history_is_an_empty_figure():
    empty = history({})
    assert len(metric_history_figure(empty).data) == 0


def test_store_text_in_names_is_inert():
    fig = metric_history_figure(history({"r1": {"loss": [1, 2]}}), names={"r1": "<b>bold</b> 100%"})
    assert fig.data[0].name == "&lt;b&gt;bold&lt;/b&gt; 100&#37;"
    assert "<b>" not in fig.data[0].hovertemplate
    assert plotly_text("a<b") == "a&lt;b"


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4"],
            "run_name": ["one", "two", "three", "four"],
            "params.lr": ["0.1", "0.01", "0.001", None],
            "params.depth": ["3", "5", "7", "9"],
            "params.kind": ["tree", "tree", "linear", "tree"],
            "metrics.accuracy": [0.8, 0.9, np.nan, 0.7],
            "metrics.val_loss": [0.5, 0.4, 0.3, 0.6],
        }
    )


def test_parallel_coordinates_drops_runs_without_every_value():
    data = parallel_coordinates_data(runs_frame(), ["params.lr", "params.depth"], "metrics.accuracy")
    assert list(data["run_id"]) == ["r1", "r2"]
    fig = parallel_coordinates_figure(runs_frame(), ["params.lr", "params.depth"], "metrics.accuracy")
    parcoords = fig.data[0]
    assert [d.label for d in parcoords.dimensions] == ["params.lr", "params.depth", "metrics.accuracy"]
    assert list(parcoords.dimensions[0].values) == [0.1, 0.01]
    assert list(parcoords.line.color) == [0.8, 0.9]
    assert not parcoords.line.reversescale  # higher is better
    loss = parallel_coordinates_figure(runs_frame(), ["params.depth"], "metrics.val_loss")
    assert loss.data[0].line.reversescale  # lower is better: the scale flips so "good" looks the same


def test_parallel_coordinates_needs_known_columns():
    with pytest.raises(BadInput):
        parallel_coordinates_figure(runs_frame(), ["params.nope"], "metrics.accuracy")
    with pytest.raises(BadInput):
        parallel_coordinates_figure(runs_frame(), [], "metrics.accuracy")


def test_scatter_has_one_point_per_run_with_both_values():
    fig = scatter_figure(runs_frame(), "params.lr", "metrics.val_loss", names={"r1": "one"})
    trace = fig.data[0]
    assert list(trace.x) == [0.1, 0.01, 0.001]  # r4 has no lr
    assert list(trace.y) == [0.5, 0.4, 0.3]
    assert list(trace.customdata) == ["r1", "r2", "r3"]
    assert trace.text[0] == "one"
    assert fig.layout.xaxis.title.text == "params.lr"


def test_scatter_of_a_text_param_is_categorical():
    trace = scatter_figure(runs_frame(), "params.kind", "metrics.accuracy").data[0]
    assert list(trace.x) == ["tree", "tree", "tree"]
    with pytest.raises(BadInput):
        scatter_figure(runs_frame(), "params.nope", "metrics.accuracy")


def test_lines_to_draw_thins_evenly_by_the_metric_and_keeps_both_ends():
    data = pd.DataFrame({"metrics.acc": np.arange(10_000)[::-1] / 10_000, "params.lr": 1.0})
    drawn = lines_to_draw(data, "metrics.acc", limit=2000)
    assert len(drawn) == 2000
    assert drawn["metrics.acc"].min() == data["metrics.acc"].min()
    assert drawn["metrics.acc"].max() == data["metrics.acc"].max()
    gaps = drawn["metrics.acc"].diff().dropna()
    assert gaps.max() < 3 * gaps.min()  # evenly spread, not the first 2,000
    small = data.head(50)
    assert lines_to_draw(small, "metrics.acc", limit=2000).equals(small)  # nothing to thin


def test_thirty_long_lines_are_thinned_to_svg_and_keep_their_extremes():
    rng = np.random.default_rng(7)
    lines = {f"run{i}": {f"m{k}": list(rng.normal(size=2000)) for k in range(3)} for i in range(10)}
    data = history(lines)
    per_line = svg_points_per_line(30)
    assert per_line == 666 and svg_points_per_line(1) == 1000 and svg_points_per_line(10_000) == 100

    fig = metric_history_figure(data, max_points=per_line)

    assert {t.type for t in fig.data} == {"scatter"}  # SVG: what is drawn stays under the WebGL threshold
    assert sum(len(t.y) for t in fig.data) < 20_000 and all(len(t.y) <= per_line for t in fig.data)
    first = data[(data["run_id"] == "run0") & (data["key"] == "m0")]["value"]
    drawn = next(t for t in fig.data if t.legendgroup == "run0").y
    assert drawn.max() == first.max() and drawn.min() == first.min()


def test_long_histories_are_svg_lines_never_webgl():
    """Without a GPU a browser draws WebGL in software: seconds for what SVG draws at once."""
    data = history(
        {f"r{i}": {"loss": list(np.arange(3000.0)), "acc": list(np.arange(3000.0))} for i in range(15)}
    )
    fig = metric_history_figure(data)  # 30 lines of 2,000 points: 60,000 points drawn
    assert {t.type for t in fig.data} == {"scatter"}
    assert 20_000 < sum(len(t.x) for t in fig.data) <= 30 * 2000
