"""Which version held production (or another slot), when, and who put it there: intervals from the
audit history.

The audit log is the history (see registry/audit/replay.py): folding its completed attempts gives, per
model, a sequence of production holders. Each holder's interval starts when the attempt that made it
the holder finished and ends when the next holder took over, when it was archived, or `now` if it
still serves. The state first seen (`observed`) and changes made in MLflow directly (`outside`, by
webhook or noticed) are in the audit log too: they start or end stints at the time MLflow gave or
the time they were noticed, and their bars are hatched so they read apart from the dashboard's own.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from registry.audit.log import Attempt
from registry.audit.replay import DASHBOARD, OBSERVED, OUTSIDE, origin_of

INTERVAL_COLUMNS = ("model", "version", "start", "end", "by", "action", "origin", "reason", "current")
_RECORDED_ELSEWHERE = (OBSERVED, OUTSIDE)  # their `at` is when MLflow changed, or when it was seen


def _moves(a: Attempt, slot: str) -> bool:
    return a.action in ("promote", "rollback", *_RECORDED_ELSEWHERE) and a.target == slot


def _when(a: Attempt) -> datetime:
    return a.at if a.action in _RECORDED_ELSEWHERE else (a.finished_at or a.at)


def production_intervals(
    attempts: Iterable[Attempt], now: datetime, slot: str = "production"
) -> pd.DataFrame:
    """One row per (model, version) stint in production (or `slot`), oldest first within each model.

    Columns: model, version, start, end, by (who made it the holder), action (promote, rollback,
    observed or outside), origin (as the history names it), reason, current (True while it still holds
    production; its end is then `now`). Only events that completed (`done`) count; refused,
    conflicting, failed and incomplete attempts changed nothing.
    """
    done = sorted(
        (a for a in attempts if a.outcome == "done" and (a.to_version or _moves(a, slot))),
        key=_when,
    )
    open_: dict[str, dict[str, object]] = {}
    rows: list[dict[str, object]] = []
    for a in done:
        when = _when(a)
        held = open_.get(a.model)
        if a.action == "archive" or (_moves(a, slot) and not a.to_version):  # archived, or removed
            if held and (held["version"] == a.to_version or not a.to_version):
                rows.append({**held, "end": when, "current": False})
                del open_[a.model]
            continue
        if not _moves(a, slot) or (held and held["version"] == a.to_version):
            continue
        if held:
            rows.append({**held, "end": when, "current": False})
        open_[a.model] = {
            "model": a.model,
            "version": str(a.to_version),
            "start": when,
            "by": a.actor,
            "action": a.action,
            "origin": origin_of(a),
            "reason": a.reason,
        }
    rows += [{**held, "end": max(now, held["start"]), "current": True} for held in open_.values()]  # type: ignore[type-var]
    frame = pd.DataFrame(rows, columns=list(INTERVAL_COLUMNS))
    if frame.empty:
        return frame
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    return frame.sort_values(["model", "start"], kind="stable").reset_index(drop=True)


def _naive_utc(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("UTC").dt.tz_localize(None)


def production_figure(intervals: pd.DataFrame, slot: str = "production") -> go.Figure:
    """A Gantt-style chart: one row per model, one bar per stint in production (or `slot`), labelled
    with the version.

    Plotly renders a subset of HTML in labels and hover text, so model names, actors and reasons (all
    store content) are HTML-escaped; Plotly shows the entities as the original characters.
    """
    fig = go.Figure()
    if intervals.empty:
        fig.add_annotation(text=f"No {slot} changes recorded yet", showarrow=False, x=0.5, y=0.5)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    for (model, version), stints in intervals.groupby(["model", "version"], sort=False):
        durations_ms = (stints["end"] - stints["start"]).dt.total_seconds() * 1000
        fig.add_trace(
            go.Bar(
                name=f"{html.escape(str(model))} v{version}",
                orientation="h",
                base=_naive_utc(stints["start"]),  # Plotly.js has no time zones: UTC wall-clock times
                x=durations_ms,
                y=[html.escape(str(model))] * len(stints),
                text=[f"v{version}"] * len(stints),
                textposition="inside",
                insidetextanchor="middle",
                customdata=[
                    [
                        html.escape(str(r.by)),
                        html.escape(str(r.action)),
                        html.escape(str(r.reason)),
                        f"still in {slot}" if r.current else f"until {r.end:%Y-%m-%d %H:%M} UTC",
                        html.escape(str(r.origin)),
                    ]
                    for r in stints.itertuples()
                ],
                # Hatched: set in MLflow directly (or first seen there), not through the dashboard.
                marker={"pattern": {"shape": ["" if o == DASHBOARD else "/" for o in stints["origin"]]}},
                hovertemplate=(
                    "%{y} v" + str(version) + "<br>from %{base|%Y-%m-%d %H:%M} UTC, %{customdata[3]}"
                    "<br>%{customdata[1]} by %{customdata[0]} (%{customdata[4]})"
                    "<br>reason: %{customdata[2]}<extra></extra>"
                ),
                showlegend=False,
            )
        )
    fig.update_layout(
        barmode="overlay",
        xaxis={"type": "date", "title": "time (UTC)"},
        yaxis={"title": "", "autorange": "reversed"},
        height=max(220, 60 + 40 * intervals["model"].nunique()),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=f"{slot.capitalize()} holder over time",
    )
    return fig
