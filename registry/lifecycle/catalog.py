"""What the Models and Overview pages list: models with their production version, and a model's versions.

A list of models must stay cheap, so holders come from the search itself: `search_registered_models`
returns each model's aliases and its latest version per stage, which is enough to know the mode and
who holds production and staging (the same rules as `registry.store.models.holders_of`). Only the
production version of each listed model is then read (its tags and its source run's key metric):
the versions in a few searches, the key metrics in one query where the store is a database, and
what those miss one call each, in parallel. A model's own page reads everything: every version, its
source run and its metrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from mlflow import MlflowClient

from registry.access.permissions import leads_of
from registry.audit.log import Attempt, AuditLog
from registry.audit.observe import observe, rollback_targets
from registry.audit.policy_watch import policy_changes, policy_tags
from registry.audit.replay import Replay, drift, replay
from registry.domain.load_uris import STAGE_SLOTS
from registry.domain.model_state import ModelState
from registry.domain.policy import ModelPolicy, resolve_policy, tags_in_force
from registry.domain.times import parse_time as parse_time  # the pages read it here too
from registry.errors import BadInput, RegistryError
from registry.lifecycle.actions import (
    TAG_PROMOTED_AT,
    TAG_PROMOTED_BY,
    TAG_PROMOTED_TO,
)
from registry.settings import Settings
from registry.store.client import translate_errors
from registry.store.fastpath import RunLatest
from registry.store.filters import contains, name_contains_filter
from registry.store.models import VersionInfo, model_state, read_versions, source_run_id, version_info
from registry.store.readers import TrackingReader


class Registry(Protocol):
    """What the catalog reads through (the service, registry.service.Registry, is one)."""

    client: MlflowClient
    settings: Settings

    def history(self, model: str | None = None, limit: int | None = None) -> list[Attempt]: ...

    def model_history(self, model: str) -> Any: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def reader(self) -> TrackingReader: ...


WORKERS = 8
MAX_VERSION_RUNS = 200  # a model page reads the source runs of at most this many (newest) versions
_INTERNAL_TAG_PREFIX = "registry."


@dataclass(frozen=True)
class Promotion:
    """Since when and by whom a version holds production: its tags, else the audit log, else unknown."""

    by: str | None = None
    at: datetime | None = None
    source: str = ""  # "tags", "audit" or "" when neither says (changed outside the dashboard)


def promotion_of(
    model: str,
    version: str | None,
    tags: dict[str, str],
    attempts: Iterable[Attempt],
    slot: str = "production",
) -> Promotion:
    """Since when and by whom `version` holds `slot` (the model's primary slot)."""
    if not version:
        return Promotion()
    if tags.get(TAG_PROMOTED_BY) and tags.get(TAG_PROMOTED_TO, "production") == slot:
        return Promotion(tags[TAG_PROMOTED_BY], parse_time(tags.get(TAG_PROMOTED_AT)), "tags")
    last = None
    for a in attempts:
        if (
            a.model == model
            and a.outcome == "done"
            and a.to_version == version
            and a.target == slot
            and a.action in ("promote", "rollback")
        ):
            last = a
    if last:
        return Promotion(last.actor, last.finished_at or last.at, "audit")
    return Promotion()


# the models list -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRow:
    name: str
    description: str
    mode: str
    production: str | None
    staging: str | None
    latest_version: str | None
    key_metric: str | None
    key_value: float | None = None
    production_run: str | None = None
    promotion: Promotion = field(default_factory=Promotion)
    updated_ms: int = 0
    problem: str = ""  # why part of the row could not be read (the rest still shows)
    primary_slot: str = "production"  # what `production` holds: the model's first slot when it names its own

    def holders(self) -> dict[str, Any]:
        """The row as the CLI's `models` and the MCP `list_models` give it: mode and holders."""
        return {
            "name": self.name,
            "mode": self.mode,
            "production": self.production,
            "serving_slot": self.primary_slot,
            "staging": self.staging,
            "latest_version": self.latest_version,
        }


@dataclass(frozen=True)
class ModelRowsPage:
    rows: list[ModelRow]
    next_page_token: str | None


def _summary(rm: Any, settings: Settings) -> ModelRow:
    """A row from one search result: mode and holders without reading the versions."""
    tags = dict(rm.tags or {})
    aliases = {str(k): str(v) for k, v in (rm.aliases or {}).items()}
    latest = list(rm.latest_versions or [])
    by_stage: dict[str, str] = {}
    for mv in latest:
        stage, version = str(mv.current_stage or "None"), str(mv.version)
        if stage not in by_stage or int(version) > int(by_stage[stage]):
            by_stage[stage] = version
    uses_stages = "Production" in by_stage or "Staging" in by_stage
    problem = ""
    try:
        policy = resolve_policy(
            tags_in_force(tags, settings.policy_locked),
            settings.model_overrides.get(rm.name),
            uses_stages,
            bool(aliases),
        )
    except RegistryError as exc:  # a bad policy tag must not hide the model from the list
        policy, problem = ModelPolicy(mode="aliases"), str(exc)
    if policy.mode == "aliases":  # a model naming its own slots: its primary one serves as production
        production = aliases.get(settings.alias_of(policy.primary_slot))
        staging = aliases.get(settings.staging_alias) if "staging" in policy.slots else None
    else:
        production, staging = by_stage.get("Production"), by_stage.get("Staging")
    versions = [int(mv.version) for mv in latest]
    return ModelRow(
        name=rm.name,
        description=rm.description or "",
        mode=policy.mode,
        production=production,
        staging=staging,
        latest_version=str(max(versions)) if versions else None,
        key_metric=policy.key_metric,
        updated_ms=int(rm.last_updated_timestamp or 0),
        problem=problem,
        primary_slot=policy.primary_slot,
    )


def _with_production(
    client: MlflowClient,
    row: ModelRow,
    attempts: Sequence[Attempt],
    version: Any | None,
    runs: Mapping[str, RunLatest],
) -> ModelRow:
    """Add the production version's promotion and key metric; a failure becomes the row's problem.

    `version` (the production ModelVersion) and `runs` (latest metrics by run) are what the list
    read together; whatever they lack is read here, one call each, and its failure named."""
    if not row.production:
        return row
    try:
        with translate_errors(f"{row.name} v{row.production}"):
            mv = version if version is not None else client.get_model_version(row.name, row.production)
            info = version_info(mv, mv.aliases or ())
            run_id = source_run_id(client, info)
            value = None
            if run_id and row.key_metric:
                value = _run_latest(client, run_id, runs).metrics.get(row.key_metric)
    except RegistryError as exc:
        return replace(row, problem=str(exc))
    return replace(
        row,
        key_value=value,
        production_run=run_id,
        promotion=promotion_of(row.name, row.production, info.tags, attempts, row.primary_slot),
    )


def _attempts_or_none(reg: Registry) -> list[Attempt]:
    """The audit history for the 'since when / by whom' fallback; an unreachable audit log costs only that."""
    try:
        return reg.history()
    except RegistryError:
        return []


def _fill(reg: Registry, rows: list[ModelRow]) -> list[ModelRow]:
    """Each row with its production version's promotion and key metric.

    The production versions are read in a few searches and their runs' key metrics in one query
    where the tracking store is a database (the reader's fast path); what those miss is read one
    call per row, in parallel (a server answers them concurrently)."""
    held = [r for r in rows if r.production]
    attempts = _attempts_or_none(reg) if held else []
    versions = read_versions(reg.client, [(r.name, str(r.production), r.latest_version) for r in held])
    run_ids = sorted({mv.run_id for mv in versions.values() if mv.run_id})
    keys = sorted({r.key_metric for r in held if r.key_metric})
    runs = reg.reader.latest_metrics(run_ids, keys) if run_ids and keys else {}

    def fill(row: ModelRow) -> ModelRow:
        version = versions.get((row.name, str(row.production))) if row.production else None
        return _with_production(reg.client, row, attempts, version, runs)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(fill, rows))


