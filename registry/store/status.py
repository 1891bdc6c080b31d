"""Is everything answering, and how much is there: the Overview's store status and counts.

Each store is probed with the cheapest call that proves it answers, and a failure is reported per
store, so a dead artifact store does not hide a healthy registry. Counts are capped: MLflow has no
count call, and reading every run of a large store to count it would take seconds (10,000 runs took
10 s in our measurements), so past a cap the count reads "1,000+".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mlflow import MlflowClient
from mlflow.entities import ViewType

from registry.audit.log import AuditLog
from registry.errors import RegistryError
from registry.settings import Settings, mask_uri
from registry.store.client import translate_errors
from registry.store.readers import TrackingReader


class _Stores(Protocol):
    """What the status reads through (the service, registry.service.Registry, is one)."""

    client: MlflowClient
    settings: Settings

    @property
    def audit(self) -> AuditLog: ...

    @property
    def reader(self) -> TrackingReader: ...


PAGE = 1000
MAX_PAGES = 10
RUN_CAP = 1000
_EXPERIMENT_CHUNK = 100


@dataclass(frozen=True)
class StoreStatus:
    store: str
    uri: str
    reachable: bool | None  # None: could not be checked (nothing to check against yet)
    detail: str
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return {True: "reachable", False: "unreachable", None: "not checked"}[self.reachable]


def _probe(store: str, uri: str, call: Callable[[], str]) -> StoreStatus:
    start = time.perf_counter()
    try:
        detail = call()
    except RegistryError as exc:
        return StoreStatus(store, uri, False, str(exc), time.perf_counter() - start)
    return StoreStatus(store, uri, True, detail, time.perf_counter() - start)


def _latest_run(client: MlflowClient) -> Any:
    """The most recently started run of the most recently updated experiments, or None."""
    exps = client.search_experiments(max_results=50, order_by=["last_update_time DESC"])
    if not exps:
        return None
    runs = client.search_runs(
        [e.experiment_id for e in exps], max_results=1, order_by=["attributes.start_time DESC"]
    )
    return runs[0] if runs else None


def store_status(reg: _Stores) -> list[StoreStatus]:
    """Tracking store, model registry, artifact store and audit log: reachable or not, and why."""
    client, described = reg.client, reg.settings.describe()

    def tracking() -> str:
        with translate_errors("tracking store"):
            client.search_experiments(max_results=1)
        return "answers"

    def registry() -> str:
        with translate_errors("model registry"):
            client.search_registered_models(max_results=1)
        return "answers"

    def audit() -> str:
        seq = reg.audit.last_seq("")  # any query proves the table is there and readable
        return f"answers (seq {seq})"

    statuses = [
        _probe("tracking store", described["tracking_uri"], tracking),
        _probe("model registry", described["registry_uri"], registry),
    ]
    statuses.append(_artifact_status(client, described["s3_endpoint_url"]))
    statuses.append(_probe("audit log", described["audit_url"], audit))
    return statuses


def _artifact_status(client: MlflowClient, s3_endpoint: str) -> StoreStatus:
    """Listing the latest run's artifacts goes through the same path a page's download would."""
    start = time.perf_counter()
    endpoint = f" (S3 endpoint {s3_endpoint})" if s3_endpoint else ""
    try:
        with translate_errors("artifact store"):
            run = _latest_run(client)
            if run is None:
                return StoreStatus(
                    "artifact store", endpoint.strip(" ()"), None, "no runs yet to check against"
                )
            uri = mask_uri(run.info.artifact_uri) + endpoint
            client.list_artifacts(run.info.run_id)
    except RegistryError as exc:
        return StoreStatus(
            "artifact store", endpoint.strip(" ()"), False, str(exc), time.perf_counter() - start
        )
    return StoreStatus(
        "artifact store",
        uri,
        True,
        "answers (listed the latest run's artifacts)",
        time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Count:
    value: int
    capped: bool = False  # True: there are more than `value`

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


@dataclass(frozen=True)
class Counts:
    experiments: Count
    runs: Count
    models: Count
    versions: Count


def _count_pages(fetch: Callable[[str | None], Any], max_pages: int) -> tuple[Count, list[Any]]:
    items: list[Any] = []
    token: str | None = None
    for _ in range(max_pages):
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return Count(len(items)), items
    return Count(len(items), capped=True), items


def count_store(
    client: MlflowClient, *, page: int = PAGE, max_pages: int = MAX_PAGES, run_cap: int = RUN_CAP
) -> Counts:
    """Active experiments and runs, registered models and versions; each capped (see module doc)."""
    with translate_errors("count experiments"):
        experiments, exps = _count_pages(
            lambda t: client.search_experiments(ViewType.ACTIVE_ONLY, max_results=page, page_token=t),
            max_pages,
        )
    with translate_errors("count runs"):
        runs = _count_runs(client, [e.experiment_id for e in exps], run_cap)
    with translate_errors("count registered models"):
        models, _ = _count_pages(
            lambda t: client.search_registered_models(max_results=page, page_token=t), max_pages
        )
    with translate_errors("count model versions"):
        versions, _ = _count_pages(
            lambda t: client.search_model_versions(max_results=page, page_token=t), max_pages
        )
    if experiments.capped:  # runs of the experiments beyond the cap were not looked at
        runs = Count(runs.value, capped=True)
    return Counts(experiments, runs, models, versions)


def _count_runs(client: MlflowClient, experiment_ids: list[str], cap: int) -> Count:
    """Runs across experiments, reading at most `cap` runs (in one page where possible)."""
    total = 0
    for i in range(0, len(experiment_ids), _EXPERIMENT_CHUNK):
        chunk = experiment_ids[i : i + _EXPERIMENT_CHUNK]
        token: str | None = None
        while True:
            left = cap - total
            page = client.search_runs(chunk, max_results=min(left, PAGE) or 1, page_token=token)
            total += len(page)
            token = page.token
            if total >= cap and (token or i + _EXPERIMENT_CHUNK < len(experiment_ids)):
                return Count(total, capped=True)
            if not token:
                break
    return Count(total)


def store_counts(reg: _Stores) -> Counts:
    """Exact counts where the reader has them (one database: COUNT queries), else `count_store` on the
    registry's client; in the (registry, ...) shape the pages' cached reads take."""
    exact = reg.reader.counts(reg.settings.effective_registry_uri)
    if exact is None:
        return count_store(reg.client)
    return Counts(*(Count(n) for n in exact))
