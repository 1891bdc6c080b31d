"""Shaping a page of runs: children under their parent, columns to offer, order clauses both ways."""

from __future__ import annotations

import pandas as pd
import pytest

from pages.views import run_table
from registry.errors import BadInput


def page() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["c1", "p", "solo", "g1", "c2", "orphan"],
            "run_name": ["child-1", "parent", "solo", "grandchild", "child-2", "orphan"],
            "parent_run_id": ["p", None, None, "c1", "p", "elsewhere"],
            "status": ["FINISHED"] * 6,
            "metrics.loss": [0.1] * 6,
            "params.lr": ["0.1"] * 6,
            "tags.team": ["x"] * 6,
        }
    )


def test_children_follow_their_parent_recursively():
    nested = run_table.nest_children(page())
    assert list(nested["run_id"]) == ["p", "c1", "g1", "c2", "solo", "orphan"]
    assert list(nested["depth"]) == [0, 1, 2, 1, 0, 1]
    assert list(nested["run_name"]) == [
        "parent", "↳ child-1", "    ↳ grandchild", "↳ child-2", "solo", "↳ orphan",
    ]  # fmt: skip


def test_nesting_survives_a_cycle_and_an_empty_page():
    cyclic = pd.DataFrame({"run_id": ["a", "b"], "run_name": ["a", "b"], "parent_run_id": ["b", "a"]})
    assert sorted(run_table.nest_children(cyclic)["run_id"]) == ["a", "b"]
    empty = pd.DataFrame(columns=["run_id", "run_name", "parent_run_id"])
    assert run_table.nest_children(empty).empty


def test_column_groups_and_defaults():
    frame = page().assign(start_time=None, duration_s=1.0, user="ada")
    groups = run_table.column_groups(frame)
    assert groups["metrics"] == ["metrics.loss"] and groups["tags"] == ["tags.team"]
    assert run_table.default_columns(frame) == [
        "run_name", "status", "start_time", "duration_s", "user", "metrics.loss", "params.lr",
    ]  # fmt: skip
    assert run_table.visible_columns(frame, ["metrics.loss", "nope", "metrics.loss"]) == [
        "run_id",
        "metrics.loss",
    ]


@pytest.mark.parametrize(
    ("column", "ascending", "clause"),
    [
        ("start_time", False, "start_time DESC"),
        ("user", True, "user_id ASC"),
        ("metrics.loss", True, "metrics.loss ASC"),
        ("metrics.my loss", False, "metrics.`my loss` DESC"),
        ("params.lr", True, "params.lr ASC"),
    ],
)
def test_order_clause_round_trip(column, ascending, clause):
    assert run_table.order_clause(column, ascending) == clause
    assert run_table.parse_order(clause) == (column, ascending)


def test_parse_order_accepts_mlflow_spellings():
    assert run_table.parse_order("attributes.start_time") == ("start_time", True)
    assert run_table.parse_order("metric.acc desc") == ("metrics.acc", False)


def test_duration_cannot_be_ordered_on_the_server():
    with pytest.raises(BadInput, match="cannot sort"):
        run_table.order_clause("duration_s", True)


def test_order_choices_keep_the_current_one():
    choices = run_table.order_choices(page(), "metrics.gone")
    assert choices[:5] == list(run_table.ORDERABLE_ATTRIBUTES)
    assert "metrics.loss" in choices and choices[-1] == "metrics.gone"


def test_history_columns_add_each_runs_statistics_and_leave_gaps_for_runs_without_the_metric():
    runs = pd.DataFrame({"run_id": ["a", "b"], "run_name": ["A", "B"]})
    stats = pd.DataFrame(
        {"run_id": ["a"], "key": ["loss"], "min": [0.1], "max": [2.0], "mean": [0.7], "last": [0.2]}
    )
    table = run_table.with_history_columns(runs, stats, ["loss"], ["min", "last"])
    assert list(table.columns) == ["run_id", "run_name", "metrics.loss (min)", "metrics.loss (last)"]
    assert table["metrics.loss (min)"].tolist()[0] == 0.1
    assert pd.isna(table["metrics.loss (last)"].iloc[1])
    with pytest.raises(BadInput, match="median is not one of min, max, mean, last"):
        run_table.with_history_columns(runs, stats, ["loss"], ["median"])
