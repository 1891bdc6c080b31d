"""Overview, the home page: are the stores answering, how much is in them, what serves production, and
what changed lately. Each part loads on its own, so a store that is down shows as such in its place.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.views.catalog import production_frame
from pages.views.events import EVENT_COLUMNS as HISTORY_COLUMNS
from pages.views.events import events_frame
from pages.views.shared import cached_read, plain, section, settings, through_app
from registry.lifecycle.catalog import production_models
from registry.service import Registry
from registry.store.status import store_counts, store_status

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

PRODUCTION_CAP = 100
LATEST_EVENTS = 10
WHEN = {"format": "YYYY-MM-DD HH:mm", "timezone": "UTC"}
EVENT_COLUMNS = list(HISTORY_COLUMNS[: HISTORY_COLUMNS.index("flag") + 1])  # as History shows them

st.title("MLflow Registry Dashboard")

st.subheader("Stores")
with section("stores"), st.spinner("Checking the stores…"):
    statuses = cached_read(store_status, ttl=10)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "store": s.store,
                    "status": ("✅ " if s.reachable else "❌ " if s.reachable is False else "➖ ") + s.label,
                    "uri": s.uri,
                    "detail": s.detail,
                    "seconds": round(s.seconds, 2),
                }
                for s in statuses
            ]
        ),
        hide_index=True,
        width="stretch",
        key="overview.stores",
    )
    for s in statuses:
        if s.reachable is False:
            st.error(f"The {s.store} does not answer: {plain(s.detail)}", icon=":material/power_off:")
with section("credentials"):
    present = settings().credentials_present()
    st.dataframe(
        pd.DataFrame(
            [{"credential": name, "present": "set" if ok else "not set"} for name, ok in present.items()]
        ),
        hide_index=True,
        key="overview.credentials",
    )
    st.caption("Only whether each credential is set is shown, never its value.")

st.subheader("Contents")
with section("counts"), st.spinner("Counting…"):
    counts = cached_read(store_counts, ttl=60)
    cols = st.columns(4)
    cols[0].metric("Experiments", str(counts.experiments))
    cols[1].metric("Runs", str(counts.runs), help="Counted up to a cap: MLflow has no count call.")
    cols[2].metric("Registered models", str(counts.models))
    cols[3].metric("Model versions", str(counts.versions))

st.subheader("Production")
with section("production"), st.spinner("Reading production versions…"):
    rows, more = cached_read(production_models, PRODUCTION_CAP)
    if not rows:
        st.info("No model has a production version yet. Promote one on the Models page.")
    else:
        st.dataframe(
            production_frame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "open": st.column_config.LinkColumn("open", display_text="open ↗", width="small"),
                "source run": st.column_config.LinkColumn("source run", display_text=r"run\?run=(.+)$"),
                "since": st.column_config.DatetimeColumn("since", **WHEN),
            },
            key="overview.production",
        )
        if more:
            st.caption(f"The first {PRODUCTION_CAP} models by name; search the Models page for the others.")
    st.page_link("pages/models.py", label="All models", icon=":material/inventory_2:")

st.subheader("Latest registry events")
with section("events"):
    events = events_frame(cached_read(Registry.history, None, LATEST_EVENTS)).head(LATEST_EVENTS)
    if events.empty:
        st.info("No registry actions recorded yet.")
    else:
        st.dataframe(
            events[EVENT_COLUMNS],
            hide_index=True,
            width="stretch",
            column_config={
                "at": st.column_config.DatetimeColumn("at", **WHEN),
                "from_version": "from",
                "to_version": "to",
            },
            key="overview.events",
        )
    st.page_link("pages/history.py", label="Full history", icon=":material/history:")

st.subheader("Notifications")
with section("notifications"):
    note = cached_read(Registry.notification_status, ttl=10)
    if not note.targets:
        st.caption(
            "No webhooks configured: set REGISTRY_NOTIFY_URLS (and REGISTRY_NOTIFY_SECRET to sign) to "
            "announce every registry change in Slack, Teams or any HTTP endpoint."
        )
    else:
        o = note.outbox
        cols = st.columns(4)
        cols[0].metric("Pending", str(o.pending), help="Queued and not yet delivered")
        cols[1].metric(
            "Retrying", str(o.retrying), help="Pending after a failed try; sent again with backoff"
        )
        cols[2].metric("Failed", str(o.failed), help="Given up after the last try")
        cols[3].metric("Delivered", str(o.delivered))
        st.caption(
            "Webhooks: "
            + plain(", ".join(note.targets))
            + ("; signed with HMAC-SHA256" if note.signed else "; unsigned (set REGISTRY_NOTIFY_SECRET)")
        )
        if o.last_error:
            when = f" at {o.last_error_at:%Y-%m-%d %H:%M} UTC" if o.last_error_at else ""
            st.warning(
                f"Last delivery error{when}: {plain(o.last_error)}", icon=":material/notifications_off:"
            )
