"""Models: the registered models, and one model's page (`?model=NAME`) with its versions and actions.

Every action is shown as the service's plan in a dialog (what changes, every check, the candidate
against production) and applied only after a reason and Confirm. The dialog is opened from a
session-state flag set by the action button and cleared on confirm, cancel or dismiss, so it survives
the reruns its own widgets cause (see FIELD_NOTES: dialogs under AppTest).

A model's page sends what a lead opens it for first: who holds each slot, waiting requests, the
versions table and the actions. Slots, How to load it and Compare versions are tabs beside Versions
that are rendered only when open (`&section=slots|load|compare`), and a version's description
editor only when expanded: each element costs the browser time before the page is usable.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st

from pages.views.catalog import models_frame, slots_frame, versions_frame
from pages.views.columns import open_link, source_run_link, when
from pages.views.plan_tables import blocking_reason, checks_frame, comparison_frame, plan_title
from pages.views.requests import FLASH as REQUEST_FLASH
from pages.views.requests import requests_section
from pages.views.shared import (
    after_write,
    cached_read,
    current_actor,
    plain,
    query_param,
    registry,
    section,
    set_query,
    settings,
    show_error,
    table,
    through_app,
)
from pages.views.url_tabs import url_tabs
from registry.domain.checks import check_actor
from registry.domain.load_uris import load_uris
from registry.domain.policy import TAG_SLOTS
from registry.errors import Conflict, NotFound, RegistryError
from registry.lifecycle.catalog import ModelView
from registry.service import Registry

through_app()  # first: a deep link must run inside app.py (see pages/views/shared.py)

log = logging.getLogger("registry.ui.models")

PAGE_SIZE = 25
PENDING = "models.pending"  # the action whose dialog is open: model, action, target, version
PLAN = "models.plan"  # the plan the dialog shows; apply uses exactly this one (a Conflict if it aged)
OUTCOME = "models.outcome"  # (kind, message) of the last failed confirm, shown in the dialog
FLASH = "models.flash"  # the result message of the last successful action, shown once
REASON = "models.reason"
FORCE = "models.force"
VERSION = "models.version"
SECTION = "models.section"  # the open tab below the state: only it is rendered (and sent)
# The tabs, each with its name in the URL (`?model=x&section=load`; pages/views/url_tabs.py).
SECTIONS = {"Versions": None, "Slots": "slots", "How to load it": "load", "Compare versions": "compare"}
DRAFTS = "models.description_drafts"  # (model, version) -> text typed, not saved, kept while shut
_DIALOG_KEYS = (PENDING, PLAN, OUTCOME, REASON, FORCE)
POLICY_CHANGES_SHOWN = 3  # the newest policy changes made outside the dashboard, warned about on top


# the dialog -------------------------------------------------------------------------------------------
def _open_action(model: str, action: str, target: str, version: str | None) -> None:
    _close_dialog()
    st.session_state[PENDING] = {"model": model, "action": action, "target": target, "version": version}


def _close_dialog() -> None:
    for key in _DIALOG_KEYS:
        st.session_state.pop(key, None)


def _confirm() -> None:
    """Apply the plan the dialog shows; every outcome is kept in session state for the next run."""
    plan = st.session_state.get(PLAN)
    if plan is None:
        return
    reason = str(st.session_state.get(REASON) or "")
    force = bool(st.session_state.get(FORCE, False))
    try:
        result = registry().apply(plan, reason, actor=current_actor(), force=force)
    except Conflict as exc:
        after_write()  # the page behind shows the new state, and the dialog plans again on it
        st.session_state[OUTCOME] = ("conflict", str(exc))
        st.session_state.pop(PLAN, None)
        st.session_state.pop(FORCE, None)
        return
    except RegistryError as exc:
        after_write()  # a failed apply may have changed part of the state; a refusal is now in the history
        st.session_state[OUTCOME] = (exc.kind, str(exc))
        return
    except Exception as exc:  # a callback's exception would be a traceback on the page
        log.exception("apply %s failed", plan.action)
        st.session_state[OUTCOME] = (
            "error",
            f"unexpected error ({exc.__class__.__name__}); see the server log",
        )
        return
    after_write()
    _close_dialog()
    st.session_state[FLASH] = result.message


def _show_outcome() -> None:
    outcome = st.session_state.get(OUTCOME)
    if not outcome:
        return
    kind, message = outcome
    if kind == "conflict":
        st.error(
            f"**Conflict**, someone else acted first: {plain(message.rstrip('.'))}. "
            "The plan below is made on the new state: review it before confirming again.",
            icon=":material/call_split:",
        )
    else:
        if message.lower().startswith(f"{kind}:"):  # "refused: ..." reads once, not "Refused: refused: ..."
            message = message[len(kind) + 1 :].strip()
        st.error(f"**{plain(kind.capitalize())}**: {plain(message)}", icon=":material/block:")


def _action_dialog(pending: dict[str, Any]) -> None:
    if st.session_state.get(PENDING) != pending:
        st.rerun()  # a callback closed it (a dialog's own reruns only rerun the dialog)
    model = pending["model"]
    actor = current_actor()
    st.caption(f"Model **{plain(model)}**, acting as {plain(actor.name)} ({actor.role})")
    plan = st.session_state.get(PLAN)
    if plan is None:
        try:
            with st.spinner("Reading the model and running the checks…"):
                plan = registry().plan(
                    pending["action"], model, pending["version"], actor=actor, target=pending["target"]
                )
        except RegistryError as exc:
            show_error(exc, "plan")
            st.button("Close", key="models.close", on_click=_close_dialog)
            return
        st.session_state[PLAN] = plan
    _show_outcome()
    with section("plan"):
        st.markdown(f"#### {plain(plan_title(plan))}")
        st.markdown("**What will change**")
        if plan.changes:
            st.markdown("\n".join(f"- {plain(change)}" for change in plan.changes))
        else:
            st.caption("Nothing can change until the failed checks below are resolved.")
        for found in plan.drift:
            st.warning(f"Drift: {plain(found)}", icon=":material/warning:")
        st.markdown("**Checks**")
        table(checks_frame(plan), hide_index=True, width="stretch")
        if plan.comparison:
            st.markdown(f"**Candidate against {plain(plan.snapshot.primary_slot)}**")
            table(comparison_frame(plan), hide_index=True, width="stretch")
    st.text_area("Reason (required; it goes into the audit history)", key=REASON)
    if plan.needs_force and plan.actor.may_change_registry:  # the plan's actor: their role for this model
        st.checkbox(
            "Force: apply despite the failed metric gate (recorded as forced, with your reason)", key=FORCE
        )
    blocked = blocking_reason(plan)
    if blocked:
        st.caption(f"Cannot be applied: {plain(blocked)}")
    confirm, cancel = st.columns(2)
    confirm.button("Confirm", key="models.confirm", type="primary", disabled=bool(blocked), on_click=_confirm)
    cancel.button("Cancel", key="models.cancel", on_click=_close_dialog)


def _show_dialog(pending: dict[str, Any]) -> None:
    title = {"promote": "Promote", "archive": "Archive", "rollback": "Roll back"}.get(
        pending["action"], "Act"
    )
    if pending["action"] == "promote":
        title += f" to {pending['target']}"
    elif pending["action"] == "rollback" and pending["target"] != "production":
        title += f" {pending['target']}"
    st.dialog(title, width="large", on_dismiss=_close_dialog)(_action_dialog)(pending)


# the model page ---------------------------------------------------------------------------------------
def _state_section(view: ModelView) -> None:
    cols = st.columns(len(view.slots) + 2)
    for col, slot in zip(cols, view.slots, strict=False):
        col.metric(plain(slot.slot.capitalize()), f"v{slot.holder}" if slot.holder else "none")
    cols[-2].metric("Rollback target", f"v{view.rollback_to}" if view.rollback_to else "none")
    cols[-1].metric("Mode", view.mode)
    policy = [f"gate: {view.gate}" if view.gate else "no metric gate"]
    policy.append(f"key metric: {view.key_metric}" if view.key_metric else "no key metric")
    if view.required_tags:
        policy.append(
            "required tags: " + ", ".join(f"{k}={v}" if v else k for k, v in view.required_tags.items())
        )
    if view.leads is not None:
        policy.append("leads: " + ", ".join(sorted(view.leads)) + " (and admins)")
    st.caption(plain("; ".join(policy)))
    if view.description:
        st.text(view.description)
    for found in view.drift:
        st.warning(f"Drift: {plain(found)}", icon=":material/warning:")
    if view.ignored_policy_tags:
        st.info(
            "Policy is locked to the config file (REGISTRY_POLICY_SOURCE=config): these tags of the "
            "model are not in force: "
            + plain(", ".join(f"{k}={v}" for k, v in view.ignored_policy_tags.items())),
            icon=":material/lock:",
        )
    for change in view.policy_changes[:POLICY_CHANGES_SHOWN]:
        st.warning(
            f"Policy changed outside the dashboard ({change.at:%Y-%m-%d %H:%M} UTC): "
            f"{plain(change.reason.split(': ', 1)[-1])}. Who may act and what a candidate must pass "
            "follow the new tags; check that the change was meant.",
            icon=":material/policy:",
        )
    if view.audit_problem:
        st.warning(
            f"Audit log unavailable, so no rollback target or drift check: {plain(view.audit_problem)}"
        )


def _slots_section(view: ModelView) -> None:
    """Every slot the model manages: its holder, since when and by whom, and the versions that held it."""
    table(
        slots_frame(view),
        hide_index=True,
        width="stretch",
        column_config={"since": when("since")},
        key="models.slots",
    )
    if [s.slot for s in view.slots] != ["production", "staging"]:
        st.caption(
            f"Slots from the model's {TAG_SLOTS} tag or registry.toml; the first, "
            f"{plain(view.primary_slot)}, is the one the metric gate and required tags guard."
        )


def _versions_section(view: ModelView) -> None:
    frame = versions_frame(view)
    table(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "source run": source_run_link(),
            "created": when("created"),
            "promoted at": when("promoted at"),
            "archived at": when("archived at"),
        },
    )
    if view.runs_truncated:
        st.caption("Metrics are shown for the newest versions only; open a run for the others.")


def _load_section(view: ModelView) -> None:
    """The URI each slot resolves to, the version it serves now, and code to paste (with a copy button)."""
    uris = load_uris(view.name, view.mode, view.slot_holders, settings().describe()["tracking_uri"])
    table(
        pd.DataFrame(
            [
                {"slot": u.slot, "URI": u.uri, "serves now": f"v{u.version}" if u.version else "nothing"}
                for u in uris
            ]
        ),
        hide_index=True,
        width="stretch",
        key="models.load_uris",
    )
    held = [u for u in uris if u.version] or uris
    tabs = st.tabs([u.slot for u in held])
    for tab, u in zip(tabs, held, strict=True):
        tab.code(u.snippet, language="python")
    st.caption(
        "A slot's URI always loads whichever version holds the slot at load time; pin a version with "
        f"models:/{plain(view.name)}/<version>."
    )


def _forget_stale(key: str, options: list[str]) -> None:
    """A version picker keeps its value across models: drop it when this model has no such version."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def _version_label(version: str) -> str:
    """Labels must not depend on the model's state: Streamlit keeps a keyed picker's old labels."""
    return f"v{version}"


