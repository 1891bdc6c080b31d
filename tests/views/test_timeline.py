"""Production intervals from the audit history, and the figure drawn from them: pure, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pages.views.timeline import INTERVAL_COLUMNS, production_figure, production_intervals
from registry.audit.log import Attempt

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


def attempt(
    day: int,
    action: str,
    version: str | None,
    *,
    model: str = "m",
    target: str = "production",
    outcome: str = "done",
    actor: str = "ada",
    reason: str = "why",
) -> Attempt:
    at = T0 + timedelta(days=day)
    return Attempt(
        attempt_id=f"{model}-{day}-{action}",
        at=at,
        actor=actor,
        role="lead",
        model=model,
        action=action,
        target=target,
        from_version=None,
        to_version=version,
        reason=reason,
        outcome=outcome,
        finished_at=at + timedelta(seconds=1) if outcome != "incomplete" else None,
    )


def stints(frame: pd.DataFrame) -> list[tuple[str, str, int, int | None, bool]]:
    """(model, version, start day, end day or None when current, current) per row."""
    out = []
    for r in frame.itertuples():
        end = None if r.current else (r.end - T0).days
        out.append((r.model, r.version, (r.start - T0).days, end, r.current))
    return out


def test_promotions_chain_into_intervals_and_the_holder_runs_until_now():
    frame = production_intervals(
        [attempt(1, "promote", "1"), attempt(5, "promote", "2", actor="bo"), attempt(9, "promote", "3")], NOW
    )
    assert list(frame.columns) == list(INTERVAL_COLUMNS)
    assert stints(frame) == [("m", "1", 1, 5, False), ("m", "2", 5, 9, False), ("m", "3", 9, None, True)]
    assert frame.loc[1, "by"] == "bo"
    assert frame.loc[2, "end"] == pd.Timestamp(NOW)
    assert str(frame["start"].dt.tz) == "UTC"


def test_only_completed_production_changes_count():
    frame = production_intervals(
        [
            attempt(1, "promote", "1"),
            attempt(2, "promote", "2", outcome="refused"),
            attempt(3, "promote", "2", outcome="conflict"),
            attempt(4, "promote", "2", outcome="failed"),
            attempt(5, "promote", "2", outcome="incomplete"),
            attempt(6, "promote", "2", target="staging"),
        ],
        NOW,
    )
    assert stints(frame) == [("m", "1", 1, None, True)]


def test_rollback_starts_a_new_stint_for_the_earlier_version():
    frame = production_intervals(
        [attempt(1, "promote", "1"), attempt(3, "promote", "2"), attempt(4, "rollback", "1", reason="bad")],
        NOW,
    )
    assert stints(frame) == [("m", "1", 1, 3, False), ("m", "2", 3, 4, False), ("m", "1", 4, None, True)]
    assert frame.loc[2, "action"] == "rollback" and frame.loc[2, "reason"] == "bad"


def test_archiving_the_holder_ends_production_and_archiving_another_does_not():
    frame = production_intervals(
        [
            attempt(1, "promote", "1"),
            attempt(2, "archive", "7", target="archived"),
            attempt(3, "archive", "1", target="archived"),
        ],
        NOW,
    )
    assert stints(frame) == [("m", "1", 1, 3, False)]


def test_models_are_independent_and_sorted():
    frame = production_intervals(
        [
            attempt(2, "promote", "1", model="b"),
            attempt(1, "promote", "4", model="a"),
            attempt(3, "promote", "2", model="b"),
        ],
        NOW,
    )
    assert stints(frame) == [("a", "4", 1, None, True), ("b", "1", 2, 3, False), ("b", "2", 3, None, True)]


def test_attempts_are_ordered_by_time_whatever_order_they_come_in():
    ordered = [attempt(1, "promote", "1"), attempt(2, "promote", "2")]
    assert stints(production_intervals(reversed(ordered), NOW)) == stints(production_intervals(ordered, NOW))


def test_no_history_gives_an_empty_frame_with_the_columns():
    frame = production_intervals([attempt(1, "promote", "1", outcome="refused")], NOW)
    assert frame.empty and list(frame.columns) == list(INTERVAL_COLUMNS)


def test_figure_has_one_bar_per_stint_with_the_right_base_and_duration():
    frame = production_intervals([attempt(1, "promote", "1"), attempt(3, "promote", "2")], NOW)
    fig = production_figure(frame)
    bars = {trace.name: trace for trace in fig.data}
    assert set(bars) == {"m v1", "m v2"}
    first = bars["m v1"]
    assert first.orientation == "h"
    assert pd.Timestamp(first.base[0]) == pd.Timestamp(2026, 1, 2, 12, 0, 1)  # naive UTC: Plotly has no zones
    assert first.x[0] == pytest.approx(2 * 86_400_000)  # two days, in milliseconds
    assert list(first.text) == ["v1"]
    assert fig.layout.xaxis.type == "date"


def test_figure_escapes_store_text_that_plotly_would_render_as_html():
    frame = production_intervals(
        [
            attempt(
                1, "promote", "1", model="<b>m</b>", actor="<i>x</i>", reason="<a href='javascript:x'>r</a>"
            )
        ],
        NOW,
    )
    trace = production_figure(frame).data[0]
    assert list(trace.y) == ["&lt;b&gt;m&lt;/b&gt;"]
    by, _action, reason, _until, _origin = trace.customdata[0]
    assert "<" not in by + reason
    assert reason.startswith("&lt;a href=")


def test_empty_figure_says_so():
    fig = production_figure(production_intervals([], NOW))
    assert not fig.data
    assert "No production changes" in fig.layout.annotations[0].text


def test_first_seen_and_outside_changes_are_stints_of_their_own_and_hatched():
    """A registry adopted with v1 in production, moved to v2 by hand (webhook), then v3 through us."""
    attempts = [
        attempt(0, "observed", "1", actor="mlflow", reason="state when first seen"),
        attempt(2, "outside", "2", actor="mlflow", reason="webhook model_version_alias.created: ..."),
        attempt(5, "promote", "3"),
        attempt(7, "outside", None, actor="mlflow", reason="noticed by the dashboard: ..."),
    ]
    frame = production_intervals(attempts, NOW)
    assert list(frame["version"]) == ["1", "2", "3"]
    assert list(frame["origin"]) == [
        "first seen in MLflow",
        "outside: MLflow webhook",
        "dashboard",
    ]
    assert not frame["current"].any()  # the alias was removed by hand on day 7
    assert frame.loc[2, "end"] == T0 + timedelta(days=7)
    fig = production_figure(frame)
    shapes = {tr.name: tuple(tr.marker.pattern.shape) for tr in fig.data}
    assert shapes == {"m v1": ("/",), "m v2": ("/",), "m v3": ("",)}


def test_another_slot_has_its_own_stints_and_title():
    attempts = [
        attempt(1, "observed", "1", target="champion"),
        attempt(1, "observed", "2", target="challenger"),
        attempt(2, "promote", "3", target="challenger"),
        attempt(3, "rollback", "2", target="challenger"),
    ]
    challenger = production_intervals(attempts, NOW, "challenger")
    assert list(challenger["version"]) == ["2", "3", "2"] and list(challenger["current"]) == [
        False,
        False,
        True,
    ]
    assert list(production_intervals(attempts, NOW, "champion")["version"]) == ["1"]
    assert production_intervals(attempts, NOW).empty  # nothing moved production
    assert production_figure(challenger, "challenger").layout.title.text == "Challenger holder over time"
