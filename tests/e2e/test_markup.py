"""Run names are data: HTML, scripts and markdown in them show as literal text and never execute.

Anyone who can log a run can name it; the dashboard shows names in titles, tables, pickers and chart
legends. Each payload below would set `window.__pwned`, open a dialog or make a `javascript:` link
if it were rendered as markup; the tests check every frame of the page for all three.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Demo
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    "**bold** [click me](javascript:window.__pwned=3)",
    "<svg onload=\"alert('pwned')\"></svg>",
]

# What a payload leaves behind if it was rendered as markup rather than text.
_TRACES = """() => ({
    pwned: typeof window.__pwned,
    img: document.querySelectorAll('img[src="x"], img[onerror]').length,
    onload: document.querySelectorAll('[onload]').length,
    script: [...document.scripts].filter(s => s.textContent.includes('__pwned')).length,
    jsLinks: [...document.querySelectorAll('a')].filter(a =>
        (a.getAttribute('href') || a.getAttribute('xlink:href') || '').trim().toLowerCase()
            .startsWith('javascript:')).length,
})"""
CLEAN = {"pwned": "undefined", "img": 0, "onload": 0, "script": 0, "jsLinks": 0}


@dataclass(frozen=True)
class MarkupRuns:
    experiment_id: str
    run_ids: list[str]  # in the order of PAYLOADS


@pytest.fixture(scope="module")
def markup_runs(demo: Demo) -> MarkupRuns:
    client = demo.client
    experiment_id = client.create_experiment(f"e2e-markup-{uuid.uuid4().hex[:8]}")
    run_ids = []
    for index, name in enumerate(PAYLOADS):
        run = client.create_run(experiment_id, run_name=name)
        client.log_param(run.info.run_id, "payload", str(index))
        client.log_metric(run.info.run_id, "score", float(index))
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    return MarkupRuns(experiment_id, run_ids)


def assert_inert(ui: Dashboard) -> None:
    for frame in ui.page.frames:
        assert frame.evaluate(_TRACES) == CLEAN, f"markup executed in {frame.url}"
    assert ui.dialogs == []


def test_markup_in_run_names_stays_text(dashboard: Dashboard, markup_runs: MarkupRuns) -> None:
    ui = dashboard
    ids = markup_runs.run_ids

    ui.open("runs", experiment=markup_runs.experiment_id)
    assert sorted(ui.table_with("run_name").column("run_name")) == sorted(PAYLOADS)
    assert_inert(ui)

    # The first run by its link; the others as a user moves on, by their ids in the sidebar's box:
    # the same title, tables and charts drawn anew in the page already loaded (a new tab draws
    # the whole Run page, Plotly included, again: ~7 s of Chromium's CPU each).
    ui.open("run", run=ids[0])
    for run_id, name in zip(ids, PAYLOADS, strict=True):
        if run_id != ids[0]:
            box = ui.page.locator('[data-testid="stSidebar"]').get_by_role("textbox", name="Run id")
            box.fill(run_id)
            box.press("Enter")
            expect(ui.main.locator("h1").first).to_have_text(f"Run {name}")
            ui.settle()
            assert f"run={run_id}" in ui.page.url
        assert ui.title() == f"Run {name}"
        assert_inert(ui)

    ui.open("compare", runs=",".join(ids))
    labels = [f"{name} · {run_id[:6]}" for run_id, name in zip(ids, PAYLOADS, strict=True)]
    shown = ui.table_with("field").columns[1:]  # the grid lists the columns in view
    assert len(shown) >= 2 and shown == labels[: len(shown)], shown
    expect(ui.main.get_by_role("combobox", name="Baseline run")).to_have_value(labels[0])
    assert_inert(ui)
