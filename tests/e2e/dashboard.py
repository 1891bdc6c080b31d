"""A thin driver for the dashboard in Chromium: open a page, wait until Streamlit is idle, read tables.

When is a Streamlit page ready? `stApp`'s `data-test-script-state` turns "notRunning" when the server
says the run is over, but the browser may still be loading an element's code (the dataframe grid is
fetched on first use) and drawing it: tables appear up to a second later. So `settle` waits for the
script state, then for the DOM to stop changing, then for the dataframes in view to have drawn.

`st.dataframe` paints on a canvas, but its grid keeps an accessible `<table role="grid">` of the cells
in view; `tables()` reads that, so the tests check what a user (or a screen reader) gets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Dialog, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pages.views.first_paint import PLACEHOLDER

TIMEOUT_MS = 30_000
QUIET_MS = 400  # no DOM node added, removed or changed for this long: the page has drawn
SHOT_MAX_HEIGHT = 1800  # screenshots for the docs: the top of a long page is what a reader needs
APP = '[data-testid="stApp"]'
EXCEPTION = '[data-testid="stException"]'
GRID = '[data-testid="stDataFrame"]'

_SCRIPT_DONE = """() =>
    document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === "notRunning"
    && document.querySelector('[data-testid="stStatusWidget"]') === null"""

# Resolves once nothing in the DOM changed for quietMs (attributes are left out: cursors and
# animations change them all the time), or after maxMs whatever happens.
_DOM_QUIET = """([quietMs, maxMs]) => new Promise(resolve => {
    let timer;
    const done = () => { observer.disconnect(); clearTimeout(cap); clearTimeout(timer); resolve(); };
    const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, quietMs); });
    const cap = setTimeout(done, maxMs);
    timer = setTimeout(done, quietMs);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
})"""

# The dataframes on screen (not below the fold, not in a closed expander) that have not drawn yet.
_UNDRAWN_GRIDS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].filter(g => {
    const r = g.getBoundingClientRect();
    const onScreen = g.checkVisibility() && r.bottom > 0 && r.top < window.innerHeight;
    return onScreen && g.querySelector('[role="columnheader"]') === null;
}).length"""

# Bring the first visible dataframe that has not drawn into view (a grid draws once it is seen).
_SHOW_UNDRAWN_GRID = """scope => {
    const grid = [...scope.querySelectorAll('[data-testid="stDataFrame"]')]
        .find(g => g.checkVisibility() && g.querySelector('[role="columnheader"]') === null);
    if (grid) grid.scrollIntoView({block: "center"});
    return grid !== undefined;
}"""

# Charts held back until the browser's first paint (pages/views/first_paint.py), not yet come.
_WAITING_CHARTS = f"""() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .filter(c => c.innerText.trim() === {json.dumps(PLACEHOLDER)}).length"""

_IDLE = f"() => ({_SCRIPT_DONE})() && ({_UNDRAWN_GRIDS})() === 0 && ({_WAITING_CHARTS})() === 0"

_BUSY = f"""() => ({{
    scriptState: document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState,
    statusWidget: document.querySelector('[data-testid="stStatusWidget"]')?.innerText ?? null,
    undrawnGrids: ({_UNDRAWN_GRIDS})(),
    waitingCharts: ({_WAITING_CHARTS})(),
}})"""

_CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(c => c.checkVisibility())
    .every(c => c.querySelector('.main-svg') !== null)"""

# Header texts and the rows in view of one grid, cells matched to headers by aria-colindex.
_READ_GRID = """grid => {
    const names = {};
    for (const th of grid.querySelectorAll('[role="columnheader"]')) {
        names[th.getAttribute('aria-colindex')] = th.innerText;
    }
    const rows = [];
    for (const tr of grid.querySelectorAll('tbody [role="row"]')) {
        const row = {};
        for (const td of tr.querySelectorAll('[role="gridcell"]')) {
            const name = names[td.getAttribute('aria-colindex')];
            if (name !== undefined) row[name] = td.innerText;
        }
        rows.push(row);
    }
    return {columns: Object.values(names), rows: rows};
}"""


@dataclass(frozen=True)
class Table:
    """What one `st.dataframe` shows: its column headers and the rows in view, as text."""

    columns: list[str]
    rows: list[dict[str, str]]

    def column(self, name: str) -> list[str]:
        return [row.get(name, "") for row in self.rows]

    def row(self, column: str, value: str) -> dict[str, str]:
        found = [row for row in self.rows if row.get(column) == value]
        assert found, f"no row with {column}={value!r}; rows: {json.dumps(self.rows, indent=1)[:2000]}"
        return found[0]


@dataclass
class Dashboard:
    """One browser tab on the running app; `dialogs` records any JavaScript dialog that opened."""

    page: Page
    base_url: str
    shots: Path
    dialogs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    # navigation ---------------------------------------------------------------------------------
    def url(self, path: str = "", **query: str) -> str:
        return f"{self.base_url}/{path}" + (f"?{urlencode(query)}" if query else "")

    def open(self, path: str = "", **query: str) -> Page:
        """Load `/<path>?<query>` (a new Streamlit session) and wait until it is drawn and healthy."""
        self.page.goto(self.url(path, **query))
        self.page.wait_for_selector(APP)
        self.settle()
        return self.page

    def settle(self) -> None:
        """Wait until the script run is over and its output drawn; fail on a Streamlit exception."""
        try:
            self.page.wait_for_function(_SCRIPT_DONE, polling=100)
            self.page.evaluate(_DOM_QUIET, [QUIET_MS, TIMEOUT_MS // 3])
            self.page.wait_for_function(_IDLE, polling=100)
        except PlaywrightTimeout as exc:
            raise AssertionError(f"{self.page.url} did not settle: {self.page.evaluate(_BUSY)}") from exc
        self.assert_healthy()

    def assert_healthy(self) -> None:
        errors = self.page.locator(EXCEPTION)
        if errors.count():
            raise AssertionError(f"Streamlit exception on {self.page.url}:\n{errors.first.inner_text()}")

    # reading ------------------------------------------------------------------------------------
    @property
    def main(self) -> Locator:
        return self.page.locator('[data-testid="stMain"]')

    def title(self) -> str:
        return self.main.locator("h1").first.inner_text().strip()

    def tables(self, within: Locator | None = None) -> list[Table]:
        """The tables drawn so far (a grid draws its cells once it has been on screen)."""
        grids = (within or self.main).locator(f'{GRID} table[role="grid"]')
        return [Table(**grids.nth(i).evaluate(_READ_GRID)) for i in range(grids.count())]

    def table_with(self, column: str, within: Locator | None = None) -> Table:
        """The first table with `column`; grids not drawn yet are scrolled into view until one has it."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        scope = within or self.main
        while True:
            tables = self.tables(within)
            for table in tables:
                if column in table.columns:
                    return table
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no table with a {column!r} column; tables: {[t.columns for t in tables]}"
                )
            scope.evaluate(_SHOW_UNDRAWN_GRID)
            self.page.wait_for_timeout(200)

    def expect_text(self, text: str, within: Locator | None = None) -> None:
        expect((within or self.main).get_by_text(text, exact=False).first).to_be_visible()

    # docs ---------------------------------------------------------------------------------------
    def screenshot(self, name: str, max_height: int = SHOT_MAX_HEIGHT) -> Path:
        """A PNG of the page from the top, as tall as its content up to `max_height`.

        Streamlit scrolls inside `stMain`, so Playwright's full-page mode sees one screen: the
        viewport is stretched to the content instead, for the picture only.
        """
        screen = self.page.viewport_size
        assert screen is not None
        self.main.evaluate("main => main.scrollTo(0, 0)")
        content = int(self.main.evaluate("main => main.scrollHeight"))
        self.page.set_viewport_size(
            {"width": screen["width"], "height": max(screen["height"], min(content, max_height))}
        )
        try:
            self.settle()
            self.page.wait_for_function(_CHARTS_DRAWN)
            self.page.mouse.move(0, 0)  # no hover highlight or tooltip in the picture
            path = self.shots / f"{name}.png"
            self.page.screenshot(path=path, animations="disabled")
        finally:
            self.page.set_viewport_size(screen)
        return path
