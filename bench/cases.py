"""What the benchmark measures: each page of ours, with its URL in our app and in MLflow's own UI.

A case names the store it reads, the page and query for AppTest and the browser, and for each UI a
CSS selector (or a JavaScript predicate) that is true once the first rows or the first chart are on
screen. MLflow's selectors were found on MLflow 3.17.2's UI:
  runs table        ag-grid rows:        `.ag-center-cols-container .ag-row`
  metric charts     plotly in the cards: `[data-testid="experiment-view-compare-runs-card"] .js-plotly-plot`
  run page          "About this run":    `[data-testid="key-value-Status"]`
  registered models table links:         `[role="cell"] a[href="#/models/model-000"]` (the name is in a
                                         <span> inside the link, so `a:text-is(...)` never matched)
  model versions    versions table:      `[data-testid="model-version-table"] a:has-text("Version ")`
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

# Streamlit: the first data cell of a dataframe, and a drawn plotly figure. `st.dataframe` paints on a
# canvas; its grid writes the cells it drew into an accessible <table> that is in the DOM but never
# "visible" to Playwright (no box), so our table counts as shown once a cell is attached.
OUR_TABLE = '[data-testid="stDataFrame"] [data-testid^="glide-cell-"]'
OUR_CHART = '[data-testid="stPlotlyChart"]'
# Compare's metric history chart by its key (Streamlit gives a keyed element the class st-key-<key>):
# the page draws its other charts first, and the history is what the case measures.
OUR_HISTORY_CHART = ".st-key-cmp_history_chart"
PLOTLY_DRAWN = """(scope) => Array.from(document.querySelectorAll(scope + ' .js-plotly-plot'))
    .some(p => p._fullData && p._fullData.length > 0 && p.querySelector('.main-svg'))"""


@dataclass(frozen=True)
class Ready:
    """When a page counts as shown: a selector is visible and/or a plotly chart is drawn in `chart_scope`."""

    selector: str | None = None
    chart_scope: str | None = None  # CSS scope for PLOTLY_DRAWN
    state: Literal["attached", "visible"] = "visible"  # what the selector's first match must be


OUR_ROWS = Ready(OUR_TABLE, state="attached")

# The floors: bare Streamlit apps measured the same way as our pages, in the same run. The table
# floor is the issue's own; the shell and chart floors say what Streamlit's multipage shell and a
# plotly figure of our chart's size cost by themselves on the machine of the day, the plotly floor
# what the smallest chart costs.
FLOORS: dict[str, tuple[str, Ready, str]] = {
    "table": ("floor_app.py", OUR_ROWS, "a bare Streamlit app, one 50-row dataframe"),
    "shell": ("floor_shell_app.py", OUR_ROWS, "Streamlit's navigation, a text input and a 25-row table"),
    "chart": ("floor_chart_app.py", Ready(chart_scope=OUR_CHART),
              "one plotly figure, 3 panels x 100 lines x 300 points"),
    "plotly": ("floor_plotly_app.py", Ready(chart_scope=OUR_CHART), "one plotly line of 10 points"),
    "figure": ("floor_figure_app.py", Ready(chart_scope=OUR_CHART),
               "the Charts view's own 100-run figure (3 traces broken between runs, 300 points a line)"),
}  # fmt: skip


def own_floor(case: Case) -> str:
    """The floor that draws what the case waits for: the chart floor for a chart, else the shell's."""
    return "chart" if case.ours_ready.chart_scope else "shell"


def kept_summaries(home: Path) -> str:
    """The summaries file every dashboard of one bench run shares (`REGISTRY_SUMMARY_CACHE_URL`).

    Homes are folders of the run's work folder: the AppTest step's first run of a page builds the
    page's line summaries (its `first_s` is that one-time cost), and the browser's cold visits then
    measure a fresh server that finds them, as the issue asks.
    """
    return f"sqlite:///{home.parent / 'summaries.db'}"


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    store: str  # runs | histories | registry
    page: str  # for AppTest
    url_path: str  # our app's url path
    query: dict[str, str]
    ours_ready: Ready
    mlflow_route: str | None  # after `#`, None: MLflow's UI has no such view
    mlflow_ready: Ready | None
    raw: str  # the raw MLflow client call(s) it is compared with (key into bench.raw)
    notes: list[str] = field(default_factory=list)

    def our_url(self, base: str) -> str:
        return f"{base}/{self.url_path}" + (f"?{urlencode(self.query)}" if self.query else "")


