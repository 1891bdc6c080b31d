"""The Charts view of Experiments & runs: the filtered runs of an experiment as charts.

Every control has a session-state key (`charts_*`) and goes in the URL (see chart_spec.py); a deep
link seeds the controls once per session and a bad value in it is named above the chart. Lines are
drawn from the kept line summaries (`Registry.line_summaries`): a finished run's history is read
once, ever. Line charts take up to `LINE_RUNS` runs, the per-run charts (bar, scatter, contour,
box, parallel coordinates) up to `TABLE_RUNS`; when the experiment has more, the chart says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import streamlit as st

from pages.views import charts
from pages.views.chart_spec import (
    BAR_VALUES,
    CHART_TYPES,
    METRIC_X,
    X_BASES,
    ChartSpec,
    chart_query,
    line_settings_in_words,
    parse_chart_query,
)
from pages.views.figures import lines_to_draw, parallel_coordinates_figure
from pages.views.first_paint import keep_for_the_charts, plotly_chart
from pages.views.prefetch import PLOTLY, prefetch
from pages.views.shared import cached_read, plain, query_param, section, set_query, show_error
from registry.domain.aggregate import AGGREGATES, MAX_SMOOTHING, group_labels
from registry.domain.step_images import StepImage, image_at
from registry.errors import BadInput
from registry.service import Registry
from registry.store.experiments import ExperimentInfo
from registry.store.fastpath import ExperimentRuns
from registry.store.summaries import SUMMARY_POINTS, RunStamp

LINE_RUNS = 1_000
TABLE_RUNS = 10_000
IMAGE_RUNS = 12
IMAGE_COLUMNS = 4
SUMMARY_TTL_S = 300  # a running run's line is read again after this; finished ones come from the cache
LOGGED_IMAGES_TAG = "tags.mlflow.loggedImages"
_SEEDED = "charts_seeded"
LINE_SETTINGS = (  # the controls in the line settings panel (some are shared with other charts)
    "charts_x", "charts_aggregate", "charts_smooth", "charts_log_x", "charts_log_y", "charts_outliers",
)  # fmt: skip
_SETTINGS_OPEN = "charts_line_settings_open"  # the panel's own state (a stateful expander)
_SETTINGS_OPENED = "charts_line_settings_opened"  # whether it opens at first, decided once a session


# reads ----------------------------------------------------------------------------------------------
def _runs(reg: Registry, experiment_id: str, filter_string: str, limit: int) -> ExperimentRuns:
    return reg.experiment_runs(experiment_id, filter_string, limit)


def _lines(
    reg: Registry, stamps: tuple[RunStamp, ...], keys: tuple[str, ...], points: int = SUMMARY_POINTS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reg.line_tables(stamps, keys, points)


def _full_history(reg: Registry, run_ids: tuple[str, ...], keys: tuple[str, ...]) -> pd.DataFrame:
    return reg.metric_history(run_ids, keys, max_points=10**12)


def _images(reg: Registry, run_id: str) -> list[StepImage]:
    return reg.step_images(run_id)


def _image(reg: Registry, run_id: str, path: str) -> bytes:
    return reg.image_bytes(run_id, path)


# controls ------------------------------------------------------------------------------------------
def _seed_from_url() -> None:
    """Put the link's choices into the controls, once per session; say what could not be used."""
    if st.session_state.get(_SEEDED):
        return
    st.session_state[_SEEDED] = True
    spec, problems = parse_chart_query({k: st.query_params.get(k) or "" for k in chart_query(ChartSpec())})
    st.session_state["charts_url_problems"] = problems
    st.session_state["charts_chart"] = spec.chart
    st.session_state["charts_metrics_wanted"] = list(spec.metrics)
    st.session_state["charts_group_by_wanted"] = list(spec.group_by)
    st.session_state["charts_aggregate"] = spec.aggregate
    st.session_state["charts_x_wanted"] = spec.x
    st.session_state["charts_smooth"] = spec.smooth
    st.session_state["charts_log_x"] = "x" in spec.log
    st.session_state["charts_log_y"] = "y" in spec.log
    st.session_state["charts_outliers"] = spec.hide_outliers
    st.session_state["charts_bar"] = spec.bar
    st.session_state["charts_axes_wanted"] = list(spec.axes)
    st.session_state.setdefault("charts_filter", query_param("filter", "") or "")


