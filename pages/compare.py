"""Compare: 2 to 50 runs side by side. What differs, by how much against a baseline, which is best,
how their metrics moved, how params relate to a metric, and what changed in a text artifact.

URL: `?runs=a,b,c&baseline=a&diffonly=1&metrics=loss,acc&x=step&smooth=0.6&logy=1`
`&pcp=params.lr,params.depth&pcm=metrics.acc&sx=params.lr&sy=metrics.acc&diffrun=b&artifact=MLmodel`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from pages.views.figures import (
    MAX_SMOOTHING,
    X_AXES,
    kept_history_figure,
    parallel_coordinates_data,
    parallel_coordinates_figure,
    scatter_figure,
    svg_points_per_line,
)
from pages.views.first_paint import plotly_chart
from pages.views.run_picker import pick_recent_runs
from pages.views.shared import (
    cached_read,
    plain,
    query_list,
    query_param,
    section,
    set_query,
    table,
    through_app,
)
from registry.domain import diff
from registry.domain.columns import numeric_columns
from registry.service import Registry
from registry.store.compare import ComparedRuns

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)


def _choice(key: str, options: Sequence[str], default: str | None) -> None:
    """Seed a select widget from the URL once, and keep its value among the current options."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else (options[0] if options else None)


def _choices(key: str, options: Sequence[str], default: Sequence[str]) -> None:
    """The same for a multiselect: keep the chosen values that are still offered."""
    if key not in st.session_state:
        st.session_state[key] = [v for v in default if v in options]
    else:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]


def _url_float(name: str, default: float, low: float, high: float) -> float:
    try:
        return round(min(max(float(query_param(name) or default), low), high), 2)
    except ValueError:
        return default


def load() -> ComparedRuns | None:
    compared = cached_read(Registry.load_runs, tuple(query_list("runs")))
    if compared.missing:
        st.warning(
            f"Left out {len(compared.missing)} run id(s) that name no run: "
            f"{plain(', '.join(compared.missing))}",
            icon=":material/search:",
        )
    if len(compared.runs) < diff.MIN_RUNS:
        st.error(
            f"compare: fewer than {diff.MIN_RUNS} of the chosen runs exist; choose others.",
            icon=":material/warning:",
        )
        return None
    return compared


def pick_baseline(ids: list[str], labels: dict[str, str]) -> str:
    _choice("cmp_baseline", ids, query_param("baseline"))
    baseline = st.selectbox(
        "Baseline run", ids, key="cmp_baseline", format_func=labels.get, help="Deltas are against this run."
    )
    set_query(baseline=None if baseline == ids[0] else baseline)
    return baseline


def diff_section(runs: pd.DataFrame, baseline: str, labels: dict[str, str]) -> None:
    st.subheader("What differs")
    fields = diff.diff_table(runs)
    st.session_state.setdefault("cmp_diffonly", query_param("diffonly") == "1")
    only = st.toggle("Only differences", key="cmp_diffonly")
    set_query(diffonly="1" if only else None)
    shown = diff.only_differences(fields) if only else fields
    st.caption(
        f"{int(fields[diff.DIFFERS].sum())} of {len(fields)} fields differ. Highlighted: a value that is not "
        "the baseline's. Bold green: the best value of a metric; lower is better when the name contains "
        f"{', '.join(diff.LOWER_IS_BETTER)}, higher otherwise."
    )
    if shown.empty:
        st.info(
            "All params, metrics and tags are the same."
            if only
            else "These runs have no params, metrics or tags."
        )
        return
    display = diff.display_table(shown, labels)
    styles = diff.cell_styles(display, shown, baseline, labels)
    table(
        display.style.apply(lambda _: styles, axis=None),
        width="stretch",
        key="cmp_diff_table",
        column_config={diff.DIFFERS: st.column_config.CheckboxColumn("differs", width="small")},
    )
    csv_col, md_col = st.columns(2)
    csv_col.download_button(
        "Table as CSV", lambda: display.rename_axis("field").to_csv(), "compare.csv", "text/csv",
        key="cmp_diff_csv", on_click="ignore",
    )  # fmt: skip
    md_col.download_button(
        "Table as Markdown", lambda: diff.markdown_table(display), "compare.md", "text/markdown",
        key="cmp_diff_md", on_click="ignore", help="For a pull request or a model card",
    )  # fmt: skip


