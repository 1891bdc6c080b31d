"""Runs: one page of a search as a table, and everything about one run.

Search is paged on the server (`max_results` + `page_token`) so a page of 50 never loads a 100,000-run
experiment. Filters are checked before and after the search: a syntax error gets MLflow's message
made readable, and a typo in a metric name, which MLflow answers with an empty page, gets a
"did you mean" from the keys the experiment's runs really have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import LoggedModel, Run, ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchUtils

from registry.domain.search_hints import (
    KnownKeys,
    explain_search_error,
    known_keys_from_runs,
    unknown_key_message,
)
from registry.errors import BadInput, NotFound
from registry.store.client import translate_errors
from registry.store.experiments import ms_to_datetime

BASE_COLUMNS = [
    "run_id", "run_name", "experiment_id", "status", "start_time", "end_time", "duration_s", "user",
    "parent_run_id",
]  # fmt: skip
# System tags already shown as columns, or too bulky for a table cell.
TAGS_NOT_AS_COLUMNS = {"mlflow.runName", "mlflow.user", "mlflow.parentRunId", "mlflow.log-model.history"}
_SAMPLE_SIZE = 100
_MAX_RESULTS = 50_000
_MAX_CHILDREN = 1_000
_MAX_LINKED = 100
_RUN_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class RunsPage:
    runs: pd.DataFrame
    next_page_token: str | None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    lifecycle_stage: str
    start_time: datetime | None
    end_time: datetime | None
    duration_s: float | None
    user: str
    source_name: str
    source_type: str
    git_commit: str
    artifact_uri: str


@dataclass(frozen=True)
class LoggedModelRef:
    model_id: str
    name: str
    artifact_location: str
    status: str
    creation_time: datetime | None


@dataclass(frozen=True)
class ModelVersionRef:
    name: str
    version: str
    source: str
    status: str
    run_id: str
    creation_time: datetime | None


@dataclass(frozen=True)
class RunDetail:
    info: RunSummary
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    system_tags: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    children: list[RunSummary] = field(default_factory=list)
    logged_models: list[LoggedModelRef] = field(default_factory=list)
    model_versions: list[ModelVersionRef] = field(default_factory=list)


def duration_seconds(start_ms: int | None, end_ms: int | None) -> float | None:
    return (end_ms - start_ms) / 1000 if start_ms and end_ms else None


def summarize_run(run: Run) -> RunSummary:
    info, tags = run.info, run.data.tags
    return RunSummary(
        run_id=info.run_id,
        run_name=info.run_name or tags.get("mlflow.runName", ""),
        experiment_id=str(info.experiment_id),
        status=info.status,
        lifecycle_stage=info.lifecycle_stage,
        start_time=ms_to_datetime(info.start_time),
        end_time=ms_to_datetime(info.end_time),
        duration_s=duration_seconds(info.start_time, info.end_time),
        user=info.user_id or tags.get("mlflow.user", ""),
        source_name=tags.get("mlflow.source.name", ""),
        source_type=tags.get("mlflow.source.type", ""),
        git_commit=tags.get("mlflow.source.git.commit", ""),
        artifact_uri=info.artifact_uri or "",
    )


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: fixed columns first, then `params.*`, `metrics.*`, `tags.*`, each sorted."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        summary = summarize_run(run)
        row: dict[str, Any] = {
            "run_id": summary.run_id,
            "run_name": summary.run_name,
            "experiment_id": summary.experiment_id,
            "status": summary.status,
            "start_time": summary.start_time,
            "end_time": summary.end_time,
            "duration_s": summary.duration_s,
            "user": summary.user,
            "parent_run_id": run.data.tags.get("mlflow.parentRunId"),
        }
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items() if k not in TAGS_NOT_AS_COLUMNS})
        rows.append(row)
    extra = sorted({c for row in rows for c in row} - set(BASE_COLUMNS), key=column_order)
    frame = pd.DataFrame(rows, columns=BASE_COLUMNS + extra)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["duration_s"] = frame["duration_s"].astype("float64")
    return frame


def column_order(column: str) -> tuple[int, str]:
    """params.* first, then metrics.*, then tags.*, each by name."""
    prefix = column.split(".", 1)[0]
    return ({"params": 0, "metrics": 1, "tags": 2}.get(prefix, 3), column)


class _KeySample:
    """Keys seen on the first page of the experiments, fetched only when a message needs them."""

    def __init__(self, client: MlflowClient, experiment_ids: list[str]) -> None:
        self._client, self._ids = client, experiment_ids
        self._known: KnownKeys | None = None

    def get(self) -> KnownKeys:
        if self._known is None:
            with translate_errors("search runs"):
                sample = self._client.search_runs(self._ids, max_results=_SAMPLE_SIZE)
            self._known = known_keys_from_runs(sample)
        return self._known


def _key_exists(client: MlflowClient, experiment_ids: list[str], kind: str, key: str) -> bool:
    """Whether any run of the experiments has this key at all (one run fetched)."""
    if "`" in key:
        return True  # cannot be quoted in a filter: give the user the benefit of the doubt
    prefix = {"metric": "metrics", "parameter": "params", "tag": "tags"}[kind]
    condition = ">= -1e308" if kind == "metric" else "IS NOT NULL"
    with translate_errors("search runs"):
        found = client.search_runs(experiment_ids, f"{prefix}.`{key}` {condition}", max_results=1)
    return bool(found)


def _parse(where: str, parse: Any, text: str, sample: _KeySample) -> Any:
    try:
        return parse(text)
    except MlflowException as exc:
        raise BadInput(explain_search_error(where, exc.message, sample.get())) from exc


def _check_keys(
    client: MlflowClient, ids: list[str], where: str, keys: list[tuple[str, str]], sample: _KeySample
) -> None:
    for kind, key in keys:
        if kind in ("metric", "parameter", "tag") and not _key_exists(client, ids, kind, key):
            raise BadInput(unknown_key_message(where, kind, key, sample.get()))


def _as_ids(experiment_ids: str | Sequence[str]) -> list[str]:
    ids = [experiment_ids] if isinstance(experiment_ids, str) else [str(i) for i in experiment_ids]
    if not ids:
        raise BadInput("search runs: choose at least one experiment")
    return ids


def search_runs(
    client: MlflowClient,
    experiment_ids: str | Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 50,
    page_token: str | None = None,
) -> RunsPage:
    """One page of active runs as a table, and the token for the next page (None on the last)."""
    ids = _as_ids(experiment_ids)
    if not 1 <= max_results <= _MAX_RESULTS:
        raise BadInput(f"max_results: {max_results} is not between 1 and {_MAX_RESULTS}")
    filter_string = (filter_string or "").strip()
    order_by = [o.strip() for o in (order_by or []) if o and o.strip()]
    sample = _KeySample(client, ids)
    clauses = _parse("filter", SearchUtils.parse_search_filter, filter_string, sample)
    orders = [_parse("order_by", SearchUtils.parse_order_by_for_search_runs, o, sample) for o in order_by]
    try:
        with translate_errors("search runs"):
            page = client.search_runs(
                ids, filter_string, ViewType.ACTIVE_ONLY, max_results, order_by or None, page_token
            )
    except BadInput as exc:  # the store's own check (a server of another version may be stricter)
        cause = exc.__cause__
        message = cause.message if isinstance(cause, MlflowException) else str(exc)
        raise BadInput(explain_search_error("filter", message, sample.get())) from exc
    if not page and page_token is None:
        present = [(c["type"], c["key"]) for c in clauses if c["comparator"].upper() != "IS NULL"]
        _check_keys(client, ids, "filter", present, sample)
    seen = known_keys_from_runs(page)
    _check_keys(client, ids, "order_by", [(t, k) for t, k, _ in orders if not seen.has(t, k)], sample)
    return RunsPage(runs=runs_to_frame(page), next_page_token=page.token or None)


def fetch_run(client: MlflowClient, run_id: str) -> Run:
    """MLflow's run, or NotFound saying so (MLflow's own message names a database row)."""
    try:
        with translate_errors(f"get run {run_id}"):
            return client.get_run(run_id)
    except NotFound as exc:
        raise NotFound(f"run {run_id}: no such run") from exc


def logged_models_of(client: MlflowClient, run: Run, max_results: int) -> list[LoggedModel]:
    """The MLflow 3 logged models a run produced (`models:/m-...`), up to `max_results`."""
    run_id = run.info.run_id
    with translate_errors(f"logged models of run {run_id}"):
        return list(
            client.search_logged_models(
                experiment_ids=[str(run.info.experiment_id)],
                filter_string=f"source_run_id = '{run_id}'",
                max_results=max_results,
            )
        )


def get_run(client: MlflowClient, run_id: str) -> RunDetail:
    """A run with its parent, children, the models it logged and the registered versions made from it."""
    run_id = (run_id or "").strip()
    if not _RUN_ID.fullmatch(run_id):
        raise NotFound(f"run {run_id!r}: no such run")
    run = fetch_run(client, run_id)
    tags = run.data.tags
    experiment_id = str(run.info.experiment_id)
    with translate_errors(f"get run {run_id}"):
        children = client.search_runs(
            [experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'", max_results=_MAX_CHILDREN
        )
    logged = logged_models_of(client, run, _MAX_LINKED)
    return RunDetail(
        info=summarize_run(run),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags={k: v for k, v in tags.items() if not k.startswith("mlflow.")},
        system_tags={k: v for k, v in tags.items() if k.startswith("mlflow.")},
        parent_run_id=tags.get("mlflow.parentRunId"),
        children=[summarize_run(child) for child in children],
        logged_models=[
            LoggedModelRef(
                model_id=m.model_id,
                name=m.name,
                artifact_location=m.artifact_location,
                status=str(m.status),
                creation_time=ms_to_datetime(m.creation_timestamp),
            )
            for m in logged
        ],
        model_versions=_versions_of_run(client, run_id, [m.model_id for m in logged]),
    )


def _versions_of_run(client: MlflowClient, run_id: str, model_ids: list[str]) -> list[ModelVersionRef]:
    """Versions registered from the run, or from one of its logged models (`models:/m-<id>`)."""
    found: dict[tuple[str, str], ModelVersionRef] = {}
    queries = [f"run_id = '{run_id}'"] + [f"source_path = 'models:/{mid}'" for mid in model_ids]
    with translate_errors(f"search model versions of run {run_id}"):
        for query in queries:
            for v in client.search_model_versions(query, max_results=_MAX_LINKED):
                found[(v.name, str(v.version))] = ModelVersionRef(
                    name=v.name,
                    version=str(v.version),
                    source=v.source or "",
                    status=str(v.status),
                    run_id=v.run_id or "",
                    creation_time=ms_to_datetime(v.creation_timestamp),
                )
    return sorted(found.values(), key=lambda v: (v.name, int(v.version) if v.version.isdigit() else 0))
