"""Run page: summary, params, metrics, history chart, artifact previews, models; unknown runs."""

from __future__ import annotations

import json

from mlflow import MlflowClient

from pages.views.first_paint import PAINTED, PLACEHOLDER
from tests.ui.tracking_data import (  # noqa: F401
    MARKUP_NAME,
    assert_no_raw_markup,
    newest_runs,
    plotly_array,
    prefetched,
    tracking_fixture,
    unescape,
)

PAGE = "pages/run.py"


def frames(at) -> list:
    return [d.value for d in at.dataframe]


def table_with(at, column: str):
    return next(f for f in frames(at) if column in f.columns)


def test_the_run_page_shows_summary_params_metrics_and_models(ui_env, open_page, tracking):
    at = open_page(PAGE, run=tracking.parent)
    assert not at.exception
    assert at.title[0].value == "Run parent"
    summary = table_with(at, "field").set_index("field")["value"]
    assert summary["run id"] == tracking.parent and summary["status"] == "FINISHED"
    params = table_with(at, "param").set_index("param")["value"].to_dict()
    assert params == {"lr": "0.1", "depth": "3", "optimizer": "adam"}
    metrics = table_with(at, "metric").set_index("metric")["value"].to_dict()
    assert set(metrics) == {"accuracy", "loss"}
    assert table_with(at, "tag").set_index("tag")["value"].to_dict()["team"] == "search"
    children = table_with(at, "open")
    assert list(children["run_name"]) == ["child"]
    assert len(table_with(at, "model_id")) == 1  # the logged model
    assert at.selectbox(key="run_model_file").value == "MLmodel"  # its files are browsable here
    assert any(c.language == "yaml" and "python_function" in c.value for c in at.code)
    versions = table_with(at, "version")
    assert list(versions["model"]) == [tracking.model_name]
    links = {(p.proto.page, p.proto.query_string) for p in at.get("page_link")}
    assert any(f"model={tracking.model_name}" in q for _, q in links)


def test_metric_history_chart_follows_the_choices_and_the_url(ui_env, open_page, tracking):
    at = open_page(PAGE, run=tracking.parent, metrics="loss", x="relative", logy="1")
    assert not at.exception
    assert at.multiselect(key="run_metrics").value == ["loss"]
    assert at.radio(key="run_x").value == "relative"
    assert at.toggle(key="run_logy").value is True
    charts = [e for e in at.get("plotly_chart")]
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert len(spec["data"]) == 1 and len(plotly_array(spec["data"][0]["x"])) == 50
    assert spec["layout"]["yaxis"]["type"] == "log"
    at.radio(key="run_x").set_value("step").run()
    assert "x" not in at.query_params


def test_a_new_session_draws_the_tables_first_and_holds_the_chart_for_the_browser(
    ui_env, open_page, tracking
):
    """Before the browser has drawn a page of the session, a chart is a placeholder of its height:
    Plotly's code would otherwise hold back the first table (pages/views/first_paint.py)."""
    at = open_page(PAGE, painted=False, run=tracking.parent, metrics="loss")

    assert not at.exception
    assert not at.get("plotly_chart")
    assert PLACEHOLDER in [c.value for c in at.caption]
    assert at.multiselect(key="run_metrics").value == ["loss"]  # the controls are there already
    assert any(d.value.shape[0] for d in at.dataframe)  # and the tables
    assert PAINTED not in at.session_state  # only the browser's own timer says the page was drawn
    # The tables' code was asked for before the page's reads, Plotly's behind the tables
    # (pages/views/prefetch.py); a painted session draws its chart at once and asks for nothing more.
    assert [chunk.split(".")[0] for chunk in prefetched(at)] == ["DataFrame", "PlotlyChart"]
    assert [chunk.split(".")[0] for chunk in prefetched(open_page(PAGE, run=tracking.parent))] == [
        "DataFrame"
    ]


def test_a_json_artifact_is_previewed_and_a_csv_as_a_table(ui_env, open_page, tracking):
    at = open_page(PAGE, run=tracking.parent, artifact="config.json")
    assert not at.exception
    assert at.selectbox(key="run_artifact").value == "config.json"
    assert len(at.json) == 1
    assert json.loads(at.json[0].value) == {"layers": [64, 32], "dropout": 0.1}
    assert at.get("download_button")
    at.selectbox(key="run_artifact").set_value("data/history.csv").run()
    assert not at.exception
    assert list(table_with(at, "epoch")["loss"]) == [0.5, 0.25]
    assert at.query_params["artifact"] == "data/history.csv"


def test_an_unknown_run_is_a_clear_message_and_the_page_still_works(ui_env, open_page):
    at = open_page(PAGE, run="0123456789abcdef0123456789abcdef")
    assert not at.exception
    assert any("no such run" in unescape(w.value) for w in at.warning)
    assert at.title[0].value == "Run"
    assert at.sidebar.text_input(key="run_id_input").value == "0123456789abcdef0123456789abcdef"
    at = open_page(PAGE, run="<script>")
    assert not at.exception and at.warning
    assert_no_raw_markup(at)


def test_a_run_id_typed_in_the_sidebar_opens_that_run(ui_env, open_page, tracking):
    at = open_page(PAGE)
    assert not at.exception and any(d.key == "run_pick" for d in at.dataframe)
    at.sidebar.text_input(key="run_id_input").input(tracking.other).run()
    assert not at.exception
    assert at.query_params["run"] == tracking.other
    assert unescape(at.title[0].value) == f"Run {MARKUP_NAME}"
    assert_no_raw_markup(at)


def test_coming_back_to_the_same_run_from_another_page_keeps_it(ui_env, open_page, tracking):
    at = open_page(PAGE, run=tracking.parent)
    at.switch_page("pages/runs.py")
    at.query_params["experiment"] = tracking.experiment_id
    at.run()
    assert not at.exception
    at.switch_page(PAGE)
    at.query_params["run"] = tracking.parent
    at.run()
    assert not at.exception
    assert at.title[0].value == "Run parent"
    assert at.query_params["run"] == tracking.parent


def test_a_link_to_another_run_wins_over_the_box(ui_env, open_page, tracking):
    at = open_page(PAGE, run=tracking.parent)
    at.query_params["run"] = tracking.child  # what following the child's link does
    at.run()
    assert not at.exception
    assert at.title[0].value == "Run child"
    assert at.sidebar.text_input(key="run_id_input").value == tracking.child
    links = [p.proto.query_string for p in at.get("page_link")]
    assert f"run={tracking.parent}" in links  # the child links back to its parent


def test_without_a_run_the_page_offers_the_newest_runs_and_a_click_opens_one(ui_env, open_page):
    _, runs = newest_runs(MlflowClient(), 2)

    at = open_page(PAGE)

    assert not at.exception and not at.error
    picker = next(d for d in at.dataframe if d.key == "run_pick")
    assert list(picker.value["run_id"].iloc[:2]) == runs
    at.session_state[picker.key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["run"] == runs[1]
    assert unescape(at.title[0].value) == "Run newest-0"
