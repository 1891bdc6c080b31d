"""`make bench`: build the stores if needed, then measure every page in one run on one machine.

    python -m bench.run                       # everything (builds missing stores first)
    python -m bench.run --skip-browser        # AppTest and raw client only
    python -m bench.run --history-runs 10 --history-metrics 3   # a smaller history store
    python -m bench.run --only runs_list,compare --no-docs       # some cases; docs/ left alone

Measures (medians; `n` is in the JSON):
  (a) each page's script time in AppTest, cold and warm (bench.script_times);
  (b) the raw MLflow client calls for the same data, and the ratio ours/raw (bench.raw);
  (c) time to first rows / first chart in Chromium, ours against MLflow's UI (bench.browser);
  (d) the Streamlit server's peak memory; (e) points per trace sent to the browser for compare;
  (f) N concurrent browser sessions on our pages (bench.sessions): median, p95, max, errors.
The report goes to docs/benchmarks.md (and is printed); every sample goes to
bench/.stores/results/<time>.json (git-ignored), with a copy of the report beside it.
Nothing here is asserted: targets are reported as met or missed, by how much.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import build_stores
from bench.cases import FLOORS, Case, cases
from bench.report import markdown, rows

log = logging.getLogger("bench.run")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def chromium_version() -> str:
    try:
        found = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "Chromium: not found"
    return found.stdout.strip() or "Chromium: unknown version"


def machine() -> dict[str, Any]:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
        "mlflow": version("mlflow"),
        "streamlit": version("streamlit"),
        "pandas": version("pandas"),
        "sqlite": sqlite3.sqlite_version,
        "playwright": version("playwright"),
        "chromium": chromium_version(),
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_start": os.getloadavg(),
    }


def empty_store(workdir: Path) -> str:
    """A migrated, empty store: AppTest's first run of a session happens there, at no cost."""
    db = workdir / "empty.db"
    build_stores.create_schema(db, workdir / "empty-artifacts")
    return f"sqlite:///{db}"


