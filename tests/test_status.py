"""Store status and capped counts for the Overview, on a fresh local store per test."""

from __future__ import annotations

import warnings

import pytest

from registry.service import Registry
from registry.settings import load_settings
from registry.store.status import Count, count_store, store_counts, store_status
from tests.factories import make_model, unique
from tests.run_data import make_run


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


def test_one_database_is_counted_exactly_as_the_clients_searches_count_it(local):
    """Made with the plain client: deleted experiments, runs and versions, and an MLflow 3 prompt (it
    shares the registry's tables) must count as MLflow's own searches count them."""
    client = local.client
    kept, dropped = client.create_experiment(unique("kept")), client.create_experiment(unique("dropped"))
    runs = [make_run(client, kept) for _ in range(6)]
    client.delete_run(runs[0])
    make_run(client, dropped)
    client.delete_experiment(dropped)
    name = unique("model")
    client.create_registered_model(name)
    for run_id in runs[1:4]:
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.delete_model_version(name, "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        prompt = client.register_prompt(name=unique("prompt"), template="Answer {{question}}")
        assert client.load_prompt(f"prompts:/{prompt.name}/1").template == "Answer {{question}}"

    counted = store_counts(local)
    by_client = count_store(client)

    assert (counted.experiments, counted.runs, counted.models, counted.versions) == (
        by_client.experiments, by_client.runs, by_client.models, by_client.versions,
    )  # fmt: skip
    assert counted.runs == Count(5)
    assert (counted.models, counted.versions) == (Count(1), Count(2))


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
