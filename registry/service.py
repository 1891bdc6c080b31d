"""The registry service: one object that the pages, the CLI and the MCP server all talk to.

It owns the MLflow client and the audit log and exposes the reads every front needs (experiments,
runs, models), the lifecycle as plan/apply plus the one-call shortcuts, and the additions (track,
register). Fronts call these methods and never reach the store modules themselves, so a rule (which
run is best, which tags are reserved, how an approved plan is applied) lives in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Literal

import pandas as pd
from mlflow import MlflowClient

if TYPE_CHECKING:
    from registry.domain.model_specs import ParamValue  # scikit-learn: loaded only to train
    from registry.training.demo import DemoSummary  # imported when seeding: it loads scikit-learn

from registry.access.identity import Actor, actor_named, configured_actor
from registry.audit.chain import Verification
from registry.audit.log import Attempt, AuditLog
from registry.audit.observe import Adoption, observe, rollback_targets
from registry.audit.replay import Replay, drift, replay
from registry.domain.policy import tags_in_force
from registry.domain.slots import approvals_required
from registry.errors import BadInput, Refused, RegistryError
from registry.lifecycle import approvals, catalog
from registry.lifecycle.actions import ActionResult, Plan, apply_plan, plan_action
from registry.lifecycle.catalog import Candidate, ModelRow, ModelRowsPage, ModelView
from registry.lifecycle.plan_tokens import approved_plan, plan_token, read_token
from registry.lifecycle.reconcile import reconcile
from registry.lifecycle.registration import (
    RegisteredVersion,
    SourceOption,
    TrackedSpec,
    register_version,
    registrable_sources,
    set_description,
    track_from_spec,
)
from registry.notify import outbox
from registry.notify.delivery import (
    BackgroundDelivery,
    NotificationStatus,
    PassReport,
    deliver_due,
    notification_status,
    notify_wiring,
    run_worker,
)
from registry.redaction import redact_log_records
from registry.settings import Settings, load_settings
from registry.store import artifacts, status, textdiff
from registry.store.activity import ExperimentActivity, recent_runs
from registry.store.artifacts import ArtifactTree, Preview
from registry.store.best_run import BestRun, best_run
from registry.store.client import make_client
from registry.store.compare import ComparedRuns, RunComparison, compare_runs, load_runs
from registry.store.experiments import (
    ExperimentInfo,
    View,
    get_experiment,
    has_experiments,
    reach,
    search_experiments,
)
from registry.store.fastpath import MAX_RUNS, ExperimentRuns
from registry.store.images import StepImage, image_bytes, step_images
from registry.store.metrics import metric_history
from registry.store.models import (
    ModelsPage,
    ModelState,
    all_model_names,
    get_model,
    model_state,
    search_models,
)
from registry.store.readers import TrackingReader, reader_for
from registry.store.runs import RunDetail, RunsPage, get_run, search_runs
from registry.store.status import Counts, StoreStatus
from registry.store.summaries import (
    SUMMARY_POINTS,
    LineSummary,
    RunStamp,
    SummaryCache,
    line_summaries,
    run_stamps,
    stats_frame,
    summaries_frame,
)
from registry.store.textdiff import TextDiff

PING_RETRY_S = 1.0  # a store that fails its ping is asked once more after this long


@dataclass(frozen=True)
class ModelHistory:
    """A model's audit trail with what it implies: replayed state, rollback target, drift."""

    model: str
    attempts: list[Attempt]
    replayed: Replay
    rollback_to: str | None  # of the primary slot
    drift: list[str]
    rollback_targets: dict[str, str | None] = field(default_factory=dict)  # every managed slot's


