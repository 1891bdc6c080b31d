"""The raw MLflow client calls for the data each page shows, and our service calls without Streamlit.

Raw calls are what a script would do with MLflow alone; the ratio ours/raw says what the page adds
(or saves) on top of fetching the data. Slow raw calls run fewer times (`n` is reported).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import mlflow
from mlflow import MlflowClient

from registry.store.fastpath import client_runs
from registry.store.metrics import metric_history
from registry.store.readers import experiment_runs


def timed(fn: Callable[[], Any], n: int) -> dict[str, Any]:
    """Median, min and max wall time of `n` calls."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": n}


def client_for(manifest: dict[str, Any], store: str) -> MlflowClient:
    uri = f"sqlite:///{manifest[store]['db']}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def raw_calls(manifest: dict[str, Any], repeat: int, slow_repeat: int) -> dict[str, dict[str, Any]]:
    """Each raw call the pages are compared with, keyed like `Case.raw`."""
    runs_client, hist_client = client_for(manifest, "runs"), client_for(manifest, "histories")
    reg_client = client_for(manifest, "registry")
    eid = manifest["runs"]["experiment_id"]
    hist = manifest["histories"]
    ids, keys = hist["run_ids"][:10], hist["metric_keys"][:3]
    model = manifest["registry"]["models"][0]
    runs_uri = f"sqlite:///{manifest['runs']['db']}"

    def all_runs() -> None:
        mlflow.set_tracking_uri(runs_uri)
        try:
            mlflow.search_runs(experiment_ids=[eid])
        finally:
            mlflow.set_tracking_uri(None)

    def histories() -> None:
        for run_id in ids:
            for key in keys:
                hist_client.get_metric_history(run_id, key)

    def run_page() -> None:
        run = hist_client.get_run(hist["run_ids"][0])
        for key in sorted(run.data.metrics)[:2]:
            hist_client.get_metric_history(run.info.run_id, key)

    def versions() -> None:
        reg_client.get_registered_model(model)
        reg_client.search_model_versions(f"name = '{model}'", max_results=1000)

    grouped = manifest.get("grouped")

    def grouped_histories() -> None:
        client = client_for(manifest, "grouped")
        for run in client.search_runs([grouped["experiment_id"]], max_results=5000):
            client.get_metric_history(run.info.run_id, "loss")

    calls: dict[str, tuple[str, Callable[[], Any], int]] = {
        "search_runs_page": ("MlflowClient.search_runs, one page of 50", lambda: runs_client.search_runs(
            [eid], max_results=50), repeat),
        "search_runs_all": ("mlflow.search_runs, all 10k runs into pandas", all_runs, slow_repeat),
        "metric_histories": (f"get_metric_history x {len(ids) * len(keys)} full histories", histories, 1),
        "run_page": ("get_run + get_metric_history of 2 metrics", run_page, slow_repeat),
        "search_registered_models": ("search_registered_models, page of 25",
                                     lambda: reg_client.search_registered_models(
                                         max_results=25, order_by=["name ASC"]), repeat),
        "model_versions": ("get_registered_model + search_model_versions", versions, repeat),
    }  # fmt: skip
    if grouped:
        calls["grouped_histories"] = (
            "search_runs + get_metric_history of every grouped run (1,000 x 1,000 steps)",
            grouped_histories,
            1,
        )
    return {key: {"call": label, **timed(fn, n)} for key, (label, fn, n) in calls.items()}


def service_calls(manifest: dict[str, Any], repeat: int) -> dict[str, dict[str, Any]]:
    """Our service functions alone (no Streamlit), to split a page's time into reads and rendering."""
    runs_client, hist_client = client_for(manifest, "runs"), client_for(manifest, "histories")
    eid = manifest["runs"]["experiment_id"]
    hist = manifest["histories"]
    ids, keys = hist["run_ids"][:10], hist["metric_keys"][:3]
    calls: dict[str, tuple[str, Callable[[], Any], int]] = {
        "fastpath_whole": ("registry.store.readers.experiment_runs (database), 10k runs",
                           lambda: experiment_runs(runs_client, eid), repeat),
        "client_whole": ("registry.store.fastpath.client_runs (client pages of 5,000), 10k runs",
                         lambda: client_runs(runs_client, eid), 1),
        "metric_history": (f"registry.store.metrics.metric_history, {len(ids)} runs x {len(keys)} metrics, "
                           "1,000 points",
                           lambda: metric_history(hist_client, ids, keys, max_points=1000), repeat),
    }  # fmt: skip
    return {key: {"call": label, **timed(fn, n)} for key, (label, fn, n) in calls.items()}
