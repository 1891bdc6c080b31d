"""The browser's main thread during one visit of a page: a Chromium trace, summarised.

bench.profile times a visit from outside (the websocket, the DOM). This looks inside the browser: a
Chromium trace of one visit in a new context (after a warm-up visit, so the server's imports are not
counted; its caches keep what the warm-up read), reduced to
  - how long the renderer's main thread was busy, over how long;
  - the longest tasks, with what ran in them (module evaluation, script, layout);
  - when the element chunks (the dataframe's, Plotly's, a component's) finished downloading.
Long module evaluations and long microtask runs are Plotly's code being evaluated and drawing.

    python -m bench.trace --only compare,models_list              # after build_stores
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from bench import build_stores
from bench.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, load, streamlit_server, wait_ready
from bench.cases import Case, Ready, cases

CATEGORIES = [
    "devtools.timeline",
    "v8",
    "v8.execute",
    "blink",
    "loading",
    "disabled-by-default-devtools.timeline",
]
_TASKS = ("RunTask", "ThreadControllerImpl::RunTask")
_INSIDE = (
    "v8.evaluateModule",
    "FunctionCall",
    "RunMicrotasks",
    "Layout",
    "UpdateLayoutTree",
    "Paint",
    "ParseHTML",
)
_CHUNKS = ("DataFrame.", "PlotlyChart.", "BidiComponent.", "index.")
LONG_TASK_US = 40_000


def traced_visit(
    browser: Browser, url: str, ready: Ready, timeout_s: float
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds until `ready` in a new context, and the trace's events."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        browser.start_tracing(page=page, categories=CATEGORIES)
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        wait_ready(page, ready, timeout_s)
        took = time.perf_counter() - started
        trace = json.loads(browser.stop_tracing())
    finally:
        context.close()
    return took, trace["traceEvents"] if isinstance(trace, dict) else trace


def summarise(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Main-thread busy time, its long tasks and what ran in them, and when the chunks arrived."""
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    mains = Counter(
        (e["pid"], e["tid"]) for e in events if names.get((e["pid"], e["tid"])) == "CrRendererMain"
    )
    main = mains.most_common(1)[0][0]
    spans = [e for e in events if (e["pid"], e["tid"]) == main and e.get("ph") == "X" and "dur" in e]
    start = min(e["ts"] for e in spans)
    tasks = sorted((e for e in spans if e["name"] in _TASKS), key=lambda e: e["ts"])
    long_tasks = []
    for task in (t for t in tasks if t["dur"] >= LONG_TASK_US):
        inside: Counter[str] = Counter()
        for e in _within(spans, task):
            inside[e["name"]] += e["dur"]
        long_tasks.append({
            "at_s": round((task["ts"] - start) / 1e6, 2), "ms": round(task["dur"] / 1e3),
            "ran": {name: round(us / 1e3) for name, us in inside.most_common(3)},
        })  # fmt: skip
    sent = {e["args"]["data"]["requestId"]: e["args"]["data"].get("url", "") for e in events
            if e.get("name") == "ResourceSendRequest"}  # fmt: skip
    chunks = {
        sent[e["args"]["data"]["requestId"]].rsplit("/", 1)[-1]: round((e["ts"] - start) / 1e6, 2)
        for e in events
        if e.get("name") == "ResourceFinish"
        and any(c in sent.get(e["args"]["data"]["requestId"], "") for c in _CHUNKS)
    }
    return {
        "busy_s": round(sum(t["dur"] for t in tasks) / 1e6, 2),
        "over_s": round((max(t["ts"] + t["dur"] for t in tasks) - start) / 1e6, 2),
        "long_tasks": long_tasks,
        "chunks_done_s": chunks,
    }


def _within(spans: list[dict[str, Any]], task: dict[str, Any]) -> Iterator[dict[str, Any]]:
    end = task["ts"] + task["dur"]
    return (e for e in spans if e["name"] in _INSIDE and task["ts"] <= e["ts"] < end)


def run(chosen: list[Case], manifest: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as work, sync_playwright() as playwright, ExitStack() as stack:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        servers: dict[str, str] = {}
        for case in chosen:
            if case.store not in servers:
                db = Path(manifest[case.store]["db"])
                servers[case.store], _ = stack.enter_context(streamlit_server(db, Path(work) / case.store))
                warmup = browser.new_page(viewport=VIEWPORT)
                # The warm-up also builds the kept line summaries a chart needs (minutes for 100 long runs).
                load(warmup, case.our_url(servers[case.store]), case.ours_ready, timeout_s * 10)
                warmup.close()
            took, events = traced_visit(
                browser, case.our_url(servers[case.store]), case.ours_ready, timeout_s
            )
            results[case.key] = {"ready_s": round(took, 2), **summarise(events)}
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=build_stores.DEFAULT_OUT)
    parser.add_argument("--only", default="compare,models_list")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    wanted = set(args.only.split(","))
    print(json.dumps(run([c for c in cases(manifest) if c.key in wanted], manifest, args.timeout), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
