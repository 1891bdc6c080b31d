"""The History page under AppTest against the real stack: the timeline, its filters, flags and export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager

from pages.views.shared import plain
from registry.access.identity import Actor
from registry.errors import Refused
from tests.factories import make_model
from tests.ui.conftest import VIEWER

PAGE = "pages/history.py"
ALICE = Actor("alice", "lead")


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, bytes]]:
    """What the page handed to download buttons: (file name, bytes)."""
    seen: list[tuple[str | None, bytes]] = []
    original = MediaFileManager.add

    def add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        data = path_or_data.encode() if isinstance(path_or_data, str) else bytes(path_or_data)
        seen.append((file_name, data))
        return original(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add", add)
    return seen


def seeded(reg) -> str:
    """A model with a done promotion (with markup in the reason) and a refused one."""
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "<b>first</b> **release**", actor=ALICE)
    with pytest.raises(Refused):
        reg.promote(model, "2", "I want it", actor=Actor(VIEWER, "viewer"))
    return model


def test_the_history_lists_the_promotion_filters_and_exports_it(ui_registry, open_page, downloads):
    model = seeded(ui_registry)
    at = open_page(PAGE, model=model)

    assert not at.exception
    assert at.selectbox(key="history.model").value == model
    table = at.dataframe[0].value
    assert list(zip(table["to_version"], table["outcome"], table["actor"], strict=True)) == [
        ("2", "refused", VIEWER),
        ("1", "done", "alice"),
    ]
    assert table.loc[1, "reason"] == "<b>first</b> **release**"  # a table cell: shown as text

    at.multiselect(key="history.outcome").select("done")
    at.run()
    assert not at.exception
    assert list(at.dataframe[0].value["outcome"]) == ["done"]
    assert at.query_params["outcome"] == ["done"] or at.query_params["outcome"] == "done"

    name, data = downloads[-1]
    assert name == "registry-history.csv"
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert (row["model"], row["to_version"], row["outcome"], row["reason"]) == (
        model,
        "1",
        "done",
        "<b>first</b> **release**",
    )

    at.multiselect(key="history.outcome").unselect("done").select("refused")
    at.multiselect(key="history.actor").select("alice")
    at.run()
    assert at.dataframe[0].value.empty

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    at.multiselect(key="history.actor").unselect("alice")
    at.multiselect(key="history.outcome").unselect("refused")
    at.date_input(key="history.dates").set_value((tomorrow, tomorrow + timedelta(days=1)))
    at.run()
    assert at.dataframe[0].value.empty
    assert not at.get("html")
    for el in at.markdown:
        assert not el.proto.allow_html


def test_the_chart_shows_who_held_production(ui_registry, open_page):
    model = seeded(ui_registry)
    ui_registry.promote(model, "2", "better", actor=ALICE)
    at = open_page(PAGE, model=model)

    assert not at.exception
    [chart] = [el for el in at.get("plotly_chart")]
    spec = chart.proto.spec
    assert f"{model} v1" in spec and f"{model} v2" in spec


def test_incomplete_attempts_and_drift_are_flagged(ui_registry, open_page):
    model = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    ui_registry.promote(model, "1", "baseline", actor=ALICE)
    ui_registry.client.set_registered_model_alias(model, "production", "2")  # outside the dashboard
    ui_registry.audit.begin(  # an intent with no result: the process died mid-action
        actor="alice",
        role="lead",
        model=model,
        action="archive",
        target="archived",
        from_version="1",
        to_version="1",
        reason="cleanup",
        checks=[],
    )
    at = open_page(PAGE, model=model)

    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("1 incomplete attempt" in w for w in warnings)
    assert any(plain("production: MLflow says v2, the audit log says v1") in w for w in warnings)
    assert "incomplete" in at.dataframe[0].value.loc[0, "flag"]


def test_all_models_view_and_an_unknown_model(ui_registry, open_page):
    model = seeded(ui_registry)
    at = open_page(PAGE)
    assert not at.exception
    assert at.selectbox(key="history.model").value == "All models"
    assert model in set(at.dataframe[0].value["model"])

    at = open_page(PAGE, model="never-acted-on")
    assert not at.exception
    assert at.dataframe[0].value.empty
    assert at.selectbox(key="history.model").value == "never-acted-on"


def test_an_altered_audit_log_is_called_out_on_history_and_overview(ui_registry, open_page):
    import sqlalchemy as sa

    from registry.audit.log import events

    model = seeded(ui_registry)
    intact = open_page(PAGE, model=model)
    assert not [e for e in intact.error if "Audit log" in e.value]
    assert not [w for w in intact.warning if "Audit log" in w.value]

    with ui_registry.audit.engine.begin() as conn:  # triggers dropped, a refusal turned into a reason
        conn.execute(sa.text("DROP TRIGGER registry_audit_no_update"))
        row = conn.execute(sa.select(events.c.id).where(events.c.reason == "I want it")).scalars().first()
        conn.execute(sa.update(events).where(events.c.id == row).values(reason="approved by ada"))
    st.cache_data.clear()  # the verification is cached for minutes; a test does not wait

    for page in (PAGE, "pages/overview.py"):
        at = open_page(page, model=model)
        assert not at.exception
        errors = [e.value for e in at.error if "Audit log altered" in e.value]
        assert len(errors) == 1 and plain(f"broken at row {row} (model {model}, at ") in errors[0]
        assert any("Audit log" in w.value and "triggers are missing now" in w.value for w in at.warning)