def _actions_section(view: ModelView) -> None:
    versions = [v.version for v in view.versions]
    if not versions:
        st.info("This model has no versions yet.")
        return
    wanted = query_param("version") or view.production or versions[0]
    _forget_stale(VERSION, versions)
    version = st.selectbox(
        "Version",
        versions,
        index=versions.index(wanted) if wanted in versions else 0,
        format_func=_version_label,
        key=VERSION,
    )
    set_query(version=version)
    actor = current_actor()
    may = check_actor(actor, view.name, view.leads)
    why_not = None if may.passed else may.detail
    promotes = [
        (f"promote_{s.slot}", f"Promote to {s.slot}", "promote", s.slot, version, why_not) for s in view.slots
    ]
    promotes.append(("archive", "Archive", "archive", "archived", version, why_not))
    _buttons(view.name, promotes)
    _buttons(view.name, [_rollback_button(view, s.slot, s.rollback_to, why_not) for s in view.slots])
    if why_not:
        st.info(f"Actions are disabled: {plain(why_not)}", icon=":material/lock:")
    _version_footer(view, version, why_not)


Button = tuple[str, str, str, str, str | None, str | None]  # key, label, action, target, version, why not


def _rollback_button(view: ModelView, slot: str, target: str | None, why_not: str | None) -> Button:
    """The primary slot's keeps the plain key and label ("Roll back to v2"); the others name their slot."""
    primary = slot == view.primary_slot
    key = "rollback" if primary else f"rollback_{slot}"
    label = "Roll back" if primary else f"Roll back {slot}"
    none = f"the history has no earlier {slot} version that can serve; pick one to promote"
    return (
        key,
        f"{label} to v{target}" if target else label,
        "rollback",
        slot,
        target,
        why_not or (None if target else none),
    )