def cases(manifest: dict[str, Any]) -> list[Case]:
    runs, hist, reg = manifest["runs"], manifest["histories"], manifest["registry"]
    grouped = manifest.get("grouped")
    compare_ids, keys = hist["run_ids"][:10], hist["metric_keys"][:3]
    ml = "workflowType=machine_learning"
    return [
        Case(
            "runs_list", "Runs list, 10k-run experiment (page of 50)", "runs", "pages/runs.py", "runs",
            {"experiment": runs["experiment_id"]}, OUR_ROWS,
            f"/experiments/{runs['experiment_id']}/runs?{ml}", Ready(".ag-center-cols-container .ag-row"),
            "search_runs_page",
        ),
        Case(
            "whole_experiment", "Whole experiment: table + parallel coordinates, 10k runs", "runs",
            "pages/runs.py", "runs", {"experiment": runs["experiment_id"], "view": "Whole experiment"},
            Ready(OUR_TABLE, OUR_CHART, "attached"), None, None, "search_runs_all",
            ["MLflow's UI has no all-runs view (it loads 100 runs at a time)"],
        ),
        Case(
            "compare", f"Compare {len(compare_ids)} runs x {len(keys)} metrics x "
            f"{hist['spec']['history_steps']:,} steps", "histories", "pages/compare.py", "compare",
            {"runs": ",".join(compare_ids), "metrics": ",".join(keys)},
            Ready(chart_scope=OUR_HISTORY_CHART),
            f"/experiments/{hist['experiment_id']}/runs?{ml}&compareRunsMode=CHART",
            Ready(chart_scope='[data-testid="experiment-view-compare-runs-card"]'), "metric_histories",
            ["MLflow's chart view draws the 10 newest runs, one chart per metric, from a 320-point sample"],
        ),
        Case(
            "run_page", "Run page (a 100k-step run; ours charts 2 metrics)", "histories", "pages/run.py",
            "run", {"run": hist["run_ids"][0]}, OUR_ROWS,
            f"/experiments/{hist['experiment_id']}/runs/{hist['run_ids'][0]}",
            Ready('[data-testid="key-value-Status"]'), "run_page",
        ),
        Case(
            "models_list", f"Models list ({reg['spec']['models']} models, page of 25)", "registry",
            "pages/models.py", "models", {}, OUR_ROWS, "/models",
            Ready(f'[role="cell"] a[href="#/models/{quote(reg["models"][0])}"]'), "search_registered_models",
        ),
        Case(
            "model_page", f"A model's page ({reg['spec']['versions']} versions)", "registry",
            "pages/models.py", "models", {"model": reg["models"][0]}, OUR_ROWS,
            f"/models/{quote(reg['models'][0])}",
            Ready('[data-testid="model-version-table"] a:has-text("Version ")'), "model_versions",
        ),
        *chart_cases(runs, hist, grouped),
    ]  # fmt: skip


def chart_cases(runs: dict[str, Any], hist: dict[str, Any], grouped: dict[str, Any] | None) -> list[Case]:
    """The Charts view of Experiments & runs (issue 14): long lines, grouped bands, 10k-run bar and scatter.

    MLflow's chart view is the same experiment's runs page in chart mode; it draws the 10 newest runs
    (320 points per line) by default, so it is shown beside ours, not as the same work.
    """
    ml = "workflowType=machine_learning"
    keys = hist["metric_keys"][:3]
    steps, n_hist = hist["spec"]["history_steps"], hist["spec"]["history_runs"]
    mlflow_chart = Ready(chart_scope='[data-testid="experiment-view-compare-runs-card"]')
    found = [
        Case(
            "charts_lines",
            f"Charts: {n_hist} runs x {len(keys)} metrics x {steps:,} steps",
            "histories",
            "pages/runs.py",
            "runs",
            {"experiment": hist["experiment_id"], "view": "charts", "metrics": ",".join(keys)},
            Ready(chart_scope=OUR_CHART),
            f"/experiments/{hist['experiment_id']}/runs?{ml}&compareRunsMode=CHART",
            mlflow_chart,
            "metric_histories",
            [
                "cold: the line summaries already exist (the first cold AppTest run builds them: "
                "`first_s` in the JSON); MLflow's UI draws its default 10 runs"
            ],
        ),
        Case(
            "charts_one_line",
            f"Charts: one run's {keys[0]}, {steps:,} steps (the Charts view's own floor)",
            "histories",
            "pages/runs.py",
            "runs",
            {
                "experiment": hist["experiment_id"],
                "view": "charts",
                "metrics": keys[0],
                "filter": f"attributes.run_id = '{hist['run_ids'][0]}'",
            },
            Ready(chart_scope=OUR_CHART),
            None,
            None,
            "run_page",
            ["the page, its controls and Plotly with one line: no chart of this view is drawn sooner"],
        ),
        Case(
            "charts_bar_10k",
            "Charts: bar of the latest loss, 10k runs",
            "runs",
            "pages/runs.py",
            "runs",
            {"experiment": runs["experiment_id"], "view": "charts", "chart": "bar", "metrics": "loss"},
            Ready(chart_scope=OUR_CHART),
            None,
            None,
            "search_runs_all",
            ["MLflow's UI has no 10k-run bar chart (it charts the runs it has loaded, 100 at a time)"],
        ),
        Case(
            "charts_scatter_10k",
            "Charts: scatter p02 against loss, 10k runs",
            "runs",
            "pages/runs.py",
            "runs",
            {
                "experiment": runs["experiment_id"],
                "view": "charts",
                "chart": "scatter",
                "axes": "params.p02,metrics.loss",
            },
            Ready(chart_scope=OUR_CHART),
            None,
            None,
            "search_runs_all",
        ),
    ]
    if grouped:
        spec = grouped["spec"]
        found.append(
            Case(
                "charts_groups",
                f"Charts: {spec['grouped_runs']:,} runs x 1 metric x {spec['grouped_steps']:,} "
                f"steps in {spec['grouped_groups']} groups, mean ± std",
                "grouped",
                "pages/runs.py",
                "runs",
                {
                    "experiment": grouped["experiment_id"],
                    "view": "charts",
                    "metrics": "loss",
                    "group_by": "group",
                    "aggregate": "mean_std",
                },
                Ready(chart_scope=OUR_CHART),
                None,
                None,
                "grouped_histories",
                ["MLflow's UI groups runs in its chart view but draws no bands; not measured here"],
            )
        )
    return found


def mlflow_url(base: str, case: Case) -> str | None:
    return f"{base}/#{case.mlflow_route}" if case.mlflow_route else None


def describe(case: Case) -> str:
    return json.dumps({"page": case.page, "query": case.query})
