"""What the Charts view draws: line budgets, grouped bands, many-run traces, bars, scatter, contour, box."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from pages.views import charts
from pages.views.chart_spec import ChartSpec
from pages.views.figures import DrawnFigure, plotly_text
from registry.domain.aggregate import group_band
from registry.errors import BadInput
from tests.ui.tracking_data import plotly_array as array

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def history(lines: dict[tuple[str, str], list[float]], offsets: dict[str, int] | None = None) -> pd.DataFrame:
    rows = [
        (run, key, step, T0 + pd.Timedelta(seconds=(offsets or {}).get(run, 0) + step), value)
        for (run, key), values in lines.items()
        for step, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["run_id", "key", "step", "timestamp", "value"])


def valid(fig: go.Figure) -> go.Figure:
    """The builders skip plotly's validation for speed: validate what they made here."""
    return go.Figure(fig.to_plotly_json())


def test_the_line_budget_keeps_a_figure_near_its_total_and_never_over_2000_per_line() -> None:
    assert charts.line_budget(1) == 2000
    assert charts.line_budget(50) == 2000
    assert charts.line_budget(300) == 300  # 100 runs x 3 metrics: 90,000 points, not 300,000
    assert charts.line_budget(1000) == 100
    assert charts.line_budget(400) == 200  # one of a few levels, so kept summaries serve again
    assert charts.line_budget(100_000) == charts.MIN_POINTS_PER_LINE


@pytest.mark.parametrize("x", ["step", "wall", "relative"])
def test_x_per_mode(x: str) -> None:
    data = charts.with_x(history({("r1", "loss"): [3, 2, 1], ("r2", "loss"): [5, 4]}, {"r2": 100}), x)
    r2 = data[data["run_id"] == "r2"]["x"].tolist()
    expected = {"step": [0.0, 1.0], "wall": [T0 + pd.Timedelta(seconds=100), T0 + pd.Timedelta(seconds=101)],
                "relative": [0.0, 1.0]}[x]  # fmt: skip
    assert r2 == expected


def test_another_metric_as_x_and_an_unknown_x() -> None:
    data = history({("r1", "loss"): [3, 2, 1], ("r1", "lr"): [0.3, 0.2, 0.1]})
    drawn = charts.with_x(data[data["key"] == "loss"], "metric:lr", data[data["key"] == "lr"])
    assert drawn["x"].tolist() == [0.1, 0.2, 0.3] and drawn["value"].tolist() == [1, 2, 3]  # sorted by x
    with pytest.raises(BadInput, match="choose step, wall, relative"):
        charts.with_x(data, "epoch")


def test_each_run_is_one_line_with_its_raw_line_faint_under_the_smoothed_one() -> None:
    data = charts.with_x(
        history({("r1", "loss"): [3, 2, 1, 4], ("r2", "loss"): [5, 4], ("r1", "acc"): [0.1]}), "step"
    )
    drawn = charts.lines_frame(data, {"r1": "first"}, 0.5, 2000)
    spec = ChartSpec(metrics=("loss", "acc"), smooth=0.5, log=("y",))
    fig = valid(charts.runs_line_figure(drawn, spec, ["loss", "acc"]))
    shown = [t for t in fig.data if t.hoverinfo != "skip"]
    faint = [t for t in fig.data if t.hoverinfo == "skip"]
    assert sorted(t.name for t in shown) == ["first", "first", "r2"]
    assert len(faint) == 3 and {t.opacity for t in faint} == {charts.RAW_OPACITY}
    r1 = next(t for t in shown if t.name == "first" and t.yaxis == "y")
    assert array(r1.customdata).tolist() == [3, 2, 1, 4]  # the raw values in the hover
    assert array(r1.y).tolist() == pytest.approx(pd.Series([3, 2, 1, 4.0]).ewm(alpha=0.5).mean().tolist())
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert [a.text for a in fig.layout.annotations] == ["loss", "acc"]


def test_a_long_line_is_cut_to_its_budget_keeping_the_extremes() -> None:
    values = list(np.sin(np.arange(5000) / 100.0))
    values[1234] = 50.0
    drawn = charts.lines_frame(charts.with_x(history({("r", "loss"): values}), "step"), {}, 0.0, 300)
    assert len(drawn) <= 300 and drawn["value"].max() == 50.0
    assert (drawn["step"].iloc[0], drawn["step"].iloc[-1]) == (0, 4999)


