"""Approval requests on the pages: the pending table (Overview, model page), and the decide dialog.

The dialog follows the Models page's pattern: opened from a session-state flag set by a button,
closed by Confirm, Cancel or dismiss, so a click inside it survives its own reruns. Whether the
actor may approve is the service's decision; the page only shows it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pandas as pd
import streamlit as st

from pages.views.shared import after_write, current_actor, plain, registry, show_error, table
from registry.errors import RegistryError
from registry.lifecycle.approvals import ApprovalRequest

log = logging.getLogger("registry.ui.requests")
DECIDE = "requests.decide"  # {"id": ..., "decision": "approve" | "reject" | "withdraw"}
REASON = "requests.reason"
OUTCOME = "requests.outcome"  # (kind, message) of the last failed decision, shown in the dialog
FLASH = "requests.flash"  # the result of the last decision, shown once on the page
_KEYS = (DECIDE, REASON, OUTCOME)
VERBS = {"approve": "Approve", "reject": "Reject", "withdraw": "Withdraw"}


def requests_frame(found: list[ApprovalRequest]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": r.model,
                "change": r.summary(),
                "requester": r.requester,
                "approvals": f"{len(r.approvals)}/{r.needed}",
                "approved by": ", ".join(r.approvers),
                "requested": r.requested_at,
                "expires": r.expires_at,
                "reason": r.reason,
                "id": r.id,
            }
            for r in found
        ],
        columns=[
            "model",
            "change",
            "requester",
            "approvals",
            "approved by",
            "requested",
            "expires",
            "reason",
            "id",
        ],
    )


def _close() -> None:
    for key in _KEYS:
        st.session_state.pop(key, None)


def _open(request_id: str, decision: str) -> None:
    _close()
    st.session_state[DECIDE] = {"id": request_id, "decision": decision}


def _confirm() -> None:
    pending = st.session_state.get(DECIDE)
    if not pending:
        return
    reg, actor = registry(), current_actor()
    reason = str(st.session_state.get(REASON) or "")
    try:
        if pending["decision"] == "approve":
            done: Any = reg.approve(pending["id"], reason, actor=actor)
        elif pending["decision"] == "reject":
            done = reg.reject(pending["id"], reason, actor=actor)
        else:
            done = reg.withdraw(pending["id"], actor=actor, reason=reason)
    except RegistryError as exc:
        after_write()  # a refusal or conflict is now in the history; the page shows the new state
        st.session_state[OUTCOME] = (exc.kind, str(exc))
        return
    except Exception as exc:  # a callback's exception would be a traceback on the page
        log.exception("decision on request %s failed", pending["id"])
        st.session_state[OUTCOME] = ("error", f"unexpected error ({exc.__class__.__name__})")
        return
    after_write()
    _close()
    message = getattr(done, "message", None) or f"request {done.id}: {done.status}"
    st.session_state[FLASH] = message


def _plan_changes(changes: list[str]) -> None:
    st.markdown("\n".join(f"- {plain(c)}" for c in changes) if changes else "(nothing)")


def _decide_dialog(pending: dict[str, str]) -> None:
    if st.session_state.get(DECIDE) != pending:
        st.rerun()  # a callback closed it
    reg, actor = registry(), current_actor()
    try:
        req = reg.request(pending["id"])
        now = reg.request_plan_now(pending["id"])
    except RegistryError as exc:
        show_error(exc, "request")
        st.button("Close", key="requests.close", on_click=_close)
        return
    st.caption(
        f"Request {plain(req.id)} by {plain(req.requester)}; acting as {plain(actor.name)} ({actor.role})"
    )
    st.markdown(f"#### {plain(req.summary())}")
    st.markdown(f"Reason given: {plain(req.reason)}")
    left, right = st.columns(2)
    with left:
        st.markdown("**As requested**")
        _plan_changes(req.plan.get("changes", []))
    with right:
        st.markdown("**As it stands now**")
        _plan_changes(list(now.changes))
    stored_now = json.loads(json.dumps(dataclasses.asdict(now.snapshot)))
    if stored_now != req.snapshot:
        st.warning(
            "The model changed since the request was made: approving it will be refused as a conflict. "
            "Reject it, and the requester can ask again on the new state.",
            icon=":material/call_split:",
        )
    outcome = st.session_state.get(OUTCOME)
    if outcome:
        kind, message = outcome
        st.error(f"**{plain(kind.capitalize())}**: {plain(message)}", icon=":material/block:")
    label = "Reason (required; it goes into the audit history)"
    st.text_area(label if pending["decision"] != "withdraw" else "Reason (optional)", key=REASON)
    confirm, cancel = st.columns(2)
    confirm.button(VERBS[pending["decision"]], key="requests.confirm", type="primary", on_click=_confirm)
    cancel.button("Cancel", key="requests.cancel", on_click=_close)


def requests_section(found: list[ApprovalRequest], key: str) -> None:
    """Pending requests with Approve / Reject (and Withdraw for the requester) per request."""
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(plain(flash), icon=":material/check_circle:")
    if not found:
        st.caption("No approval requests are waiting.")
    else:
        table(
            requests_frame(found),
            hide_index=True,
            width="stretch",
            key=f"{key}.table",
            column_config={
                "requested": st.column_config.DatetimeColumn(
                    "requested", format="YYYY-MM-DD HH:mm", timezone="UTC"
                ),
                "expires": st.column_config.DatetimeColumn(
                    "expires", format="YYYY-MM-DD HH:mm", timezone="UTC"
                ),
            },
        )
        actor = current_actor()
        for r in found:
            cols = st.columns([3, 1, 1])
            cols[0].caption(plain(f"{r.summary()} — {r.id[:8]}"))
            mine = r.requester == actor.name
            if mine:
                cols[1].button(
                    "Withdraw", key=f"{key}.withdraw.{r.id}", on_click=_open, args=(r.id, "withdraw")
                )
            else:
                cols[1].button(
                    "Approve…", key=f"{key}.approve.{r.id}", on_click=_open, args=(r.id, "approve")
                )
            cols[2].button("Reject…", key=f"{key}.reject.{r.id}", on_click=_open, args=(r.id, "reject"))
    pending = st.session_state.get(DECIDE)
    if pending and any(r.id == pending["id"] for r in found):
        title = f"{VERBS[pending['decision']]} request"
        st.dialog(title, width="large", on_dismiss=_close)(_decide_dialog)(pending)
