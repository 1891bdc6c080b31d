"""Many people on the dashboard at once: N browser sessions open our pages at the same moment.

One Streamlit server per store (as in bench.browser, warmed on another page so imports are not
counted) and one Chromium with N browser contexts (each its own Streamlit session, no shared HTTP
cache). In a round every session opens each page of the store once, all sessions starting
together; session i takes the pages in an order rotated by i, so at any moment the server is
asked for different pages. Round 1 meets empty Streamlit caches (the first session to ask fills
them, the others wait for it or read them); later rounds read warm caches.

Per page and round: median, p95 and max time to first content (the same ready conditions as
bench.browser), and errors: a timeout or a Streamlit exception on the page. The browser runs on
the same machine as the server, so on a small machine the times include Chromium's own work.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from bench.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, peak_memory_mb, streamlit_server
from bench.cases import PLOTLY_DRAWN, Case, Ready

log = logging.getLogger("bench.sessions")
EXCEPTION = '[data-testid="stException"]'


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-int(share * 100) * len(ordered) // 100))  # ceil(share * n)
    return ordered[min(rank, len(ordered)) - 1]


async def wait_ready(page: Page, ready: Ready, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    if ready.selector:
        await page.locator(ready.selector).first.wait_for(state=ready.state, timeout=timeout_s * 1000)
    if ready.chart_scope:
        remaining = max(1.0, deadline - time.monotonic())
        await page.wait_for_function(
            PLOTLY_DRAWN, arg=ready.chart_scope, timeout=remaining * 1000, polling=50
        )


async def visit(page: Page, url: str, ready: Ready, timeout_s: float) -> tuple[float | None, str | None]:
    """Seconds until the page's first content shows, or None and what went wrong."""
    started = time.perf_counter()
    try:
        await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        await wait_ready(page, ready, timeout_s)
        took = time.perf_counter() - started
    except PlaywrightError as exc:  # TimeoutError is a subclass
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"no content after {time.perf_counter() - started:.0f} s ({first_line[:120]})"
    if await page.locator(EXCEPTION).count():
        text = (await page.locator(EXCEPTION).first.inner_text())[:200]
        return took, f"exception on the page: {text}"
    return took, None


async def session(
    browser: Browser, index: int, store_cases: list[Case], base: str, timeout_s: float, start: asyncio.Event
) -> list[tuple[str, float | None, str | None]]:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    shift = index % len(store_cases)
    order = store_cases[shift:] + store_cases[:shift]
    found = []
    await start.wait()
    try:
        for case in order:
            took, problem = await visit(page, case.our_url(base), case.ours_ready, timeout_s)
            found.append((case.key, took, problem))
    finally:
        await context.close()
    return found


def summary(times: list[float | None], errors: list[str]) -> dict[str, Any]:
    done = [t for t in times if t is not None]
    return {
        "n": len(times),
        "median_s": statistics.median(done) if done else None,
        "p95_s": percentile(done, 0.95) if done else None,
        "max_s": max(done) if done else None,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "all_s": times,
    }


async def rounds(
    base: str, store_cases: list[Case], sessions: int, n_rounds: int, timeout_s: float
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            warmup = await browser.new_page(viewport=VIEWPORT)  # imports and the first session, not counted
            await visit(warmup, f"{base}/history", Ready('[data-testid="stApp"]'), timeout_s)
            await warmup.wait_for_timeout(3000)
            await warmup.close()
            for number in range(1, n_rounds + 1):
                start = asyncio.Event()
                tasks = [
                    asyncio.create_task(session(browser, i, store_cases, base, timeout_s, start))
                    for i in range(sessions)
                ]
                await asyncio.sleep(0.5)  # every context is open before anyone navigates
                started = time.perf_counter()
                start.set()
                visits = [v for result in await asyncio.gather(*tasks) for v in result]
                wall = time.perf_counter() - started
                pages = {
                    case.key: summary(
                        [t for key, t, _ in visits if key == case.key],
                        [p for key, _, p in visits if key == case.key and p],
                    )
                    for case in store_cases
                }
                found.append({"round": number, "wall_s": wall, "pages": pages})
                log.info(
                    "concurrent round %d: %s in %.1f s",
                    number,
                    {k: (v["median_s"], v["p95_s"], v["errors"]) for k, v in pages.items()},
                    wall,
                )
        finally:
            await browser.close()
    return found


def measure_store(
    store: str,
    manifest: dict[str, Any],
    store_cases: list[Case],
    workdir: Path,
    *,
    sessions: int,
    n_rounds: int,
    timeout_s: float,
) -> dict[str, Any]:
    """`sessions` browser sessions on our pages of one store: per round and page, time to first content."""
    info = manifest[store]
    with streamlit_server(Path(info["db"]), workdir / f"concurrent-{store}") as (base, server):
        found = asyncio.run(rounds(base, store_cases, sessions, n_rounds, timeout_s))
        peak = peak_memory_mb(server.proc.pid)
    return {"sessions": sessions, "rounds": found, "streamlit_peak_mb": peak}
