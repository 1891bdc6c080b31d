"""What a plan reads about a model, as plain data: the model, its versions, its policy, its holders.

The store fills these from MLflow (registry.store.models); the checks and the planner only read
them, so they live here with the other pure rules and can be built by hand in a unit test.
"""

from __future__ import annotations

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
    """Who holds production and staging now, read from MLflow (aliases or stages per the mode)."""

    production: str | None
    staging: str | None
    extra_production: tuple[str, ...] = field(default_factory=tuple)  # legacy stores: several in Production


@dataclass(frozen=True)
class ModelState:
    """A model, its versions (aliases joined) and the policy that governs it: what every plan reads."""

    model: ModelInfo
    versions: dict[str, VersionInfo]
    policy: ModelPolicy
    holders: Holders
