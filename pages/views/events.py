"""The audit history as a table: newest first, flagged, filtered, exported.

One table serves the History page, the Overview's latest events and the CSV export, so an event
reads the same everywhere. Pure functions over `Attempt`s; no store access.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from registry.audit.log import Attempt
from registry.audit.replay import origin_of

EVENT_COLUMNS = (
    "at",
    "model",
    "action",
    "target",
    "from_version",
    "to_version",
    "outcome",
    "actor",
    "origin",
    "reason",
    "flag",
    "forced",
    "role",
    "error",
    "finished_at",
    "attempt_id",
)
INCOMPLETE_FLAG = "incomplete: intent recorded, no result; check MLflow's state for this model"
FORCED_FLAG = "forced past a failing check"
# A formula start (= + - @, their full-width forms, or a tab or CR that Excel skips) at the start of a
# cell or after a separator any locale may use, with blanks in between.
_FORMULA_AFTER_SEPARATOR = re.compile(r"(^|[,;\t|\n\r])(\s*[=+\-@＝＋－＠\t\r])")


def flag_of(a: Attempt) -> str:
    """What a reader of the history should notice about an attempt, if anything."""
    if a.outcome == "incomplete":
        return INCOMPLETE_FLAG
    if a.forced and a.outcome == "done":
        return FORCED_FLAG
    return ""


def events_frame(attempts: Iterable[Attempt]) -> pd.DataFrame:
    """Attempts as rows, newest first; times are timezone-aware UTC."""
    rows = [
        {
            "at": a.at,
            "model": a.model,
            "action": a.action,
            "target": a.target,
            "from_version": a.from_version or "",
            "to_version": a.to_version or "",
            "actor": a.actor,
            "origin": origin_of(a),
            "role": a.role,
            "outcome": a.outcome,
            "forced": bool(a.forced),
            "reason": a.reason,
            "error": a.error or "",
            "flag": flag_of(a),
            "finished_at": a.finished_at,
            "attempt_id": a.attempt_id,
        }
        for a in attempts
    ]
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    if frame.empty:
        return frame
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True)
    return frame.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class EventFilter:
    """Empty tuples and None mean "any"; `until` is inclusive (the whole day, UTC)."""

    models: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None


def filter_events(frame: pd.DataFrame, flt: EventFilter) -> pd.DataFrame:
    if frame.empty:
        return frame
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (
        ("model", flt.models),
        ("actor", flt.actors),
        ("action", flt.actions),
        ("outcome", flt.outcomes),
    ):
        if wanted:
            keep &= frame[column].isin(list(wanted))
    days = frame["at"].dt.date
    if flt.since:
        keep &= days >= flt.since
    if flt.until:
        keep &= days <= flt.until
    return frame[keep].reset_index(drop=True)


def distinct(frame: pd.DataFrame, column: str) -> list[str]:
    """The values a filter can offer, sorted."""
    return sorted(str(v) for v in frame[column].dropna().unique()) if not frame.empty else []


def _defuse(value: object) -> object:
    """Spreadsheets run cells that start with = + - @ as formulas (OWASP CSV injection): put a `'`
    before such a start, at the beginning and after every character a spreadsheet may split on (a
    `;` locale reads `ok;=cmd|...` as two cells), whitespace and full-width look-alikes included."""
    if not isinstance(value, str):
        return value
    return _FORMULA_AFTER_SEPARATOR.sub(lambda m: f"{m.group(1)}'{m.group(2)}", value)


def events_csv(frame: pd.DataFrame, columns: Sequence[str] = EVENT_COLUMNS) -> bytes:
    """The table as UTF-8 CSV, times in ISO 8601 UTC, text cells safe to open in a spreadsheet."""
    out = frame.reindex(columns=list(columns)).copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_defuse)
    text = out.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z", quoting=csv.QUOTE_ALL)
    return text.encode("utf-8")
