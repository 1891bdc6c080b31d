"""Per-slot rules: who may move a slot (protected slots) and how many approvals moving it needs.

A slot is what a version serves as: `production` or `staging` (an alias in alias mode, a stage in
stage mode). Set per model in the config file, which wins over tags (as for leads):

    [models."iris".slots.production]
    movers = ["ada", "role:admin"]   # only ada and the admins may move production
    approvals = 2                    # and each move needs two other leads' approval

    [models."iris"]
    approvals = 1                    # every slot of iris: one approval (a slot's own value wins)

or as registered-model tags: `registry.slots.production.movers` = `ada,role:admin`,
`registry.slots.production.approvals` = `2`, `registry.approvals` = `1`. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.domain.actors import Actor
from registry.domain.checks import Check
from registry.errors import BadInput

TAG_APPROVALS = "registry.approvals"
ROLE_PREFIX = "role:"


def slot_tag(slot: str, key: str) -> str:
    return f"registry.slots.{slot}.{key}"


def _slot_config(override: Mapping[str, Any] | None, slot: str) -> Mapping[str, Any]:
    slots = (override or {}).get("slots") or {}
    found = slots.get(slot) if isinstance(slots, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def movers_of(
    tags: Mapping[str, str], override: Mapping[str, Any] | None, slot: str
) -> tuple[str, ...] | None:
    """Who may move `slot` (names and `role:<role>`), or None when the slot is not protected."""
    configured = _slot_config(override, slot).get("movers")
    if configured is not None:
        if isinstance(configured, str) or not all(isinstance(m, str) for m in configured):
            raise BadInput(f"config file: slots.{slot}.movers must be a list of names")
        return tuple(m.strip() for m in configured if m.strip())
    tag = tags.get(slot_tag(slot, "movers"))
    if tag is None:
        return None
    return tuple(m.strip() for m in tag.split(",") if m.strip())


def may_move(actor: Actor, movers: tuple[str, ...] | None) -> bool:
    if movers is None:
        return True
    return actor.name in movers or f"{ROLE_PREFIX}{actor.role}" in movers


def check_movers(actor: Actor, slot: str, movers: tuple[str, ...] | None) -> Check | None:
    """None for an unprotected slot; else whether `actor` (with their role for the model) may move it."""
    if movers is None:
        return None
    name = f"actor may move {slot}"
    who = ", ".join(movers) or "nobody"
    if may_move(actor, movers):
        return Check(name, True, f"{actor.name} is among the movers of {slot} ({who})")
    return Check(name, False, f"{slot} is protected: only {who} may move it, not {actor.name}")


def approvals_required(tags: Mapping[str, str], override: Mapping[str, Any] | None, slot: str) -> int:
    """How many other leads must approve a move of `slot`: the slot's own setting, else the model's."""
    for value, where in (
        (_slot_config(override, slot).get("approvals"), f"config file: slots.{slot}.approvals"),
        (tags.get(slot_tag(slot, "approvals")), slot_tag(slot, "approvals")),
        ((override or {}).get("approvals"), "config file: approvals"),
        (tags.get(TAG_APPROVALS), TAG_APPROVALS),
    ):
        if value is not None and value != "":
            try:
                count = int(value)
            except (TypeError, ValueError) as exc:
                raise BadInput(f"{where}: {value!r} is not a number of approvals") from exc
            if count < 0:
                raise BadInput(f"{where}: {count} approvals; use 0 or more")
            return count
    return 0
