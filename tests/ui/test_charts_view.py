"""Charts view of Experiments & runs: every control and every deep-link parameter, good and bad."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from pages.views import charts_view
from pages.views.first_paint import PLACEHOLDER
from tests.run_data import log_steps, make_run
from tests.stack import unique_name
from tests.ui.tracking_data import flatten, plotly_array, prefetched, unescape

PAGE = "pages/runs.py"
SETTINGS_OPEN = "charts_line_settings_open"
LENGTHS = [40, 30, 20, 40, 25, 10]  # uneven histories


@dataclass(frozen=True)
class Charted:
    experiment_id: str
    runs: list[str]  # in LENGTHS order; runs[0] and runs[1] logged images
    running: str


@pytest.fixture(scope="module")
def charted(stack) -> Iterator[Charted]:
    client = MlflowClient(tracking_uri=stack.tracking_uri)
    eid = client.create_experiment(unique_name("ui-charts"))
    runs = []
    for i, length in enumerate(LENGTHS):
        run_id = make_run(
            client, eid, f"run-{i}", params={"lr": ["0.1", "0.01"][i % 2], "depth": str(3 + i % 3)},
            tags={"team": ["a", "b", "b"][i % 3]}, finished=False,
        )  # fmt: skip
        log_steps(client, run_id, "loss", [(i + 1) / (s + 1) for s in range(length)])
        log_steps(client, run_id, "acc", [s / length for s in range(length)])
        if i < 2:
            for step in (0, 5):
                image = np.full((6, 6, 3), 40 * step + i, dtype=np.uint8)
                client.log_image(run_id, image, key="pred/sample", step=step)
        client.set_terminated(run_id, "FINISHED")
        runs.append(run_id)
    running = make_run(client, eid, "still-running", params={"lr": "0.1"}, finished=False)
    log_steps(client, running, "loss", [5.0, 4.0, 3.0])
    yield Charted(eid, runs, running)


def _open(open_page, charted: Charted, **query: str) -> AppTest:
    at = open_page(PAGE, experiment=charted.experiment_id, view="charts", **query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def figure(at: AppTest, key: str = "charts_lines_chart") -> dict[str, Any]:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == key)


def shown(trace: dict[str, Any]) -> bool:
    return trace.get("hoverinfo") != "skip"


def warnings(at: AppTest) -> list[str]:
    return [unescape(w.value) for w in at.warning]


def captions(at: AppTest) -> str:
    return " ".join(unescape(c.value) for c in at.caption)


def test_a_link_to_the_charts_view_draws_every_run_of_the_experiment(ui_env, open_page, charted):
    at = _open(open_page, charted)
    assert at.session_state["runs_view"] == "Charts"
    assert at.query_params["view"] == "charts"
    assert at.segmented_control(key="charts_chart").value == "lines"
    assert at.multiselect(key="charts_metrics").value == ["acc"]
    lines = [t for t in figure(at)["data"] if shown(t)]
    assert len(lines) == 6  # the running run logged no acc
    assert "7 runs." in captions(at) and "6 runs drawn" in captions(at)
    at.multiselect(key="charts_metrics").set_value(["loss"]).run()
    lines = [t for t in figure(at)["data"] if shown(t)]
    assert len(lines) == 7
    by_name = {t["name"]: len(plotly_array(t["x"])) for t in lines}
    assert by_name["run-0"] == 40 and by_name["run-5"] == 10 and by_name["still-running"] == 3
    assert at.query_params["metrics"] == "loss"
    assert len(at.get("download_button")) == 2  # as drawn, full resolution


def test_runs_that_did_not_log_the_metric_are_counted_not_dropped_silently(ui_env, open_page, charted):
    at = _open(open_page, charted, metrics="acc")
    assert "1 of 7 runs logged none of these metrics" in captions(at)


def test_a_full_link_sets_every_control_and_draws_grouped_bands(ui_env, open_page, charted):
    at = _open(
        open_page, charted, metrics="loss,acc", group_by="lr,tags.team", aggregate="median_iqr", x="relative",
        smooth="0.5", log="x,y", outliers="hide",
    )  # fmt: skip
    assert at.multiselect(key="charts_metrics").value == ["loss", "acc"]
    assert at.multiselect(key="charts_group_by").value == ["params.lr", "tags.team"]
    assert at.selectbox(key="charts_aggregate").value == "median_iqr"
    assert at.selectbox(key="charts_x").value == "relative"
    assert at.slider(key="charts_smooth").value == 0.5
    assert at.toggle(key="charts_log_x").value and at.toggle(key="charts_log_y").value
    assert at.toggle(key="charts_outliers").value
    fig = figure(at)
    legend = sorted(t["name"] for t in fig["data"] if t.get("showlegend"))
    assert legend == [
        "lr=0.01, team=a (1 runs)",
        "lr=0.01, team=b (2 runs)",
        "lr=0.1, team=(none) (1 runs)",  # the running run has no team tag: a group of its own
        "lr=0.1, team=a (1 runs)",
        "lr=0.1, team=b (2 runs)",
    ]
    assert sum(t.get("fill") == "tonexty" for t in fig["data"]) == 9  # per group and metric it logged
    layout = fig["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["xaxis"]["type"] == "log"
    assert (
        "range" in layout["yaxis"] and layout["xaxis2"]["title"]["text"] == "Relative time (s)"
    )  # bottom panel
    assert at.query_params["group_by"] == "params.lr,tags.team"
    assert at.query_params["aggregate"] == "median_iqr" and at.query_params["outliers"] == "hide"
    assert warnings(at) == []


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("aggregate", "mean", "aggregate='mean' is not one of"),
        ("x", "epoch", "x='epoch' is not step, wall, relative or metric:<key>"),
        ("x", "metric:nope", "x 'metric:nope': none of these runs logged that metric"),
        ("smooth", "1.5", "smooth='1.5' is not a number from 0 to 0.99"),
        ("log", "z", "only x and y can be logarithmic"),
        ("outliers", "maybe", "outliers='maybe' is not hide or show"),
        ("chart", "pie", "chart='pie' is not one of"),
        ("metrics", "loss,accuracy", "metric 'accuracy': none of these runs has it"),
        ("group_by", "seed", "group by 'seed': none of these runs has it"),
    ],
)
def test_a_bad_value_in_the_link_is_a_message_and_the_chart_still_draws(
    ui_env, open_page, charted, param, value, message
):
    at = _open(open_page, charted, **{param: value})
    assert any(message in w for w in warnings(at)), warnings(at)
    assert figure(at)["data"]


def test_a_new_session_draws_the_chart_at_once_and_a_links_problem_once(ui_env, open_page, charted):
    """Other pages draw their tables first and their charts on the browser's come-back rerun
    (pages/views/first_paint.py); here the chart is the page's content, so it comes at once, and the
    link's one-time message shows once, not again on the next click."""
    at = _open(open_page, charted, painted=False, aggregate="average")
    assert figure(at)["data"]
    assert PLACEHOLDER not in [c.value for c in at.caption]
    assert [w for w in warnings(at) if "aggregate='average' is not one of" in w]

    at.run()  # any later rerun: the message was shown, and goes
    assert not [w for w in warnings(at) if "aggregate='average'" in w]
    assert figure(at)["data"]


