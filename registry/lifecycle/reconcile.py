"""Settling an attempt whose result row never came, from what MLflow shows.

An apply writes its intent, changes MLflow, then writes its result. When the result cannot be
written (the audit database locked or gone at that moment, the process killed in between), the
change is in MLflow and the history says `incomplete`: replay ignores it, so the holder reads as
changed outside the dashboard, the rollback target is one step off, and the model stays blocked
for the change lease. MLflow's state decides: when the model's latest claimed attempt is visibly
applied (its version holds the target, or is archived), its result is recorded now as `done`.
A plan's checks refuse a change that is already in place, so a holder equal to the attempt's
version means the attempt (or someone doing the same thing) put it there.
"""

from __future__ import annotations

import logging

from mlflow import MlflowClient

from registry.audit.log import Attempt, AuditLog
from registry.domain.model_state import ModelState
from registry.errors import RegistryError
from registry.settings import Settings
from registry.store.models import model_state

log = logging.getLogger(__name__)
RECONCILED = (
    "reconciled: the audit log could not be written when the change was applied; "
    "its result was recorded later from MLflow's state"
)


def applied_in_mlflow(attempt: Attempt, state: ModelState) -> bool:
    """Whether MLflow's state shows the attempt's whole change in place.

    A change is several MLflow calls (registry/lifecycle/modes.py): the target alias is set, then the
    version's other managed aliases are removed; an archive tags the version, then removes its
    aliases. Half way, the apply is still running: settling it then would let a reader record the
    other alias's removal, made a moment later by that apply, as a change made outside the dashboard.
    """
    version = attempt.to_version
    if not version:
        return False
    others = [holder for slot, holder in state.holders.by_slot.items() if slot != attempt.target]
    if attempt.action == "archive":
        info = state.versions.get(version)
        return bool(info and info.archived) and version not in state.holders.by_slot.values()
    if attempt.action not in ("promote", "rollback"):
        return False
    return state.holders.of(attempt.target) == version and version not in others


def reconcile(client: MlflowClient, audit: AuditLog, settings: Settings, model: str) -> Attempt | None:
    """Record the result of the model's unfinished latest change if MLflow shows it applied.

    Runs on reads, so it never fails one: with the audit log or MLflow still down it leaves the
    attempt as it is for the next read. Returns the attempt it settled, if any.
    """
    try:
        pending = audit.pending_change(model)
        if pending is None or not applied_in_mlflow(pending, model_state(client, model, settings)):
            return None
        audit.finish(pending.attempt_id, "done", RECONCILED)
    except RegistryError as exc:
        log.warning("could not settle the unfinished change of %s yet: %s", model, exc)
        return None
    log.info("settled %s attempt %s of %s from MLflow's state", pending.action, pending.attempt_id, model)
    return pending
