"""Build large MLflow stores quickly: MLflow makes the schema, we bulk-insert the rows.

Logging 10,000 runs or millions of metric points through `MlflowClient` takes hours (one request or
transaction per call). Here MLflow's own `SqlAlchemyStore` creates a fresh SQLite database (it runs
every migration, so the schema is exactly the one `mlflow server` expects) and the rows go straight
into MLflow's tables with SQLAlchemy Core `executemany`, using MLflow's own table definitions
(`mlflow/store/tracking/dbmodels/models.py`, `mlflow/store/model_registry/dbmodels/models.py`).
Afterwards `MlflowClient` reads every store back (search_runs, get_metric_history,
search_model_versions, get_registered_model) and the build fails if it does not see what we wrote.

    python -m bench.build_stores --out bench/.stores            # all three stores
    python -m bench.build_stores --only histories --history-runs 50 --history-metrics 5

Stores (one SQLite file each, plus an empty artifact folder):
  runs       one experiment of 10,000 runs x 20 params x 10 metrics (and 4 system tags per run)
  histories  N runs x M metrics x S steps of history (default 100 x 3 x 100,000; compare reads 10 x 3,
             the Charts view all of them)
  registry   200 registered models x 20 versions, each version from its own run, with aliases
  grouped    1,000 runs x 1 metric x up to 1,000 steps (uneven lengths), in 10 groups (params.group)

A manifest (`manifest.json`) records each store's spec, ids the benchmark needs, size and build time;
a store whose spec did not change is not rebuilt unless `--force`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger("bench.build_stores")

DEFAULT_OUT = Path(__file__).resolve().parent / ".stores"
CHUNK = 50_000
BASE_TIME_MS = 1_767_225_600_000  # 2026-01-01 UTC: fixed, so two builds hold the same data
USER = "bench"
METRIC_NAMES = ["loss", "accuracy", "val_loss", "val_accuracy", "f1", "precision", "recall", "auc",
                "rmse", "mae", "lr", "grad_norm"]  # fmt: skip


@dataclass(frozen=True)
class Spec:
    runs: int = 10_000
    params: int = 20
    metrics: int = 10
    history_runs: int = 100
    history_metrics: int = 3
    history_steps: int = 100_000
    models: int = 200
    versions: int = 20
    grouped_runs: int = 1_000
    grouped_steps: int = 1_000
    grouped_groups: int = 10

    def of(self, store: str) -> dict[str, int]:
        """The part of the spec a store depends on (a change there rebuilds only that store)."""
        fields = {
            "runs": ("runs", "params", "metrics"),
            "histories": ("history_runs", "history_metrics", "history_steps"),
            "registry": ("models", "versions"),
            "grouped": ("grouped_runs", "grouped_steps", "grouped_groups"),
        }[store]
        return {f: getattr(self, f) for f in fields}


STORES = ("runs", "histories", "registry", "grouped")


# schema and bulk writes -----------------------------------------------------------------------------
def create_schema(db: Path, artifacts: Path) -> None:
    """A fresh MLflow database: MLflow's store runs all its migrations (tracking and registry tables)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db.unlink(missing_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(f"sqlite:///{db}", artifacts.as_uri())
    store.engine.dispose()


