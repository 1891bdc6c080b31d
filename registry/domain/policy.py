"""Per-model lifecycle settings: mode, managed slots, metric gate, required tags, key metric.

They live on the registered model as tags (`registry.mode`, `registry.gate.metric`, ...) so they travel
with the model and show in MLflow's own UI; a TOML config file can override them per model for teams
that keep policy in version control.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from registry.errors import BadInput

Mode = Literal["aliases", "stages"]
Direction = Literal["max", "min"]

RESERVED_TAG_PREFIX = "registry."  # the registry's own tags: never set by hand through a front
TAG_MODE = "registry.mode"
TAG_GATE_METRIC = "registry.gate.metric"
TAG_GATE_DIRECTION = "registry.gate.direction"
TAG_GATE_TOLERANCE = "registry.gate.tolerance"
TAG_REQUIRED_TAGS = "registry.required_tags"
TAG_KEY_METRIC = "registry.key_metric"
TAG_ARCHIVED = "registry.archived"
TAG_SLOTS = "registry.slots"

DEFAULT_SLOTS = ("production", "staging")
# What an alias name may be (MLflow's own rule), and the audit's `target` column holds 20 characters.
_SLOT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
# Targets the audit log uses for other things, and names MLflow reserves for itself.
_RESERVED_SLOTS = {"archived", "alias", "version", "tag", "latest"}


@dataclass(frozen=True)
class Gate:
    """The candidate's `metric` must not be worse than production's by more than `tolerance`."""

    metric: str
    direction: Direction = "max"
    tolerance: float = 0.0

    def passes(self, candidate: float, current: float) -> bool:
        if self.direction == "max":
            return candidate >= current - self.tolerance
        return candidate <= current + self.tolerance


@dataclass(frozen=True)
class ModelPolicy:
    mode: Mode
    gate: Gate | None = None
    required_tags: Mapping[str, str] = field(default_factory=dict)
    key_metric: str | None = None
    slots: tuple[str, ...] = DEFAULT_SLOTS  # the aliases the dashboard manages (stage mode: the two stages)

    @property
    def primary_slot(self) -> str:
        """The slot that serves: `production` when managed, else the first listed. The metric gate
        and required tags guard promotions to it, and it is where promote and rollback go by default."""
        return "production" if "production" in self.slots else self.slots[0]

    def slot_named(self, name: str, alias_of: Mapping[str, str] | None = None) -> str:
        """The managed slot a person named, by slot or by its alias (`prod` for production when
        REGISTRY_PRODUCTION_ALIAS=prod); BadInput listing the managed slots for any other name."""
        wanted = (name or "").strip()
        if wanted in self.slots:
            return wanted
        for slot, alias in (alias_of or {}).items():
            if alias == wanted and slot in self.slots:
                return slot
        raise BadInput(
            f"{wanted!r} is not a slot this model manages: use one of {', '.join(self.slots)} "
            f"(the {TAG_SLOTS} tag or slots = [...] in registry.toml lists them)"
        )


def tags_in_force(tags: Mapping[str, str], locked: bool) -> Mapping[str, str]:
    """The model tags its policy is read from: all of them, or, with policy locked to the config
    file (settings.policy_locked), none of the registry.* ones: they stay visible and watched."""
    if not locked:
        return tags
    return {k: v for k, v in tags.items() if not k.startswith(RESERVED_TAG_PREFIX)}


def parse_required_tags(text: str) -> dict[str, str]:
    """`"validation=passed, owner"` → {"validation": "passed", "owner": ""} (empty = any value)."""
    out: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def managed_slots(
    model_tags: Mapping[str, str], override: Mapping[str, Any] | None, mode: str
) -> tuple[str, ...]:
    """The aliases the dashboard manages for a model: the config file's list, else the tag, else
    production and staging.

    In the file a model lists them as `slots = ["champion", "challenger"]`, or, when it also has
    per-slot tables (`[models."m".slots.champion]`), as `managed = [...]` inside `[models."m".slots]`
    (TOML cannot hold both a list and tables under one key). Stage mode has two stages only.
    """
    configured = (override or {}).get("slots")
    if isinstance(configured, Mapping):
        configured = configured.get("managed")
    where = "config file: slots"
    if configured is None:
        configured, where = model_tags.get(TAG_SLOTS), TAG_SLOTS
    if configured is None or configured == "":
        return DEFAULT_SLOTS
    if isinstance(configured, str):
        names = [n.strip() for n in configured.split(",")]
    elif isinstance(configured, list) and all(isinstance(n, str) for n in configured):
        names = [n.strip() for n in configured]
    else:
        raise BadInput(f'{where} must be a list of alias names, e.g. ["champion", "challenger"]')
    slots = tuple(dict.fromkeys(n for n in names if n))
    if not slots:
        return DEFAULT_SLOTS
    for slot in slots:
        if not _SLOT_NAME.match(slot) or slot.lower() in _RESERVED_SLOTS or re.fullmatch(r"[vV]\d+", slot):
            raise BadInput(
                f"{where}: {slot!r} cannot be a slot: use up to 20 letters, digits, '_' or '-', "
                f"not {', '.join(sorted(_RESERVED_SLOTS))} or v<number>"
            )
    if mode == "stages" and not set(slots) <= set(DEFAULT_SLOTS):
        raise BadInput(
            f"{where} lists {', '.join(slots)}, but the model is in stage mode, which has the Production "
            "and Staging stages only: set registry.mode=aliases to manage other aliases"
        )
    return slots


def resolve_policy(
    model_tags: Mapping[str, str],
    override: Mapping[str, Any] | None,
    uses_stages: bool,
    has_aliases: bool,
) -> ModelPolicy:
    """Merge tags and config-file override; choose the mode when neither names one.

    A model that already uses stages and has no aliases stays in stages mode, so an older store keeps
    working the way its users know; everything else uses aliases, MLflow 3's default.
    """
    override = dict(override or {})
    settings: dict[str, Any] = {
        "mode": model_tags.get(TAG_MODE),
        "gate_metric": model_tags.get(TAG_GATE_METRIC),
        "gate_direction": model_tags.get(TAG_GATE_DIRECTION, "max"),
        "gate_tolerance": model_tags.get(TAG_GATE_TOLERANCE, "0"),
        "required_tags": model_tags.get(TAG_REQUIRED_TAGS, ""),
        "key_metric": model_tags.get(TAG_KEY_METRIC),
    }
    settings.update({k: v for k, v in override.items() if v is not None})

    mode = settings["mode"] or ("stages" if uses_stages and not has_aliases else "aliases")
    if mode not in ("aliases", "stages"):
        raise BadInput(f"lifecycle mode {mode!r}: use 'aliases' or 'stages'")
    gate = None
    if settings["gate_metric"]:
        direction = str(settings["gate_direction"]).lower()
        if direction not in ("max", "min"):
            raise BadInput(f"gate direction {direction!r}: use 'max' (higher is better) or 'min'")
        try:
            tolerance = float(settings["gate_tolerance"])
        except (TypeError, ValueError) as exc:
            raise BadInput(f"gate tolerance {settings['gate_tolerance']!r} is not a number") from exc
        gate = Gate(
            metric=str(settings["gate_metric"]), direction=cast(Direction, direction), tolerance=tolerance
        )
    required = settings["required_tags"]
    required_tags = dict(required) if isinstance(required, Mapping) else parse_required_tags(str(required))
    return ModelPolicy(
        mode=cast(Mode, mode),  # checked against the two modes above
        gate=gate,
        required_tags=required_tags,
        key_metric=settings["key_metric"] or (gate.metric if gate else None),
        slots=managed_slots(model_tags, override, mode),
    )