def raw_step(manifest: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from bench.raw import raw_calls, service_calls

    log.info("raw client calls")
    raw = raw_calls(manifest, args.repeat, args.slow_repeat)
    log.info("service calls")
    return {"raw": raw, "service": service_calls(manifest, args.repeat)}


def run_apptest(
    manifest: dict[str, Any], chosen: list[Case], workdir: Path, args: argparse.Namespace
) -> dict:
    from bench.script_times import app_environment, page_times

    results = {}
    uri = empty_store(workdir)
    with app_environment(workdir / "apptest-home"):
        for case in chosen:
            log.info("apptest: %s", case.title)
            store_uri = f"sqlite:///{manifest[case.store]['db']}"
            results[case.key] = page_times(case, store_uri, uri, args.cold, args.warm)
            log.info(
                "apptest: %s -> %s", case.key, {k: v for k, v in results[case.key].items() if "all" not in k}
            )
    return results


def build_summaries(manifest: dict[str, Any], chosen: list[Case], workdir: Path) -> dict[str, float]:
    """Seconds each page of long histories takes to build its kept line summaries (one AppTest run).

    The browser then measures cold starts that find them, not this one-time cost.
    """
    from bench.script_times import app_environment, page_times

    built = {}
    uri = empty_store(workdir)
    with app_environment(workdir / "apptest-home"):
        for case in chosen:
            if case.store in ("histories", "grouped"):
                log.info("summaries: %s", case.title)
                store_uri = f"sqlite:///{manifest[case.store]['db']}"
                built[case.key] = round(page_times(case, store_uri, uri, 1, 1)["first_s"], 2)
    return built


def run_browser(
    manifest: dict[str, Any], chosen: list[Case], workdir: Path, args: argparse.Namespace
) -> dict:
    from bench.browser import measure_floor, measure_store

    results: dict[str, Any] = {"cases": {}, "streamlit_peak_mb": {}, "mlflow_server_peak_mb": {}}
    if args.skip_apptest:  # the AppTest step builds the kept line summaries; without it, build them here
        results["summaries_built_s"] = build_summaries(manifest, chosen, workdir)
    results["floors"] = {}
    for floor, (_, _, what) in FLOORS.items():
        log.info("browser: the %s floor (%s)", floor, what)
        found = measure_floor(workdir, args.floor_cold, args.browser_warm, args.timeout, floor)
        results["floors"][floor] = found
        log.info("browser: %s floor -> %s", floor, found)
    results["floor"] = results["floors"]["table"]  # the floor, as earlier results name it
    for store in build_stores.STORES:
        store_cases = [c for c in chosen if c.store == store]
        if not store_cases:
            continue
        log.info("browser: %s (%s)", store, ", ".join(c.key for c in store_cases))
        found = measure_store(
            store, manifest, store_cases, workdir, mlflow_cold_n=args.mlflow_cold, warm_n=args.browser_warm,
            timeout_s=args.timeout, mlflow_timeout_s=args.mlflow_timeout,
        )  # fmt: skip
        results["cases"].update(found["cases"])
        results["streamlit_peak_mb"][store] = found["streamlit_peak_mb"]
        results["mlflow_server_peak_mb"][store] = found["mlflow_server_peak_mb"]
        log.info("browser: %s -> %s", store, json.dumps(found, default=str)[:2000])
    return results


def run_concurrent(
    manifest: dict[str, Any], chosen: list[Case], workdir: Path, args: argparse.Namespace
) -> dict:
    from bench.sessions import measure_store

    results: dict[str, Any] = {}
    for store in build_stores.STORES:
        store_cases = [c for c in chosen if c.store == store]
        if not store_cases:
            continue
        log.info(
            "concurrent: %d sessions on %s (%s)", args.sessions, store, ", ".join(c.key for c in store_cases)
        )
        results[store] = measure_store(
            store, manifest, store_cases, workdir, sessions=args.sessions, n_rounds=args.concurrent_rounds,
            timeout_s=args.timeout,
        )  # fmt: skip
    return results


def report_only(args: argparse.Namespace) -> int:
    """The report of a results JSON already written (e.g. after changing how the report reads)."""
    results = json.loads(args.from_json.read_text())
    chosen = [
        c for c in cases(results["manifest"]) if c.key in results.get("cases", []) or not results.get("cases")
    ]
    text = markdown(results, rows(results, chosen), chosen)
    args.from_json.with_suffix(".md").write_text(text)
    if not args.no_docs:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        args.docs.write_text(text)
    print(text)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the dashboard against MLflow's client and UI")
    parser.add_argument("--out", type=Path, default=build_stores.DEFAULT_OUT, help="where the stores live")
    parser.add_argument("--only", default="", help="comma-separated case keys (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="samples of fast raw calls")
    parser.add_argument("--slow-repeat", type=int, default=2, help="samples of slow raw calls")
    parser.add_argument("--cold", type=int, default=3, help="cold AppTest samples per page")
    parser.add_argument("--warm", type=int, default=5, help="warm AppTest reruns per page")
    parser.add_argument("--browser-warm", type=int, default=3, help="browser reloads per page")
    parser.add_argument("--mlflow-cold", type=int, default=2, help="cold loads of MLflow's UI per page")
    parser.add_argument("--floor-cold", type=int, default=3, help="cold loads of each floor app")
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds before our page counts as timed out"
    )
    parser.add_argument("--mlflow-timeout", type=float, default=120, help="the same for MLflow's UI")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browser sessions")
    parser.add_argument("--concurrent-rounds", type=int, default=2, help="rounds of concurrent visits")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the report goes")
    parser.add_argument("--no-docs", action="store_true", help="do not write the report to --docs")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: write the report of an earlier run's results JSON"
    )
    for flag in ("raw", "apptest", "browser", "concurrent"):
        parser.add_argument(f"--skip-{flag}", action="store_true")
    for name, value in asdict(build_stores.Spec()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.from_json:
        return report_only(args)
    started = time.monotonic()
    info = machine()
    log.info("machine: %s", info)
    spec = build_stores.Spec(**{name: getattr(args, name) for name in asdict(build_stores.Spec())})
    manifest = build_stores.build(args.out, spec)
    built_s = time.monotonic() - started
    chosen = [c for c in cases(manifest) if not args.only or c.key in args.only.split(",")]
    results: dict[str, Any] = {
        "machine": info,
        "manifest": manifest,
        "build_s": round(built_s, 1),
        "cases": [c.key for c in chosen],
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "samples": (
            f"raw {args.repeat} (slow calls {args.slow_repeat}), "
            f"AppTest cold {args.cold} / warm {args.warm}, "
            f"browser ours cold 1 / MLflow cold {args.mlflow_cold} / warm {args.browser_warm}, "
            f"{args.sessions} sessions x {args.concurrent_rounds} rounds"
        ),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        workdir = Path(folder)
        # AppTest first: after the raw step (30 full histories, 10k runs through the client) in the
        # same process, warm reruns measured 3-30x slower than on their own (cause not yet found).
        steps = {
            "apptest": lambda: run_apptest(manifest, chosen, workdir, args),
            "raw": lambda: raw_step(manifest, args),
            "browser": lambda: run_browser(manifest, chosen, workdir, args),
            "concurrent": lambda: run_concurrent(manifest, chosen, workdir, args),
        }
        for name, step in steps.items():
            if getattr(args, f"skip_{name}"):
                continue
            try:
                results.update(step() if name == "raw" else {name: step()})
            except Exception as exc:  # one failed step must not lose the figures of the others
                log.exception("%s failed; the report leaves it out", name)
                results.setdefault("failed", {})[name] = repr(exc)
    info["loadavg_end"] = os.getloadavg()
    results["total_s"] = round(time.monotonic() - started, 1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = args.out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    text = markdown(results, rows(results, chosen), chosen)
    (folder / f"{stamp}.md").write_text(text)
    if not args.no_docs:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        args.docs.write_text(text)
    print(text)
    print(f"\nresults: {folder / stamp}.json and .md; total {results['total_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
