"""The audit history as a table: order, flags, filters and a CSV a spreadsheet cannot be tricked by."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, timedelta

from pages.views.events import (
    FORCED_FLAG,
    INCOMPLETE_FLAG,
    EventFilter,
    distinct,
    events_csv,
    events_frame,
    filter_events,
)
from tests.views.test_timeline import attempt


def sample():
    return [
        attempt(1, "promote", "1", actor="ada"),
        attempt(2, "promote", "2", actor="bo", outcome="refused"),
        attempt(3, "archive", "1", actor="ada", target="archived", model="other"),
        attempt(4, "rollback", "1", actor="cy", outcome="incomplete"),
    ]


def test_newest_first_with_flags():
    frame = events_frame([*sample(), attempt(5, "promote", "3")])
    assert list(frame["to_version"]) == ["3", "1", "1", "2", "1"]
    assert frame.loc[1, "flag"] == INCOMPLETE_FLAG
    assert (frame["flag"] == "").sum() == 4
    forced = events_frame([replace(attempt(1, "promote", "1"), forced=True)])
    assert forced.loc[0, "flag"] == FORCED_FLAG


def test_filters_combine_and_empty_means_any():
    frame = events_frame(sample())
    assert len(filter_events(frame, EventFilter())) == 4
    assert list(filter_events(frame, EventFilter(actors=("ada",)))["model"]) == ["other", "m"]
    assert list(
        filter_events(frame, EventFilter(models=("m",), outcomes=("done", "refused")))["to_version"]
    ) == [
        "2",
        "1",
    ]
    assert list(filter_events(frame, EventFilter(actions=("rollback",)))["actor"]) == ["cy"]
    day = (frame["at"].min() + timedelta(days=1)).date()
    assert len(filter_events(frame, EventFilter(since=day))) == 3
    assert len(filter_events(frame, EventFilter(until=day))) == 2  # until is inclusive
    assert len(filter_events(frame, EventFilter(since=day, until=day))) == 1
    assert filter_events(frame, EventFilter(since=date(2030, 1, 1))).empty


def test_distinct_values_for_the_filter_widgets():
    frame = events_frame(sample())
    assert distinct(frame, "actor") == ["ada", "bo", "cy"]
    assert distinct(events_frame([]), "actor") == []


def test_csv_keeps_every_row_and_defuses_formulas():
    rows = [*sample(), attempt(6, "promote", "9", reason='=HYPERLINK("http://x")', actor="@eve")]
    data = events_csv(events_frame(rows))
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(parsed) == 5
    assert parsed[0]["reason"] == '\'=HYPERLINK("http://x")'
    assert parsed[0]["actor"] == "'@eve"
    assert parsed[0]["at"].startswith("2026-01-07T12:00:00")
    assert parsed[1]["flag"] == INCOMPLETE_FLAG


HOSTILE = [
    "ok;=cmd|' /C calc'!A0",
    "fine,+SUM(1)",
    "tab\t-2+3",
    "line\n@SUM(A1)",
    "  =1+1",
    "pipe|=x",
    "＝HYPERLINK(1)",
]


def test_csv_quotes_every_field_and_defuses_formulas_after_any_separator():
    """A viewer can plant a reason through a refused attempt; opened in a `;` locale it must stay text."""
    rows = [attempt(i + 1, "promote", "1", reason=text, actor=f"a;={i}") for i, text in enumerate(HOSTILE)]
    data = events_csv(events_frame(rows)).decode("utf-8")
    records = list(csv.reader(io.StringIO(data)))
    # every field quoted: each record line opens with a quote (the one multi-line reason goes on with ')
    assert all(line.startswith(('"', "'")) for line in data.splitlines() if line)
    assert all(len(r) == len(records[0]) for r in records)
    for delimiter in (";", ",", "\t", "|"):  # however a spreadsheet splits the cells
        for line in data.splitlines():
            for cell in line.split(delimiter):
                bare = cell.strip().strip('"').strip()
                assert not bare.startswith(("=", "+", "-", "@", "＝")), (delimiter, cell)
    shown = {r[records[0].index("reason")] for r in records[1:]}
    assert len(shown) == len(HOSTILE)  # each reason still there, readable
    assert any("cmd|' /C calc'!A0" in s for s in shown)


def test_origin_tells_dashboard_changes_from_those_made_in_mlflow():
    from datetime import UTC, datetime

    from pages.views.events import events_csv, events_frame
    from registry.audit.log import Attempt

    at = datetime(2026, 1, 1, tzinfo=UTC)

    def made(action: str, reason: str) -> Attempt:
        return Attempt(
            action + reason[:3], at, "x", "lead", "m", action, "production", None, "1", reason, "done"
        )

    frame = events_frame(
        [
            made("observed", "state when first seen"),
            made("outside", "webhook model_version_alias.created: alias 'production' set to v1"),
            made("outside", "noticed by the dashboard: MLflow says v1"),
            made("promote", "better"),
        ]
    )
    assert sorted(frame["origin"]) == [
        "dashboard",
        "first seen in MLflow",
        "outside: MLflow webhook",
        "outside: noticed by the dashboard",
    ]
    assert b',"origin",' in events_csv(frame).splitlines()[0]  # every field quoted