def _search(client: MlflowClient, name_contains: str, max_results: int, page_token: str | None) -> Any:
    if max_results < 1:  # as registry.store.models.search_models says it
        raise BadInput(f"max results {max_results}: ask for at least 1")
    with translate_errors("search registered models"):
        return client.search_registered_models(
            filter_string=name_contains_filter(name_contains),
            max_results=max_results,
            page_token=page_token,
            order_by=["name ASC"],
        )


def model_rows(
    reg: Registry, name_contains: str = "", max_results: int = 25, page_token: str | None = None
) -> ModelRowsPage:
    """One page of models whose name contains the text, each with its production version and key metric."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        page = _search(reg.client, name_contains.strip(), max_results, page_token)
        rows = [_summary(rm, reg.settings) for rm in page if contains(rm.name, name_contains.strip())]
        return ModelRowsPage(_fill(reg, rows), page.token or None)


def _scan(
    reg: Registry, keep: Callable[[ModelRow], bool], cap: int, page: int, max_pages: int
) -> tuple[list[ModelRow], bool]:
    """Models kept by `keep`, by name: at most `cap` of them from at most `max_pages` pages of models
    (holders come from the search itself); the flag is True when there may be more."""
    kept: list[ModelRow] = []
    token: str | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for _ in range(max_pages):
            found = _search(reg.client, "", page, token)
            kept += [row for row in (_summary(rm, reg.settings) for rm in found) if keep(row)]
            token = found.token or None
            if len(kept) > cap or not token:
                break
    return kept[:cap], len(kept) > cap or token is not None


def production_models(
    reg: Registry, cap: int = 100, page: int = 1000, max_pages: int = 10
) -> tuple[list[ModelRow], bool]:
    """Models that hold a production version, by name: at most `cap` of them, from at most `max_pages`
    pages of models; the flag is True when there may be more."""
    held, more = _scan(reg, lambda row: bool(row.production), cap, page, max_pages)
    return _fill(reg, held), more


@dataclass(frozen=True)
class Candidate:
    """A model's newest version, newer than its production version (or the first of a model with none)."""

    model: str
    version: str
    production: str | None
    staging: str | None
    registered_ms: int
    run_id: str | None