def _buttons(model: str, buttons: list[Button]) -> None:
    for col, (key, label, action, target, target_version, reason) in zip(
        st.columns(len(buttons)), buttons, strict=True
    ):
        col.button(
            plain(label),
            key=f"models.{key}",
            disabled=reason is not None,
            help=plain(reason) if reason else None,  # a tooltip renders markdown: names in it stay text
            on_click=_open_action,
            args=(model, action, target, target_version),
            width="stretch",
        )


def _version_footer(view: ModelView, version: str, why_not: str | None) -> None:
    row = view.version(version)
    if row:
        _description_editor(view.name, row.version, row.description, why_not)
    if row and row.run_id:
        st.page_link(
            "pages/run.py",
            label=f"Source run of v{version}",
            icon=":material/description:",
            query_params={"run": row.run_id},
        )


DESCRIBED = "models.described"  # (kind, message) of the last description save, shown once


def _save_description(model: str, version: str, key: str) -> None:
    try:
        text = str(st.session_state.get(key) or "")
        registry().set_description(model, version, text, actor=current_actor())
    except RegistryError as exc:
        after_write()  # a refusal is now in the history
        st.session_state[DESCRIBED] = (exc.kind, str(exc))
        return
    after_write()
    st.session_state.pop(key, None)  # the box shows the stored text on the next run
    st.session_state.get(DRAFTS, {}).pop((model, version), None)
    st.session_state[DESCRIBED] = ("done", f"description of v{version} saved")


