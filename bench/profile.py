"""Where a page's time goes in the browser: static files, the websocket, the script, the frontend.

For one visit (a new browser context, so nothing is cached) the Chromium side records:
  html+js     navigation until the DOM is loaded (Streamlit's HTML and its JavaScript bundle);
  connect     until the websocket to the server is open;
  script      from the first message the browser sends (the rerun request) until the message that
              carries the ready element's data arrives, then until the run's last message (the
              script's own time plus delivery: the server sends while the script runs);
  render      from the last message the ready condition needed until it holds in the DOM;
and the bytes and number of websocket messages received. The same page is then visited with
Streamlit options changed (websocket compression, fast reruns), each on a server of its own.

    python -m bench.profile --only compare,whole_experiment            # after build_stores
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, WebSocket, sync_playwright

from bench import build_stores
from bench.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, floor_server, load, streamlit_server, wait_ready
from bench.cases import OUR_ROWS, Case, Ready, cases

log = logging.getLogger("bench.profile")

VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "websocket compression on": ["--server.enableWebsocketCompression", "true"],
    "fast reruns off": ["--runner.fastReruns", "false"],
}
_RUN_OVER = (
    """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === 'notRunning'"""
)


def visit(browser: Browser, url: str, ready: Ready, timeout_s: float) -> dict[str, Any]:
    """One cold visit; times are seconds from the start of navigation (performance.timeOrigin)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    frames: list[tuple[float, str, int]] = []  # (seconds since navigation, "sent"/"received", bytes)
    opened: list[float] = []
    started = time.perf_counter()

    def on_socket(ws: WebSocket) -> None:
        if "_stcore/stream" not in ws.url:
            return
        opened.append(time.perf_counter() - started)
        ws.on("framesent", lambda p: frames.append((time.perf_counter() - started, "sent", len(p))))
        ws.on("framereceived", lambda p: frames.append((time.perf_counter() - started, "received", len(p))))

    page.on("websocket", on_socket)
    try:
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        wait_ready(page, ready, timeout_s)
        ready_s = time.perf_counter() - started
        page.wait_for_function(_RUN_OVER, timeout=timeout_s * 1000)
        done_s = time.perf_counter() - started
        dom_s = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd / 1000")
    finally:
        context.close()
    received = [f for f in frames if f[1] == "received"]
    sent = [f for f in frames if f[1] == "sent"]
    before_ready = [f for f in received if f[0] <= ready_s]
    first_request = sent[0][0] if sent else None
    return {
        "html_js_s": dom_s,
        "connect_s": opened[0] if opened else None,
        "first_request_s": first_request,
        "last_needed_message_s": before_ready[-1][0] if before_ready else None,
        "ready_s": ready_s,
        "script_done_s": done_s,
        "last_message_s": received[-1][0] if received else None,
        "messages": len(received),
        "bytes_received": sum(f[2] for f in received),
        "bytes_before_ready": sum(f[2] for f in before_ready),
    }


def breakdown(v: dict[str, Any]) -> dict[str, float | None]:
    """The visit's time in consecutive parts that add up to `ready_s`."""

    def gap(a: str, b: str) -> float | None:
        return None if v.get(a) is None or v.get(b) is None else v[b] - v[a]

    return {
        "html+js": v["html_js_s"],
        "connect": gap("html_js_s", "first_request_s"),
        "script until the ready data": gap("first_request_s", "last_needed_message_s"),
        "render": gap("last_needed_message_s", "ready_s"),
        "ready": v["ready_s"],
        "rest of the run": gap("ready_s", "script_done_s"),
    }


def _median_visit(visits: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = visits[0].keys()
    return {
        k: statistics.median([v[k] for v in visits if v[k] is not None])
        if any(v[k] is not None for v in visits)
        else None
        for k in keys
    }


def profile_case(
    browser: Browser, url: str, ready: Ready, warmup_url: str, samples: int, timeout_s: float
) -> dict[str, Any]:
    load(browser.new_page(viewport=VIEWPORT), warmup_url, Ready('[data-testid="stApp"]'), timeout_s)
    first = visit(browser, url, ready, timeout_s)  # empty caches: the page's first visit
    again = [visit(browser, url, ready, timeout_s) for _ in range(samples)]  # its caches filled
    return {"first": first, "cached": _median_visit(again), "cached_all": again}


def run(chosen: list[Case], manifest: dict[str, Any], samples: int, timeout_s: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder, sync_playwright() as pw:
        workdir = Path(folder)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with floor_server(workdir / "floor") as (url, _):
                results["floor"] = profile_case(browser, url, OUR_ROWS, url, samples, timeout_s)
                log.info("floor: %s", breakdown(results["floor"]["cached"]))
            for name, flags in VARIANTS.items():
                for store in build_stores.STORES:
                    store_cases = [c for c in chosen if c.store == store]
                    if not store_cases:
                        continue
                    info = manifest[store]
                    home = workdir / f"{store}-{len(results)}"
                    with streamlit_server(Path(info["db"]), home, flags) as (ours, _):
                        for case in store_cases:
                            found = profile_case(
                                browser,
                                case.our_url(ours),
                                case.ours_ready,
                                f"{ours}/history",
                                samples,
                                timeout_s,
                            )
                            results.setdefault(name, {})[case.key] = found
                            log.info("%s / %s: first %s", name, case.key, breakdown(found["first"]))
                            log.info("%s / %s: cached %s", name, case.key, breakdown(found["cached"]))
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=build_stores.DEFAULT_OUT)
    parser.add_argument("--only", default="compare,whole_experiment,run_page")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    for name in set(VARIANTS) - set(args.variants.split(",")):
        VARIANTS.pop(name)
    chosen = [c for c in cases(manifest) if c.key in args.only.split(",")]
    results = run(chosen, manifest, args.samples, args.timeout)
    folder = args.out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
