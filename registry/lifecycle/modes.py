"""The two lifecycle modes as two strategies: what a change looks like, and the MLflow writes it takes.

A model serves through aliases (MLflow 3's default: `production` and `staging` aliases, archiving is a
tag) or through stages (MLflow's older Production/Staging/Archived, kept for stores that use them).
Each mode says in one place both how a plan describes an action and how apply performs it, so the
two can never disagree about what, say, promoting to staging does to the current staging holder.
"""

from __future__ import annotations

from typing import Protocol

from mlflow import MlflowClient

from registry.domain.labels import version_label as _v
from registry.domain.model_state import ModelState, VersionInfo
from registry.domain.policy import TAG_ARCHIVED, Mode
from registry.lifecycle.plan import Plan
from registry.settings import Settings


class LifecycleMode(Protocol):
    def changes(
        self, state: ModelState, v: VersionInfo, action: str, target: str, settings: Settings
    ) -> list[str]:
        """The changes an action makes, one sentence each, for the plan a person reviews."""
        ...

    def perform(self, client: MlflowClient, settings: Settings, plan: Plan) -> None:
        """Move the holders as the plan says (provenance tags are written before, by the caller)."""
        ...


class AliasMode:
    """Every managed slot is an alias (production and staging as REGISTRY_PRODUCTION_ALIAS and
    REGISTRY_STAGING_ALIAS name them); an archived version carries `registry.archived=true`. A version
    holds one managed slot at a time: moving it to another frees the one it held, as replay expects."""

    def changes(
        self, state: ModelState, v: VersionInfo, action: str, target: str, settings: Settings
    ) -> list[str]:
        h = state.holders
        if action == "archive":
            return [f"v{v.version}: tag {TAG_ARCHIVED}=true"] + [
                f"alias '{a}' removed from v{v.version}" for a in v.aliases
            ]
        out = [f"alias '{settings.alias_of(target)}': {_v(h.of(target))} → v{v.version}"]
        out += [
            f"alias '{settings.alias_of(slot)}' removed from v{v.version}"
            for slot, holder in h.by_slot.items()
            if slot != target and holder == v.version
        ]
        if v.archived:
            out.append(f"v{v.version}: tag {TAG_ARCHIVED} removed")
        return out

    def perform(self, client: MlflowClient, settings: Settings, plan: Plan) -> None:
        name, v = plan.model, str(plan.version)
        if plan.action == "archive":
            client.set_model_version_tag(name, v, TAG_ARCHIVED, "true")
            for alias in plan.snapshot.version_aliases:
                client.delete_registered_model_alias(name, alias)
            return
        if plan.snapshot.version_archived:
            client.delete_model_version_tag(name, v, TAG_ARCHIVED)
        client.set_registered_model_alias(name, settings.alias_of(plan.target), v)
        for slot, holder in plan.snapshot.holders().items():
            if slot != plan.target and holder == v:
                client.delete_registered_model_alias(name, settings.alias_of(slot))


class StageMode:
    """Production, Staging and Archived are MLflow stages (the only slots of a stage-mode model);
    promoting archives the previous holder."""

    def changes(
        self, state: ModelState, v: VersionInfo, action: str, target: str, settings: Settings
    ) -> list[str]:
        h = state.holders
        if action == "archive":
            return [f"v{v.version}: stage {v.stage} → Archived"]
        stage = "Production" if target == "production" else "Staging"
        out = [f"v{v.version}: stage {v.stage} → {stage}"]
        current = h.production if target == "production" else h.staging
        if current and current != v.version:
            out.append(f"v{current}: stage {stage} → {'Archived' if target == 'production' else 'None'}")
        out += [
            f"v{x}: stage Production → Archived"
            for x in h.extra_production
            if target == "production" and x != v.version
        ]
        return out

    def perform(self, client: MlflowClient, settings: Settings, plan: Plan) -> None:
        name, v = plan.model, str(plan.version)
        if plan.action == "archive":
            client.transition_model_version_stage(name, v, "Archived")
        elif plan.target == "production":
            client.transition_model_version_stage(name, v, "Production", archive_existing_versions=True)
        else:
            if plan.snapshot.staging and plan.snapshot.staging != v:
                client.transition_model_version_stage(name, plan.snapshot.staging, "None")
            client.transition_model_version_stage(name, v, "Staging")


MODES: dict[Mode, LifecycleMode] = {"aliases": AliasMode(), "stages": StageMode()}
