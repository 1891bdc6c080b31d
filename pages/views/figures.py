"""Plotly figures for runs: metric histories, parallel coordinates and scatter plots.

Pure builders: data in, `go.Figure` out, so tests check what is drawn (traces, x values, axis types)
without a browser. The history figure takes the long table of `registry.store.metrics.metric_history`
(already downsampled by the store) and caps every line again, so a page never hands the browser
more than `max_points` points per trace whatever it was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from registry.domain.aggregate import MAX_SMOOTHING as MAX_SMOOTHING  # the pages read it here
from registry.domain.aggregate import ema
from registry.domain.diff import metric_direction
from registry.domain.downsample import select_points
from registry.errors import BadInput

if TYPE_CHECKING:  # the service imports MLflow: the figures need only its types
    from registry.service import Registry
    from registry.store.summaries import RunStamp

XAxis = Literal["step", "wall", "relative"]
X_AXES: dict[str, str] = {"step": "Step", "wall": "Wall time", "relative": "Relative time (s)"}
MAX_POINTS_PER_TRACE = 2000
_MARKERS_UP_TO = 30  # short lines get markers: a one-point "line" is otherwise invisible
_FIGURE_POINTS = 20_000  # total points of a Run or Compare chart: drawn as SVG at once, a small payload
PARALLEL_MAX_LINES = 2000  # parallel coordinates of a whole experiment: more lines draw too slowly
_PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Set2


def color_of(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def smooth(values: pd.Series, smoothing: float) -> pd.Series:
    """EMA smoothing (registry.domain.aggregate.ema) of a series, keeping its index."""
    return pd.Series(ema(values, smoothing), index=values.index)


def x_values(history: pd.DataFrame, x: XAxis) -> pd.Series:
    """The x of each row: the step, the wall-clock time, or seconds since the run's first point."""
    if x == "step":
        return history["step"]
    if x == "wall":
        return history["timestamp"]
    if x == "relative":
        start = history.groupby("run_id")["timestamp"].transform("min")
        return (history["timestamp"] - start).dt.total_seconds()
    raise BadInput(f"x axis {x!r}: choose one of {', '.join(X_AXES)}")


