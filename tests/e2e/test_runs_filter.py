"""A bad filter on the runs page: the message shows right under the box; fixing it brings the runs back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from registry.training.demo import IRIS
from tests.e2e.conftest import Demo
from tests.e2e.dashboard import Dashboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_bad_filter_is_explained_under_the_box(dashboard: Dashboard, demo: Demo) -> None:
    ui = dashboard
    ui.open("runs", experiment=demo.experiments[IRIS])
    box = ui.page.get_by_role("textbox", name="Filter runs")

    box.fill("metrics.val_accuracy >> 0.9")
    box.press("Enter")
    error = ui.main.locator('[data-testid="stAlertContentError"]')
    expect(error).to_contain_text("filter:")
    expect(error).to_contain_text(">>")
    ui.settle()
    examples = ui.main.get_by_text("Examples:")
    box_at, error_at, examples_at = (el.bounding_box() for el in (box, error, examples))
    assert box_at and error_at and examples_at
    assert box_at["y"] < error_at["y"] < examples_at["y"], "the message belongs right under the filter box"
    ui.expect_text("Fix the filter above to see runs.")
    assert not ui.tables()

    box.fill("metrics.val_accuracy > 0.9")
    box.press("Enter")
    expect(error).to_have_count(0)
    ui.settle()
    expect(ui.page).to_have_url(re.compile(r"filter=metrics\.val_accuracy\+%3E\+0\.9"))
    runs = ui.table_with("run_name")
    accuracies = [float(v) for v in runs.column("metrics.val_accuracy")]
    assert runs.rows and all(a > 0.9 for a in accuracies)
    assert "sgd-baseline" not in runs.column("run_name")  # 0.889: filtered out on the server