def test_the_controls_change_the_chart_and_the_url(ui_env, open_page, charted):
    at = _open(open_page, charted, metrics="loss")
    at.session_state[SETTINGS_OPEN] = True  # the user opens the line settings (AppTest cannot click it)
    at.multiselect(key="charts_group_by").set_value(["params.lr"]).run()
    assert sorted(t["name"] for t in figure(at)["data"] if t.get("showlegend")) == [
        "lr=0.01 (3 runs)",
        "lr=0.1 (4 runs)",
    ]
    at.selectbox(key="charts_aggregate").set_value("min_max").run()
    at.selectbox(key="charts_x").set_value("metric:acc").run()
    at.slider(key="charts_smooth").set_value(0.3).run()
    at.toggle(key="charts_log_y").set_value(True).run()
    at.toggle(key="charts_log_x").set_value(True).run()
    at.toggle(key="charts_outliers").set_value(True).run()
    assert not at.exception
    query = at.query_params
    assert (query["group_by"], query["aggregate"], query["x"], query["smooth"]) == (
        "params.lr",
        "min_max",
        "metric:acc",
        "0.3",
    )
    assert (query["log"], query["outliers"]) == ("x,y", "hide")
    fig = figure(at)
    assert fig["layout"]["xaxis"]["title"]["text"] == "acc"
    faint = [t for t in fig["data"] if t.get("opacity") == 0.25]
    assert len(faint) == 2  # each group's raw centre line under its smoothed one


def test_the_line_settings_are_sent_when_opened_and_kept_while_shut(ui_env, open_page, charted):
    """Six controls few visits use are not part of the view's first paint; shutting the panel must
    not undo what they set, and the caption says what a shut panel applies."""
    at = _open(open_page, charted, metrics="loss")
    assert not [w for w in (*at.selectbox, *at.slider, *at.toggle) if w.key in charts_view.LINE_SETTINGS]
    assert "smoothing" not in captions(at) and figure(at)["layout"]["yaxis"].get("type") != "log"

    at.session_state[SETTINGS_OPEN] = True
    at.run()
    at.slider(key="charts_smooth").set_value(0.4).run()
    at.toggle(key="charts_log_y").set_value(True).run()
    at.session_state[SETTINGS_OPEN] = False  # shut again
    at.run()
    at.multiselect(key="charts_metrics").set_value(["loss", "acc"]).run()  # another click while shut
    assert not at.exception
    assert not [w for w in (*at.selectbox, *at.slider, *at.toggle) if w.key in charts_view.LINE_SETTINGS]
    assert (at.query_params["smooth"], at.query_params["log"]) == ("0.4", "y")
    assert "; smoothing 0.4; log y." in captions(at)
    layout = figure(at)["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis2"]["type"] == "log"
    assert [t for t in figure(at)["data"] if t.get("opacity") == 0.25]  # raw lines under smoothed ones

    at.session_state[SETTINGS_OPEN] = True  # opened again: the controls show what applies
    at.run()
    assert at.slider(key="charts_smooth").value == 0.4 and at.toggle(key="charts_log_y").value