def _keep_draft(model: str, version: str, key: str) -> None:
    """A shut editor is not rendered, and Streamlit forgets an unrendered box's text: keep it here."""
    st.session_state.setdefault(DRAFTS, {})[(model, version)] = st.session_state.get(key)


def _description_editor(model: str, version: str, current: str, why_not: str | None) -> None:
    """Set or edit the selected version's description; saved through the service and audited.

    Shut by default and rendered only when opened (one per version, as its label names it): the
    page's first paint does not wait for a text box few visits use.
    """
    # Keyed by model too: Streamlit keeps a box's text across reruns, and model B's v1 must not show
    # (and save) what was typed for model A's v1.
    key = f"models.description.{model}.{version}"
    editor = st.expander(
        f"Description of v{version}", key=f"models.description_open.{model}.{version}", on_change="rerun"
    )
    if not editor.open:
        return
    said = st.session_state.pop(DESCRIBED, None)
    with editor:
        st.session_state.setdefault(key, st.session_state.get(DRAFTS, {}).get((model, version), current))
        st.text_area(
            "Description",
            key=key,
            disabled=why_not is not None,
            label_visibility="collapsed",
            on_change=_keep_draft,
            args=(model, version, key),
        )
        st.button(
            "Save description",
            key="models.description_save",
            disabled=why_not is not None,
            on_click=_save_description,
            args=(model, version, key),
        )
        if said:
            kind, message = said
            if kind == "done":
                st.success(plain(message), icon=":material/check_circle:")
            else:
                st.error(f"**{plain(kind.capitalize())}**: {plain(message)}", icon=":material/block:")


