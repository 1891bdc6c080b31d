"""History: every attempted registry action, for all models or one (`?model=`), newest first.

Filters (model, actor, action, outcome, dates) live in the URL so a view can be shared; the table, its
CSV export and the production timeline all come from the audit log. The `origin` column tells the
dashboard's changes from those made in MLflow directly (recorded by webhook or noticed) and from the
state first seen. Incomplete attempts and holders set outside the dashboard are called out above the
table, not left for the reader to spot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from pages.views.columns import when
from pages.views.events import EventFilter, distinct, events_csv, events_frame, filter_events
from pages.views.first_paint import plotly_chart
from pages.views.integrity import audit_integrity
from pages.views.shared import (
    cached_read,
    plain,
    query_list,
    query_param,
    section,
    set_query,
    table,
    through_app,
)
from pages.views.timeline import production_figure, production_intervals
from registry.audit.log import OUTCOMES
from registry.audit.replay import OBSERVED, OUTSIDE, POLICY
from registry.domain.lookalike import reveal_invisible
from registry.errors import NotFound, RegistryError
from registry.lifecycle.actions import ACTIONS
from registry.service import Registry

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

ALL = "All models"
MAX_DRIFT_MODELS = 20
MAX_CHART_MODELS = 30


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(frame: pd.DataFrame) -> EventFilter:
    """The filter widgets, initialised from the URL and written back to it."""
    models = distinct(frame, "model")
    wanted_model = query_param("model")
    if wanted_model and wanted_model not in models:
        models.append(wanted_model)  # a model with no recorded attempt still gets its (empty) view
    c_model, c_actor, c_action, c_outcome, c_dates = st.columns([2, 2, 2, 2, 2])
    model_options = [ALL, *sorted(models)]
    model = c_model.selectbox(
        "Model",
        model_options,
        index=model_options.index(wanted_model) if wanted_model in model_options else 0,
        format_func=reveal_invisible,
        key="history.model",
    )
    actors = distinct(frame, "actor")
    actor = c_actor.multiselect(
        "Actor",
        actors,
        default=[a for a in query_list("actor") if a in actors],
        format_func=reveal_invisible,
        key="history.actor",
    )
    known = [*ACTIONS, "register", OBSERVED, OUTSIDE, POLICY]
    actions = list(dict.fromkeys([*known, *distinct(frame, "action")]))
    action = c_action.multiselect(
        "Action",
        actions,
        default=[a for a in query_list("action") if a in actions],
        key="history.action",
        help=f"{OBSERVED}: the state MLflow showed when the dashboard first met the model; "
        f"{OUTSIDE}: a change made in MLflow directly (by webhook, or noticed by the dashboard); "
        f"{POLICY}: a model's registry.* policy tags changed in MLflow directly",
    )
    outcome = c_outcome.multiselect(
        "Outcome",
        list(OUTCOMES),
        default=[o for o in query_list("outcome") if o in OUTCOMES],
        key="history.outcome",
    )
    since, until = _date(query_param("since")), _date(query_param("until"))
    picked = c_dates.date_input(
        "Dates (UTC)", value=[d for d in (since, until) if d], key="history.dates", format="YYYY-MM-DD"
    )
    days = list(picked) if isinstance(picked, list | tuple) else [picked] if picked else []
    since = days[0] if days else None
    until = days[1] if len(days) > 1 else None
    set_query(
        model=None if model == ALL else model,
        actor=actor,
        action=action,
        outcome=outcome,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )
    return EventFilter(
        models=() if model == ALL else (model,),
        actors=tuple(actor),
        actions=tuple(action),
        outcomes=tuple(outcome),
        since=since,
        until=until,
    )


def _flags(shown: pd.DataFrame) -> None:
    incomplete = shown[shown["outcome"] == "incomplete"]
    if not incomplete.empty:
        models = ", ".join(sorted(set(incomplete["model"])))
        st.warning(
            f"{len(incomplete)} incomplete attempt(s) ({plain(models)}): the intent was recorded but no "
            "result, so the process stopped mid-action. Check the model's state in MLflow.",
            icon=":material/warning:",
        )
    models = list(dict.fromkeys(shown["model"]))  # most recently active first
    for name in models[:MAX_DRIFT_MODELS]:
        try:
            found = cached_read(Registry.model_drift, name)
        except NotFound:
            st.caption(f"{plain(name)} is no longer in the registry.")
            continue
        for item in found:
            st.warning(f"Drift in **{plain(name)}**: {plain(item)}", icon=":material/call_split:")
    if len(models) > MAX_DRIFT_MODELS:
        st.caption(
            f"Drift checked for the {MAX_DRIFT_MODELS} most recently active models; pick a model for others."
        )


def _table(shown: pd.DataFrame) -> None:
    table(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "at": when("at", seconds=True),
            "finished_at": when("finished at", seconds=True),
            "from_version": "from",
            "to_version": "to",
        },
        key="history.table",
    )
    st.download_button(
        "Download CSV",
        data=events_csv(shown),
        file_name="registry-history.csv",
        mime="text/csv",
        key="history.download",
        on_click="ignore",
    )


def _slot(flt: EventFilter) -> str:
    """The slot the timeline follows: production, or for one model any slot it manages (its first by
    default, as its registry.slots lists them)."""
    if len(flt.models) != 1:
        return "production"
    try:
        slots = list(dict.fromkeys(cached_read(Registry.managed_aliases, flt.models[0]).values()))
    except RegistryError:  # the model is gone from MLflow: its history still shows production
        return "production"
    if not slots:
        return "production"
    first = slots.index("production") if "production" in slots else 0
    return str(st.selectbox("Slot", slots, index=first, key="history.slot"))


def _timeline(frame: pd.DataFrame, flt: EventFilter) -> None:
    slot = _slot(flt)
    scope = filter_events(frame, EventFilter(models=flt.models))  # the chart needs every done attempt
    models = list(dict.fromkeys(scope["model"])) if not scope.empty else []
    attempts = cached_read(Registry.history, flt.models[0] if flt.models else None)
    if len(models) > MAX_CHART_MODELS:
        keep = set(models[:MAX_CHART_MODELS])
        attempts = [a for a in attempts if a.model in keep]
        st.caption(f"The {MAX_CHART_MODELS} most recently active models; pick a model to see another.")
    intervals = production_intervals(attempts, datetime.now(UTC), slot)
    plotly_chart(production_figure(intervals, slot), key="history.chart")
    if not intervals.empty:
        with st.expander(f"{slot.capitalize()} intervals as a table"):
            table(
                intervals,
                hide_index=True,
                width="stretch",
                column_config={
                    "start": when("start", seconds=True),
                    "end": when("end", seconds=True),
                },
            )


st.title("History")
st.caption(
    "Every attempted change, whoever made it and whatever the outcome, newest first; changes made in "
    "MLflow directly are recorded too (actor `mlflow`, origin `outside`)."
)
integrity = st.container()  # an altered audit log is said above everything, once it is checked
frame = None
with section("history"), st.spinner("Reading the audit log…"):
    frame = events_frame(cached_read(Registry.history))
if frame is not None:
    flt = _filters(frame)
    shown = filter_events(frame, flt)
    with section("flags"):
        _flags(shown)
    st.subheader(f"{len(shown)} attempt(s)" + (f" of {len(frame)}" if len(shown) != len(frame) else ""))
    with section("table"):
        if frame.empty:
            st.info(
                "No registry actions recorded yet. Promote a version on the Models page to start the history."
            )
        _table(shown)
    st.subheader("Who held production" if len(flt.models) != 1 else "Who held each slot")
    with section("timeline"):
        _timeline(frame, flt)

with section("audit integrity"):  # last: it walks the whole log (cached); shown at the top all the same
    audit_integrity(integrity)
