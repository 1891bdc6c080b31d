"""The Charts view's URL: every parameter read, written back, and every bad value explained."""

from __future__ import annotations

import pytest

from pages.views.chart_spec import ChartSpec, chart_query, line_settings_in_words, parse_chart_query


def test_a_full_link_is_read_and_written_back_the_same() -> None:
    query = {
        "chart": "bar",
        "metrics": "loss,acc",
        "group_by": "params.lr,tags.team",
        "aggregate": "median_iqr",
        "x": "metric:lr",
        "smooth": "0.6",
        "log": "x,y",
        "outliers": "hide",
        "bar": "max",
        "axes": "params.lr,metrics.acc",
    }
    spec, problems = parse_chart_query(query)
    assert problems == []
    assert spec == ChartSpec(
        chart="bar", metrics=("loss", "acc"), group_by=("params.lr", "tags.team"), aggregate="median_iqr",
        x="metric:lr", smooth=0.6, log=("x", "y"), hide_outliers=True, bar="max",
        axes=("params.lr", "metrics.acc"),
    )  # fmt: skip
    assert spec.x_metric == "lr"
    assert {k: v for k, v in chart_query(spec).items() if v is not None} == query


def test_an_empty_link_is_the_default_view_and_defaults_stay_out_of_the_url() -> None:
    spec, problems = parse_chart_query({})
    assert spec == ChartSpec() and problems == []
    assert set(chart_query(spec).values()) == {None}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("aggregate", "mean", "aggregate='mean' is not one of mean_std, mean_ci, median_iqr, min_max"),
        ("x", "epoch", "x='epoch' is not step, wall, relative or metric:<key>"),
        ("x", "metric:", "x='metric:' is not step"),
        ("smooth", "2", "smooth='2' is not a number from 0 to 0.99"),
        ("smooth", "abc", "smooth='abc' is not a number"),
        ("smooth", "nan", "smooth='nan' is not a number"),
        ("log", "z", "only x and y can be logarithmic"),
        ("outliers", "drop", "outliers='drop' is not hide or show"),
        ("chart", "pie", "chart='pie' is not one of lines, bar"),
        ("bar", "median", "bar='median' is not one of last, min, max, mean"),
    ],
)
def test_a_bad_value_falls_back_to_the_default_with_a_message(name: str, value: str, message: str) -> None:
    spec, problems = parse_chart_query({name: value, "metrics": "loss"})
    assert len(problems) == 1 and message in problems[0]
    assert spec.metrics == ("loss",)
    default = ChartSpec(metrics=("loss",))
    assert getattr(spec, {"outliers": "hide_outliers"}.get(name, name)) == getattr(
        default, {"outliers": "hide_outliers"}.get(name, name)
    )


def test_lists_are_trimmed_and_deduplicated() -> None:
    spec, _ = parse_chart_query({"metrics": " loss, ,acc,loss ", "log": "y,y"})
    assert spec.metrics == ("loss", "acc") and spec.log == ("y",)


def test_the_caption_names_every_line_setting_that_changes_the_chart_and_nothing_else() -> None:
    """The settings panel is shut on most visits: what it applies is said beside the chart."""
    assert line_settings_in_words(ChartSpec(metrics=("loss",))) == []
    spec, _ = parse_chart_query(
        {"group_by": "params.lr", "aggregate": "median_iqr", "x": "relative", "smooth": "0.5", "log": "y",
         "outliers": "hide"}
    )  # fmt: skip
    assert line_settings_in_words(spec) == [
        "x: relative time (s)", "band: median, IQR", "smoothing 0.5", "log y", "outliers hidden",
    ]  # fmt: skip
    metric_x = ChartSpec(x="metric:acc", log=("x", "y"))
    assert line_settings_in_words(metric_x) == ["x: metric acc", "log x and y"]
    # a band is only drawn for groups: ungrouped, the aggregate changes nothing and is not named
    assert line_settings_in_words(ChartSpec(aggregate="min_max")) == []