def _newer_than_production(row: ModelRow) -> bool:
    if not row.latest_version:
        return False
    return row.production is None or int(row.latest_version) > int(row.production)


def _candidate(client: MlflowClient, row: ModelRow) -> Candidate | None:
    """The row's newest version, unless it was archived or did not register (nothing to decide)."""
    assert row.latest_version is not None
    with translate_errors(f"{row.name} v{row.latest_version}"):
        mv = client.get_model_version(row.name, row.latest_version)
        info = version_info(mv, mv.aliases or ())
    if info.archived or info.status != "READY":
        return None
    return Candidate(row.name, info.version, row.production, row.staging, info.created_ms, info.run_id)


def awaiting_decision(
    reg: Registry, cap: int = 20, page: int = 1000, max_pages: int = 10
) -> tuple[list[Candidate], bool]:
    """What waits for a lead: each model's newest version when it is newer than production and not
    archived, newest first, from the `cap` most recently changed such models; the flag is True when
    there may be more."""
    rows, more = _scan(reg, _newer_than_production, page * max_pages, page, max_pages)
    rows.sort(key=lambda r: r.updated_ms, reverse=True)
    more = more or len(rows) > cap
    rows = rows[:cap]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        found = [c for c in pool.map(lambda r: _candidate(reg.client, r), rows) if c is not None]
    return sorted(found, key=lambda c: c.registered_ms, reverse=True), more