class Registry:
    """The guarded registry: settings, an MLflow client and the audit log, wired once."""

    def __init__(self, settings: Settings, client: MlflowClient | None = None, audit: AuditLog | None = None):
        self.settings = settings
        self.client = client or make_client(settings)
        self._audit = audit
        self.background_delivery: BackgroundDelivery | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Registry:
        redact_log_records()  # every front connects here: no secret in a log line either
        return cls(settings or load_settings())

    @cached_property
    def audit(self) -> AuditLog:
        """Opened on first use, so a read-only page works while the audit database is down.

        With webhooks configured, every result row queues its notification in the same transaction,
        and a background pass sends it once committed (registry/notify)."""
        if self._audit:
            return self._audit
        log = AuditLog(self.settings.effective_audit_url, self.settings.audit_timeout_s)
        urls = self.settings.notify_urls
        if urls and notify_wiring(log, self.settings, urls):
            log.on_result = partial(outbox.enqueue, urls=urls)
            if self.settings.notify_background:
                self.background_delivery = BackgroundDelivery(log.engine, self.settings)
                log.after_commit = self.background_delivery.kick
        return log

    @cached_property
    def summaries(self) -> SummaryCache:
        """The kept downsampled metric lines (opened on first use; a cache that fails is skipped)."""
        return SummaryCache(self.settings.summary_cache_url)

    # identity ------------------------------------------------------------------------------------
    def actor(self, name: str | None = None) -> Actor:
        """The actor called `name` with the role the settings give it; default: the configured actor."""
        return actor_named(name, self.settings) if name else configured_actor(self.settings)

    # reads ---------------------------------------------------------------------------------------
    def experiments(self, search: str = "", view: View = "active") -> list[ExperimentInfo]:
        """Experiments whose name contains `search` (case-insensitive); `view`: active, deleted, all."""
        return search_experiments(self.client, search, view=view)

    def experiment(self, id_or_name: str) -> ExperimentInfo:
        return get_experiment(self.client, id_or_name)

    def experiment_activity(self) -> list[ExperimentActivity]:
        """Active experiments, the most recently active first, with their run counts."""
        return self.reader.experiment_activity()

    def recent_runs(self, limit: int = 50) -> pd.DataFrame:
        """The newest runs of the store (across the most active experiments), newest first."""
        return recent_runs(self.client, self.experiment_activity(), limit)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 50,
        page_token: str | None = None,
    ) -> RunsPage:
        """One page of active runs as a table; a bad filter is BadInput saying what to write instead."""
        return search_runs(self.client, experiment_ids, filter_string, order_by, max_results, page_token)

    def best_run(
        self,
        experiment: str,
        metric: str,
        direction: Literal["max", "min"] | None = None,
        filter_string: str = "",
        finished_only: bool = True,
    ) -> BestRun:
        return best_run(self.client, experiment, metric, direction, filter_string, finished_only)

    def load_runs(self, run_ids: Sequence[str]) -> ComparedRuns:
        """The runs with these ids as one table; ids that name no run are listed, not fatal."""
        return load_runs(self.client, run_ids)

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        """The runs side by side; NotFound when fewer than two of them exist."""
        return compare_runs(self.client, run_ids)

    def models(self, search: str = "", max_results: int = 100, page_token: str | None = None) -> ModelsPage:
        return search_models(self.client, search, max_results=max_results, page_token=page_token)

    @cached_property
    def reader(self) -> TrackingReader:
        """The reader for whole experiments and metric lines, chosen once from the tracking URI."""
        return reader_for(self.client, self.settings.effective_tracking_uri)

    def ping(self) -> str | None:
        """None when the tracking store answers, else why not. One failure is tried again after a
        moment: a busy store's one error (its database locked for a write, a dropped connection)
        must not stop every page behind the "does not answer" banner."""
        for retries_left in (1, 0):
            try:
                reach(self.client)
                return None
            except RegistryError as exc:
                if not retries_left:
                    return str(exc)
                time.sleep(PING_RETRY_S)
        raise AssertionError("unreachable: the last try returns")

    def experiment_runs(
        self, experiment_id: str, filter_string: str = "", max_runs: int = MAX_RUNS
    ) -> ExperimentRuns:
        """Every active run of an experiment (those the filter keeps) as one table; the database read
        when the URI is one and there is no filter."""
        return self.reader.experiment_runs(experiment_id, max_runs=max_runs, filter_string=filter_string)

    def run(self, run_id: str) -> RunDetail:
        return get_run(self.client, run_id)

    def metric_history(
        self, run_ids: Sequence[str], keys: Sequence[str], max_points: int = 1000
    ) -> pd.DataFrame:
        """Long table (run_id, key, step, timestamp, value), ≤ `max_points` rows per line."""
        return metric_history(self.client, list(run_ids), list(keys), max_points, reader=self.reader)

    def artifact_tree(self, run_id: str) -> ArtifactTree:
        return artifacts.artifact_tree(self.client, run_id)

    def preview_artifact(self, run_id: str, path: str) -> Preview:
        return artifacts.preview_artifact(self.client, run_id, path, self.settings.preview_max_bytes)

    def download_artifact(self, run_id: str, path: str) -> tuple[str, bytes]:
        return artifacts.download_artifact(self.client, run_id, path)

    def model_artifact_tree(self, model_id: str) -> ArtifactTree:
        return artifacts.model_artifact_tree(self.client, model_id)

    def preview_model_artifact(self, model_id: str, path: str) -> Preview:
        return artifacts.preview_model_artifact(self.client, model_id, path, self.settings.preview_max_bytes)

    def diffable_paths(self, run_ids: Sequence[str]) -> list[str]:
        return textdiff.diffable_paths(self.client, list(run_ids))

    def artifact_diff(self, old_run: str, new_run: str, path: str) -> TextDiff:
        return textdiff.artifact_diff(self.client, old_run, new_run, path)

    def model_rows(
        self, name_contains: str = "", max_results: int = 25, page_token: str | None = None
    ) -> ModelRowsPage:
        """One page of models with their production version and key metric, for the catalog."""
        return catalog.model_rows(self, name_contains, max_results, page_token)

    def production_models(self, cap: int = 100) -> tuple[list[ModelRow], bool]:
        """Models that hold a production version, at most `cap`; True when there may be more."""
        return catalog.production_models(self, cap)

    def awaiting_decision(self, cap: int = 20) -> tuple[list[Candidate], bool]:
        """Each model's newest version when newer than production and not archived, newest first."""
        return catalog.awaiting_decision(self, cap)

    def model_view(self, name: str) -> ModelView:
        return catalog.model_view(self, name)

    def store_status(self) -> list[StoreStatus]:
        return status.store_status(self)

    def store_counts(self) -> Counts:
        return status.store_counts(self)

    # additions -----------------------------------------------------------------------------------
    def track_from_spec(
        self,
        name: str,
        estimator: str,
        dataset: str,
        params: dict[str, ParamValue] | None = None,
        *,
        actor: Actor,
        experiment: str | None = None,
        run_name: str | None = None,
        register: bool = True,
        tags: dict[str, str] | None = None,
        test_size: float = 0.3,
        seed: int = 0,
    ) -> TrackedSpec:
        return track_from_spec(
            self.settings,
            self.client,
            self.audit,
            name,
            estimator,
            dataset,
            params,
            actor=actor,
            experiment=experiment,
            run_name=run_name,
            register=register,
            tags=tags,
            test_size=test_size,
            seed=seed,
        )

    def register_version(
        self, source: str, model: str, *, actor: Actor, description: str = ""
    ) -> RegisteredVersion:
        return register_version(
            self.settings, self.client, self.audit, source, model, actor=actor, description=description
        )

    def seed_demo(self, progress: Callable[[float, str], None] | None = None) -> DemoSummary:
        """The demo experiments and models, into this store (see registry.training.demo)."""
        from registry.training.demo import seed_demo  # the demo seeds its history through this service

        return seed_demo(self.settings, client=self.client, progress=progress)

    def has_experiments(self) -> bool:
        """Whether the store holds any experiment besides MLflow's Default."""
        return has_experiments(self.client)

    # lifecycle -----------------------------------------------------------------------------------
    def plan(
        self, action: str, model: str, version: str | None = None, *, actor: Actor, target: str | None = None
    ) -> Plan:
        """What `action` would do. `target`: the slot a promote or rollback moves, by slot or alias
        name (default: the model's primary slot); for archive, a slot whose holder is archived."""
        return plan_action(
            self.client, self.audit, self.settings, action, model, version, actor=actor, target=target
        )

    def apply(self, plan: Plan, reason: str, *, actor: Actor, force: bool = False) -> ActionResult:
        """Apply a plan; a move of a slot that needs approvals becomes a request instead (outcome
        `requested`), whichever front asked."""
        needed = self.approvals_needed(plan)
        if needed:
            return approvals.request_change(self, plan, reason, actor=actor, force=force, needed=needed)
        return apply_plan(self.client, self.audit, self.settings, plan, reason, actor=actor, force=force)

    # approval requests ---------------------------------------------------------------------------
    def approvals_needed(self, plan: Plan) -> int:
        """How many other leads must approve this plan: promote and rollback of a slot that asks for it."""
        if plan.action not in ("promote", "rollback"):
            return 0
        tags = tags_in_force(get_model(self.client, plan.model).tags, self.settings.policy_locked)
        return approvals_required(tags, self.settings.model_overrides.get(plan.model), plan.target)

    def requests(self, model: str | None = None, open_only: bool = True) -> list[approvals.ApprovalRequest]:
        return approvals.list_requests(self, model, open_only)

    def request(self, request_id: str) -> approvals.ApprovalRequest:
        return approvals.get_request(self, request_id)

    def request_plan_now(self, request_id: str) -> Plan:
        """The requested change planned on the model as it is now (as the requester), to compare."""
        req = self.request(request_id)
        return self.plan(
            req.action, req.model, req.version, actor=self.actor(req.requester), target=req.target
        )

    def approve(
        self, request_id: str, reason: str, *, actor: Actor
    ) -> approvals.ApprovalRequest | ActionResult:
        return approvals.approve(self, request_id, reason, actor=actor)

    def reject(self, request_id: str, reason: str, *, actor: Actor) -> approvals.ApprovalRequest:
        return approvals.reject(self, request_id, reason, actor=actor)

    def withdraw(self, request_id: str, *, actor: Actor, reason: str = "") -> approvals.ApprovalRequest:
        return approvals.withdraw(self, request_id, actor=actor, reason=reason)

    @staticmethod
    def plan_token(plan: Plan) -> str:
        """The plan as a token a stateless front hands back to `apply_approved`."""
        return plan_token(plan)

    def apply_approved(
        self,
        action: str,
        model: str,
        version: str | None,
        reason: str,
        token: str | None,
        *,
        actor: Actor,
        target: str | None = None,
        force: bool = False,
    ) -> ActionResult:
        """Plan and apply in one call, or, with a token, apply the plan the user approved (or conflict).

        A rollback planned without a version applies to the version its token names, so "the
        previous holder" means the one the user saw.
        """
        if token and version is None:
            version = read_token(token)["version"]
        made = self.plan(action, model, version, actor=actor, target=target)
        if token:
            made = approved_plan(made, token)
        return self.apply(made, reason, actor=actor, force=force)

    def promote(
        self,
        model: str,
        version: str,
        reason: str,
        *,
        actor: Actor,
        target: str | None = None,
        force: bool = False,
    ) -> ActionResult:
        """Move the slot `target` (default: the model's primary slot) to the version."""
        plan = self.plan("promote", model, version, actor=actor, target=target)
        return self.apply(plan, reason, actor=actor, force=force)

    def archive(
        self, model: str, version: str | None, reason: str, *, actor: Actor, from_slot: str | None = None
    ) -> ActionResult:
        """Archive a version, or (`from_slot`) whichever version holds that slot."""
        plan = self.plan("archive", model, version, actor=actor, target=from_slot)
        return self.apply(plan, reason, actor=actor)

    def rollback(
        self,
        model: str,
        reason: str,
        *,
        actor: Actor,
        to_version: str | None = None,
        slot: str | None = None,
    ) -> ActionResult:
        """Give `slot` (default: the primary slot) back to its previous holder, or to `to_version`."""
        plan = self.plan("rollback", model, to_version, actor=actor, target=slot)
        return self.apply(plan, reason, actor=actor)

    # metric lines --------------------------------------------------------------------------------
    def line_summaries(
        self, runs: Sequence[RunStamp], keys: Sequence[str], points: int = SUMMARY_POINTS
    ) -> dict[tuple[str, str], LineSummary]:
        """Each (run, metric) line downsampled to `points` with its exact statistics, kept once per run."""
        return line_summaries(
            self.client, self.settings.effective_tracking_uri, self.summaries, runs, keys, points
        )

    def line_tables(
        self, runs: Sequence[RunStamp], keys: Sequence[str], points: int = SUMMARY_POINTS
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The kept lines as two tables: the drawn points (metric_history's columns) and one row of
        exact statistics per line."""
        found = self.line_summaries(runs, keys, points).values()
        return summaries_frame(found), stats_frame(found)

    @staticmethod
    def run_stamps(runs: pd.DataFrame) -> list[RunStamp]:
        """The runs of a runs table with the version their kept lines are checked against."""
        return run_stamps(runs)

    # new versions and their descriptions --------------------------------------------------------
    def registrable_sources(self, run_id: str) -> list[SourceOption]:
        """What of a run can become a version: its logged models and model artifact folders."""
        return registrable_sources(self.client, run_id)

    def set_description(self, model: str, version: str, description: str, *, actor: Actor) -> str:
        return set_description(
            self.settings, self.client, self.audit, model, version, description, actor=actor
        )

    def step_images(self, run_id: str) -> list[StepImage]:
        """The images a run logged with a key and a step (`mlflow.log_image(..., key=, step=)`)."""
        return step_images(self.client, run_id)

    def image_bytes(self, run_id: str, path: str) -> bytes:
        return image_bytes(self.client, run_id, path)

    def kept_lines(
        self, runs: Sequence[RunStamp], keys: Sequence[str], points: int = SUMMARY_POINTS
    ) -> pd.DataFrame:
        """The kept summaries as one long table (metric_history's columns): what a chart draws."""
        return summaries_frame(self.line_summaries(runs, keys, points).values())

    # state and history ---------------------------------------------------------------------------
    def state(self, model: str) -> ModelState:
        return model_state(self.client, model, self.settings)

    def managed_aliases(self, model: str) -> dict[str, str]:
        """The model's managed slots by the alias that holds each (alias -> slot)."""
        return {self.settings.alias_of(slot): slot for slot in self.state(model).policy.slots}

    def versions_summary(self, model: str) -> dict[str, object]:
        """Mode, holders and every version of a model: what the CLI and MCP list as `versions`."""
        state = self.state(model)
        return {
            "model": model,
            "mode": state.policy.mode,
            "slots": list(state.policy.slots),
            "holders": state.holders,
            "versions": list(state.versions.values()),
        }

    def model_drift(self, model: str) -> list[str]:
        """Where MLflow's holders differ from what the audit log says they should be."""
        return self.model_history(model).drift

    def history(self, model: str | None = None, limit: int | None = None) -> list[Attempt]:
        """Audit attempts, oldest first, for one model or all."""
        return self.audit.attempts(model, limit)

    def verify_audit(self, anchor: str | None = None) -> Verification:
        """Whether the audit log is as it was written: its hash chain walked, attempts with a doubled
        row, and its append-only triggers (missing now, or found missing when it was opened). `anchor`
        is a head hash kept from an earlier verify (16 hex characters at least): the chain must still
        hold it, or it was rewritten and rehashed."""
        if anchor is not None:
            anchor = anchor.strip().lower()
            if len(anchor) < 16 or len(anchor) > 64 or any(ch not in "0123456789abcdef" for ch in anchor):
                raise BadInput("anchor: a head hash from an earlier `audit verify`, 16 to 64 hex characters")
        return self.audit.verify(anchor)

    def acknowledge_audit(self, reason: str, *, actor: Actor) -> Verification:
        """An admin records that the audit log's current break (or doubled rows, or trigger notices)
        was looked into, so `verify` and the pages stop alarming about it; kept with actor and reason,
        listed by every later verify, and pinned to the row as it is now."""
        if actor.role != "admin":
            raise Refused(
                f"{actor.name} is {actor.role}: only an admin (REGISTRY_ADMINS) may acknowledge the audit log"
            )
        if not reason.strip():
            raise BadInput("a reason is required: what was found, and what was done about it")
        return self.audit.acknowledge(actor.name, reason.strip())

    def model_history(self, model: str) -> ModelHistory:
        reconcile(self.client, self.audit, self.settings, model)  # before reading: see lifecycle/reconcile
        seen = observe(self.audit, model, lambda: self.state(model))
        state, attempts = seen.state, seen.attempts
        replayed = replay(attempts, state.policy.slots)
        targets = rollback_targets(state, replayed)
        return ModelHistory(
            model=model,
            attempts=attempts,
            replayed=replayed,
            rollback_to=targets.get(state.policy.primary_slot),
            drift=drift(replayed, state.holders),
            rollback_targets=targets,
        )

    def adopt(self, model: str | None = None) -> list[Adoption]:
        """Record the baseline (what MLflow shows now) of one model or of every model the audit never
        met, and any outside change since; idempotent, so it may run on every deploy."""
        adopted = []
        for name in [model] if model else all_model_names(self.client):
            seen = observe(self.audit, name, partial(self.state, name), record_empty=True)
            adopted.append(Adoption.of(seen.state, recorded=seen.recorded))
        return adopted

    # notifications -------------------------------------------------------------------------------
    def notification_status(self) -> NotificationStatus:
        """The outbox's counts and latest error, and the webhooks configured (masked)."""
        return notification_status(self.audit.engine, self.settings)

    def deliver_notifications(
        self, once: bool = True, interval_s: float = 5.0, on_pass: Callable[[PassReport], None] | None = None
    ) -> PassReport | None:
        """Send the due webhook deliveries: one pass (its report), or passes until stopped."""
        if not self.settings.notify_urls:
            raise BadInput(
                "no webhooks configured: set REGISTRY_NOTIFY_URLS or [notify] urls in registry.toml"
            )
        outbox.ensure_table(self.audit.engine)
        if once:
            return deliver_due(self.audit.engine, self.settings)
        run_worker(self.audit.engine, self.settings, interval_s, on_pass=on_pass)
        return None
