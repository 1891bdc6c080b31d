"""Figures of the Charts view: many runs' lines, grouped bands, bars, scatter, contour and box plots.

Pure builders, data in and figure out, each with the frame it drew (the "as drawn" CSV export), so
tests check what is drawn without a browser. Lines come from the kept summaries
(`registry.store.summaries`, ≤ 2,000 points per line); a chart of many lines gets a smaller share
of points per line (`line_budget`), always keeping each line's first, last, lowest and highest
point. Up to `SEPARATE_TRACES` lines each get a trace of their own (a legend entry and a colour);
past that, the lines of a panel are drawn as one trace broken between runs, since plotly builds
and the browser draws a thousand separate traces in seconds.

Every trace is SVG, never WebGL: a browser without a GPU (headless, a remote desktop, many
laptops' defaults) draws WebGL in software. Measured in Chromium here (bench/render_modes.py),
three WebGL lines of 10,000 points took 8 s and of 100,000 points 51 s, where the same SVG paths
took 0.1–0.5 s; 10,000 markers took as long in WebGL as in SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, unlabel_rgb

from pages.views.chart_spec import BAR_VALUES, X_BASES, ChartSpec
from pages.views.figures import color_of, panel_axes, plotly_text, stacked_panels
from registry.domain.aggregate import band, ema, group_band, inlier_range, value_at_steps
from registry.domain.downsample import select_points
from registry.errors import BadInput

MAX_POINTS_PER_LINE = 2000
TOTAL_POINTS = 100_000  # per figure: SVG draws it at once; the payload (~2 MB) is what limits it
BUDGET_LEVELS = (2000, 1000, 500, 300, 200, 100)
MIN_POINTS_PER_LINE = BUDGET_LEVELS[-1]
SEPARATE_TRACES = 100
MANY_BARS = 500  # past this many runs a bar chart is one stepped line (see bar_figure)
RAW_OPACITY = 0.25
BAND_OPACITY = 0.2
_MARKERS_UP_TO = 30


def line_budget(lines: int) -> int:
    """Points per line for a chart of `lines` lines: ≤ 2,000, and the figure near `TOTAL_POINTS`.

    One of a few levels, so the coarser summaries kept for one chart serve the next one too.
    """
    wanted = TOTAL_POINTS // max(lines, 1)
    return next((level for level in BUDGET_LEVELS if level <= wanted), BUDGET_LEVELS[-1])


def _rgba(color: str, alpha: float) -> str:
    rgb = hex_to_rgb(color) if color.startswith("#") else unlabel_rgb(color)
    return f"rgba({int(rgb[0])},{int(rgb[1])},{int(rgb[2])},{alpha})"


def with_x(history: pd.DataFrame, x: str, other: pd.DataFrame | None = None) -> pd.DataFrame:
    """The long history (run_id, key, step, timestamp, value) with its x: `x` column, rows by x.

    step; wall (the timestamp); relative (seconds since the run's first point, so runs started at
    different times line up); metric:<key> (that metric's value at the step, from `other`). Rows
    with no x (the other metric not logged yet) are left out.
    """
    data = history.copy()
    if x == "step":
        data["x"] = data["step"].astype("float64")
    elif x == "wall":
        data["x"] = data["timestamp"]
    elif x == "relative":
        start = data.groupby("run_id", observed=True)["timestamp"].transform("min")
        data["x"] = (data["timestamp"] - start).dt.total_seconds()
    elif x.startswith("metric:"):
        if other is None:
            raise BadInput(f"x {x!r}: the metric's history was not read")
        data["x"] = value_at_steps(data, other).astype("float64")
        data = data.dropna(subset=["x"])
    else:
        raise BadInput(f"x axis {x!r}: choose step, wall, relative or metric:<key>")
    if data.empty:
        return data.reset_index(drop=True)
    line = data.groupby(["key", "run_id"], sort=False, observed=True).ngroup().to_numpy()
    order = np.lexsort((data["step"].to_numpy(), _plain_x(data["x"]), line))  # numbers: fast on 1M rows
    return data.iloc[order].reset_index(drop=True)


def _lines_of(data: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Row positions of each (key, run_id) line, in the frame's order."""
    return {
        (str(k), str(r)): pos
        for (k, r), pos in data.groupby(["key", "run_id"], sort=False, observed=True).indices.items()
    }


def x_title(x: str) -> str:
    return X_BASES.get(x) or plotly_text(x.removeprefix("metric:"))


def lines_frame(data: pd.DataFrame, names: Mapping[str, str], smoothing: float, budget: int) -> pd.DataFrame:
    """The points drawn per (run, metric): ≤ `budget` each, with the smoothed value beside the raw one.

    Works on row positions and arrays, not a frame per line: a thousand lines take milliseconds.
    """
    values = data["value"].to_numpy(dtype=np.float64)
    kept, smoothed = [], []
    for pos in _lines_of(data).values():
        if len(pos) > budget:
            pos = pos[select_points(np.arange(len(pos)), values[pos], budget)]
        kept.append(pos)
        smoothed.append(ema(values[pos], smoothing))
    columns = ["run_id", "run", "key", "step", "x", "value", "smoothed"]
    if not kept:
        return pd.DataFrame(columns=columns)
    out = data.iloc[np.concatenate(kept)][["run_id", "key", "step", "x", "value"]].reset_index(drop=True)
    run_ids = out["run_id"].astype("category")
    labels = np.array([names.get(str(r), str(r)[:8]) for r in run_ids.cat.categories], dtype=object)
    out["run"] = labels[run_ids.cat.codes.to_numpy()]
    out["smoothed"] = np.concatenate(smoothed)
    return out[columns]


def _panels(keys: Sequence[str], x: str) -> dict:
    """The layout of one stacked panel per metric, sharing the x axis."""
    return stacked_panels(keys, x_title(x), min_height=340)


def _style_axes(
    layout: dict, keys: Sequence[str], spec: ChartSpec, values_of: Mapping[str, np.ndarray]
) -> None:
    """Log axes and the outlier-free y range, panel by panel."""
    for row, key in enumerate(keys, start=1):
        suffix = "" if row == 1 else str(row)
        y = layout.setdefault(f"yaxis{suffix}", {})
        x = layout.setdefault(f"xaxis{suffix}", {})
        if "y" in spec.log:
            y["type"] = "log"
        if spec.x == "wall":
            x["type"] = "date"
        elif "x" in spec.log:
            x["type"] = "log"
        if spec.hide_outliers:
            values = values_of.get(key, np.empty(0))
            if "y" in spec.log:
                values = np.log10(values[values > 0])
            found = inlier_range(values)
            if found is not None:
                y["range"] = list(found)


def _unsmoothed(common: dict[str, Any], values: pd.Series, color: str) -> dict[str, Any]:
    """The raw line drawn faintly behind its smoothed one, so smoothing never hides a spike."""
    return {
        **common,
        "y": values.to_numpy(),
        "mode": "lines",
        "showlegend": False,
        "line": {"color": color, "width": 1},
        "opacity": RAW_OPACITY,
        "hoverinfo": "skip",
    }


def _hover(label: str, key: str, smoothing: float) -> str:
    return (
        f"{plotly_text(label)}<br>{plotly_text(key)}: %{{customdata:.6g}}"
        + ("<br>smoothed: %{y:.6g}" if smoothing else "")
        + "<br>x: %{x}<extra></extra>"
    )


def _separate_traces(drawn: pd.DataFrame, keys: list[str], spec: ChartSpec) -> list[dict]:
    runs = list(dict.fromkeys(drawn["run_id"]))
    traces: list[dict] = []
    in_legend: set[str] = set()
    for row, key in enumerate(keys, start=1):
        xaxis, yaxis = panel_axes(row)
        for index, run_id in enumerate(runs):
            line = drawn[(drawn["key"] == key) & (drawn["run_id"] == run_id)]
            if line.empty:
                continue
            label, color = str(line["run"].iloc[0]), color_of(index)
            common = {
                "type": "scatter",
                "x": line["x"].to_numpy(),
                "xaxis": xaxis,
                "yaxis": yaxis,
                "legendgroup": run_id,
                "customdata": line["value"].to_numpy(),
            }
            if spec.smooth:
                traces.append(_unsmoothed(common, line["value"], color))
            traces.append(
                {
                    **common,
                    "y": line["smoothed"].to_numpy(),
                    "name": plotly_text(label),
                    "mode": "lines" if len(line) > _MARKERS_UP_TO else "lines+markers",
                    "showlegend": run_id not in in_legend,
                    "line": {"color": color},
                    "hovertemplate": _hover(label, key, spec.smooth),
                }
            )
            in_legend.add(run_id)
    return traces


def _broken(parts: list[np.ndarray], fill: object = np.nan) -> np.ndarray:
    """Lines joined into one array with a gap between them, for one trace of many lines."""
    if not parts:
        return np.empty(0)
    joined = np.concatenate(parts)
    return np.insert(joined, np.cumsum([len(p) for p in parts[:-1]]), fill)


def _merged_traces(drawn: pd.DataFrame, keys: list[str], spec: ChartSpec) -> list[dict]:
    traces: list[dict] = []
    compact = np.float64 if spec.x == "wall" else np.float32  # epoch ms need float64; the rest fit 32 bits
    for row, key in enumerate(keys, start=1):
        xaxis, yaxis = panel_axes(row)
        panel = drawn[drawn["key"] == key]
        lines = list(_lines_of(panel).values())
        if not lines:
            continue
        x, raw, smooth = _plain_x(panel["x"]), panel["value"].to_numpy(), panel["smoothed"].to_numpy()
        runs = panel["run"].astype("category")  # label the few runs, not every point
        labels = np.array([plotly_text(c) for c in runs.cat.categories], dtype=object)
        names = labels[runs.cat.codes.to_numpy()]
        common = {
            "type": "scatter",
            "x": _broken([x[p] for p in lines]).astype(compact),
            "xaxis": xaxis,
            "yaxis": yaxis,
            "text": _broken([names[p] for p in lines], None),
            "connectgaps": False,
        }
        hover = "%{text}<br>" + plotly_text(key) + ": %{y:.6g}<br>x: %{x}<extra></extra>"
        if spec.smooth:
            raw_line = _broken([raw[p] for p in lines]).astype(compact)
            traces.append(
                {
                    **common,
                    "y": raw_line,
                    "mode": "lines",
                    "showlegend": False,
                    "hoverinfo": "skip",
                    "line": {"color": color_of(0), "width": 1},
                    "opacity": RAW_OPACITY,
                    "text": None,
                }
            )
            common["customdata"] = raw_line
            hover = hover.replace("%{y:.6g}", "%{customdata:.6g}<br>smoothed: %{y:.6g}")
        traces.append(
            {
                **common,
                "y": _broken([smooth[p] for p in lines]).astype(compact),
                "mode": "lines",
                "name": f"{len(lines):,} runs",
                "showlegend": row == 1,
                "line": {"color": color_of(0), "width": 1},
                "hovertemplate": hover,
            }
        )
    return traces


def _plain_x(x: pd.Series) -> np.ndarray:
    """x as numbers: a date axis reads numbers as milliseconds since the epoch."""
    if pd.api.types.is_datetime64_any_dtype(x):
        return x.dt.as_unit("ms").astype("int64").to_numpy().astype(np.float64)
    return x.to_numpy(dtype=np.float64)


def runs_line_figure(drawn: pd.DataFrame, spec: ChartSpec, keys: Sequence[str]) -> go.Figure:
    """One line per run in one panel per metric; smoothed lines over their raw line, drawn faintly."""
    keys = list(keys)
    layout = _panels(keys, spec.x)
    many = drawn[["key", "run_id"]].drop_duplicates().shape[0] > SEPARATE_TRACES
    traces = _merged_traces(drawn, keys, spec) if many else _separate_traces(drawn, keys, spec)
    _style_axes(layout, keys, spec, {k: drawn.loc[drawn["key"] == k, "smoothed"].to_numpy() for k in keys})
    # Built unvalidated: plotly's per-property checks cost seconds on hundreds of traces; the tests
    # validate what these builders make.
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def bands_frame(
    data: pd.DataFrame, groups: pd.Series, how: str, smoothing: float, max_points: int = MAX_POINTS_PER_LINE
) -> pd.DataFrame:
    """Each (group, metric) as one band over its runs' aligned lines (see registry.domain.aggregate)."""
    wall = pd.api.types.is_datetime64_any_dtype(data["x"])
    x_all, y_all = _plain_x(data["x"]), data["value"].to_numpy(dtype=np.float64)
    group_of = {str(r): g for r, g in groups.items()}
    sizes = groups.value_counts()
    lines_by: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    for (key, run_id), pos in _lines_of(data).items():
        if run_id in group_of:
            lines_by.setdefault((str(group_of[run_id]), key), []).append((x_all[pos], y_all[pos]))
    parts = []
    for (group, key), lines in sorted(lines_by.items()):
        found = group_band(lines, how, max_points)  # type: ignore[arg-type]
        x = pd.to_datetime(found.x.astype("int64"), unit="ms", utc=True) if wall else found.x
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    "runs": int(sizes.get(group, 0)),
                    "key": key,
                    "x": x,
                    "center": found.center,
                    "lower": found.lower,
                    "upper": found.upper,
                    "n": found.n,
                    "smoothed": ema(found.center, smoothing),
                    "smoothed_lower": ema(found.lower, smoothing),
                    "smoothed_upper": ema(found.upper, smoothing),
                }
            )
        )
    columns = ["group", "runs", "key", "x", "center", "lower", "upper", "n", "smoothed", "smoothed_lower",
               "smoothed_upper"]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def groups_line_figure(bands: pd.DataFrame, spec: ChartSpec, keys: Sequence[str]) -> go.Figure:
    """One line and band per group in one panel per metric; the legend says how many runs each holds."""
    keys = list(keys)
    layout = _panels(keys, spec.x)
    traces: list[dict] = []
    groups = list(dict.fromkeys(bands["group"]))
    in_legend: set[str] = set()
    for row, key in enumerate(keys, start=1):
        xaxis, yaxis = panel_axes(row)
        for index, group in enumerate(groups):
            rows = bands[(bands["group"] == group) & (bands["key"] == key)]
            if rows.empty:
                continue
            color, label = color_of(index), f"{group} ({int(rows['runs'].iloc[0])} runs)"
            common = {
                "type": "scatter",
                "x": rows["x"].to_numpy(),
                "xaxis": xaxis,
                "yaxis": yaxis,
                "legendgroup": str(group),
            }
            traces.append(
                {
                    **common,
                    "y": rows["smoothed_upper"].to_numpy(),
                    "mode": "lines",
                    "line": {"width": 0, "color": color},
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
            traces.append(
                {
                    **common,
                    "y": rows["smoothed_lower"].to_numpy(),
                    "mode": "lines",
                    "line": {"width": 0, "color": color},
                    "fill": "tonexty",
                    "fillcolor": _rgba(color, BAND_OPACITY),
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
            if spec.smooth:
                traces.append(_unsmoothed(common, rows["center"], color))
            traces.append(
                {
                    **common,
                    "y": rows["smoothed"].to_numpy(),
                    "mode": "lines",
                    "name": plotly_text(label),
                    "line": {"color": color},
                    "showlegend": group not in in_legend,
                    "customdata": np.c_[
                        rows["lower"].to_numpy(), rows["upper"].to_numpy(), rows["n"].to_numpy()
                    ],
                    "hovertemplate": f"{plotly_text(label)}<br>{plotly_text(key)}: %{{y:.6g}} "
                    "[%{customdata[0]:.6g}, %{customdata[1]:.6g}]<br>%{customdata[2]} runs here<br>x: %{x}"
                    "<extra></extra>",
                }
            )
            in_legend.add(group)
    _style_axes(layout, keys, spec, {k: bands.loc[bands["key"] == k, "smoothed"].to_numpy() for k in keys})
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


@dataclass(frozen=True)
class LineChart:
    """A line chart of runs or groups, the frame it drew (the "as drawn" export) and what it holds.

    The figure is plotly's dict, made once: st.cache_data pickles the chart as it is, and
    first_paint.plotly_chart draws it as it is. A Figure would be deep-copied three times on the
    way (made, pickled, drawn: 29% of a 2.8 s cold AppTest run of the 100-run chart, py-spy at
    load 7), and plotly's own unpickling validates every array again (0.23 s for 3 traces x 30,000
    points, per rerun).
    """

    figure: dict[str, Any]
    drawn: pd.DataFrame
    runs_drawn: tuple[str, ...]
    lines: int


def line_chart(
    history: pd.DataFrame, spec: ChartSpec, groups: pd.Series | None, names: Mapping[str, str], points: int
) -> LineChart:
    """The chart of `spec.metrics` from the kept lines: a band per group when grouped, else a line per run."""
    other = history[history["key"] == spec.x_metric] if spec.x_metric else None
    data = with_x(history[history["key"].isin(spec.metrics)], spec.x, other)
    runs_drawn = tuple(str(r) for r in pd.unique(data["run_id"]))
    lines = data[["key", "run_id"]].drop_duplicates().shape[0]
    if groups is not None:
        drawn = bands_frame(data, groups, spec.aggregate, spec.smooth)
        return LineChart(groups_line_figure(drawn, spec, spec.metrics).to_dict(), drawn, runs_drawn, lines)
    drawn = lines_frame(data, names, spec.smooth, points)
    return LineChart(runs_line_figure(drawn, spec, spec.metrics).to_dict(), drawn, runs_drawn, lines)


def bar_frame(values: pd.DataFrame, groups: pd.Series | None, how: str) -> pd.DataFrame:
    """Bars of one value per run (run_id, run, value), or per group: the centre and band of its runs."""
    values = values.dropna(subset=["value"])
    if groups is None:
        return pd.DataFrame(
            {
                "label": values["run"],
                "value": values["value"],
                "lower": values["value"],
                "upper": values["value"],
                "runs": 1,
            }
        )
    rows = []
    for group, part in values.groupby(values["run_id"].map(groups), sort=True):
        center, lower, upper, n = band(part["value"].to_numpy()[:, None], how)  # type: ignore[arg-type]
        rows.append(
            {"label": group, "value": center[0], "lower": lower[0], "upper": upper[0], "runs": int(n[0])}
        )
    return pd.DataFrame(rows, columns=["label", "value", "lower", "upper", "runs"])


def bar_figure(bars: pd.DataFrame, metric: str, value: str, log_y: bool = False) -> go.Figure:
    """One bar per run or group; a group's bar carries its band as an error bar.

    Past `MANY_BARS` runs the bars are one stepped, filled line, each run a step in the table's order
    with its name in the hover: plotly draws every bar and category label as an element of its own,
    and 10,000 of them took 5-11 s to draw in Chromium here where the one path took 0.3-0.5 s
    (bench/render_modes.py). At that many runs a bar is narrower than a pixel: the two look alike.
    """
    spread = bool((bars["upper"] - bars["lower"]).fillna(0).abs().sum())
    labels = [
        plotly_text(f"{label} ({runs})" if spread else label)
        for label, runs in zip(bars["label"], bars["runs"], strict=True)
    ]
    layout: dict[str, Any] = {
        "yaxis": {
            "title": {"text": f"{BAR_VALUES.get(value, value)} {plotly_text(metric)}"},
            "type": "log" if log_y else "linear",
        },
        "height": 420,
        "margin": {"t": 30},
        "xaxis": {"type": "category"},
    }
    if len(bars) > MANY_BARS and not spread:
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "lines",
            "x": np.arange(len(bars)),
            "y": bars["value"].to_numpy(),
            "text": labels,
            "line": {"shape": "hvh", "width": 1, "color": color_of(0)},
            "fill": "tozeroy",
            "hovertemplate": "%{text}: %{y:.6g}<extra></extra>",
        }
        layout["xaxis"] = {
            "title": {"text": f"{len(bars):,} runs, in the table's order"},
            "showticklabels": False,
        }
        return go.Figure({"data": [trace], "layout": layout}, _validate=False)
    trace = {
        "type": "bar",
        "x": labels,
        "y": bars["value"].to_numpy(),
        "marker": {"color": color_of(0)},
        "hovertemplate": "%{x}: %{y:.6g}<extra></extra>",
    }
    if spread:
        trace["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": (bars["upper"] - bars["value"]).to_numpy(),
            "arrayminus": (bars["value"] - bars["lower"]).to_numpy(),
        }
    return go.Figure({"data": [trace], "layout": layout}, _validate=False)


def _numbers_or_text(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers[values.notna()].notna().all() else values.astype(object)


def points_frame(runs: pd.DataFrame, columns: Sequence[str], groups: pd.Series | None = None) -> pd.DataFrame:
    """One row per run with a value in every chosen column (numbers where they all read as numbers)."""
    missing = [c for c in columns if c not in runs.columns]
    if missing:
        raise BadInput(f"no column {', '.join(missing)} in these runs")
    frame = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "run": runs["run_name"].where(runs["run_name"] != "", runs["run_id"].str[:8]),
        }
    )
    for column in columns:
        frame[column] = _numbers_or_text(runs[column])
    if groups is not None:
        frame["group"] = runs["run_id"].map(groups)
    return frame.dropna(subset=list(columns)).reset_index(drop=True)


def runs_scatter_figure(points: pd.DataFrame, x: str, y: str, spec: ChartSpec) -> go.Figure:
    """One point per run, a colour per group when grouped (SVG: see the module on WebGL)."""
    traces = []
    groups = list(dict.fromkeys(points["group"])) if "group" in points else [None]
    for index, group in enumerate(groups):
        part = points if group is None else points[points["group"] == group]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": part[x].to_numpy(),
                "y": part[y].to_numpy(),
                "text": [plotly_text(r) for r in part["run"]],
                "name": plotly_text(group or "runs"),
                "showlegend": group is not None,
                "marker": {"color": color_of(index), "size": 7},
                "hovertemplate": "%{text}<br>x: %{x}<br>y: %{y:.6g}<extra></extra>",
            }
        )
    layout = {
        "xaxis": {"title": {"text": plotly_text(x)}, "type": "log" if "x" in spec.log else "-"},
        "yaxis": {"title": {"text": plotly_text(y)}, "type": "log" if "y" in spec.log else "-"},
        "height": 460,
        "margin": {"t": 30},
    }
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def contour_figure(points: pd.DataFrame, x: str, y: str, z: str) -> go.Figure:
    """The mean of `z` over a grid of (x, y) cells, as contours, with the runs as points on top."""
    for column in (x, y, z):
        if not pd.api.types.is_numeric_dtype(points[column]):
            raise BadInput(f"contour: {column} is not numeric in every run")
    contour = {
        "type": "histogram2dcontour",
        "x": points[x].to_numpy(),
        "y": points[y].to_numpy(),
        "z": points[z].to_numpy(),
        "histfunc": "avg",
        "nbinsx": 20,
        "nbinsy": 20,
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": plotly_text(z)}},
        "contours": {"coloring": "heatmap"},
        "hovertemplate": "x: %{x}<br>y: %{y}<br>mean: %{z:.6g}<extra></extra>",
    }
    dots = {
        "type": "scatter",
        "mode": "markers",
        "x": points[x].to_numpy(),
        "y": points[y].to_numpy(),
        "marker": {"color": "white", "size": 4, "line": {"width": 1, "color": "black"}},
        "text": [plotly_text(r) for r in points["run"]],
        "showlegend": False,
        "hovertemplate": "%{text}<extra></extra>",
    }
    layout = {
        "xaxis": {"title": {"text": plotly_text(x)}},
        "yaxis": {"title": {"text": plotly_text(y)}},
        "height": 460,
        "margin": {"t": 30},
    }
    return go.Figure({"data": [contour, dots], "layout": layout}, _validate=False)


def box_figure(points: pd.DataFrame, metric: str, log_y: bool = False) -> go.Figure:
    """The spread of a metric's value in each group (every run when not grouped), with the points."""
    groups = list(dict.fromkeys(points["group"])) if "group" in points else [None]
    traces = []
    for index, group in enumerate(sorted(groups, key=str)):
        part = points if group is None else points[points["group"] == group]
        traces.append(
            {
                "type": "box",
                "y": part[metric].to_numpy(),
                "name": plotly_text(f"{group} ({len(part)})" if group else f"all runs ({len(part)})"),
                "boxpoints": "all" if len(part) <= 2000 else "outliers",
                "jitter": 0.3,
                "text": [plotly_text(r) for r in part["run"]],
                "marker": {"color": color_of(index)},
            }
        )
    layout = {
        "yaxis": {"title": {"text": plotly_text(metric)}, "type": "log" if log_y else "linear"},
        "height": 420,
        "margin": {"t": 30},
        "showlegend": False,
    }
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def payload_bytes(fig: go.Figure) -> int:
    """What the figure weighs as JSON, as sent to the browser."""
    return len(fig.to_json().encode())