# one model -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    version: str
    stage: str
    aliases: tuple[str, ...]
    status: str
    created_ms: int
    run_id: str | None
    run_status: str | None
    metrics: dict[str, float]
    tags: dict[str, str]
    archived: bool
    description: str = ""
    problem: str = ""

    @property
    def user_tags(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if not k.startswith(_INTERNAL_TAG_PREFIX)}


@dataclass(frozen=True)
class SlotView:
    """One managed slot on the model page: its alias (or stage), holder, and the chain of versions
    that held it (oldest first, from the audit), with the version a rollback of it would restore."""

    slot: str
    alias: str
    holder: str | None
    chain: tuple[str, ...] = ()
    rollback_to: str | None = None
    set_by: str | None = None  # who last moved it ("mlflow" for a change made in MLflow directly)
    set_at: datetime | None = None
    set_how: str = ""  # promote, rollback, observed, outside, ...


@dataclass(frozen=True)
class ModelView:
    """A model's page in one read: policy, holders, drift, rollback target and every version."""

    name: str
    description: str
    mode: str
    gate: str | None  # described: "acc (higher is better, tolerance 0)"
    gate_metric: str | None
    key_metric: str | None
    required_tags: dict[str, str]
    production: str | None
    staging: str | None
    rollback_to: str | None
    drift: tuple[str, ...]
    versions: tuple[VersionRow, ...]
    runs_truncated: bool
    audit_problem: str = ""
    leads: frozenset[str] | None = None  # the model's own leads (registry/permissions), if it names any
    # slot -> the version holding it now: production and staging (alias names in alias mode), then
    # every other alias the model has; what "How to load it" lists
    slot_holders: dict[str, str | None] = field(default_factory=dict)
    slots: tuple[SlotView, ...] = ()  # every managed slot, primary first as the model lists them
    primary_slot: str = "production"
    # the model's registry.* tags changed in MLflow directly, newest first (audit/policy_watch.py)
    policy_changes: tuple[Attempt, ...] = ()
    # with policy locked to the config file: the model's registry.* tags, shown but not in force
    ignored_policy_tags: dict[str, str] = field(default_factory=dict)

    def version(self, version: str | None) -> VersionRow | None:
        return next((v for v in self.versions if v.version == version), None)

    def role_of(self, version: str) -> str:
        """The managed slots a version holds ("production", "champion, shadow"), else ""."""
        if not self.slots:
            held = {"production": self.production, "staging": self.staging}
            return next((slot for slot, holder in held.items() if holder == version), "")
        return ", ".join(s.slot for s in self.slots if s.holder == version)

    def slot(self, name: str) -> SlotView | None:
        return next((s for s in self.slots if s.slot == name), None)


def _run_latest(client: MlflowClient, run_id: str, runs: Mapping[str, RunLatest]) -> RunLatest:
    """The run as the page read it together with the others, else one `get_run` (which raises)."""
    known = runs.get(run_id)
    if known is not None:
        return known
    run = client.get_run(run_id)
    return RunLatest(run.info.status, run.info.lifecycle_stage == "deleted", dict(run.data.metrics))


def _version_row(
    client: MlflowClient, v: VersionInfo, read_run: bool, runs: Mapping[str, RunLatest]
) -> VersionRow:
    """A version with its source run's status and metrics: from `runs` (read together for the whole
    page where the store is a database), else one `get_run`, whose failure becomes the row's problem."""
    run_id, status, metrics, problem = v.run_id, None, {}, ""
    if read_run:
        try:
            run_id = source_run_id(client, v)
            if run_id:
                with translate_errors(f"source run of v{v.version}"):
                    known = _run_latest(client, run_id, runs)
                status, metrics = known.status, dict(known.metrics)
                if known.deleted:
                    status = f"{status} (run deleted)"
            else:
                problem = f"no source run: registered from {v.source or 'an unknown source'}"
        except RegistryError as exc:
            problem = str(exc)
    return VersionRow(
        version=v.version,
        stage=v.stage,
        aliases=v.aliases,
        status=f"{v.status}: {v.status_message}" if v.status_message else v.status,
        created_ms=v.created_ms,
        run_id=run_id,
        run_status=status,
        metrics=metrics,
        tags=dict(v.tags),
        archived=v.archived,
        description=v.description,
        problem=problem,
    )