def svg_points_per_line(lines: int, most: int = 1000, least: int = 100) -> int:
    """Points per line for a chart of `lines` lines that keeps the figure near `_FIGURE_POINTS`.

    Lines are SVG (see pages/views/charts.py on WebGL without a GPU), which draws this at once.
    Each line keeps its first, last, lowest and highest point.
    """
    return max(least, min(most, (_FIGURE_POINTS - 1) // max(lines, 1)))


def stacked_panels(keys: Sequence[str], x_title: str, min_height: int) -> dict[str, Any]:
    """The layout (plotly's dict) of one stacked panel per metric, sharing the x axis."""
    rows = max(len(keys), 1)
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        subplot_titles=[plotly_text(k) for k in keys],
        vertical_spacing=min(0.08, 0.3 / rows),
    )
    fig.update_xaxes(title_text=x_title, row=rows, col=1)
    fig.update_layout(height=max(min_height, 260 * len(keys)), hovermode="closest", margin={"t": 40, "b": 40})
    return fig.layout.to_plotly_json()


def panel_axes(row: int) -> tuple[str, str]:
    """The x and y axes of a stacked panel (1-based), as a trace names them."""
    suffix = "" if row == 1 else str(row)
    return f"x{suffix}", f"y{suffix}"


def metric_history_figure(
    history: pd.DataFrame,
    x: XAxis = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    names: Mapping[str, str] | None = None,
    max_points: int = MAX_POINTS_PER_TRACE,
) -> go.Figure:
    """One line per (run, metric), one stacked panel per metric, each run in one colour throughout.

    `history` is the long table (run_id, key, step, timestamp, value). Lines are ordered by x before
    smoothing; the unsmoothed value is in the hover. `names` maps run ids to legend labels.
    """
    names = dict(names or {})
    xs = x_values(history, x)  # also validates x
    smooth(pd.Series(dtype="float64"), smoothing)  # validates smoothing
    # Found in Arrow, not by iterating the column's strings (0.44 s for 60,000 points).
    keys = [str(k) for k in pd.unique(history["key"])] or [""]
    runs = [str(r) for r in pd.unique(history["run_id"])]
    layout = stacked_panels(keys, X_AXES[x], min_height=320)
    data = history.assign(_x=xs)
    rows_of = data.groupby(["key", "run_id"], sort=False).indices  # one pass, not a mask per line
    traces: list[dict[str, Any]] = []
    in_legend: set[str] = set()
    for row, key in enumerate(keys, start=1):
        xaxis, yaxis = panel_axes(row)
        for index, run_id in enumerate(runs):
            if (key, run_id) not in rows_of:
                continue
            line = data.iloc[rows_of[(key, run_id)]].sort_values(["_x", "step"])
            values = line["value"].to_numpy(dtype="float64")
            if len(line) > max_points:
                keep = select_points(np.arange(len(line)), values, max_points)
                line, values = line.iloc[keep], values[keep]
            label = plotly_text(names.get(run_id, run_id[:8]))
            traces.append({
                "type": "scatter", "x": line["_x"].to_numpy(),
                "y": smooth(line["value"], smoothing).to_numpy(),
                "customdata": values, "xaxis": xaxis, "yaxis": yaxis,
                "mode": "lines" if len(line) > _MARKERS_UP_TO else "lines+markers",
                "name": label, "legendgroup": run_id, "showlegend": run_id not in in_legend,
                "line": {"color": color_of(index)},
                "hovertemplate": f"{label}<br>{plotly_text(key)}: %{{customdata:.6g}}"
                + ("<br>smoothed: %{y:.6g}" if smoothing else "") + "<extra></extra>",
            })  # fmt: skip
            in_legend.add(run_id)
        layout[f"yaxis{'' if row == 1 else row}"]["type"] = "log" if log_y else "linear"
    # Plain dicts, not validated go.Scatter objects: the figure is built on each cold read of
    # Compare and the Run page.
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def kept_history_figure(
    reg: Registry,
    stamps: tuple[RunStamp, ...],
    keys: tuple[str, ...],
    x: XAxis,
    smoothing: float,
    log_y: bool,
    labels: tuple[tuple[str, str], ...],
    per_line: int,
) -> dict[str, Any]:
    """`metric_history_figure` of the runs' kept line summaries, as plotly's dict: for `cached_read`,
    so that a rerun (a click elsewhere on the page) neither reads the lines nor rebuilds the figure."""
    history = reg.kept_lines(stamps, keys)
    figure = metric_history_figure(
        history, x=x, smoothing=smoothing, log_y=log_y, names=dict(labels), max_points=per_line
    )
    return figure.to_dict()


class DrawnFigure(go.Figure):
    """A figure our builders made, kept as plotly's dict, handed to `st.plotly_chart` as it is.

    Streamlit validates a bare dict trace by trace, and asks a Figure for `to_dict()`, which deep-
    copies every array and label (0.1-0.8 s for the 100-run chart's 90,000 points and their hover
    labels, on every rerun that reads the chart from the cache). This Figure hands over the dict it
    holds. Made only at the moment of drawing: it holds no `data` or `layout` of its own to read.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self._spec = spec

    def to_dict(self) -> dict[str, Any]:
        return self._spec


def plotly_text(text: object) -> str:
    """Store text for plotly labels: plotly reads a few HTML tags in names, titles and hovers and
    `%{...}` in hover templates, so `<`, `>`, `&` and `%` go in as entities (shown literally)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%", "&#37;")


def _as_axis(values: pd.Series) -> pd.Series:
    """Numbers when every present value is one, else text (a categorical axis)."""
    numbers = pd.to_numeric(values, errors="coerce")
    present = values.notna()
    return numbers if numbers[present].notna().all() else values.astype(object)


def lines_to_draw(data: pd.DataFrame, metric: str, limit: int = PARALLEL_MAX_LINES) -> pd.DataFrame:
    """At most `limit` runs for the chart: evenly spaced ranks by the metric, so its spread is kept.

    A browser draws 10,000 parcoords lines in tens of seconds; 2,000 chosen this way keep the best,
    the worst and the shape of the distribution.
    """
    if len(data) <= limit:
        return data
    ranked = data.sort_values(metric, kind="stable").reset_index(drop=True)
    picks = np.unique(np.linspace(0, len(ranked) - 1, limit).round().astype(int))
    return ranked.iloc[picks].reset_index(drop=True)


def parallel_coordinates_data(runs: pd.DataFrame, params: Sequence[str], metric: str) -> pd.DataFrame:
    """Rows of runs with a number for every chosen param and the metric (others cannot be drawn)."""
    missing = [c for c in [*params, metric] if c not in runs.columns]
    if missing:
        raise BadInput(f"parallel coordinates: no column {', '.join(missing)} in these runs")
    if not params:
        raise BadInput("parallel coordinates: choose at least one numeric param")
    frame = runs[["run_id", *params, metric]].copy()
    for column in [*params, metric]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.dropna(subset=[*params, metric]).reset_index(drop=True)


def parallel_coordinates_figure(runs: pd.DataFrame, params: Sequence[str], metric: str) -> go.Figure:
    """Numeric params → the metric, coloured by the metric (the better end dark, per metric_direction)."""
    data = parallel_coordinates_data(runs, params, metric)
    dimensions = [{"label": plotly_text(c), "values": data[c].to_numpy()} for c in [*params, metric]]
    lower_better = metric_direction(metric) == "min"
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": data[metric].to_numpy(),
                "colorscale": "Viridis",
                "reversescale": lower_better,
                "showscale": True,
                "colorbar": {"title": {"text": plotly_text(metric)}},
            },
            dimensions=dimensions,
        )
    )
    fig.update_layout(height=420, margin={"l": 60, "r": 60, "t": 60, "b": 30})
    return fig


def scatter_figure(runs: pd.DataFrame, x: str, y: str, names: Mapping[str, str] | None = None) -> go.Figure:
    """One point per run: any param or metric (x) against a metric (y); text params become categories."""
    missing = [c for c in (x, y) if c not in runs.columns]
    if missing:
        raise BadInput(f"scatter: no column {', '.join(missing)} in these runs")
    names = dict(names or {})
    frame = pd.DataFrame(
        {"run_id": runs["run_id"], "x": _as_axis(runs[x]), "y": pd.to_numeric(runs[y], errors="coerce")}
    ).dropna(subset=["x", "y"])
    order = {r: i for i, r in enumerate(runs["run_id"])}
    labels = [names.get(r, r[:8]) for r in frame["run_id"]]
    fig = go.Figure(
        go.Scatter(
            x=frame["x"].to_numpy(),
            y=frame["y"].to_numpy(),
            mode="markers",
            text=[plotly_text(label) for label in labels],
            customdata=frame["run_id"].to_numpy(),
            marker={"size": 10, "color": [color_of(order[r]) for r in frame["run_id"]]},
            hovertemplate="%{text}<br>x: %{x}<br>y: %{y:.6g}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title=plotly_text(x), yaxis_title=plotly_text(y), height=420, margin={"t": 30})
    return fig
