"""Experiments & runs: pick an experiment, filter, order and page through its runs; open or compare them.

URL: `?experiment=<id>&filter=<mlflow filter>&order=<order_by clause>&cols=<columns>`. Paging is on the
server: the page tokens live in session_state (a token is only valid for the query that made it).
`&view=Whole experiment` shows every run at once instead (read straight from the tracking database
when the URI is one, see registry/store/fastpath.py): a sortable table and params → metric in parallel
coordinates. `&view=charts` (the Charts tab) draws the filtered runs as charts: see
pages/views/charts_view.py and chart_spec.py for its URL. Only the open tab runs, so the paged view
never pays for the whole experiment.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.views import run_table
from pages.views.charts_view import charts_view
from pages.views.columns import open_link
from pages.views.figures import (
    PARALLEL_MAX_LINES,
    lines_to_draw,
    parallel_coordinates_data,
    parallel_coordinates_figure,
)
from pages.views.first_paint import plotly_chart
from pages.views.shared import (
    cached_read,
    plain,
    query_list,
    query_param,
    section,
    set_query,
    shared_read,
    show_error,
    table,
    through_app,
)
from pages.views.url_tabs import url_tabs
from registry.domain.diff import MAX_RUNS, MIN_RUNS
from registry.errors import BadInput
from registry.service import Registry
from registry.store.activity import COUNT_CAP
from registry.store.experiments import ExperimentInfo
from registry.store.runs import RunsPage
from registry.store.summaries import RunStamp

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

PAGE_SIZES = [25, 50, 100, 200]
PARALLEL_LINES = [500, 1000, PARALLEL_MAX_LINES]  # whole experiment: the first is what opens quickly
# The tabs, each with its name in the URL (`view=charts`; pages/views/url_tabs.py).
VIEWS = {"Pages": None, "Whole experiment": "Whole experiment", "Charts": "charts"}


RUN_COLUMNS = {
    "run_id": None,
    "open": open_link("Open"),
    "duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f"),
    "start_time": st.column_config.DatetimeColumn("start (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "end_time": st.column_config.DatetimeColumn("end (UTC)", format="YYYY-MM-DD HH:mm:ss"),
}
GLANCE_COLUMNS = {
    "last activity": st.column_config.DatetimeColumn("last activity (UTC)", format="YYYY-MM-DD HH:mm"),
}


def _label(info: ExperimentInfo) -> str:
    return f"{info.name}  ({info.experiment_id})"


def experiments_at_a_glance() -> str | None:
    """Every experiment with its run count and last activity, the most recently active first; a
    selected row opens that experiment. Returns the most recently active one (the default choice)."""
    activity = cached_read(Registry.experiment_activity, ttl=60)
    if not activity:
        return None
    # Open unless the session began on a link to an experiment; decided once, as the page sets the
    # experiment in the URL itself afterwards.
    opened = st.session_state.setdefault("runs_glance_opened", not query_param("experiment"))
    glance = st.expander(
        f"All experiments ({len(activity):,})",
        expanded=opened,
        key="runs_glance_open",
        on_change="rerun",  # lazy: closed (a link named the experiment), its table is not sent
    )
    if not glance.open:
        return activity[0].experiment_id
    with glance:
        frame = run_table.experiments_frame(activity)
        event = table(
            frame,
            key="runs_glance",
            on_select="rerun",
            selection_mode="single-row",
            hide_index=True,
            width="stretch",
            height=min(250, 38 + 35 * len(frame)),
            column_config=GLANCE_COLUMNS,
        )
        if any(e.runs_capped for e in activity):
            st.caption(f"Runs counted up to {COUNT_CAP} per experiment over HTTP: that many means at least.")
        rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
        picked = str(frame["id"].iloc[rows[0]]) if rows and 0 <= rows[0] < len(frame) else None
        if picked != st.session_state.get("runs_glance_seen"):  # act on a new selection only
            st.session_state["runs_glance_seen"] = picked
            if picked:
                st.session_state["runs_experiment"] = picked
    return activity[0].experiment_id


def pick_experiment(most_active: str | None) -> ExperimentInfo | None:
    """The experiment from the URL (id or name) or the picker, else the most recently active one; the
    search narrows the choices."""
    search_col, pick_col = st.columns([1, 2])
    search = search_col.text_input("Search experiments", key="runs_exp_search", placeholder="part of a name")
    found = cached_read(Registry.experiments, search)
    choices = {e.experiment_id: e for e in found}
    current = st.session_state.get("runs_experiment") or query_param("experiment") or most_active
    if current and current not in choices:
        try:
            info = cached_read(Registry.experiment, current)
            choices = {info.experiment_id: info, **choices}
            current = info.experiment_id
        except BadInput as exc:
            show_error(exc, "experiment")
            current = None
    if not choices:
        pick_col.info(
            "No experiment matches the search." if search else "No experiments yet: log a run to start."
        )
        return None
    if current not in choices:
        current = next(iter(choices))
    st.session_state["runs_experiment"] = current
    chosen = pick_col.selectbox(
        "Experiment", list(choices), key="runs_experiment", format_func=lambda i: _label(choices[i])
    )
    return choices[chosen]


def _reset_paging(signature: tuple) -> None:
    if st.session_state.get("runs_signature") != signature:
        st.session_state["runs_signature"] = signature
        st.session_state["runs_tokens"] = [None]
        st.session_state["runs_page"] = 0
        st.session_state["runs_query_no"] = st.session_state.get("runs_query_no", 0) + 1


def _turn(step: int) -> None:
    st.session_state["runs_page"] = max(0, st.session_state.get("runs_page", 0) + step)


def runs_table(experiment: ExperimentInfo) -> None:
    st.session_state.setdefault("runs_filter", query_param("filter", "") or "")
    filter_text = st.text_input(
        "Filter runs",
        key="runs_filter",
        placeholder="metrics.accuracy > 0.9 AND params.lr = '0.01'",
        help="MLflow's search syntax: conditions on metrics., params., tags. and attributes., joined by AND.",
    )
    filter_message = st.container()
    st.caption("Examples: " + " · ".join(f"`{e}`" for e in run_table.FILTER_EXAMPLES))
    controls = st.container()

    order_column, ascending = run_table.parse_order(query_param("order", run_table.DEFAULT_ORDER) or "")
    st.session_state.setdefault("runs_order_col", order_column)
    st.session_state.setdefault("runs_order_asc", ascending)
    st.session_state.setdefault("runs_page_size", 50)
    try:
        order = run_table.order_clause(st.session_state["runs_order_col"], st.session_state["runs_order_asc"])
    except BadInput as exc:
        with filter_message:
            show_error(exc)
        order = run_table.DEFAULT_ORDER
    size = int(st.session_state["runs_page_size"])
    _reset_paging((experiment.experiment_id, filter_text.strip(), order, size))
    tokens: list[str | None] = st.session_state["runs_tokens"]
    page_index = min(st.session_state["runs_page"], len(tokens) - 1)
    st.session_state["runs_page"] = page_index

    page: RunsPage | None = None
    try:
        with st.spinner("Searching runs…"):
            page = cached_read(
                Registry.search_runs,
                experiment.experiment_id,
                filter_text.strip(),
                (order,),
                size,
                tokens[page_index],
            )
    except BadInput as exc:  # a bad filter or order: say so right under the box
        with filter_message:
            show_error(exc)
    set_query(experiment=experiment.experiment_id, filter=filter_text.strip() or None)
    set_query(order=None if order == run_table.DEFAULT_ORDER else order)
    if page is not None:
        del tokens[page_index + 1 :]
        if page.next_page_token:
            tokens.append(page.next_page_token)
    runs = page.runs if page is not None else pd.DataFrame(columns=["run_id", "run_name", "parent_run_id"])

    with controls:
        left, middle, right = st.columns([3, 1, 1])
        left.selectbox(
            "Order by (on the server)",
            run_table.order_choices(runs, st.session_state["runs_order_col"]),
            key="runs_order_col",
        )
        middle.toggle("Ascending", key="runs_order_asc")
        right.selectbox("Runs per page", PAGE_SIZES, key="runs_page_size")

    with section("Runs table"):
        if page is None:
            st.info("Fix the filter above to see runs.")
            return
        show_runs(runs, page_index, has_next=page.next_page_token is not None)


def choose_columns(runs: pd.DataFrame) -> list[str]:
    groups = run_table.column_groups(runs)
    offered = [c for group in groups.values() for c in group]
    default = run_table.default_columns(runs)
    if "runs_columns" not in st.session_state:
        st.session_state["runs_columns"] = query_list("cols") or default
    elif st.session_state["runs_columns"] == st.session_state.get("runs_columns_default"):
        st.session_state["runs_columns"] = default  # not customised: follow the experiment's columns
    st.session_state["runs_columns_default"] = default
    chosen = st.session_state["runs_columns"]
    options = list(dict.fromkeys(offered + chosen))
    picked = st.multiselect(
        "Columns",
        options,
        key="runs_columns",
        help="Summary columns, params.*, metrics.* and tags.*; sort a page by clicking a header.",
    )
    set_query(cols=None if picked == default else picked)
    return picked


def _history_stats(reg: Registry, stamps: tuple[RunStamp, ...], keys: tuple[str, ...]) -> pd.DataFrame:
    return reg.line_tables(stamps, keys)[1]


def history_columns(runs: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """Optional columns of min / max / mean / last of a metric's whole history, for this page's runs."""
    metrics = [c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics.")]
    if "runs_hist_metrics" not in st.session_state:
        st.session_state["runs_hist_metrics"] = query_list("hist")
        st.session_state["runs_hist_stats"] = query_list("hist_stats") or list(run_table.HISTORY_STATS)
    st.session_state["runs_hist_metrics"] = [m for m in st.session_state["runs_hist_metrics"] if m in metrics]
    st.session_state["runs_hist_stats"] = [
        s for s in st.session_state.get("runs_hist_stats", []) if s in run_table.HISTORY_STATS
    ]
    left, right = st.columns([2, 1])
    chosen = left.multiselect(
        "History columns of",
        metrics,
        key="runs_hist_metrics",
        help="Each run's min, max, mean or last value over its whole history (read once per finished run).",
    )
    which = right.multiselect("Statistics", list(run_table.HISTORY_STATS), key="runs_hist_stats")
    set_query(hist=chosen or None, hist_stats=None if set(which) == set(run_table.HISTORY_STATS) else which)
    if not chosen or not which:
        return shown
    with st.spinner("Reading metric histories…"):
        stats = cached_read(_history_stats, tuple(Registry.run_stamps(runs)), tuple(chosen), ttl=300)
    return run_table.with_history_columns(shown, stats, chosen, which)


def show_runs(runs: pd.DataFrame, page_index: int, has_next: bool) -> None:
    picked = choose_columns(runs)
    nested = run_table.nest_children(runs)
    shown = nested[run_table.visible_columns(nested, picked)].assign(
        open=[f"run?run={r}" for r in nested["run_id"]]
    )
    shown = history_columns(runs, shown)
    st.caption(
        f"Page {page_index + 1}: {len(runs)} run(s). Child runs follow their parent, marked "
        f"{run_table.CHILD_MARK.strip()}. Select rows to open or compare them."
    )
    event = table(
        shown,
        key=f"runs_table_{st.session_state['runs_query_no']}_{page_index}",  # a new page starts unselected
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        column_config=RUN_COLUMNS,
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    selected = [nested["run_id"].iloc[r] for r in rows if 0 <= r < len(nested)]

    prev_col, next_col, open_col, compare_col = st.columns(4)
    prev_col.button(
        "← Previous", key="runs_prev", disabled=page_index == 0, on_click=_turn, args=(-1,), width="stretch"
    )
    next_col.button(
        "Next →", key="runs_next", disabled=not has_next, on_click=_turn, args=(1,), width="stretch"
    )
    if open_col.button("Open run", key="runs_open", disabled=len(selected) != 1, width="stretch"):
        st.switch_page("pages/run.py", query_params={"run": selected[0]})
    can_compare = MIN_RUNS <= len(selected) <= MAX_RUNS
    if compare_col.button(
        f"Compare {len(selected)} runs" if selected else "Compare",
        key="runs_compare",
        disabled=not can_compare,
        help=f"Select {MIN_RUNS} to {MAX_RUNS} runs",
        width="stretch",
    ):
        st.switch_page("pages/compare.py", query_params={"runs": ",".join(selected)})


def _keep_choices(key: str, options: list[str], default: list[str]) -> None:
    """Seed a multiselect once, and keep only the values this experiment still offers."""
    current = st.session_state.get(key)
    st.session_state[key] = default if current is None else [v for v in current if v in options]


def whole_experiment(experiment: ExperimentInfo) -> None:
    with st.spinner("Reading every run of the experiment…"):
        result = shared_read(Registry.experiment_runs, experiment.experiment_id)  # one frame, never copied
    runs = result.runs
    if runs.empty:
        st.info("This experiment has no runs yet.")
        return
    how = "straight from the tracking database" if result.source == "database" else "page by page from MLflow"
    more = " (the newest; the experiment has more)" if result.truncated else ""
    st.caption(f"All {len(runs):,} runs{more}, read {how}. Click a header to sort.")
    groups = run_table.column_groups(runs)
    offered = [c for group in groups.values() for c in group]
    _keep_choices("whole_columns", offered, run_table.default_columns(runs))
    picked = st.multiselect("Columns", offered, key="whole_columns")
    links = [f"run?run={r}" for r in runs["run_id"]]
    shown = runs[run_table.visible_columns(runs, picked)].assign(open=links)
    table(shown, key="whole_table", hide_index=True, width="stretch", column_config=RUN_COLUMNS)
    whole_parallel(runs, groups["metrics"], list(result.numeric_params))


@st.fragment
def whole_parallel(runs: pd.DataFrame, metrics: list[str], params: list[str]) -> None:
    """Params → metric over the whole experiment; its widgets rerun only this part, not the table."""
    st.subheader("Params → metric")
    if not params or not metrics:
        st.caption("Parallel coordinates need numeric params and a metric.")
        return
    _keep_choices("whole_pc_params", params, params[:6])
    if st.session_state.get("whole_pc_metric") not in metrics:
        st.session_state["whole_pc_metric"] = metrics[0]
    left, middle, right = st.columns([3, 1, 1])
    chosen = left.multiselect("Numeric params", params, key="whole_pc_params")
    metric = middle.selectbox("Metric", metrics, key="whole_pc_metric")
    st.session_state.setdefault("whole_pc_lines", PARALLEL_LINES[0])
    limit = right.selectbox("Lines drawn at most", PARALLEL_LINES, key="whole_pc_lines")
    if not chosen:
        st.caption("Choose at least one param.")
        return
    data = parallel_coordinates_data(runs, chosen, metric)
    if len(data) < len(runs):
        st.caption(f"{len(runs) - len(data):,} run(s) without all of these values are left out.")
    lines = lines_to_draw(data, metric, limit)
    if len(lines) < len(data):
        st.caption(
            f"{len(lines):,} of {len(data):,} runs drawn, evenly spread over the ranking by {plain(metric)} "
            "(the best and the worst always in): a browser draws thousands of lines in seconds."
        )
    plotly_chart(parallel_coordinates_figure(lines, chosen, metric), key="whole_parallel_chart")


st.title("Experiments & runs")
chosen_experiment: ExperimentInfo | None = None
most_active: str | None = None
with section("All experiments"):  # the overview failing must not hide the experiment a link names
    most_active = experiments_at_a_glance()
with section("Experiment"):
    chosen_experiment = pick_experiment(most_active)
if chosen_experiment is not None:
    st.caption(
        f"Experiment **{plain(chosen_experiment.name)}** · id {plain(chosen_experiment.experiment_id)} · "
        f"artifacts at {plain(chosen_experiment.artifact_location)}"
    )
    paged_tab, whole_tab, charts_tab = url_tabs(VIEWS, key="runs_view", param="view")
    if paged_tab.open:
        with paged_tab, section("Runs"):
            runs_table(chosen_experiment)
    if whole_tab.open:
        with whole_tab, section("Whole experiment"):
            whole_experiment(chosen_experiment)
    if charts_tab.open:
        with charts_tab, section("Charts"):
            charts_view(chosen_experiment)
