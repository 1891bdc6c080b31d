"""What the Models and Overview pages list, read from real stores (both backends where they differ)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pages.views.catalog import model_link, models_frame, production_frame, versions_frame
from registry.access.identity import Actor
from registry.errors import NotFound
from registry.lifecycle.catalog import (
    Promotion,
    awaiting_decision,
    model_rows,
    model_view,
    production_models,
    promotion_of,
)
from registry.service import Registry
from tests.factories import make_model, unique
from tests.run_data import make_run
from tests.views.test_timeline import attempt

LEAD = Actor("alice", "lead")
GATE = {"registry.gate.metric": "rmse", "registry.gate.direction": "min"}


@pytest.fixture
def reg(any_settings) -> Registry:
    return Registry.connect(any_settings)


@pytest.fixture
def local(sqlite_settings) -> Registry:
    return Registry.connect(sqlite_settings)


def test_rows_come_with_holders_key_metric_and_who_promoted(reg):
    prefix = unique("rows")
    aliased = make_model(
        reg.client,
        [{"acc": 0.7}, {"acc": 0.9}],
        name=f"{prefix}-a",
        model_tags={"registry.key_metric": "acc"},
    )
    staged = make_model(reg.client, [{"rmse": 3.0}], name=f"{prefix}-b", model_tags=GATE)
    idle = make_model(reg.client, [{"acc": 0.5}], name=f"{prefix}-c")
    reg.promote(aliased, "2", "best", actor=LEAD)
    reg.promote(aliased, "1", "staging try", actor=LEAD, target="staging")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reg.client.transition_model_version_stage(staged, "1", "Production")  # outside the dashboard

    page = model_rows(reg, prefix)

    rows = {r.name: r for r in page.rows}
    assert list(rows) == [aliased, staged, idle]
    a, b, c = rows[aliased], rows[staged], rows[idle]
    assert (a.mode, a.production, a.staging, a.latest_version) == ("aliases", "2", "1", "2")
    assert (a.key_metric, a.key_value, a.promotion.by, a.promotion.source) == ("acc", 0.9, "alice", "tags")
    assert a.promotion.at is not None and a.promotion.at.tzinfo is not None
    assert (b.mode, b.production, b.key_metric, b.key_value) == ("stages", "1", "rmse", 3.0)
    assert b.promotion == Promotion()  # nobody in the audit log or the tags: changed outside
    assert (c.production, c.key_value, c.problem) == (None, None, "")
    frame = models_frame(page.rows)
    assert list(frame["production"]) == ["v2", "v1", ""]
    assert frame.loc[0, "open"] == model_link(aliased)


def test_a_model_naming_its_own_slots_lists_its_first_slots_holder_by_that_slots_name(local):
    """Set by hand: the registry.slots tag and the champion alias; the list must not call v1 production."""
    name = make_model(
        local.client, [{"acc": 0.7}, {"acc": 0.9}], model_tags={"registry.slots": "champion, challenger"}
    )
    local.client.set_registered_model_alias(name, "champion", "1")
    local.client.set_registered_model_alias(name, "challenger", "2")

    [row] = model_rows(local, name).rows

    assert (row.production, row.primary_slot, row.staging) == ("1", "champion", None)
    assert list(models_frame([row])["production"]) == ["v1 (champion)"]
    assert list(production_frame([row])["version"]) == ["v1 (champion)"]


def test_a_hand_built_registry_lists_each_production_versions_key_metric_as_the_client_reads_it(reg):
    """Models made with the plain client only: aliases and a stage set by hand, a deleted run, a
    version with no run, a NaN metric, a name no filter can quote, many versions."""
    client, prefix = reg.client, unique("hand")
    exp = client.create_experiment(prefix)
    key = {"registry.key_metric": "acc"}

    def version(name: str, acc: float | None, **tags: str) -> str:
        run_id = make_run(client, exp, metrics={} if acc is None else {"acc": acc})
        return str(
            client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags=tags).version
        )

    names = [f"{prefix} aliased", f"{prefix} staged", f"{prefix} o'brien \"x\"", f"{prefix} gone run",
             f"{prefix} no run", f"{prefix} nan", f"{prefix} many, (v)"]  # fmt: skip
    for name in names:
        client.create_registered_model(name, tags=key)
    aliased, staged, quoted, gone, bucket, nan, many = names
    for acc in (0.7, 0.8, 0.9):
        version(aliased, acc, **{"registry.promoted_by": "carol"})
    client.set_registered_model_alias(aliased, "production", "2")
    version(staged, 0.6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(staged, "1", "Production")
    version(quoted, 0.55)
    client.set_registered_model_alias(quoted, "production", "1")
    version(gone, 0.4)
    client.delete_run(client.get_model_version(gone, "1").run_id)
    client.set_registered_model_alias(gone, "production", "1")
    client.create_model_version(bucket, "s3://team-bucket/models/7")
    client.set_registered_model_alias(bucket, "production", "1")
    version(nan, float("nan"))
    client.set_registered_model_alias(nan, "production", "1")
    for i in range(30):
        version(many, i / 30) if i in (0, 29) else client.create_model_version(many, "s3://b/m")
    client.set_registered_model_alias(many, "production", "1")

    rows = {r.name: r for r in model_rows(reg, prefix).rows}

    def by_the_client(name: str, production: str) -> tuple[float | None, str | None]:
        mv = client.get_model_version(name, production)
        return (client.get_run(mv.run_id).data.metrics.get("acc") if mv.run_id else None), mv.run_id or None

    assert set(rows) == set(names)
    for name, row in rows.items():
        assert row.production == ("2" if name == aliased else "1") and row.problem == "", name
        value, run_id = by_the_client(name, row.production)
        assert row.production_run == run_id, name
        assert row.key_value == value or (value != value and row.key_value != row.key_value), name
    assert (rows[aliased].key_value, rows[gone].key_value, rows[bucket].key_value) == (0.8, 0.4, None)
    assert rows[many].key_value == 0.0 and rows[many].latest_version == "30"
    assert rows[quoted].key_value == 0.55 and rows[staged].key_value == 0.6
    assert (rows[aliased].promotion.by, rows[aliased].promotion.source) == ("carol", "tags")  # version's tags

    for name in (
        aliased,
        gone,
        bucket,
        nan,
        many,
    ):  # each model's page: every version's run, as the client has it
        for row in model_view(reg, name).versions:
            mv = client.get_model_version(name, row.version)
            if not mv.run_id:
                assert row.problem.startswith("no source run") and row.metrics == {}, (name, row.version)
                continue
            run = client.get_run(mv.run_id)
            deleted = " (run deleted)" if run.info.lifecycle_stage == "deleted" else ""
            assert row.run_status == run.info.status + deleted and row.problem == "", (name, row.version)
            assert str(row.metrics) == str(run.data.metrics), (name, row.version)  # NaN too
    assert model_view(reg, gone).versions[0].run_status == "FINISHED (run deleted)"


def test_rows_page_through_the_search(local):
    prefix = unique("paged")
    for suffix in "abc":
        make_model(local.client, [{"acc": 0.5}], name=f"{prefix}-{suffix}")
    first = model_rows(local, prefix, max_results=2)
    assert [r.name[-1] for r in first.rows] == ["a", "b"] and first.next_page_token
    second = model_rows(local, prefix, max_results=2, page_token=first.next_page_token)
    assert [r.name[-1] for r in second.rows] == ["c"] and second.next_page_token is None
    assert model_rows(local, "no-such-prefix-at-all").rows == []


def test_production_models_are_capped(local):
    names = [make_model(local.client, [{"acc": 0.5}], name=f"prod-{i}") for i in range(3)]
    make_model(local.client, [{"acc": 0.5}], name="prod-none")
    for name in names:
        local.promote(name, "1", "go", actor=LEAD)
    rows, more = production_models(local)
    assert [r.name for r in rows] == names and not more
    rows, more = production_models(local, cap=2, page=1)
    assert [r.name for r in rows] == names[:2] and more
    frame = production_frame(rows)
    assert list(frame["by"]) == ["alice", "alice"] and frame.loc[0, "source run"].startswith("run?run=")


def test_what_awaits_a_decision_is_each_models_newest_version_past_production(local):
    newer = make_model(local.client, [{"acc": 0.5}] * 3, name="wait-newer")
    local.promote(newer, "2", "go", actor=LEAD)
    settled = make_model(local.client, [{"acc": 0.5}] * 2, name="wait-settled")
    local.promote(settled, "2", "go", actor=LEAD)
    first = make_model(local.client, [{"acc": 0.5}], name="wait-first")
    archived = make_model(local.client, [{"acc": 0.5}] * 2, name="wait-archived")
    local.promote(archived, "1", "go", actor=LEAD)
    local.archive(archived, "2", "not good enough", actor=LEAD)

    found, more = awaiting_decision(local)

    assert {(c.model, c.version, c.production) for c in found} == {(newer, "3", "2"), (first, "1", None)}
    assert [c.model for c in found] == [first, newer]  # the newest registration first
    assert all(c.run_id for c in found) and not more
    capped, more = awaiting_decision(local, cap=1, page=1)
    assert len(capped) <= 1 and more  # one model looked at (an archived newest version drops out)


def test_promotion_falls_back_to_the_audit_log():
    tagged = {"registry.promoted_by": "bo", "registry.promoted_at": "2026-01-05T10:00:00+00:00"}
    assert promotion_of("m", "1", tagged, []) == Promotion("bo", datetime(2026, 1, 5, 10, tzinfo=UTC), "tags")
    history = [
        attempt(1, "promote", "1", actor="ada"),
        attempt(2, "promote", "1", actor="cy", outcome="refused"),
    ]
    found = promotion_of("m", "1", {}, history)
    assert (found.by, found.source) == ("ada", "audit")
    staged_tags = {**tagged, "registry.promoted_to": "staging"}  # its tags speak of staging, not production
    assert promotion_of("m", "1", staged_tags, history).source == "audit"
    assert promotion_of("m", "1", {}, [replace(history[0], model="other")]) == Promotion()
    assert promotion_of("m", None, tagged, history) == Promotion()


def test_model_view_has_versions_metrics_drift_and_rollback_target(local):
    model = make_model(
        local.client, [{"rmse": 3.0, "mae": 1.0}, {"rmse": 2.5, "mae": 1.1}, {"rmse": 2.0}], model_tags=GATE
    )
    local.client.set_model_version_tag(model, "2", "team", "search")
    local.promote(model, "1", "first", actor=LEAD)
    local.promote(model, "2", "better", actor=LEAD)
    local.client.set_registered_model_alias(model, "production", "3")  # outside the dashboard

    view = model_view(local, model)

    assert (view.mode, view.production, view.staging, view.rollback_to) == ("aliases", "3", None, "2")
    assert view.gate_metric == "rmse" and view.key_metric == "rmse"
    assert len(view.drift) == 1 and "MLflow says v3, the audit log says v2" in view.drift[0]
    assert [v.version for v in view.versions] == ["3", "2", "1"]
    frame = versions_frame(view).set_index("version")
    assert list(frame.columns[:6]) == ["holds", "aliases", "status", "created", "source run", "run status"]
    assert [c for c in frame.columns if c.startswith("metrics.")] == ["metrics.rmse", "metrics.mae"]
    assert frame.loc["v3", "holds"] == "production" and frame.loc["v3", "aliases"] == "production"
    assert frame.loc["v2", "metrics.rmse"] == 2.5 and frame.loc["v2", "tags"] == "team=search"
    assert frame.loc["v2", "promoted by"] == "alice" and frame.loc["v2", "promoted at"] is not None
    assert frame.loc["v1", "source run"] == f"run?run={view.version('1').run_id}"
    assert frame.loc["v1", "run status"] == "FINISHED" and not frame.loc["v1", "archived"]


def test_model_view_of_an_unknown_model_is_not_found(local):
    with pytest.raises(NotFound):
        model_view(local, "no-such-model")


def test_links_are_relative_and_quote_the_name():
    assert model_link("a b/<c>&d") == "models?model=a%20b%2F%3Cc%3E%26d"
