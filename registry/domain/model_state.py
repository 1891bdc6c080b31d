"""What a plan reads about a model, as plain data: the model, its versions, its policy, its holders.

The store fills these from MLflow (registry.store.models); the checks and the planner only read
them, so they live here with the other pure rules and can be built by hand in a unit test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from registry.domain.policy import TAG_ARCHIVED, ModelPolicy

STAGE_NONE = "None"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version
    created_ms: int
    updated_ms: int


@dataclass(frozen=True)
class VersionInfo:
    model: str
    version: str
    status: str
    stage: str
    aliases: tuple[str, ...]
    tags: dict[str, str]
    run_id: str | None
    source: str
    created_ms: int
    updated_ms: int
    description: str = ""
    status_message: str = ""  # MLflow's word on a version that is not READY

    @property
    def model_id(self) -> str | None:
        """The MLflow 3 logged model behind this version (`models:/m-<id>` sources)."""
        if self.source.startswith("models:/m-"):
            return self.source.removeprefix("models:/").split("/")[0]
        return None

    @property
    def archived(self) -> bool:
        return self.stage == "Archived" or self.tags.get(TAG_ARCHIVED, "").lower() == "true"


@dataclass(frozen=True)
class Holders:
    """Who holds each managed slot now, read from MLflow (aliases or stages per the mode).

    `production` and `staging` stay fields (None when the model does not manage them), so code about
    those two reads as before; `slots` holds every managed slot, in the model's order.
    """

    production: str | None
    staging: str | None
    extra_production: tuple[str, ...] = field(default_factory=tuple)  # legacy stores: several in Production
    slots: Mapping[str, str | None] | None = None  # None: the default pair, production and staging

    @property
    def by_slot(self) -> dict[str, str | None]:
        """Every managed slot and its holder (None: empty)."""
        if self.slots is None:
            return {"production": self.production, "staging": self.staging}
        return dict(self.slots)

    def of(self, slot: str) -> str | None:
        return self.by_slot.get(slot)

    def slot_of(self, version: str) -> str | None:
        """The managed slot a version holds, if any (the first, should a hand-set state give it two)."""
        return next((s for s, v in self.by_slot.items() if v == version), None)


@dataclass(frozen=True)
class ModelState:
    """A model, its versions (aliases joined) and the policy that governs it: what every plan reads."""

    model: ModelInfo
    versions: dict[str, VersionInfo]
    policy: ModelPolicy
    holders: Holders
