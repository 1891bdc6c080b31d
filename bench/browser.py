"""Time to first rows or first chart in Chromium: our Streamlit app against MLflow's own UI.

Both servers run on the same SQLite store, on loopback, started here and stopped afterwards:
`streamlit run app.py` with MLFLOW_TRACKING_URI=sqlite:///<store> and `mlflow server
--backend-store-uri sqlite:///<store>`. A measure starts when the browser is told to navigate and
ends when the page's ready condition holds (bench.cases).

Cold, ours: the first visit of the page after the Streamlit server started (its caches are empty;
the process was warmed on another page, so imports are not counted), so there is one sample.
Cold, MLflow: a new browser context (no HTTP cache); MLflow's server keeps no cache of its own.
Warm: a reload in the same context (ours then reads Streamlit's caches).
Peak memory: VmHWM of the Streamlit server process (and of MLflow's uvicorn worker, for context).
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.cases import FLOORS, PLOTLY_DRAWN, Case, Ready, kept_summaries, mlflow_url
from tests.stack import ServerProcess, child_env, free_port

PROJECT = Path(__file__).resolve().parent.parent
TIMEOUT_SHOTS = PROJECT / "bench" / ".stores" / "results" / "timeouts"  # what a timed-out page showed
log = logging.getLogger("bench.browser")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
VIEWPORT = {"width": 1600, "height": 1000}
# Points per trace as plotly holds them: `_fullData` (plotly 6 sends typed arrays as base64 `bdata`
# objects, which `data` keeps as they came; `_fullData` has them decoded).
POINTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(p => (p._fullData || []).filter(t => t.x && t.x.length !== undefined).map(t => t.x.length))"""


@contextmanager
def streamlit_server(
    db: Path, home: Path, flags: Sequence[str] = (), project: Path = PROJECT
) -> Iterator[tuple[str, ServerProcess]]:
    """`streamlit run app.py` on the store, with its own audit log and home; stopped (its group) on exit.

    `flags`: more Streamlit options (`--runner.fastReruns false`), for bench.profile's variants.
    `project`: the checkout whose app.py runs (another worktree, for bench.checkouts)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = child_env(
        MLFLOW_TRACKING_URI=f"sqlite:///{db}", REGISTRY_HOME=str(home),
        REGISTRY_AUDIT_URL=f"sqlite:///{home / 'audit.db'}", REGISTRY_ACTOR="bench", REGISTRY_LEADS="bench",
        REGISTRY_SUMMARY_CACHE_URL=kept_summaries(home),
    )  # fmt: skip
    argv = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *flags]  # fmt: skip
    with _serving(
        ServerProcess("streamlit", argv, home / "streamlit.log", env, project), port, "/_stcore/health", 120
    ) as up:
        yield up


@contextmanager
def floor_server(home: Path, app: str = "floor_app.py") -> Iterator[tuple[str, ServerProcess]]:
    """`streamlit run bench/<app>`: a bare floor app, started like ours."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "streamlit", "run", str(PROJECT / "bench" / app),
            "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    with _serving(
        ServerProcess(f"streamlit {app}", argv, home / f"{app}.log", child_env(), PROJECT),
        port,
        "/_stcore/health",
        120,
    ) as up:
        yield up


def measure_floor(
    workdir: Path, cold_n: int, warm_n: int, timeout_s: float, floor: str = "table"
) -> dict[str, Any]:
    """A floor app, measured as our pages are: cold in a new browser context, warm on reload.

    Its process is warmed by one visit first (as ours is), so neither side counts Python's imports.
    """
    app, ready, _ = FLOORS[floor]
    with floor_server(workdir / f"floor-{floor}", app) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            warmup = browser.new_page(viewport=VIEWPORT)
            load(warmup, url, ready, timeout_s)
            warmup.close()
            return measure(browser, url, ready, cold_n, warm_n, timeout_s)
        finally:
            browser.close()


@contextmanager
def _serving(
    server: ServerProcess, port: int, health: str, timeout_s: float
) -> Iterator[tuple[str, ServerProcess]]:
    """Wait until a started server answers `health`; yield its URL and process; stop it on exit."""
    try:
        url = f"http://127.0.0.1:{port}"
        server.wait_until_answers(f"{url}{health}", timeout_s=timeout_s)
        yield url, server
    finally:
        server.stop()


