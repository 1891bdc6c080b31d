"""The empty state of the Run and Compare pages: the store's newest runs, to pick from in place.

Opened without a run (from the sidebar, or a link that lost its query), those pages would otherwise
have nothing to show but a request for an id; the newest runs are almost always what a user came
for, and the table says which experiment each one belongs to.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.views.shared import cached_read, table
from registry.service import Registry

RECENT_RUNS = 50
COLUMNS = {
    "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
    "duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f"),
}


def recent_runs_frame(runs: pd.DataFrame, experiment_names: dict[str, str]) -> pd.DataFrame:
    """The picker's table: name, experiment, status, start and duration; the run id last."""
    return pd.DataFrame(
        {
            "run_name": runs["run_name"],
            "experiment": [experiment_names.get(str(e), str(e)) for e in runs["experiment_id"]],
            "status": runs["status"],
            "start_time": runs["start_time"],
            "duration_s": runs["duration_s"],
            "run_id": runs["run_id"],
        }
    ).reset_index(drop=True)


def pick_recent_runs(key: str, multiple: bool) -> list[str]:
    """The newest runs as a selectable table; returns the ids of the selected rows."""
    runs = cached_read(Registry.recent_runs, RECENT_RUNS)
    if runs.empty:
        st.info("No runs yet: log a run with MLflow and it shows here.", icon=":material/science:")
        return []
    names = {e.experiment_id: e.name for e in cached_read(Registry.experiment_activity)}
    frame = recent_runs_frame(runs, names)
    event = table(
        frame,
        key=key,
        on_select="rerun",
        selection_mode="multi-row" if multiple else "single-row",
        hide_index=True,
        width="stretch",
        column_config=COLUMNS,
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return [frame["run_id"].iloc[r] for r in rows if 0 <= r < len(frame)]