def _resolve(wanted: Sequence[str], offered: Sequence[str], what: str, problems: list[str]) -> list[str]:
    """Wanted names that these runs offer; a bare name matches `params.<name>`/`tags.<name>`."""
    chosen = []
    for name in wanted:
        match = (
            name
            if name in offered
            else next(
                (f"{p}{name}" for p in ("params.", "tags.", "metrics.") if f"{p}{name}" in offered), None
            )
        )
        if match is None:
            problems.append(f"{what} {name!r}: none of these runs has it")
        elif match not in chosen:
            chosen.append(match)
    return chosen


def _keep(
    key: str, options: Sequence[str], wanted_key: str, default: Sequence[str], problems: list[str], what: str
) -> None:
    """A multiselect's value among the current options: from the link on the first run, else kept."""
    if wanted_key in st.session_state:
        st.session_state[key] = _resolve(st.session_state.pop(wanted_key), options, what, problems) or list(
            default
        )
    current = st.session_state.get(key)
    st.session_state[key] = list(default) if current is None else [v for v in current if v in options]


def _one(key: str, options: Sequence[str], default: str | None) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else (options[0] if options else None)


def _spec() -> ChartSpec:
    state = st.session_state
    x = state.get("charts_x") or "step"
    return ChartSpec(
        chart=state.get("charts_chart") or "lines",
        metrics=tuple(state.get("charts_metrics") or ()),
        group_by=tuple(state.get("charts_group_by") or ()),
        aggregate=state.get("charts_aggregate") or "mean_std",
        x=x,
        smooth=float(state.get("charts_smooth") or 0.0),
        log=tuple(a for a in ("x", "y") if state.get(f"charts_log_{a}")),
        hide_outliers=bool(state.get("charts_outliers")),
        bar=state.get("charts_bar") or "last",
        axes=_axes(state.get("charts_chart")),
    )


def _axes(chart: str | None) -> tuple[str, ...]:
    names = {"scatter": ("x", "y"), "contour": ("x", "y", "z")}.get(chart or "", ())
    return tuple(v for v in (st.session_state.get(f"charts_ax_{a}") for a in names) if v)