def _compare_section(view: ModelView) -> None:
    with_runs = [v for v in view.versions if v.run_id]
    if len(with_runs) < 2:
        st.caption("Comparing needs two versions with a source run.")
        return
    versions = [v.version for v in with_runs]
    first = view.production if view.production in versions else versions[1]
    second = next(v for v in versions if v != first)
    a_col, b_col = st.columns(2)
    _forget_stale("models.compare_a", versions)
    _forget_stale("models.compare_b", versions)
    a = a_col.selectbox("Version A", versions, versions.index(first), _version_label, key="models.compare_a")
    b = b_col.selectbox("Version B", versions, versions.index(second), _version_label, key="models.compare_b")
    run_a, run_b = view.version(a).run_id, view.version(b).run_id  # type: ignore[union-attr]
    if run_a == run_b:
        st.caption("Both versions come from the same run.")
        return
    st.page_link(
        "pages/compare.py",
        label=f"Compare the runs of v{a} and v{b}",
        icon=":material/compare_arrows:",
        query_params={"runs": f"{run_a},{run_b}"},
    )


def model_page(name: str) -> None:
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(plain(flash), icon=":material/check_circle:")
        st.toast(plain(flash), icon=":material/check_circle:")
    try:
        with st.spinner(f"Loading {plain(name)}…"):
            view = cached_read(Registry.model_view, name)
    except NotFound:
        st.title("Models")
        st.warning(
            f"There is no registered model named **{plain(name)}**: the link may be old, or the model was "
            "renamed or deleted. Pick a model from the list below.",
            icon=":material/search:",
        )
        set_query(version=None, section=None)
        list_page(with_title=False)
        return
    except Exception as exc:  # noqa: BLE001 - the page header and the way back still render
        st.title(plain(name))
        show_error(exc, "model")
        st.page_link("pages/models.py", label="All models", icon=":material/inventory_2:")
        return
    st.title(plain(name))
    st.page_link("pages/models.py", label="All models", icon=":material/inventory_2:")
    with section("state"):
        _state_section(view)
    with section("requests"):
        waiting = cached_read(Registry.requests, name, ttl=10)
        if waiting or st.session_state.get(REQUEST_FLASH):
            st.subheader("Approval requests")
            requests_section(waiting, "models.requests")
    # One tab at a time: the versions table paints first; the rest is sent when its tab is opened.
    versions_tab, slots_tab, load_tab, compare_tab = url_tabs(SECTIONS, key=SECTION, param="section")
    for tab, where, render in (
        (versions_tab, "versions", _versions_section),
        (slots_tab, "slots", _slots_section),
        (load_tab, "load", _load_section),
        (compare_tab, "compare", _compare_section),
    ):
        if tab.open:
            with tab, section(where):
                render(view)
    st.subheader("Actions")
    with section("actions"):
        _actions_section(view)
    with section("history"):
        st.page_link(
            "pages/history.py",
            label="Audit history of this model",
            icon=":material/history:",
            query_params={"model": name},
        )
    pending = st.session_state.get(PENDING)
    if pending and pending.get("model") == name:
        _show_dialog(pending)


# the list -----------------------------------------------------------------------------------------------
def list_page(with_title: bool = True) -> None:
    if with_title:
        st.title("Models")
    search = st.text_input(
        "Search models", value=query_param("q", ""), key="models.search", placeholder="part of a model name"
    ).strip()
    set_query(q=search or None)
    if st.session_state.get("models.paged_search") != search:
        st.session_state["models.paged_search"] = search
        st.session_state["models.tokens"] = [None]
    tokens: list[str | None] = st.session_state["models.tokens"]
    with section("models"), st.spinner("Loading models…"):
        page = cached_read(Registry.model_rows, search, PAGE_SIZE, tokens[-1])
        if not page.rows:
            st.info(
                f"No registered model matches {plain(search)}." if search else "No registered models yet."
            )
        else:
            table(
                models_frame(page.rows),
                hide_index=True,
                width="stretch",
                column_config={
                    "open": open_link(),
                    "since": when("since"),
                    "updated": when("updated"),
                },
                key="models.table",
            )
        prev, label, nxt = st.columns([1, 2, 1])
        if prev.button("← Previous", key="models.prev", disabled=len(tokens) == 1):
            tokens.pop()
            st.rerun()
        label.caption(f"Page {len(tokens)}")
        if nxt.button("Next →", key="models.next", disabled=not page.next_page_token):
            tokens.append(page.next_page_token)
            st.rerun()


name = query_param("model")
if name:
    model_page(name)
else:
    list_page()
