"""Store status and capped counts for the Overview, on a fresh local store per test."""

from __future__ import annotations

import pytest

from registry.service import Registry
from registry.settings import load_settings
from registry.store.status import Count, count_store, store_status
from tests.factories import make_model


@pytest.fixture
def local(sqlite_settings) -> Registry:
    return Registry.connect(sqlite_settings)


def test_counts_are_exact_under_the_caps_and_say_so_above(local):
    make_model(local.client, [{"acc": 0.1}] * 3)
    make_model(local.client, [{"acc": 0.1}] * 2)

    exact = count_store(local.client)
    assert (exact.experiments, exact.runs, exact.models, exact.versions) == (
        Count(3),
        Count(5),
        Count(2),
        Count(5),
    )

    capped = count_store(local.client, page=2, max_pages=1, run_cap=4)
    assert capped.experiments == Count(2, capped=True)
    assert capped.runs == Count(4, capped=True)
    assert capped.models == Count(2)  # the store knew the page was the last one
    assert capped.versions == Count(2, capped=True)
    assert str(Count(1000, capped=True)) == "1,000+" and str(Count(7)) == "7"


def test_every_store_answers_and_the_artifact_store_needs_a_run(local):
    statuses = {s.store: s for s in store_status(local)}
    assert list(statuses) == ["tracking store", "model registry", "artifact store", "audit log"]
    assert statuses["tracking store"].reachable and statuses["model registry"].reachable
    assert statuses["audit log"].reachable
    assert statuses["artifact store"].reachable is None and statuses["artifact store"].label == "not checked"

    make_model(local.client, [{"acc": 0.1}])
    statuses = {s.store: s for s in store_status(local)}
    assert statuses["artifact store"].reachable, statuses["artifact store"].detail


def test_a_dead_store_is_reported_in_its_row_not_raised(sqlite_settings, tmp_path):
    broken = load_settings(
        home=tmp_path,
        tracking_uri="http://127.0.0.1:9",  # nothing listens on the discard port
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        http_timeout_s=2,
    )
    statuses = {s.store: s for s in store_status(Registry.connect(broken))}
    assert (
        statuses["tracking store"].reachable is False
        and "did not answer" in statuses["tracking store"].detail
    )
    assert statuses["artifact store"].reachable is False
    assert statuses["audit log"].reachable
