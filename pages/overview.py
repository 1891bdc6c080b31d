"""Overview, the home page: who holds production for each model, what waits for a decision, what
changed lately; then, behind an expander, whether the stores answer and how much is in them. Each part
loads on its own, so a store that is down shows as such in its place (and in a line at the top).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.views.catalog import candidates_frame, production_frame
from pages.views.columns import open_link, source_run_link, when
from pages.views.events import EVENT_COLUMNS as HISTORY_COLUMNS
from pages.views.events import events_frame
from pages.views.integrity import audit_integrity
from pages.views.requests import requests_section
from pages.views.shared import STATUS_TTL_S, cached_read, plain, section, settings, table, through_app
from registry.service import Registry

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

PRODUCTION_CAP = 100
CANDIDATES_CAP = 20
LATEST_EVENTS = 10
EVENT_COLUMNS = list(HISTORY_COLUMNS[: HISTORY_COLUMNS.index("flag") + 1])  # as History shows them

st.title("MLflow Registry Dashboard")
alerts = st.container()  # a store that does not answer is said here, above everything

st.subheader("Production")
with section("production"), st.spinner("Reading production versions…"):
    rows, more = cached_read(Registry.production_models, PRODUCTION_CAP)
    if not rows:
        st.info("No model has a production version yet. Promote one on the Models page.")
    else:
        table(
            production_frame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "open": open_link(),
                "source run": source_run_link(),
                "since": when("since"),
            },
            key="overview.production",
        )
        if more:
            st.caption(f"The first {PRODUCTION_CAP} models by name; search the Models page for the others.")
    st.page_link("pages/models.py", label="All models", icon=":material/inventory_2:")

st.subheader("Waiting for a decision")
with section("waiting"), st.spinner("Looking for new versions…"):
    candidates, more_models = cached_read(Registry.awaiting_decision, CANDIDATES_CAP)
    if not candidates:
        st.info("Nothing waits: every model's newest version holds production, or was archived.")
    else:
        st.caption("Each model's newest version, when it is newer than production and not archived.")
        table(
            candidates_frame(candidates),
            hide_index=True,
            width="stretch",
            column_config={
                "open": open_link("decide"),
                "source run": source_run_link(),
                "registered": when("registered"),
            },
            key="overview.waiting",
        )
        if more_models:
            st.caption(f"From the {CANDIDATES_CAP} most recently changed models with a newer version.")

st.subheader("Latest registry events")
with section("events"):
    events = events_frame(cached_read(Registry.history, None, LATEST_EVENTS)).head(LATEST_EVENTS)
    if events.empty:
        st.info("No registry actions recorded yet.")
    else:
        table(
            events[EVENT_COLUMNS],
            hide_index=True,
            width="stretch",
            column_config={
                "at": when("at"),
                "from_version": "from",
                "to_version": "to",
            },
            key="overview.events",
        )
    st.page_link("pages/history.py", label="Full history", icon=":material/history:")

st.subheader("Approval requests")
with section("requests"):
    requests_section(cached_read(Registry.requests, None, ttl=10), "overview.requests")

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

diagnostics = st.expander("Stores and contents", icon=":material/dns:")
with diagnostics, section("stores"), st.spinner("Checking the stores…"):
    statuses = cached_read(Registry.store_status, ttl=STATUS_TTL_S)
    table(
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
            alerts.error(f"The {s.store} does not answer: {plain(s.detail)}", icon=":material/power_off:")
with diagnostics, section("credentials"):
    present = settings().credentials_present()
    table(
        pd.DataFrame(
            [{"credential": name, "present": "set" if ok else "not set"} for name, ok in present.items()]
        ),
        hide_index=True,
        key="overview.credentials",
    )
    st.caption("Only whether each credential is set is shown, never its value.")

with diagnostics, section("counts"), st.spinner("Counting…"):
    counts = cached_read(Registry.store_counts, ttl=60)
    cols = st.columns(4)
    cols[0].metric("Experiments", str(counts.experiments))
    cols[1].metric(
        "Runs",
        str(counts.runs),
        help="Exact when the store is a database; through a server, counted up to a cap (shown as 1,000+): "
        "MLflow has no count call.",
    )
    cols[2].metric("Registered models", str(counts.models))
    cols[3].metric("Model versions", str(counts.versions))

with section("audit integrity"):  # last: it walks the whole log (cached); said at the top all the same
    audit_integrity(alerts)