def deltas_section(runs: pd.DataFrame, baseline: str, labels: dict[str, str]) -> None:
    st.subheader("Metrics against the baseline")
    deltas = diff.baseline_deltas(diff.diff_table(runs, sections=("metrics",)), baseline)
    if deltas.empty:
        st.caption("These runs logged no metrics.")
        return
    against = diff.deltas_table(deltas, list(runs["run_id"])).rename(columns=labels)
    table(against, width="stretch", key="cmp_deltas_table")
    st.caption("Each cell: the run's value, then Δ = value − baseline and the change as % of |baseline|.")


def history_section(runs: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Metric history")
    keys = [c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics.")]
    if not keys:
        st.caption("These runs logged no metrics.")
        return
    _choices("cmp_metrics", keys, query_list("metrics") or keys[:1])
    st.session_state.setdefault("cmp_x", query_param("x") if query_param("x") in X_AXES else "step")
    st.session_state.setdefault("cmp_smooth", _url_float("smooth", 0.0, 0.0, MAX_SMOOTHING))
    st.session_state.setdefault("cmp_logy", query_param("logy") == "1")
    chosen = st.multiselect("Metrics", keys, key="cmp_metrics")
    x_col, smooth_col, log_col = st.columns([2, 2, 1])
    x = x_col.radio("x axis", list(X_AXES), key="cmp_x", format_func=X_AXES.get, horizontal=True)
    smoothing = smooth_col.slider("Smoothing (EMA)", 0.0, MAX_SMOOTHING, step=0.01, key="cmp_smooth")
    log_y = log_col.toggle("Log y", key="cmp_logy")
    set_query(
        metrics=chosen or None,
        x=None if x == "step" else x,
        smooth=f"{smoothing:g}" if smoothing else None,
        logy="1" if log_y else None,
    )
    if not chosen:
        st.caption("Choose metrics to chart.")
        return
    per_line = svg_points_per_line(len(runs) * len(chosen))
    with st.spinner("Loading metric histories…"):
        figure = cached_read(
            kept_history_figure, tuple(Registry.run_stamps(runs)), tuple(chosen), x, smoothing, log_y,
            tuple(labels.items()), per_line,
        )  # fmt: skip
    plotly_chart(figure, key="cmp_history_chart")
    st.caption(f"At most {per_line} points per line (first, last, min and max always kept).")


def parallel_section(runs: pd.DataFrame) -> None:
    st.subheader("Params → metric")
    params = numeric_columns(runs, "params.")
    metrics = [c for c in runs.columns if c.startswith("metrics.")]
    if not params or not metrics:
        st.caption("Parallel coordinates need numeric params and a metric.")
        return
    _choices("cmp_pc_params", params, query_list("pcp") or params[:6])
    _choice("cmp_pc_metric", metrics, query_param("pcm"))
    left, right = st.columns([3, 1])
    chosen = left.multiselect("Numeric params", params, key="cmp_pc_params")
    metric = right.selectbox("Metric", metrics, key="cmp_pc_metric")
    set_query(pcp=chosen or None, pcm=metric)
    if not chosen:
        st.caption("Choose at least one param.")
        return
    drawn = len(parallel_coordinates_data(runs, chosen, metric))
    if drawn < len(runs):
        st.caption(f"{len(runs) - drawn} run(s) without all of these values are left out.")
    plotly_chart(parallel_coordinates_figure(runs, chosen, metric), key="cmp_parallel_chart")


def scatter_section(runs: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Scatter")
    metrics = [c for c in runs.columns if c.startswith("metrics.")]
    axes = [c for c in runs.columns if c.startswith("params.")] + metrics
    if not metrics:
        st.caption("A scatter needs a metric on the y axis.")
        return
    _choice("cmp_sx", axes, query_param("sx"))
    _choice("cmp_sy", metrics, query_param("sy") or metrics[0])
    left, right = st.columns(2)
    x = left.selectbox("x: a param or metric", axes, key="cmp_sx")
    y = right.selectbox("y: a metric", metrics, key="cmp_sy")
    set_query(sx=x, sy=y)
    plotly_chart(scatter_figure(runs, x, y, names=labels), key="cmp_scatter_chart")


def artifact_section(ids: list[str], baseline: str, labels: dict[str, str]) -> None:
    st.subheader("Artifact diff")
    others = [r for r in ids if r != baseline]
    _choice("cmp_diff_run", others, query_param("diffrun"))
    other = st.selectbox(
        "Compare the baseline with",
        others,
        key="cmp_diff_run",
        format_func=labels.get,
    )
    with st.spinner("Listing artifacts…"):
        paths = cached_read(Registry.diffable_paths, (baseline, other))
    if not paths:
        st.caption("Neither run has artifacts or logged models.")
        return
    preferred = query_param("artifact") or next(
        (p for p in paths if p.endswith(("/MLmodel", "MLmodel"))), None
    )
    _choice("cmp_artifact", paths, preferred)
    path = st.selectbox(
        "File",
        paths,
        key="cmp_artifact",
        help="logged-model:<name>/<file> reads the file of each run's logged model",
    )
    set_query(diffrun=None if other == others[0] else other, artifact=path)
    with section("Artifact diff"), st.spinner("Comparing…"):
        result = cached_read(Registry.artifact_diff, baseline, other, path)
        if result.only_in:
            st.caption(f"Only {plain(labels.get(result.only_in, result.only_in))} has this file.")
        if result.identical:
            st.success("The two files are identical.", icon=":material/check_circle:")
        else:
            st.code(result.diff, language="diff")
            if result.truncated:
                st.caption("The diff is cut short; download both files to see all of it.")


# The slow parts (histories, artifact downloads) and the charts are fragments: changing one of their
# widgets reruns that part alone, and the diff above it is not read or sent again.
@st.fragment
def history_part(frame: pd.DataFrame, labels: dict[str, str]) -> None:
    with section("Metric history"):
        history_section(frame, labels)


@st.fragment
def parallel_part(frame: pd.DataFrame) -> None:
    with section("Parallel coordinates"):
        parallel_section(frame)


@st.fragment
def scatter_part(frame: pd.DataFrame, labels: dict[str, str]) -> None:
    with section("Scatter"):
        scatter_section(frame, labels)


@st.fragment
def artifact_part(ids: list[str], baseline: str, labels: dict[str, str]) -> None:
    with section("Artifact diff"):
        artifact_section(ids, baseline, labels)


def choose_runs() -> None:
    """The empty state: pick runs among the newest, or go find them in their experiment."""
    st.caption(f"Choose {diff.MIN_RUNS} to {diff.MAX_RUNS} of the newest runs, or find them by experiment.")
    chosen = pick_recent_runs("cmp_pick", multiple=True)
    can_compare = diff.MIN_RUNS <= len(chosen) <= diff.MAX_RUNS
    left, right = st.columns(2)
    if left.button(
        f"Compare {len(chosen)} runs" if chosen else "Compare",
        key="cmp_pick_compare",
        type="primary",
        disabled=not can_compare,
        width="stretch",
    ):
        st.switch_page("pages/compare.py", query_params={"runs": ",".join(chosen)})
    right.page_link("pages/runs.py", label="Experiments & runs", icon=":material/science:")


st.title("Compare runs")
compared: ComparedRuns | None = None
if not query_list("runs"):  # opened from the sidebar: an empty state, not an error
    with section("Recent runs"):
        choose_runs()
else:
    with section("Runs"):
        compared = load()
    if compared is None:
        with section("Recent runs"):
            choose_runs()
if compared is not None:
    frame = compared.runs
    run_ids = list(frame["run_id"])
    labels = diff.unique_labels(run_ids, dict(zip(frame["run_id"], frame["run_name"], strict=True)))
    st.caption(f"{len(run_ids)} runs; each column is labelled with the run's name and the start of its id.")
    with section("Baseline"):
        base = pick_baseline(run_ids, labels)
    with section("Diff"):
        diff_section(frame, base, labels)
    with section("Deltas"):
        deltas_section(frame, base, labels)
    history_slot = st.container()  # filled last: the cheap parts below show first
    parallel_part(frame)
    scatter_part(frame, labels)
    artifact_slot = st.container()
    with history_slot:
        history_part(frame, labels)
    with artifact_slot:
        artifact_part(run_ids, base, labels)