def test_a_link_that_changes_a_line_setting_opens_the_panel(ui_env, open_page, charted):
    at = _open(open_page, charted, metrics="loss", smooth="0.2")
    assert at.slider(key="charts_smooth").value == 0.2
    assert "; smoothing 0.2." in captions(at)


def test_wall_time_and_step_axes(ui_env, open_page, charted):
    at = _open(open_page, charted, metrics="loss", x="wall")
    assert figure(at)["layout"]["xaxis"]["type"] == "date"
    at.selectbox(key="charts_x").set_value("step").run()
    assert "x" not in at.query_params


def test_the_filter_narrows_the_runs_and_a_bad_one_is_explained(ui_env, open_page, charted):
    at = _open(open_page, charted, metrics="loss", filter="params.lr = '0.01'")
    assert len([t for t in figure(at)["data"] if shown(t)]) == 3
    at.text_input(key="charts_filter").input("params.lrr = '1'").run()
    assert not at.exception
    assert any("lrr" in unescape(e.value) for e in at.error)


def test_more_runs_than_a_line_chart_takes_are_named(ui_env, open_page, charted, monkeypatch):
    monkeypatch.setattr(charts_view, "LINE_RUNS", 3)
    at = _open(open_page, charted, metrics="loss")
    assert "3 runs (the newest 3: the experiment has more" in captions(at)
    assert len([t for t in figure(at)["data"] if shown(t)]) == 3


def test_bars_per_run_and_per_group(ui_env, open_page, charted):
    at = _open(open_page, charted, chart="bar", metrics="loss")
    assert "PlotlyChart" in {chunk.split(".")[0] for chunk in prefetched(at)}  # loads while runs are read
    bars = figure(at, "charts_bar_chart")["data"][0]
    assert len(bars["x"]) == 7 and "error_y" not in bars
    at = _open(open_page, charted, chart="bar", metrics="loss", bar="max", group_by="team")
    assert at.selectbox(key="charts_bar").value == "max"
    bars = figure(at, "charts_bar_chart")["data"][0]
    assert bars["x"] == ["team=(none) (1)", "team=a (2)", "team=b (4)"]
    assert plotly_array(bars["y"])[1] == pytest.approx((1 + 4) / 2)  # the mean of each run's maximum
    at.selectbox(key="charts_bar").set_value("last").run()
    assert "bar" not in at.query_params


def test_scatter_and_contour_of_chosen_columns(ui_env, open_page, charted):
    at = _open(open_page, charted, chart="scatter", axes="params.depth,metrics.loss", group_by="lr")
    assert (at.selectbox(key="charts_ax_x").value, at.selectbox(key="charts_ax_y").value) == (
        "params.depth",
        "metrics.loss",
    )
    fig = figure(at, "charts_scatter_chart")
    assert sorted(t["name"] for t in fig["data"]) == ["lr=0.01", "lr=0.1"]
    at.selectbox(key="charts_ax_y").set_value("metrics.acc").run()
    assert at.query_params["axes"] == "params.depth,metrics.acc"
    at = _open(open_page, charted, chart="contour", axes="params.depth,params.lr,metrics.loss")
    assert figure(at, "charts_scatter_chart")["data"][0]["type"] == "histogram2dcontour"
    at = _open(open_page, charted, chart="scatter", axes="params.nope,metrics.loss")
    assert any("axis 'params.nope'" in w for w in warnings(at))


def test_box_per_group_and_parallel_coordinates(ui_env, open_page, charted):
    at = _open(open_page, charted, chart="box", metrics="acc", group_by="team")
    assert sorted(t["name"] for t in figure(at, "charts_box_chart")["data"]) == ["team=a (2)", "team=b (4)"]
    at = _open(open_page, charted, chart="parallel")
    at.selectbox(key="charts_pc_metric").set_value("metrics.loss").run()
    assert figure(at, "charts_parallel_chart")["data"][0]["type"] == "parcoords"
    at.segmented_control(key="charts_chart").set_value("lines").run()
    assert "chart" not in at.query_params


def _images(at: AppTest) -> list[Any]:
    return [e for e in flatten(at._tree) if type(e).__name__ == "Image"]


def test_the_image_grid_shows_each_runs_image_at_the_chosen_step(ui_env, open_page, charted):
    at = _open(open_page, charted, chart="images")
    assert "PlotlyChart" not in {chunk.split(".")[0] for chunk in prefetched(at)}  # no chart to draw
    assert sorted(at.multiselect(key="charts_image_runs").value) == sorted(charted.runs[:2])
    assert at.selectbox(key="charts_image_key").value == "pred/sample"
    assert at.select_slider(key="charts_image_step").value == 5
    assert len(_images(at)) == 2
    assert "step 5" in " ".join(str(e.proto) for e in _images(at))
    at.select_slider(key="charts_image_step").set_value(0).run()
    assert not at.exception
    assert "step 0" in " ".join(str(e.proto) for e in _images(at))
