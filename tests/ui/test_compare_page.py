"""Compare page: the diff marks what differs, only-differences, baseline deltas, charts, artifact diff."""

from __future__ import annotations

import json

from mlflow import MlflowClient

from tests.ui.tracking_data import (  # noqa: F401
    MARKUP_NAME,
    assert_no_raw_markup,
    newest_runs,
    plotly_array,
    tracking_fixture,
    unescape,
)

PAGE = "pages/compare.py"


def diff_frame(at):
    return next(d.value for d in at.dataframe if "differs" in d.value.columns)


def deltas_frame(at):
    return next(d.value for d in at.dataframe if "Δ" in d.value.to_string())


def runs_param(t) -> str:
    return ",".join([t.parent, t.child, t.other])


def test_the_diff_marks_exactly_the_params_that_differ(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking))
    assert not at.exception
    table = diff_frame(at)
    differing_params = {f for f in table.index[table["differs"]] if f.startswith("params.")}
    assert differing_params == {"params.lr", "params.depth"}
    assert not table.loc["params.optimizer", "differs"]
    assert table.loc["metrics.accuracy", "better"] == "higher"
    best = table.loc["metrics.accuracy", "best"]
    assert best.startswith(MARKUP_NAME[:20])  # the 0.9 run, labelled by its (literal) name
    assert_no_raw_markup(at)


def test_only_differences_hides_equal_rows_and_is_in_the_url(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking))
    at.toggle(key="cmp_diffonly").set_value(True).run()
    assert not at.exception
    table = diff_frame(at)
    assert "params.optimizer" not in table.index and "tags.team" not in table.index
    assert "params.lr" in table.index and table["differs"].all()
    assert at.query_params["diffonly"] == "1"


def test_baseline_deltas(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking), baseline=tracking.parent)
    assert not at.exception
    assert at.selectbox(key="cmp_baseline").value == tracking.parent
    deltas = deltas_frame(at)
    other = next(c for c in deltas.columns if c.startswith(MARKUP_NAME[:20]))
    child = next(c for c in deltas.columns if c.startswith("child"))
    assert deltas.loc["metrics.accuracy", other] == "0.9  Δ +0.1 (+12.5%)"
    assert deltas.loc["metrics.accuracy", child] == "0.7  Δ -0.1 (-12.5%)"
    at.selectbox(key="cmp_baseline").set_value(tracking.other).run()
    deltas = deltas_frame(at)
    assert deltas.loc["metrics.accuracy", child].startswith("0.7  Δ -0.2")
    assert at.query_params["baseline"] == tracking.other


def test_charts_follow_the_url(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking), metrics="loss", x="relative", smooth="0.6", logy="1")
    assert not at.exception
    assert at.slider(key="cmp_smooth").value == 0.6
    specs = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    history = specs["cmp_history_chart"]
    assert len(history["data"]) == 3
    assert all(len(plotly_array(t["x"])) == 50 for t in history["data"])
    assert history["layout"]["yaxis"]["type"] == "log"
    assert specs["cmp_parallel_chart"]["data"][0]["type"] == "parcoords"
    assert specs["cmp_scatter_chart"]["data"][0]["type"] == "scatter"
    # the chart is cached per setting: a change redraws it
    at.toggle(key="cmp_logy").set_value(False).run()
    history = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "cmp_history_chart")
    assert history["layout"]["yaxis"]["type"] == "linear"


def test_histories_are_summarised_once_and_kept_for_the_next_cold_start(ui_registry, open_page, tracking):
    from registry.store.summaries import SUMMARY_POINTS, run_stamps

    at = open_page(PAGE, runs=runs_param(tracking), metrics="loss")
    assert not at.exception
    stamps = run_stamps(ui_registry.load_runs([tracking.parent, tracking.child, tracking.other]).runs)
    kept = ui_registry.summaries.load("loss", stamps, SUMMARY_POINTS)
    assert sorted(kept) == sorted([tracking.parent, tracking.child, tracking.other])
    assert all(line.count == 50 for line in kept.values())


def test_the_artifact_diff_between_baseline_and_another_run(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking), diffrun=tracking.other, artifact="requirements.txt")
    assert not at.exception
    assert at.selectbox(key="cmp_artifact").value == "requirements.txt"
    code = [c.value for c in at.code if c.language == "diff"]
    assert len(code) == 1 and "-numpy==2.0" in code[0] and "+numpy==2.1" in code[0]
    at.selectbox(key="cmp_artifact").set_value("logged-model:model/weights.bin").run()
    assert not at.exception
    assert any("only text files" in unescape(e.value) for e in at.error)


def test_too_few_or_too_many_runs_is_a_clear_message(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=tracking.parent)
    assert not at.exception
    assert any("at least 2" in unescape(e.value) for e in at.error)
    at = open_page(PAGE, runs=",".join(f"r{i}" for i in range(51)))
    assert not at.exception
    assert any("at most 50" in unescape(e.value) for e in at.error)


def test_unknown_run_ids_are_left_out_with_a_warning(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=f"{tracking.parent},{tracking.other},0123456789abcdef0123456789abcdef")
    assert not at.exception
    assert any("0123456789abcdef" in unescape(w.value) for w in at.warning)
    assert len([c for c in diff_frame(at).columns if c not in ("better", "best", "differs")]) == 2


def test_without_runs_compare_offers_the_newest_runs_to_pick(ui_env, open_page):
    _, runs = newest_runs(MlflowClient(), 3)

    at = open_page(PAGE)

    assert not at.exception and not at.error
    picker = next(d for d in at.dataframe if d.key == "cmp_pick")
    assert list(picker.value["run_id"].iloc[:3]) == runs  # newest first
    assert picker.value.loc[0, "experiment"].startswith("ui-newest")
    assert at.button(key="cmp_pick_compare").disabled
    at.session_state[picker.key] = {"selection": {"rows": [0, 2], "columns": [], "cells": []}}
    at.run()
    at.button(key="cmp_pick_compare").click().run()
    assert not at.exception
    assert at.query_params["runs"] == f"{runs[0]},{runs[2]}"
    assert "params.lr" in diff_frame(at).index


def test_the_diff_table_downloads_as_csv_and_markdown(ui_env, open_page, tracking):
    at = open_page(PAGE, runs=runs_param(tracking))
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Table as CSV", "Table as Markdown"} <= set(labels)