def model_view(reg: Registry, name: str) -> ModelView:
    """Everything the model page shows; raises NotFound for an unknown model."""

    def read_state() -> ModelState:
        return model_state(reg.client, name, reg.settings)

    audit_problem = ""
    try:
        seen = observe(reg.audit, name, read_state)
        state, attempts = seen.state, seen.attempts
    except RegistryError as exc:  # the registry still shows; rollback and drift need the audit log
        state, attempts, audit_problem = read_state(), [], str(exc)
    replayed = replay(attempts, state.policy.slots)
    targets = rollback_targets(state, replayed) if not audit_problem else {}
    versions = list(state.versions.values())  # newest first
    run_ids = sorted({v.run_id for v in versions[:MAX_VERSION_RUNS] if v.run_id})
    runs = reg.reader.latest_metrics(run_ids) if run_ids else {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        rows = list(
            pool.map(
                lambda iv: _version_row(reg.client, iv[1], iv[0] < MAX_VERSION_RUNS, runs),
                enumerate(versions),
            )
        )
    gate = state.policy.gate
    return ModelView(
        name=name,
        description=state.model.description,
        mode=state.policy.mode,
        gate=(
            f"{gate.metric} ({'higher' if gate.direction == 'max' else 'lower'} is better, "
            f"tolerance {gate.tolerance:g})"
            if gate
            else None
        ),
        gate_metric=gate.metric if gate else None,
        key_metric=state.policy.key_metric,
        required_tags=dict(state.policy.required_tags),
        production=state.holders.production,
        staging=state.holders.staging,
        rollback_to=targets.get(state.policy.primary_slot),
        drift=tuple(drift(replayed, state.holders)) if not audit_problem else (),
        versions=tuple(rows),
        runs_truncated=len(versions) > MAX_VERSION_RUNS,
        audit_problem=audit_problem,
        leads=leads_of(
            tags_in_force(state.model.tags, reg.settings.policy_locked),
            reg.settings.model_overrides.get(name),
        ),
        slot_holders=_slot_holders(state, versions, reg.settings),
        slots=tuple(_slot_view(state, replayed, slot, targets, reg.settings) for slot in state.policy.slots),
        primary_slot=state.policy.primary_slot,
        policy_changes=tuple(policy_changes(attempts)),
        ignored_policy_tags=policy_tags(state.model.tags) if reg.settings.policy_locked else {},
    )


def _slot_view(
    state: ModelState, replayed: Replay, slot: str, targets: dict[str, str | None], settings: Settings
) -> SlotView:
    history = replayed.slot(slot)
    last = history.set_by
    alias = settings.alias_of(slot) if state.policy.mode == "aliases" else STAGE_SLOTS.get(slot, slot)
    return SlotView(
        slot=slot,
        alias=alias,
        holder=state.holders.of(slot),
        chain=history.chain,
        rollback_to=targets.get(slot),
        set_by=last.actor if last else None,
        set_at=(last.finished_at or last.at) if last else None,
        set_how=last.action if last else "",
    )


def _slot_holders(
    state: ModelState, versions: Sequence[VersionInfo], settings: Settings
) -> dict[str, str | None]:
    """What "How to load it" lists: every managed slot (by alias, or stage), then any other alias."""
    if state.policy.mode != "aliases":
        return state.holders.by_slot
    slots = {settings.alias_of(slot): holder for slot, holder in state.holders.by_slot.items()}
    for v in versions:
        for alias in v.aliases:
            slots.setdefault(alias, v.version)
    return slots


def model_drift(reg: Registry, name: str) -> list[str]:
    """Where MLflow's holders differ from what the audit log says they should be."""
    drifted: list[str] = reg.model_history(name).drift
    return drifted
