"""Our pages against Streamlit's own floors and MLflow's UI, visit by visit, in alternation.

bench.run measures each view once cold, one after the other; on a shared 2-core machine the load
drifts between them, and a ratio of two views measured minutes apart says little. Here every server
runs at once (the three floor apps, ours and MLflow's on each store), and each round visits every
target once, in a shuffled order, in a new browser context (no HTTP cache; the servers' own caches
are warm, so this measures what the browser and the websocket cost, which is what the floors have).
A ratio is taken within each round and its median reported, so load that drifts between rounds
cancels out.

    python -m bench.floors --rounds 5 --only models_list,model_page,run_page,runs_list,charts_lines
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from bench import build_stores
from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    floor_server,
    load,
    mlflow_server,
    streamlit_server,
)
from bench.cases import FLOORS, Case, Ready, cases, mlflow_url, own_floor

KEEP = build_stores.DEFAULT_OUT / "floors"  # our servers' homes: the chart summaries survive the run


def visit(browser: Browser, url: str, ready: Ready, timeout_s: float) -> float | None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        return load(context.new_page(), url, ready, timeout_s)
    finally:
        context.close()


def run(chosen: list[Case], manifest: dict[str, Any], rounds: int, timeout_s: float) -> dict[str, Any]:
    targets: dict[str, tuple[str, Ready]] = {}
    with tempfile.TemporaryDirectory() as work, ExitStack() as stack, sync_playwright() as playwright:
        for name, (app, ready, _) in FLOORS.items():
            url, _ = stack.enter_context(floor_server(Path(work) / name, app))
            targets[f"floor:{name}"] = (url, ready)
        ours: dict[str, str] = {}
        theirs: dict[str, str] = {}
        for case in chosen:
            info = manifest[case.store]
            if case.store not in ours:
                home = KEEP / case.store
                ours[case.store], _ = stack.enter_context(streamlit_server(Path(info["db"]), home))
                theirs[case.store], _ = stack.enter_context(
                    mlflow_server(
                        Path(info["db"]), Path(info["artifacts"]), Path(work) / f"mlflow-{case.store}"
                    )
                )
            targets[f"ours:{case.key}"] = (case.our_url(ours[case.store]), case.ours_ready)
            their_url = mlflow_url(theirs[case.store], case)
            charted = case.ours_ready.chart_scope is not None  # MLflow's chart view times out: not visited
            if their_url and case.mlflow_ready and not charted:
                targets[f"mlflow:{case.key}"] = (their_url, case.mlflow_ready)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for url, ready in targets.values():  # imports, caches and the chart summaries: not counted
            visit(browser, url, ready, timeout_s * 20)
        samples: dict[str, list[float | None]] = {key: [] for key in targets}
        for _ in range(rounds):
            for key in random.sample(list(targets), len(targets)):
                samples[key].append(visit(browser, *targets[key], timeout_s))
        browser.close()
    return summarise(samples, chosen)


def summarise(samples: dict[str, list[float | None]], chosen: list[Case]) -> dict[str, Any]:
    """Medians per target, and per case the median of its per-round ratios to its floors and MLflow."""
    by_case: dict[str, Any] = {}
    for case in chosen:
        mine = samples[f"ours:{case.key}"]
        versus = {f"{own_floor(case)} floor": f"floor:{own_floor(case)}", "table floor": "floor:table"}
        if f"mlflow:{case.key}" in samples:
            versus["mlflow"] = f"mlflow:{case.key}"
        row: dict[str, Any] = {"ours_s": median_done(mine)}
        for label, other in versus.items():
            ratios = [a / b for a, b in zip(mine, samples[other], strict=True) if a and b]
            row[f"vs {label}"] = round(statistics.median(ratios), 2) if ratios else None
        by_case[case.key] = row
    medians = {k: median_done(v) for k, v in samples.items()}
    return {"medians_s": medians, "samples_s": samples, "cases": by_case}


def median_done(values: list[float | None]) -> float | None:
    """The median of the visits that finished (a timed-out one is None), to 0.01 s."""
    done = [v for v in values if v is not None]
    return round(statistics.median(done), 2) if done else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=build_stores.DEFAULT_OUT)
    parser.add_argument("--only", default="models_list,model_page,run_page,runs_list,charts_lines")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    chosen = [c for c in cases(manifest) if c.key in args.only.split(",")]
    print(json.dumps(run(chosen, manifest, args.rounds, args.timeout), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