@contextmanager
def mlflow_server(db: Path, artifacts: Path, home: Path) -> Iterator[tuple[str, ServerProcess]]:
    """`mlflow server --workers 1` on the same store; stopped (its group) on exit."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--backend-store-uri", f"sqlite:///{db}",
            "--artifacts-destination", str(artifacts)]  # fmt: skip
    env = child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with _serving(
        ServerProcess("mlflow server", argv, home / "mlflow-server.log", env, home), port, "/health", 180
    ) as up:
        yield up


@contextmanager
def servers(db: Path, artifacts: Path, home: Path) -> Iterator[tuple[str, ServerProcess, str, ServerProcess]]:
    """Our app and `mlflow server` on the same store, both stopped on exit."""
    with streamlit_server(db, home) as (ours_url, ours), mlflow_server(db, artifacts, home) as (base, theirs):
        yield ours_url, ours, base, theirs


def peak_memory_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def wait_ready(page: Page, ready: Ready, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    if ready.selector:
        page.locator(ready.selector).first.wait_for(state=ready.state, timeout=timeout_s * 1000)
    if ready.chart_scope:
        remaining = max(1.0, deadline - time.monotonic())
        page.wait_for_function(PLOTLY_DRAWN, arg=ready.chart_scope, timeout=remaining * 1000, polling=50)


def load(page: Page, url: str | None, ready: Ready, timeout_s: float) -> float | None:
    """Seconds from navigation (or reload when `url` is None) until ready; None on timeout."""
    started = time.perf_counter()
    try:
        if url is None:
            page.reload(wait_until="commit", timeout=timeout_s * 1000)
        else:
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        wait_ready(page, ready, timeout_s)
    except PlaywrightTimeout:
        TIMEOUT_SHOTS.mkdir(parents=True, exist_ok=True)
        shot = TIMEOUT_SHOTS / f"{time.strftime('%Y%m%d-%H%M%S')}.png"
        page.screenshot(path=shot, full_page=True)
        log.warning("timed out after %.0f s on %s; the page as it was: %s", timeout_s, page.url, shot)
        return None
    return time.perf_counter() - started


def _median(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return statistics.median(done) if done and len(done) == len(values) else None


def measure(browser: Browser, url: str, ready: Ready, cold_n: int, warm_n: int, timeout_s: float,
            with_points: bool = False) -> dict[str, Any]:  # fmt: skip
    cold: list[float | None] = []
    warm: list[float | None] = []
    points = None
    for i in range(cold_n):
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        cold.append(load(page, url, ready, timeout_s))
        if with_points and cold[-1] is not None and points is None:
            points = page.evaluate(POINTS_JS)
        if cold[-1] is None:  # timed out: more samples would only repeat the timeout
            context.close()
            break
        if i == cold_n - 1:
            warm = [load(page, None, ready, timeout_s) for _ in range(warm_n)]
        context.close()
    return {
        "cold_s": _median(cold), "cold_all_s": cold, "warm_s": _median(warm), "warm_all_s": warm,
        "timeout_s": timeout_s, "points_per_trace": points,
    }  # fmt: skip


def measure_store(
    store: str, manifest: dict[str, Any], store_cases: list[Case], workdir: Path, *, mlflow_cold_n: int,
    warm_n: int, timeout_s: float, mlflow_timeout_s: float,
) -> dict[str, Any]:  # fmt: skip
    info = manifest[store]
    results: dict[str, Any] = {"cases": {}}
    with servers(Path(info["db"]), Path(info["artifacts"]), workdir / f"browser-{store}") as (
        ours_url, ours, mlflow_base, theirs,
    ), sync_playwright() as playwright:  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            warmup = browser.new_page(viewport=VIEWPORT)  # imports and the first session, not counted
            load(warmup, f"{ours_url}/history", Ready('[data-testid="stApp"]'), timeout_s)
            warmup.wait_for_timeout(3000)
            warmup.close()
            for case in store_cases:
                ours_result = measure(browser, case.our_url(ours_url), case.ours_ready, 1, warm_n, timeout_s,
                                      with_points=case.key == "compare")  # fmt: skip
                theirs_result = None
                url = mlflow_url(mlflow_base, case)
                if url and case.mlflow_ready:
                    theirs_result = measure(
                        browser, url, case.mlflow_ready, mlflow_cold_n, warm_n, mlflow_timeout_s
                    )
                results["cases"][case.key] = {"ours": ours_result, "mlflow": theirs_result}
        finally:
            browser.close()
        results["streamlit_peak_mb"] = peak_memory_mb(ours.proc.pid)
        workers = [peak_memory_mb(pid) for pid in [theirs.proc.pid, *descendants(theirs.proc.pid)]]
        results["mlflow_server_peak_mb"] = max((w for w in workers if w), default=None)
    return results