def test_many_runs_become_one_broken_trace_per_panel_that_keeps_every_run() -> None:
    lines = {(f"r{i}", "loss"): [float(i), i + 1.0, i + 2.0] for i in range(charts.SEPARATE_TRACES + 1)}
    drawn = charts.lines_frame(charts.with_x(history(lines), "step"), {}, 0.0, 100)
    fig = valid(charts.runs_line_figure(drawn, ChartSpec(metrics=("loss",)), ["loss"]))
    assert len(fig.data) == 1 and fig.data[0].type == "scatter"
    trace = fig.data[0]
    assert len(array(trace.x)) == 101 * 3 + 100  # a gap between every two runs
    assert np.isnan(array(trace.y).astype(float)).sum() == 100
    assert {t for t in trace.text if t} == {f"r{i}" for i in range(101)}
    assert trace.name == "101 runs"


def test_a_cached_line_chart_comes_back_drawing_the_same_figure() -> None:
    # st.cache_data pickles the chart; it must come back with the same traces, text and frame
    lines = {(f"r{i}", "loss"): [float(i), i + 1.0, float("nan"), i + 2.0] for i in range(40)}
    chart = charts.line_chart(
        history(lines), ChartSpec(metrics=("loss",), smooth=0.5), None, {"r1": "<b>one</b>"}, 100
    )
    back = pickle.loads(pickle.dumps(chart))
    assert pio.to_json(DrawnFigure(back.figure)) == pio.to_json(DrawnFigure(chart.figure))
    names = [trace.name for trace in go.Figure(back.figure).data]  # a valid figure
    assert "&lt;b&gt;one&lt;/b&gt;" in names and "r39" in names  # run names as text
    pd.testing.assert_frame_equal(back.drawn, chart.drawn)
    assert (back.runs_drawn, back.lines) == (chart.runs_drawn, chart.lines)


@pytest.mark.parametrize("runs", [30, charts.SEPARATE_TRACES + 1])
def test_line_charts_are_svg_even_when_long(runs: int) -> None:
    """A browser without a GPU draws WebGL lines in software: 8 s for 30,000 points in Chromium here.

    30 runs x 2 metrics x 500 points is 30,000 points drawn, past where plotly would use WebGL."""
    lines = {(f"r{i}", key): list(np.arange(500.0)) for i in range(runs) for key in ("loss", "acc")}
    data = charts.with_x(history(lines), "step")
    drawn = charts.lines_frame(data, {}, 0.3, charts.line_budget(2 * runs))
    fig = valid(
        charts.runs_line_figure(drawn, ChartSpec(metrics=("loss", "acc"), smooth=0.3), ["loss", "acc"])
    )
    assert {t.type for t in fig.data} == {"scatter"}
    assert len(drawn) <= charts.TOTAL_POINTS


def test_hiding_outliers_zooms_the_y_axis_to_the_5th_to_95th_percentile() -> None:
    values = [1.0] * 50 + [2.0] * 50 + [1000.0]
    drawn = charts.lines_frame(charts.with_x(history({("r", "loss"): values}), "step"), {}, 0.0, 2000)
    fig = charts.runs_line_figure(drawn, ChartSpec(metrics=("loss",), hide_outliers=True), ["loss"])
    low, high = fig.layout.yaxis.range
    assert low < 1.0 and 2.0 < high < 1000.0
    plain = charts.runs_line_figure(drawn, ChartSpec(metrics=("loss",)), ["loss"])
    assert plain.layout.yaxis.range is None


def test_groups_are_bands_whose_legend_counts_runs() -> None:
    data = charts.with_x(
        history(
            {("a1", "loss"): [1.0, 2.0, 3.0], ("a2", "loss"): [3.0, 4.0], ("b1", "loss"): [9.0, 9.0, 9.0]}
        ),
        "step",
    )
    groups = pd.Series({"a1": "lr=0.1", "a2": "lr=0.1", "b1": "lr=0.5"})
    bands = charts.bands_frame(data, groups, "min_max", 0.0)
    a = bands[bands["group"] == "lr=0.1"]
    assert a["center"].tolist() == [2.0, 3.0, 3.0] and a["n"].tolist() == [2, 2, 1]
    assert a["lower"].tolist() == [1.0, 2.0, 3.0] and a["upper"].tolist() == [3.0, 4.0, 3.0]
    expected = group_band(
        [(np.arange(3.0), np.array([1.0, 2.0, 3.0])), (np.arange(2.0), np.array([3.0, 4.0]))], "min_max"
    )
    assert a["center"].tolist() == expected.center.tolist()
    fig = valid(
        charts.groups_line_figure(bands, ChartSpec(metrics=("loss",), group_by=("params.lr",)), ["loss"])
    )
    assert [t.name for t in fig.data if t.showlegend] == ["lr=0.1 (2 runs)", "lr=0.5 (1 runs)"]
    assert sum(t.fill == "tonexty" for t in fig.data) == 2


