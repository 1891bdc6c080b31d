"""A plan as the dialog shows it: title, checks (failures first) and the candidate against production."""

from __future__ import annotations

import pytest

from pages.views.plan_tables import blocking_reason, checks_frame, comparison_frame, plan_title
from registry.access.identity import Actor
from registry.service import Registry
from tests.factories import make_model

LEAD = Actor("alice", "lead")
GATE = {"registry.gate.metric": "rmse", "registry.gate.direction": "min"}


@pytest.fixture
def local(sqlite_settings) -> Registry:
    return Registry.connect(sqlite_settings)


def test_a_failed_gate_comes_first_and_is_forceable(local):
    model = make_model(local.client, [{"rmse": 1.0}, {"rmse": 2.0, "mae": 0.5}], model_tags=GATE)
    local.promote(model, "1", "baseline", actor=LEAD)
    plan = local.plan("promote", model, "2", actor=LEAD)

    assert plan_title(plan) == "Promote v2 to production"
    checks = checks_frame(plan)
    assert checks.loc[0, "result"] == "FAIL" and checks.loc[0, "forceable"]
    assert checks.loc[0, "check"].startswith("metric gate")
    assert set(checks.loc[1:, "result"]) == {"pass"}
    assert blocking_reason(plan) == ""  # only the gate failed: a lead may force it

    comparison = comparison_frame(plan).set_index("metric")
    assert list(comparison.columns) == ["candidate", "production (v1)", "delta"]
    assert comparison.loc["rmse", "delta"] == pytest.approx(1.0)
    assert comparison.loc["mae", "candidate"] == 0.5 and comparison["production (v1)"].isna()["mae"]


def test_a_viewer_plan_is_blocked_and_says_why(local):
    model = make_model(local.client, [{"rmse": 1.0}])
    plan = local.plan("archive", model, "1", actor=Actor("vera", "viewer"))
    assert plan_title(plan) == "Archive v1"
    assert "vera is a viewer" in blocking_reason(plan)
    assert comparison_frame(plan).empty


def test_rollback_without_a_target_names_no_version(local):
    model = make_model(local.client, [{"rmse": 1.0}])
    plan = local.plan("rollback", model, actor=LEAD)
    assert plan_title(plan) == "Roll back production to an earlier version"
    assert "rollback target" in blocking_reason(plan)