def bulk_engine(db: Path) -> Engine:
    """An engine for loading: no journal and no fsync (the file is rebuilt if a build dies)."""
    engine = sa.create_engine(f"sqlite:///{db}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


def tables() -> dict[str, sa.Table]:
    """MLflow's own table objects, so a column renamed in a future MLflow fails loudly here."""
    from mlflow.store.model_registry.dbmodels import models as registry_models
    from mlflow.store.tracking.dbmodels import models as tracking_models

    return {
        "experiments": tracking_models.SqlExperiment.__table__,
        "runs": tracking_models.SqlRun.__table__,
        "params": tracking_models.SqlParam.__table__,
        "tags": tracking_models.SqlTag.__table__,
        "metrics": tracking_models.SqlMetric.__table__,
        "latest_metrics": tracking_models.SqlLatestMetric.__table__,
        "registered_models": registry_models.SqlRegisteredModel.__table__,
        "registered_model_tags": registry_models.SqlRegisteredModelTag.__table__,
        "model_versions": registry_models.SqlModelVersion.__table__,
        "model_version_tags": registry_models.SqlModelVersionTag.__table__,
        "registered_model_aliases": registry_models.SqlRegisteredModelAlias.__table__,
    }  # type: ignore[return-value]


def insert(conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> int:
    """executemany in chunks, so millions of rows never sit in memory at once."""
    total = 0
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        conn.execute(table.insert(), chunk)
        total += len(chunk)
    return total


def run_id_for(store: str, index: int) -> str:
    """Deterministic 32-hex run ids (MLflow's format), so rebuilding gives the same ids."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{store}/{index}").hex


# rows -----------------------------------------------------------------------------------------------
def experiment_row(experiment_id: int, name: str, artifacts: Path) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "name": name,
        "artifact_location": f"{artifacts.as_uri()}/{experiment_id}",
        "lifecycle_stage": "active",
        "creation_time": BASE_TIME_MS,
        "last_update_time": BASE_TIME_MS,
    }


def run_row(run_id: str, name: str, experiment_id: int, start_ms: int, end_ms: int, status: str,
            artifacts: Path) -> dict[str, Any]:  # fmt: skip
    return {
        "run_uuid": run_id,
        "name": name,
        "source_type": "LOCAL",
        "source_name": "bench/build_stores.py",
        "entry_point_name": "",
        "user_id": USER,
        "status": status,
        "start_time": start_ms,
        "end_time": end_ms,
        "source_version": "",
        "lifecycle_stage": "active",
        "artifact_uri": f"{artifacts.as_uri()}/{experiment_id}/{run_id}/artifacts",
        "experiment_id": experiment_id,
    }


def system_tags(run_id: str, name: str) -> list[dict[str, Any]]:
    """The tags MLflow's fluent API sets on every run."""
    return [
        {"run_uuid": run_id, "key": "mlflow.runName", "value": name},
        {"run_uuid": run_id, "key": "mlflow.user", "value": USER},
        {"run_uuid": run_id, "key": "mlflow.source.name", "value": "bench/build_stores.py"},
        {"run_uuid": run_id, "key": "mlflow.source.type", "value": "LOCAL"},
    ]


def param_value(rng: np.random.Generator, index: int) -> str:
    """Mostly numbers (for parallel coordinates), two categorical params."""
    if index == 0:
        return str(rng.choice(["adam", "sgd", "adamw"]))
    if index == 1:
        return str(rng.choice(["resnet", "vit", "mlp"]))
    if index % 3 == 0:
        return str(int(rng.integers(1, 512)))
    return f"{rng.uniform(1e-4, 1.0):.6g}"


def param_name(index: int) -> str:
    return {0: "optimizer", 1: "arch"}.get(index, f"p{index:02d}")


def metric_name(index: int) -> str:
    return METRIC_NAMES[index] if index < len(METRIC_NAMES) else f"m{index:02d}"


def scalar_metrics(run_id: str, values: dict[str, float], step: int, ts: int) -> Iterator[tuple[dict, dict]]:
    """A metric logged once: its history row and its latest_metrics row."""
    for key, value in values.items():
        row = {"key": key, "value": value, "timestamp": ts, "step": step, "is_nan": False, "run_uuid": run_id}
        yield row, dict(row)


def history_values(rng: np.random.Generator, metric: int, steps: int) -> np.ndarray:
    """A training curve with noise and one spike, so downsampling must keep the extremes."""
    x = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
    curve = np.exp(-3 * x) * (1 + 0.1 * rng.random())
    if metric % 2 == 1:
        curve = 1 - 0.8 * curve
    values = curve + rng.normal(0, 0.02, steps)
    values[rng.integers(steps // 4, steps)] += 2.0  # the spike
    return values


# stores ---------------------------------------------------------------------------------------------
def build_runs(db: Path, artifacts: Path, spec: Spec) -> dict[str, Any]:
    """One experiment of `runs` runs, each with `params` params, `metrics` metrics and 4 system tags."""
    t = tables()
    rng = np.random.default_rng(1)
    experiment_id = 1
    run_ids = [run_id_for("runs", i) for i in range(spec.runs)]
    statuses = rng.choice(["FINISHED"] * 8 + ["FAILED", "KILLED"], spec.runs)
    with bulk_engine(db).begin() as conn:
        conn.execute(t["experiments"].insert(), [experiment_row(experiment_id, "bench-10k-runs", artifacts)])
        starts = [BASE_TIME_MS + i * 60_000 for i in range(spec.runs)]
        lengths = rng.integers(10_000, 3_600_000, spec.runs).tolist()
        ends = [start + ms for start, ms in zip(starts, lengths, strict=True)]
        rows = (
            run_row(r, f"run-{i:05d}", experiment_id, starts[i], ends[i], str(statuses[i]), artifacts)
            for i, r in enumerate(run_ids)
        )
        insert(conn, t["runs"], rows)
        insert(
            conn, t["tags"], (tag for i, r in enumerate(run_ids) for tag in system_tags(r, f"run-{i:05d}"))
        )
        insert(conn, t["params"], (
            {"run_uuid": r, "key": param_name(p), "value": param_value(rng, p)}
            for r in run_ids for p in range(spec.params)
        ))  # fmt: skip
        metric_rows = [
            pair
            for i, r in enumerate(run_ids)
            for pair in scalar_metrics(
                r,
                {metric_name(m): float(rng.random()) for m in range(spec.metrics)},
                0,
                BASE_TIME_MS + i * 60_000,
            )
        ]
        insert(conn, t["metrics"], (m for m, _ in metric_rows))
        insert(conn, t["latest_metrics"], (latest for _, latest in metric_rows))
    return {"experiment_id": str(experiment_id), "experiment_name": "bench-10k-runs", "run_ids": run_ids[:50]}


def build_histories(db: Path, artifacts: Path, spec: Spec) -> dict[str, Any]:
    """`history_runs` runs, each logging `history_metrics` metrics at steps 0..history_steps-1."""
    t = tables()
    rng = np.random.default_rng(2)
    experiment_id = 1
    run_ids = [run_id_for("histories", i) for i in range(spec.history_runs)]
    keys = [metric_name(m) for m in range(spec.history_metrics)]
    steps = np.arange(spec.history_steps, dtype=np.int64)
    with bulk_engine(db).begin() as conn:
        conn.execute(t["experiments"].insert(), [experiment_row(experiment_id, "bench-histories", artifacts)])
        for i, run_id in enumerate(run_ids):
            start = BASE_TIME_MS + i * 86_400_000
            stamps = start + steps * 10
            name = f"hist-{i:02d}"
            conn.execute(t["runs"].insert(), [
                run_row(run_id, name, experiment_id, start, int(stamps[-1]) + 1, "FINISHED", artifacts)
            ])  # fmt: skip
            conn.execute(t["tags"].insert(), system_tags(run_id, name))
            conn.execute(t["params"].insert(), [
                {"run_uuid": run_id, "key": "lr", "value": f"{10 ** -(1 + i % 4):g}"},
                {"run_uuid": run_id, "key": "batch_size", "value": str(32 * (1 + i % 3))},
                {"run_uuid": run_id, "key": "seed", "value": str(i)},
            ])  # fmt: skip
            for m, key in enumerate(keys):
                values = history_values(rng, m, spec.history_steps)
                step_list, stamp_list, value_list = steps.tolist(), stamps.tolist(), values.tolist()
                insert(conn, t["metrics"], (
                    {"key": key, "value": v, "timestamp": ts, "step": s, "is_nan": False, "run_uuid": run_id}
                    for s, ts, v in zip(step_list, stamp_list, value_list, strict=True)
                ))  # fmt: skip
                conn.execute(t["latest_metrics"].insert(), [{
                    "key": key, "value": value_list[-1], "timestamp": stamp_list[-1], "step": step_list[-1],
                    "is_nan": False, "run_uuid": run_id,
                }])  # fmt: skip
            log.info("histories: run %d/%d written", i + 1, len(run_ids))
    return {"experiment_id": str(experiment_id), "run_ids": run_ids, "metric_keys": keys}


def build_registry(db: Path, artifacts: Path, spec: Spec) -> dict[str, Any]:
    """`models` models of `versions` versions; each version from its own run (5 params, 5 metrics).

    Most models have a production and a staging alias; every tenth has none. Each model names
    `accuracy` as its key metric, so the models list reads the production run's metric.
    """
    t = tables()
    rng = np.random.default_rng(3)
    experiment_id = 1
    names = [f"model-{m:03d}" for m in range(spec.models)]
    with bulk_engine(db).begin() as conn:
        conn.execute(t["experiments"].insert(), [experiment_row(experiment_id, "bench-registry", artifacts)])
        runs, tags, params, metrics, latest, versions, version_tags = [], [], [], [], [], [], []
        for m, name in enumerate(names):
            for v in range(1, spec.versions + 1):
                index = m * spec.versions + v - 1
                run_id = run_id_for("registry", index)
                start = BASE_TIME_MS + index * 60_000
                run_name = f"{name}-train-{v:02d}"
                runs.append(
                    run_row(run_id, run_name, experiment_id, start, start + 600_000, "FINISHED", artifacts)
                )
                tags += system_tags(run_id, run_name)
                params += [{"run_uuid": run_id, "key": param_name(p), "value": param_value(rng, p)}
                           for p in range(5)]  # fmt: skip
                values = {metric_name(k): float(rng.random()) for k in range(5)}
                for row, last in scalar_metrics(run_id, values, 0, start + 600_000):
                    metrics.append(row)
                    latest.append(last)
                created = start + 700_000
                versions.append({
                    "name": name, "version": v, "creation_time": created, "last_updated_time": created,
                    "description": "", "user_id": USER, "current_stage": "None",
                    "source": f"{artifacts.as_uri()}/{experiment_id}/{run_id}/artifacts/model",
                    "storage_location": f"{artifacts.as_uri()}/{experiment_id}/{run_id}/artifacts/model",
                    "run_id": run_id, "run_link": "", "status": "READY", "status_message": None,
                })  # fmt: skip
                version_tags.append({"name": name, "version": v, "key": "dataset", "value": f"v{1 + v % 4}"})
        insert(conn, t["runs"], runs)
        insert(conn, t["tags"], tags)
        insert(conn, t["params"], params)
        insert(conn, t["metrics"], metrics)
        insert(conn, t["latest_metrics"], latest)
        last_time = BASE_TIME_MS + len(runs) * 60_000 + 700_000
        insert(conn, t["registered_models"], (
            {"name": n, "creation_time": BASE_TIME_MS, "last_updated_time": last_time,
             "description": f"benchmark model {n}"} for n in names
        ))  # fmt: skip
        insert(conn, t["registered_model_tags"], (
            {"name": n, "key": "registry.key_metric", "value": "accuracy"} for n in names
        ))  # fmt: skip
        insert(conn, t["model_versions"], versions)
        insert(conn, t["model_version_tags"], version_tags)
        aliases = []
        for m, name in enumerate(names):
            if m % 10 == 9:
                continue
            aliases.append({"name": name, "alias": "production", "version": spec.versions - 2})
            aliases.append({"name": name, "alias": "staging", "version": spec.versions})
        insert(conn, t["registered_model_aliases"], aliases)
    return {"experiment_id": str(experiment_id), "models": names[:5], "run_ids": [runs[0]["run_uuid"]]}


def build_grouped(db: Path, artifacts: Path, spec: Spec) -> dict[str, Any]:
    """`grouped_runs` runs in `grouped_groups` groups (params.group), each logging `loss` for up to
    `grouped_steps` steps: lengths differ by up to 40%, so groups must be aligned before averaging."""
    t = tables()
    rng = np.random.default_rng(4)
    experiment_id = 1
    run_ids = [run_id_for("grouped", i) for i in range(spec.grouped_runs)]
    with bulk_engine(db).begin() as conn:
        conn.execute(t["experiments"].insert(), [experiment_row(experiment_id, "bench-grouped", artifacts)])
        runs, tags, params, metrics, latest = [], [], [], [], []
        for i, run_id in enumerate(run_ids):
            steps = spec.grouped_steps - (i % 5) * spec.grouped_steps // 10
            start = BASE_TIME_MS + i * 60_000
            name = f"grouped-{i:04d}"
            runs.append(
                run_row(run_id, name, experiment_id, start, start + steps * 100, "FINISHED", artifacts)
            )
            tags += system_tags(run_id, name)
            params += [
                {"run_uuid": run_id, "key": "group", "value": f"g{i % spec.grouped_groups:02d}"},
                {"run_uuid": run_id, "key": "seed", "value": str(i)},
            ]
            values = history_values(rng, 0, steps) * (1 + 0.05 * (i % spec.grouped_groups))
            for s, v in enumerate(values.tolist()):
                metrics.append({"key": "loss", "value": v, "timestamp": start + s * 100, "step": s,
                                "is_nan": False, "run_uuid": run_id})  # fmt: skip
            latest.append(dict(metrics[-1]))
        insert(conn, t["runs"], runs)
        insert(conn, t["tags"], tags)
        insert(conn, t["params"], params)
        insert(conn, t["metrics"], metrics)
        insert(conn, t["latest_metrics"], latest)
    return {"experiment_id": str(experiment_id), "run_ids": run_ids[:10], "metric_keys": ["loss"]}


BUILDERS = {
    "runs": build_runs,
    "histories": build_histories,
    "registry": build_registry,
    "grouped": build_grouped,
}


# verification ----------------------------------------------------------------------------------------
def verify(store: str, db: Path, spec: Spec, info: dict[str, Any]) -> None:
    """Read the store back with MlflowClient; raise if MLflow does not see what was written."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    eid = info["experiment_id"]

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise RuntimeError(f"verify {store}: {what}")

    if store == "runs":
        page = client.search_runs([eid], max_results=5)
        check(len(page) == 5 and page.token is not None, "search_runs did not page")
        run = page[0]
        check(len(run.data.params) == spec.params, f"{len(run.data.params)} params, not {spec.params}")
        check(len(run.data.metrics) == spec.metrics, f"{len(run.data.metrics)} metrics, not {spec.metrics}")
        check(run.info.run_name.startswith("run-") and run.data.tags.get("mlflow.user") == USER, "names/tags")
        last = client.search_runs([eid], order_by=["attributes.start_time ASC"], max_results=1)[0]
        check(last.info.run_id == run_id_for("runs", 0), "ordering by start_time")
        key = metric_name(0)
        check(len(client.get_metric_history(run.info.run_id, key)) == 1, "metric history of a scalar")
        found = client.search_runs(
            [eid], f"params.optimizer = '{run.data.params['optimizer']}'", max_results=1
        )
        check(len(found) == 1, "filter on a param")
    elif store == "histories":
        run_id, key = info["run_ids"][0], info["metric_keys"][0]
        history = client.get_metric_history(run_id, key)
        check(len(history) == spec.history_steps, f"history has {len(history)} points")
        check(sorted(m.step for m in history)[-1] == spec.history_steps - 1, "last step")
        run = client.get_run(run_id)
        check(set(run.data.metrics) == set(info["metric_keys"]), "latest metrics")
        check(run.data.metrics[key] == max(history, key=lambda m: m.step).value, "latest = last step")
        runs = client.search_runs([eid], max_results=1000)
        check(len(runs) == spec.history_runs, f"{len(runs)} runs")
    elif store == "grouped":
        runs = client.search_runs([eid], max_results=spec.grouped_runs + 1)
        check(len(runs) == spec.grouped_runs, f"{len(runs)} runs")
        history = client.get_metric_history(info["run_ids"][0], "loss")
        check(len(history) == spec.grouped_steps, f"history has {len(history)} points")
        groups = {r.data.params["group"] for r in runs}
        check(len(groups) == spec.grouped_groups, f"{len(groups)} groups")
    else:
        name = info["models"][0]
        versions = client.search_model_versions(f"name = '{name}'", max_results=1000)
        check(len(versions) == spec.versions, f"{len(versions)} versions of {name}")
        check(all(v.run_id and v.status == "READY" for v in versions), "version run ids and status")
        model = client.get_registered_model(name)
        check(str(model.aliases.get("production")) == str(spec.versions - 2), f"aliases {model.aliases}")
        check(model.tags.get("registry.key_metric") == "accuracy", "model tags")
        models, token = [], None
        while True:
            page = client.search_registered_models(max_results=100, page_token=token)
            models += page
            token = page.token
            if not token:
                break
        check(len(models) == spec.models, f"{len(models)} models")
        mv = client.get_model_version(name, "1")
        check(mv.tags.get("dataset") == "v2", "version tags")
        check(client.get_run(mv.run_id).data.metrics.get("accuracy") is not None, "source run metrics")


# driver ---------------------------------------------------------------------------------------------
def read_manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def store_paths(out: Path, store: str) -> tuple[Path, Path]:
    return out / f"{store}.db", out / f"{store}-artifacts"


def build(out: Path, spec: Spec, only: Iterable[str] = STORES, force: bool = False) -> dict[str, Any]:
    """Build (or keep) the stores; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    for store in only:
        db, artifacts = store_paths(out, store)
        known = manifest.get(store)
        if not force and known and known.get("spec") == spec.of(store) and db.exists():
            log.info("%s: up to date (%s)", store, db)
            continue
        log.info("%s: building %s with %s", store, db, spec.of(store))
        started = time.perf_counter()
        create_schema(db, artifacts)
        schema_s = time.perf_counter() - started
        info = BUILDERS[store](db, artifacts, spec)
        insert_s = time.perf_counter() - started - schema_s
        verify(store, db, spec, info)
        manifest[store] = {
            **info,
            "spec": spec.of(store),
            "db": str(db),
            "artifacts": str(artifacts),
            "size_mb": round(db.stat().st_size / 1e6, 1),
            "schema_s": round(schema_s, 1),
            "insert_s": round(insert_s, 1),
            "verify_s": round(time.perf_counter() - started - schema_s - insert_s, 1),
        }
        log.info("%s: %s", store, {k: v for k, v in manifest[store].items() if k != "run_ids"})
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Spec()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=lambda p: Path(p).resolve(), default=DEFAULT_OUT)
    parser.add_argument(
        "--only", default=",".join(STORES), help="comma-separated: runs,histories,registry,grouped"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the manifest matches")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    spec = Spec(**{name: getattr(args, name) for name in asdict(Spec())})
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(STORES)
    if unknown:
        print(f"--only: unknown store(s) {', '.join(sorted(unknown))}; choose from {', '.join(STORES)}")
        return 2
    build(args.out, spec, only, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
