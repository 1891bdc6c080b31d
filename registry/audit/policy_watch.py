"""A model's policy tags changed in MLflow directly: recorded like an outside change of a holder.

A model's `registry.*` tags are its policy: its mode, gate, required tags, leads, slots, movers and
approvals. Anyone who may write MLflow tags can change them (a viewer naming themselves lead of a
model, then promoting it), and MLflow keeps no history of tags. So the service keeps each model's
policy tags as it first met them (`registry_policy_seen`, insert-only), and every later difference
from the policy the audit knows is recorded as a `policy` event by `mlflow`: shown in the History
and on the model page, notified like the other events. The events claim the model's next `seq`
like outside changes (registry/audit/observe.py records both), so a plan made under the old policy
conflicts on apply and is made again under the new one.

The dashboard never writes these tags itself: a front refuses `registry.*` tags
(registry/lifecycle/registration.py), and teams that keep policy in registry.toml can lock it there
(REGISTRY_POLICY_SOURCE=config, registry/settings.py), which makes the tags inert but still watched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from registry.audit.log import Attempt
from registry.audit.replay import MLFLOW_ACTOR, POLICY
from registry.domain.policy import RESERVED_TAG_PREFIX

REMOVED = None  # a tag deleted since: `after` of its change


def policy_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The model tags that are policy: the `registry.*` ones."""
    return {k: v for k, v in tags.items() if k.startswith(RESERVED_TAG_PREFIX)}


def known_policy(first_seen: Mapping[str, str], attempts: Iterable[Attempt]) -> dict[str, str]:
    """The policy tags the audit knows: as first seen, then each recorded policy change in order."""
    known = dict(first_seen)
    for a in attempts:
        if a.action != POLICY or a.outcome != "done":
            continue
        for change in a.checks:
            if change.get("after") is REMOVED:
                known.pop(str(change["tag"]), None)
            else:
                known[str(change["tag"])] = str(change["after"])
    return known


def policy_event(model: str, known: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The `policy` event for the tags that differ from the known policy, or None when none does."""
    now = policy_tags(tags)
    changed = sorted(k for k in set(known) | set(now) if known.get(k) != now.get(k))
    if not changed:
        return None
    said = "; ".join(_said(k, known.get(k), now.get(k)) for k in changed)
    changes = [{"tag": k, "before": known.get(k), "after": now.get(k)} for k in changed]
    return {
        "actor": MLFLOW_ACTOR,
        "role": MLFLOW_ACTOR,
        "model": model,
        "action": POLICY,
        "target": POLICY,
        "from_version": None,
        "to_version": None,
        "reason": f"policy tags changed in MLflow, not through the dashboard: {said}",
        "checks": [{"name": f"policy tag {c['tag']}", "passed": True, **c} for c in changes],
    }


def policy_changes(attempts: Iterable[Attempt]) -> list[Attempt]:
    """The model's recorded policy changes, newest first: what its page warns about."""
    recorded = [a for a in attempts if a.action == POLICY and a.outcome == "done"]
    return sorted(recorded, key=lambda a: a.at, reverse=True)


def _said(tag: str, before: str | None, after: str | None) -> str:
    if before is None:
        return f"{tag} set to {after!r}"
    if after is None:
        return f"{tag} removed (was {before!r})"
    return f"{tag} {before!r} → {after!r}"
