"""Table columns every page shows the same way: times in UTC, links to a run or a model.

One definition each, so "when" reads alike on every page and a link column always shows
"open ↗" (or the run id) instead of a long URL.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

WHEN: dict[str, Any] = {"format": "YYYY-MM-DD HH:mm", "timezone": "UTC"}
WHEN_SECONDS: dict[str, Any] = {"format": "YYYY-MM-DD HH:mm:ss", "timezone": "UTC"}


def when(label: str, seconds: bool = False) -> Any:
    """A UTC time column, to the minute (or to the second, for event logs)."""
    return st.column_config.DatetimeColumn(label, **(WHEN_SECONDS if seconds else WHEN))


def open_link(label: str = "open") -> Any:
    """A link to a page of the dashboard (a run, a model), shown as "open ↗"."""
    return st.column_config.LinkColumn(label, display_text="open ↗", width="small")


def source_run_link() -> Any:
    """A link to the Run page, shown as the run's id."""
    return st.column_config.LinkColumn("source run", display_text=r"run\?run=(.+)$")
