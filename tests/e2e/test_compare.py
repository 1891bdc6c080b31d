"""Compare through a shared link: the diff table has a column per run and marks the param that differs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from registry.training.demo import IRIS
from tests.e2e.conftest import Demo
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_deep_link_compares_two_runs(dashboard: Dashboard, demo: Demo) -> None:
    ui = dashboard
    baseline, best = demo.run_id(IRIS, "sgd-baseline"), demo.run_id(IRIS, "sgd-best-of-search")
    ui.open("compare", runs=f"{baseline},{best}")

    assert ui.title() == "Compare runs"
    ui.expect_text("2 runs")
    table = ui.table_with("field")
    first, second = (f"sgd-baseline · {baseline[:6]}", f"sgd-best-of-search · {best[:6]}")
    assert table.columns[:3] == ["field", first, second]
    alpha = table.row("field", "params.alpha")  # the grid search picked a smaller alpha than the baseline
    assert (alpha[first], alpha[second], alpha["differs"]) == ("0.01", "0.0001", "true")
    assert table.row("field", "params.eta0")["differs"] == "false"
    assert table.row("field", "metrics.val_accuracy")["best"] == second

    ui.page.get_by_text("Only differences", exact=True).click()
    expect(ui.page).to_have_url(re.compile(r"[?&]diffonly=1"))
    ui.settle()
    fields = ui.table_with("field").column("field")
    assert "params.alpha" in fields and "params.eta0" not in fields

    # The table as Markdown, written when clicked (for a pull request or a model card)
    with ui.page.expect_download() as download:
        ui.page.get_by_role("button", name="Table as Markdown").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "params.alpha" in markdown and "sgd-best-of-search" in markdown and "params.eta0" not in markdown