def test_bands_on_wall_time_keep_dates() -> None:
    data = charts.with_x(history({("a", "loss"): [1.0, 2.0], ("b", "loss"): [3.0, 4.0]}), "wall")
    bands = charts.bands_frame(data, pd.Series({"a": "g", "b": "g"}), "mean_std", 0.0)
    assert bands["x"].tolist() == [T0, T0 + pd.Timedelta(seconds=1)]
    assert bands["center"].tolist() == [2.0, 3.0]


def test_bars_per_run_and_per_group_with_their_band() -> None:
    values = pd.DataFrame(
        {"run_id": ["a", "b", "c", "d"], "run": ["A", "B", "C", "D"], "value": [1.0, 3.0, 10.0, None]}
    )
    per_run = charts.bar_frame(values, None, "mean_std")
    assert per_run["label"].tolist() == ["A", "B", "C"]  # a run with no value has no bar
    grouped = charts.bar_frame(values, pd.Series({"a": "g1", "b": "g1", "c": "g2", "d": "g2"}), "mean_std")
    g1 = grouped.set_index("label").loc["g1"]
    assert (g1["value"], g1["runs"]) == (2.0, 2)
    assert (g1["lower"], g1["upper"]) == pytest.approx(
        (2.0 - np.std([1, 3], ddof=1), 2.0 + np.std([1, 3], ddof=1))
    )
    fig = valid(charts.bar_figure(grouped, "loss", "mean"))
    assert list(fig.data[0].x) == ["g1 (2)", "g2 (1)"]
    assert fig.data[0].error_y.array is not None


def test_thousands_of_bars_are_one_stepped_line_that_keeps_every_run() -> None:
    """Plotly draws each bar as an element: 10,000 took 5-11 s in Chromium here, one path 0.3-0.5 s."""
    n = charts.MANY_BARS + 1
    values = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "run": [f"<b>{i}" for i in range(n)],
                           "value": np.arange(n, dtype=float)})  # fmt: skip
    fig = valid(charts.bar_figure(charts.bar_frame(values, None, "mean_std"), "loss", "last"))
    (trace,) = fig.data
    assert (trace.type, trace.fill, trace.line.shape) == ("scatter", "tozeroy", "hvh")
    assert array(trace.y).tolist() == list(range(n))
    assert list(trace.text) == [plotly_text(f"<b>{i}") for i in range(n)]  # every run, its name as text
    few = valid(charts.bar_figure(charts.bar_frame(values.head(3), None, "mean_std"), "loss", "last"))
    assert few.data[0].type == "bar"


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(6)],
            "run_name": ["", "b", "c", "d", "e", "<b>f</b>"],
            "params.lr": ["0.1", "0.1", "0.01", "0.01", "0.001", None],
            "params.opt": ["adam", "sgd", "adam", "sgd", "adam", "sgd"],
            "metrics.loss": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )


def test_scatter_is_one_point_per_run_coloured_by_group() -> None:
    runs = _runs()
    points = charts.points_frame(
        runs,
        ["params.lr", "metrics.loss"],
        pd.Series(dict(zip(runs["run_id"], runs["params.opt"], strict=True))),
    )
    assert len(points) == 5 and points["run"].iloc[0] == "r0"  # no value for lr: left out; no name: the id
    fig = valid(charts.runs_scatter_figure(points, "params.lr", "metrics.loss", ChartSpec(log=("x",))))
    assert sorted(t.name for t in fig.data) == ["adam", "sgd"] and fig.layout.xaxis.type == "log"
    assert sum(len(array(t.x)) for t in fig.data) == 5
    assert {t.type for t in fig.data} == {"scatter"}  # SVG: software WebGL is no faster (render_modes)
    with pytest.raises(BadInput, match=r"no column params\.nope"):
        charts.points_frame(runs, ["params.nope"])


def test_contour_averages_a_third_column_and_refuses_text() -> None:
    points = charts.points_frame(_runs(), ["params.lr", "metrics.loss", "metrics.loss"])
    fig = valid(charts.contour_figure(points, "params.lr", "metrics.loss", "metrics.loss"))
    assert fig.data[0].type == "histogram2dcontour" and fig.data[0].histfunc == "avg"
    text = charts.points_frame(_runs(), ["params.opt", "metrics.loss"])
    with pytest.raises(BadInput, match=r"params\.opt is not numeric"):
        charts.contour_figure(text, "params.opt", "metrics.loss", "metrics.loss")


def test_a_box_per_group_names_its_size_and_markup_stays_text() -> None:
    runs = _runs()
    points = charts.points_frame(
        runs, ["metrics.loss"], pd.Series(dict(zip(runs["run_id"], runs["params.opt"], strict=True)))
    )
    fig = valid(charts.box_figure(points, "metrics.loss"))
    assert [t.name for t in fig.data] == ["adam (3)", "sgd (3)"]
    assert "&lt;b&gt;f&lt;/b&gt;" in list(fig.data[1].text)
    assert charts.payload_bytes(fig) > 0