# the view ------------------------------------------------------------------------------------------
def charts_view(experiment: ExperimentInfo) -> None:
    _seed_from_url()
    _keep_line_settings()
    problems: list[str] = list(st.session_state.pop("charts_url_problems", []))
    filter_text = st.text_input(
        "Filter runs",
        key="charts_filter",
        placeholder="metrics.accuracy > 0.9 AND params.lr = '0.01'",
        help="MLflow's search syntax, as on the table.",
    )
    filter_message = st.container()
    chart = (
        st.segmented_control(
            "Chart", list(CHART_TYPES), key="charts_chart", format_func=CHART_TYPES.__getitem__
        )
        or "lines"
    )
    if chart != "images":
        prefetch(PLOTLY)  # the chart is this view's content: its code loads while the runs are read
    limit = LINE_RUNS if chart in ("lines", "images") else TABLE_RUNS
    try:
        with st.spinner("Reading runs…"):
            result = cached_read(_runs, experiment.experiment_id, filter_text.strip(), limit)
    except BadInput as exc:
        with filter_message:
            show_error(exc)
        return
    finally:
        set_query(filter=filter_text.strip() or None)
    runs = result.runs
    if runs.empty:
        st.info("No runs match." if filter_text.strip() else "This experiment has no runs yet.")
        return
    more = (
        f" (the newest {limit:,}: the experiment has more; narrow the filter to choose others)"
        if result.truncated
        else ""
    )
    message = st.container()
    metrics = [c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics.")]
    groupable = [c for c in runs.columns if c.startswith(("params.", "tags.")) and c != LOGGED_IMAGES_TAG]
    _keep("charts_metrics", metrics, "charts_metrics_wanted", metrics[:1], problems, "metric")
    _keep("charts_group_by", groupable, "charts_group_by_wanted", [], problems, "group by")
    st.caption(f"{len(runs):,} runs{more}.")
    if chart in ("lines", "bar", "box"):
        left, right = st.columns(2)
        left.multiselect(
            "Metrics", metrics, key="charts_metrics", max_selections=None if chart == "lines" else 1
        )
        right.multiselect(
            "Group by",
            groupable,
            key="charts_group_by",
            help="Params or tags; several keys make one group per combination.",
        )
    draw = {
        "lines": _lines_chart,
        "bar": _bar_chart,
        "scatter": _scatter_chart,
        "contour": _scatter_chart,
        "box": _box_chart,
        "parallel": _parallel_chart,
        "images": _image_grid,
    }[chart]
    with section(CHART_TYPES[chart]):
        draw(result, metrics, problems)
    with message:
        for problem in problems:
            st.warning(f"Link: {plain(problem)}", icon=":material/link_off:")
    keep_for_the_charts("charts_url_problems", problems)
    set_query(**chart_query(_spec()))


def _groups(runs: pd.DataFrame, spec: ChartSpec) -> pd.Series | None:
    return group_labels(runs, spec.group_by) if spec.group_by else None


def _names(runs: pd.DataFrame) -> dict[str, str]:
    return {r: (n or r[:8]) for r, n in zip(runs["run_id"], runs["run_name"], strict=True)}


def _resolve_x(metrics: list[str], problems: list[str]) -> list[str]:
    """The x axes these runs offer, with the chosen one among them (a link's unknown metric named)."""
    xs = [*X_BASES, *(f"{METRIC_X}{m}" for m in metrics)]
    wanted = st.session_state.pop("charts_x_wanted", None)
    if wanted is not None and wanted not in xs:
        problems.append(f"x {wanted!r}: none of these runs logged that metric; showing step")
    _one("charts_x", xs, wanted)
    return xs


def _line_settings(xs: list[str], grouped: bool) -> None:
    """The line settings, in a panel whose controls are sent only while it is open: six controls
    cost the view's first paint more than most visits use them. Opened at first when the link
    changes one of them; shut, the chart's caption names what they apply."""
    opened = st.session_state.setdefault(_SETTINGS_OPENED, bool(line_settings_in_words(_spec())))
    panel = st.expander(
        "Line settings", icon=":material/tune:", expanded=opened, key=_SETTINGS_OPEN, on_change="rerun"
    )
    if not panel.open:
        return
    row = panel.columns([2, 2, 2, 1, 1, 1])
    row[0].selectbox(
        "x axis",
        xs,
        key="charts_x",
        format_func=lambda x: X_BASES.get(x) or f"metric {x.removeprefix(METRIC_X)}",
    )
    row[1].selectbox(
        "Band",
        list(AGGREGATES),
        key="charts_aggregate",
        format_func=AGGREGATES.__getitem__,
        disabled=not grouped,
        help="How each group's runs are summed up at every x",
    )
    row[2].slider("Smoothing (EMA)", 0.0, MAX_SMOOTHING, step=0.01, key="charts_smooth")
    row[3].toggle("Log x", key="charts_log_x")
    row[4].toggle("Log y", key="charts_log_y")
    row[5].toggle("Hide outliers", key="charts_outliers", help="Zoom the y axis to the 5th–95th percentile")


def _keep_line_settings() -> None:
    """Keep the line settings' values through runs whose panel is shut.

    Streamlit drops a widget's value at the end of a run that did not render the widget, but keeps a
    value the script assigned (Streamlit's documented way to keep widget state): each is assigned to
    itself before anything is drawn.
    """
    for key in LINE_SETTINGS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _lines_chart(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    _line_settings(_resolve_x(metrics, problems), bool(_spec().group_by))
    spec = _spec()
    if not spec.metrics:
        st.info("Choose a metric to draw.")
        return
    # Ungrouped, many lines share the figure's points: read coarser kept summaries (at most as many
    # lines as runs x metrics); grouped, each band is made from the full-resolution summaries.
    points = SUMMARY_POINTS if spec.group_by else charts.line_budget(len(runs) * len(spec.metrics))
    groups = _groups(runs, spec)
    with st.spinner(f"Reading {len(runs):,} runs' histories…"):
        chart = cached_read(
            _line_chart, tuple(Registry.run_stamps(runs)), spec, points,
            None if groups is None else tuple(groups.items()), tuple(_names(runs).items()), ttl=SUMMARY_TTL_S,
        )  # fmt: skip
    if len(chart.runs_drawn) < len(runs):
        st.caption(
            f"{len(runs) - len(chart.runs_drawn):,} of {len(runs):,} runs logged none of these metrics"
            + (" against that x." if spec.x_metric else ".")
        )
    if not chart.runs_drawn:
        st.info("None of these runs logged the chosen metrics.")
        return
    if groups is not None:
        drawn = (
            f"{len(chart.runs_drawn):,} runs in {chart.drawn['group'].nunique():,} groups, "
            f"each drawn as its {AGGREGATES[spec.aggregate]}"
        )
    else:
        drawn = (
            f"{len(chart.runs_drawn):,} runs drawn, {chart.lines:,} lines of at most {points:,} points each "
            "(first, last, lowest and highest kept)"
        )
    applied = line_settings_in_words(replace(spec, aggregate=ChartSpec.aggregate))  # the band is named
    st.caption(drawn + "".join(f"; {plain(s)}" for s in applied) + ".")
    plotly_chart(chart.figure, at_once=True, key="charts_lines_chart", config={"displaylogo": False})
    _export(chart.drawn, chart.runs_drawn, spec.metrics)


def _line_chart(
    reg: Registry,
    stamps: tuple[RunStamp, ...],
    spec: ChartSpec,
    points: int,
    groups: tuple[tuple[str, str], ...] | None,
    names: tuple[tuple[str, str], ...],
) -> charts.LineChart:
    """The line chart and what it drew, cached whole: a rerun (a click elsewhere) redraws nothing."""
    keys = tuple(dict.fromkeys([*spec.metrics, *([spec.x_metric] if spec.x_metric else [])]))
    history, _ = _lines(reg, stamps, keys, points)
    group_of = None if groups is None else pd.Series(dict(groups), dtype=object)
    return charts.line_chart(history, spec, group_of, dict(names), points)


def _export(drawn: pd.DataFrame, run_ids: tuple[str, ...], keys: Sequence[str]) -> None:
    left, right = st.columns(2)
    left.download_button(
        "Data as drawn (CSV)",
        lambda: drawn.to_csv(index=False),
        "chart.csv",
        "text/csv",
        key="charts_csv_drawn",
        on_click="ignore",
    )
    right.download_button(
        "Full resolution (CSV)",
        lambda: cached_read(_full_history, run_ids, tuple(keys)).to_csv(index=False),
        "chart-full.csv",
        "text/csv",
        key="charts_csv_full",
        on_click="ignore",
        help="Every logged point of the drawn runs' metrics, read when you click",
    )


def _per_run_values(runs: pd.DataFrame, metric: str, value: str) -> pd.DataFrame:
    if value == "last":
        return pd.DataFrame(
            {"run_id": runs["run_id"], "value": pd.to_numeric(runs[f"metrics.{metric}"], errors="coerce")}
        )
    _, stats = cached_read(_lines, tuple(Registry.run_stamps(runs)), (metric,), ttl=SUMMARY_TTL_S)
    return pd.DataFrame({"run_id": runs["run_id"]}).merge(
        stats[["run_id", value]].rename(columns={value: "value"}), how="left"
    )


def _bar_chart(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    spec = _spec()
    left, right, third = st.columns(3)
    left.selectbox("Value per run", list(BAR_VALUES), key="charts_bar", format_func=BAR_VALUES.__getitem__)
    right.selectbox(
        "Band",
        list(AGGREGATES),
        key="charts_aggregate",
        format_func=AGGREGATES.__getitem__,
        disabled=not spec.group_by,
    )
    third.toggle("Log y", key="charts_log_y")
    spec = _spec()
    if not spec.metrics:
        st.info("Choose a metric.")
        return
    metric = spec.metrics[0]
    values = _per_run_values(runs, metric, spec.bar).assign(run=lambda f: f["run_id"].map(_names(runs)))
    bars = charts.bar_frame(values, _groups(runs, spec), spec.aggregate)
    missing = int(values["value"].isna().sum())
    st.caption(
        f"{len(bars):,} bars"
        + (f"; {missing:,} runs have no value for {plain(metric)}" if missing else "")
        + "."
    )
    plotly_chart(
        charts.bar_figure(bars, metric, spec.bar, "y" in spec.log),
        at_once=True,
        key="charts_bar_chart",
        config={"displaylogo": False},
    )
    st.download_button(
        "Data as drawn (CSV)",
        lambda: bars.to_csv(index=False),  # written on click: no CSV kept per session
        "bars.csv",
        "text/csv",
        key="charts_csv_drawn",
        on_click="ignore",
    )


def _axis_columns(result: ExperimentRuns) -> list[str]:
    runs = result.runs
    numeric = [*result.numeric_params, *(c for c in runs.columns if c.startswith("metrics."))]
    return [
        *numeric,
        "duration_s",
        *(c for c in runs.columns if c.startswith(("params.", "tags.")) and c not in numeric),
    ]


def _scatter_chart(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    contour = st.session_state.get("charts_chart") == "contour"
    offered = _axis_columns(result)
    wanted = st.session_state.pop("charts_axes_wanted", [])
    chosen = _resolve(wanted, offered, "axis", problems)
    metric_cols = [c for c in offered if c.startswith("metrics.")]
    defaults = [
        offered[0] if offered else None,
        metric_cols[0] if metric_cols else None,
        metric_cols[-1] if metric_cols else None,
    ]
    for index, axis in enumerate(("x", "y", "z")):
        _one(f"charts_ax_{axis}", offered, chosen[index] if index < len(chosen) else defaults[index])
    cols = st.columns(4 if contour else 3)
    cols[0].selectbox("x", offered, key="charts_ax_x")
    cols[1].selectbox("y", offered, key="charts_ax_y")
    if contour:
        cols[2].selectbox("Colour (mean)", offered, key="charts_ax_z")
    else:
        cols[2].multiselect(
            "Colour by group",
            [c for c in offered if c.startswith(("params.", "tags."))],
            key="charts_group_by",
        )
    cols[-1].toggle("Log x", key="charts_log_x")
    spec = _spec()
    axes = list(spec.axes[:3] if contour else spec.axes[:2])
    points = charts.points_frame(runs, axes, None if contour else _groups(runs, spec))
    st.caption(f"{len(points):,} of {len(runs):,} runs have a value for every axis.")
    fig = (
        charts.contour_figure(points, *axes)
        if contour
        else charts.runs_scatter_figure(points, axes[0], axes[1], spec)
    )
    plotly_chart(fig, at_once=True, key="charts_scatter_chart", config={"displaylogo": False})
    st.download_button(
        "Data as drawn (CSV)",
        lambda: points.to_csv(index=False),
        "points.csv",
        "text/csv",
        key="charts_csv_drawn",
        on_click="ignore",
    )


def _box_chart(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    spec = _spec()
    if not spec.metrics:
        st.info("Choose a metric.")
        return
    points = charts.points_frame(runs, [f"metrics.{spec.metrics[0]}"], _groups(runs, spec))
    st.caption(f"{len(points):,} runs with a value for {plain(spec.metrics[0])}.")
    plotly_chart(
        charts.box_figure(points, f"metrics.{spec.metrics[0]}", "y" in spec.log),
        at_once=True,
        key="charts_box_chart",
        config={"displaylogo": False},
    )
    st.download_button(
        "Data as drawn (CSV)",
        lambda: points.to_csv(index=False),
        "box.csv",
        "text/csv",
        key="charts_csv_drawn",
        on_click="ignore",
    )


def _parallel_chart(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    params = list(result.numeric_params)
    metric_cols = [f"metrics.{m}" for m in metrics]
    if not params or not metric_cols:
        st.info("Parallel coordinates need numeric params and a metric.")
        return
    _keep("charts_pc_params", params, "charts_pc_params_wanted", params[:6], problems, "param")
    _one("charts_pc_metric", metric_cols, None)
    left, right = st.columns([3, 1])
    chosen = left.multiselect("Numeric params", params, key="charts_pc_params")
    metric = right.selectbox("Metric", metric_cols, key="charts_pc_metric")
    if not chosen:
        st.info("Choose at least one param.")
        return
    data = charts.points_frame(runs, [*chosen, metric])
    lines = lines_to_draw(data, metric)
    shown = (
        f"{len(lines):,} of {len(data):,} runs drawn, evenly spread over the ranking "
        "(the best and worst always in)"
        if len(lines) < len(data)
        else f"{len(data):,} runs drawn"
    )
    st.caption(f"{shown}; {len(runs) - len(data):,} without all of these values left out.")
    figure = parallel_coordinates_figure(lines, chosen, metric)
    plotly_chart(figure, at_once=True, key="charts_parallel_chart")


def _image_grid(result: ExperimentRuns, metrics: list[str], problems: list[str]) -> None:
    runs = result.runs
    names = _names(runs)
    with_images = [
        r
        for r, flag in zip(
            runs["run_id"], runs.get(LOGGED_IMAGES_TAG, pd.Series(None, index=runs.index)), strict=True
        )
        if str(flag).lower() == "true"
    ]
    if not with_images:
        st.info("None of these runs logged images with a step (mlflow.log_image(image, key=..., step=...)).")
        return
    _keep(
        "charts_image_runs",
        with_images,
        "charts_image_runs_wanted",
        with_images[:IMAGE_COLUMNS],
        problems,
        "run",
    )
    chosen = st.multiselect(
        "Runs",
        with_images,
        key="charts_image_runs",
        format_func=lambda r: names.get(r, r),
        max_selections=IMAGE_RUNS,
    )
    images = {run_id: cached_read(_images, run_id) for run_id in chosen}
    keys = sorted({i.key for found in images.values() for i in found})
    if not keys:
        st.info("The chosen runs have no step images.")
        return
    _one("charts_image_key", keys, None)
    key = st.selectbox("Image", keys, key="charts_image_key")
    steps = sorted({i.step for found in images.values() for i in found if i.key == key})
    _one("charts_image_step", steps, steps[-1])
    step = st.select_slider("Step", steps, key="charts_image_step") if len(steps) > 1 else steps[0]
    st.caption(f"{plain(key)} at step {step}: each run's last image at or before it.")
    for start in range(0, len(chosen), IMAGE_COLUMNS):
        for column, run_id in zip(
            st.columns(IMAGE_COLUMNS), chosen[start : start + IMAGE_COLUMNS], strict=False
        ):
            with column:
                st.caption(plain(names.get(run_id, run_id)))
                found = image_at(images[run_id], key, step)
                if found is None:
                    st.caption("no image yet")
                    continue
                with section("image"):
                    st.image(cached_read(_image, run_id, found.preview_path), caption=f"step {found.step}")
