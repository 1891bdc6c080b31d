"""One change, measured: our pages from this checkout and from other checkouts, visit by visit.

bench.floors compares our pages with Streamlit's floors and MLflow's UI. A change of ours is
better judged against the code before it, on the same machine at the same moment: each checkout
named here (a `git worktree` of an older commit, or a variant with one part switched off) gets its
own `streamlit run app.py` over the same stores, and every round visits each of them and the chosen
floors once, in a shuffled order, in a new browser context. The ratio of this checkout to each other
target is taken within a round, and its median reported with the spread, so load that drifts
between rounds cancels out.

    git worktree add /tmp/before <commit>
    python -m bench.checkouts --others /tmp/before --only charts_one_line --rounds 8
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

from playwright.sync_api import sync_playwright

from bench import browser, build_stores
from bench.cases import FLOORS, Case, Ready, cases
from bench.floors import KEEP, median_done, visit


def run(
    chosen: list[Case], manifest: dict[str, Any], others: list[Path], floors: list[str], rounds: int
) -> dict[str, list[float | None]]:
    targets: dict[str, tuple[str, Ready]] = {}
    checkouts = {"this": browser.PROJECT, **{f"other{i}": path for i, path in enumerate(others)}}
    with tempfile.TemporaryDirectory() as work, ExitStack() as stack, sync_playwright() as playwright:
        for name in floors:
            app, ready, _ = FLOORS[name]
            url, _ = stack.enter_context(browser.floor_server(Path(work) / name, app))
            targets[f"floor:{name}"] = (url, ready)
        for label, project in checkouts.items():
            served: dict[str, str] = {}
            for case in chosen:
                if case.store not in served:
                    served[case.store], _ = stack.enter_context(
                        browser.streamlit_server(
                            Path(manifest[case.store]["db"]),
                            KEEP / f"checkout-{label}" / case.store,
                            project=project,
                        )
                    )
                targets[f"{label}:{case.key}"] = (case.our_url(served[case.store]), case.ours_ready)
        chromium = playwright.chromium.launch(executable_path=browser.CHROMIUM, args=browser.CHROMIUM_ARGS)
        for url, ready in targets.values():  # imports, caches and the chart summaries: not counted
            visit(chromium, url, ready, 600)
        samples: dict[str, list[float | None]] = {key: [] for key in targets}
        for _ in range(rounds):
            for key in random.sample(list(targets), len(targets)):
                samples[key].append(visit(chromium, *targets[key], 60))
        chromium.close()
    return samples


def ratios(samples: dict[str, list[float | None]], chosen: list[Case]) -> dict[str, Any]:
    """Per case: this checkout's median, and its per-round ratio to every other target (median, range)."""
    out: dict[str, Any] = {}
    for case in chosen:
        mine = samples[f"this:{case.key}"]
        row: dict[str, Any] = {"this_s": median_done(mine)}
        others = [k for k in samples if k.endswith(f":{case.key}") and not k.startswith("this:")]
        for other in [*others, *(k for k in samples if k.startswith("floor:"))]:
            per_round = [a / b for a, b in zip(mine, samples[other], strict=True) if a and b]
            if per_round:
                row[f"vs {other}"] = {
                    "median": round(statistics.median(per_round), 3),
                    "range": [round(min(per_round), 2), round(max(per_round), 2)],
                    "their_s": median_done(samples[other]),
                }
        out[case.key] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", required=True, help="comma-separated checkouts to compare with")
    parser.add_argument("--only", required=True, help="comma-separated case keys (bench/cases.py)")
    parser.add_argument("--floors", default="shell", help=f"comma-separated, of {', '.join(FLOORS)}")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=build_stores.DEFAULT_OUT)
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    chosen = [c for c in cases(manifest) if c.key in args.only.split(",")]
    others = [Path(p).resolve() for p in args.others.split(",") if p]
    missing = [str(p) for p in others if not (p / "app.py").exists()]
    if missing or not chosen:
        print(f"no app.py in {', '.join(missing)}" if missing else f"no case among {args.only}")
        return 2
    floors = [f for f in args.floors.split(",") if f]
    samples = run(chosen, manifest, others, floors, args.rounds)
    print(json.dumps({"cases": ratios(samples, chosen), "samples_s": samples}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
