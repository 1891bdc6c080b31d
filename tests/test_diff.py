"""The diff table, baseline deltas and best-of-metric marks, on small hand-made runs tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from registry.domain import diff
from registry.errors import BadInput, NotFound


def runs_frame() -> pd.DataFrame:
    """Three runs as `runs_to_frame` shapes them: params and tags strings, metrics floats."""
    return pd.DataFrame(
        {
            "run_id": ["aaa111", "bbb222", "ccc333"],
            "run_name": ["base", "wide", "<script>x</script>"],
            "params.lr": ["0.1", "0.1", "0.1"],
            "params.depth": ["3", "5", "3"],
            "params.only_b": [None, "yes", None],
            "metrics.accuracy": [0.80, 0.90, 0.85],
            "metrics.val_loss": [0.50, 0.40, 0.40],
            "metrics.same": [1.0, 1.0, 1.0],
            "tags.team": ["a", "a", "a"],
            "tags.note": [None, None, None],
        }
    )


def test_diff_table_has_runs_as_columns_and_fields_as_rows():
    table = diff.diff_table(runs_frame())
    assert diff.run_columns(table) == ["aaa111", "bbb222", "ccc333"]
    assert list(table.index) == [
        "params.lr", "params.depth", "params.only_b",
        "metrics.accuracy", "metrics.val_loss", "metrics.same",
        "tags.team",
    ]  # fmt: skip
    assert table.loc["params.depth", "bbb222"] == "5"
    assert table.loc["metrics.accuracy", "ccc333"] == pytest.approx(0.85)
    assert table.loc["params.only_b", "aaa111"] is None


def test_differs_marks_exactly_the_fields_that_differ():
    table = diff.diff_table(runs_frame())
    assert set(table.index[table[diff.DIFFERS]]) == {
        "params.depth", "params.only_b", "metrics.accuracy", "metrics.val_loss",
    }  # fmt: skip


def test_params_compare_as_stored_strings():
    frame = pd.DataFrame({"run_id": ["a", "b"], "params.lr": ["0.1", "0.10"]})
    assert bool(diff.diff_table(frame).loc["params.lr", diff.DIFFERS])


def test_only_differences_hides_equal_rows():
    only = diff.only_differences(diff.diff_table(runs_frame()))
    assert (
        "params.lr" not in only.index and "tags.team" not in only.index and "metrics.same" not in only.index
    )
    assert len(only) == 4


def test_differs_from_baseline_compares_each_cell_with_the_baseline():
    changed = diff.differs_from_baseline(diff.diff_table(runs_frame()), "aaa111")
    assert not changed["aaa111"].any()
    assert changed.loc["params.depth"].tolist() == [False, True, False]
    assert changed.loc["params.only_b"].tolist() == [False, True, False]
    with pytest.raises(NotFound):
        diff.differs_from_baseline(diff.diff_table(runs_frame()), "nope")


def test_baseline_deltas_and_percent_change():
    deltas = diff.baseline_deltas(diff.diff_table(runs_frame()), "aaa111").set_index(["field", "run_id"])
    row = deltas.loc[("metrics.accuracy", "bbb222")]
    assert row["value"] == pytest.approx(0.90)
    assert row["baseline"] == pytest.approx(0.80)
    assert row["delta"] == pytest.approx(0.10)
    assert row["pct_change"] == pytest.approx(12.5)
    assert deltas.loc[("metrics.val_loss", "ccc333"), "pct_change"] == pytest.approx(-20.0)
    assert deltas.loc[("metrics.accuracy", "aaa111"), "delta"] == 0
    assert set(deltas.index.get_level_values("field")) == {
        "metrics.accuracy",
        "metrics.val_loss",
        "metrics.same",
    }


def test_percent_change_is_missing_against_a_zero_or_missing_baseline():
    frame = pd.DataFrame(
        {"run_id": ["a", "b", "c"], "metrics.m": [0.0, 2.0, None], "metrics.n": [None, 1.0, 2.0]}
    )
    deltas = diff.baseline_deltas(diff.diff_table(frame), "a").set_index(["field", "run_id"])
    assert deltas.loc[("metrics.m", "b"), "delta"] == 2.0
    assert math.isnan(deltas.loc[("metrics.m", "b"), "pct_change"])
    assert math.isnan(deltas.loc[("metrics.n", "b"), "delta"])


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("loss", "min"), ("val_loss", "min"), ("metrics.train_loss", "min"), ("test_error", "min"),
        ("RMSE", "min"), ("mae", "min"), ("mse", "min"),
        ("accuracy", "max"), ("f1", "max"), ("auc", "max"), ("metrics.precision", "max"),
    ],
)  # fmt: skip
def test_metric_direction_rule(name, direction):
    assert diff.metric_direction(name) == direction


def test_best_marks_follow_the_direction_and_mark_ties():
    table = diff.diff_table(runs_frame())
    marks = diff.best_marks(table)
    assert marks.loc["metrics.accuracy"].tolist() == [False, True, False]  # higher is better
    assert marks.loc["metrics.val_loss"].tolist() == [False, True, True]  # lower is better, a tie
    assert not marks.loc["metrics.same"].any()  # no winner when all are equal
    assert not marks.loc["params.depth"].any()  # params are never "best"
    assert diff.best_runs(table) == {"metrics.accuracy": ["bbb222"], "metrics.val_loss": ["bbb222", "ccc333"]}


def test_display_table_is_text_with_labels_and_best_column():
    table = diff.diff_table(runs_frame())
    labels = diff.unique_labels(
        list(table.columns[:-1]), {"aaa111": "base", "bbb222": "wide", "ccc333": "<b>"}
    )
    shown = diff.display_table(table, labels)
    assert list(shown.columns) == [
        "base · aaa111",
        "wide · bbb222",
        "<b> · ccc333",
        "better",
        "best",
        "differs",
    ]
    assert shown.loc["metrics.accuracy", "wide · bbb222"] == "0.9"
    assert shown.loc["params.only_b", "base · aaa111"] == ""
    assert shown.loc["metrics.val_loss", "better"] == "lower"
    assert shown.loc["metrics.val_loss", "best"] == "wide · bbb222, <b> · ccc333"
    assert shown.loc["params.lr", "better"] == ""


def test_cell_styles_highlight_changes_and_best():
    table = diff.diff_table(runs_frame())
    labels = {r: r for r in diff.run_columns(table)}
    styles = diff.cell_styles(diff.display_table(table, labels), table, "aaa111", labels)
    assert diff.DIFF_STYLE in styles.loc["params.depth", "bbb222"]
    assert styles.loc["params.depth", "ccc333"] == ""
    assert diff.BEST_STYLE in styles.loc["metrics.accuracy", "bbb222"]
    assert styles.loc["metrics.accuracy", "aaa111"] == ""
    assert (styles["best"] == "").all()
    html = diff.display_table(table, labels).style.apply(lambda _: styles, axis=None).to_html()
    assert "font-weight: bold" in html


def test_deltas_table_cells():
    table = diff.diff_table(runs_frame())
    wide = diff.deltas_table(diff.baseline_deltas(table, "aaa111"), ["aaa111", "bbb222", "ccc333"])
    assert wide.loc["metrics.accuracy", "bbb222"] == "0.9  Δ +0.1 (+12.5%)"
    assert wide.loc["metrics.accuracy", "aaa111"] == "0.8"
    assert wide.loc["metrics.same", "ccc333"] == "1"


def test_unique_labels_never_collide():
    labels = diff.unique_labels(["abcdef1", "abcdef2", "zzz"], {"abcdef1": "run", "abcdef2": "run"})
    assert len(set(labels.values())) == 3
    assert labels["zzz"] == "zzz"


def test_check_run_ids_bounds():
    assert diff.check_run_ids(["a", "b", "a", " "]) == ["a", "b"]
    with pytest.raises(BadInput, match="at least 2"):
        diff.check_run_ids(["a"])
    with pytest.raises(BadInput, match="at most 50"):
        diff.check_run_ids([f"r{i}" for i in range(51)])


def test_a_duplicated_run_is_refused():
    with pytest.raises(BadInput):
        diff.diff_table(pd.DataFrame({"run_id": ["a", "a"], "params.x": ["1", "2"]}))


def test_the_markdown_table_keeps_store_text_literal_and_the_table_intact() -> None:
    from registry.domain.diff import markdown_table

    table = pd.DataFrame(
        {"run a": ["0.1", "x|y"], "run <b>": ["line\nbreak", None]}, index=["params.lr", "tags.note"]
    )
    text = markdown_table(table)
    lines = text.splitlines()
    assert lines[0] == "| field | run a | run &lt;b&gt; |"
    assert lines[1] == "|---|---|---|"
    assert lines[2] == "| params.lr | 0.1 | line break |"
    assert lines[3] == "| tags.note | x\\|y |  |"
