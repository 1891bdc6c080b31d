"""Versions of many models read together: the grouping rule, and the reads on a hand-built registry."""

from __future__ import annotations

from mlflow import MlflowClient

from registry.store.models import BATCH_MODELS, BATCH_VERSIONS, _batches, read_versions
from tests.factories import unique
from tests.run_data import make_run


def test_each_search_returns_at_most_the_budget_and_a_model_too_long_for_one_is_read_alone():
    wanted = [("small", 9, 10), ("medium", 5, 400), ("long", 1, BATCH_VERSIONS + 5), ("late", 2, 700)]
    batches = _batches(sorted(wanted, key=lambda w: -w[1]))
    tops = {name: newest for name, _, newest in wanted}
    for names, lowest in batches:
        assert sum(tops[n] - lowest + 1 for n in names) <= BATCH_VERSIONS, (names, lowest)
    covered = [n for names, _ in batches for n in names]
    assert sorted(covered) == ["late", "medium", "small"]  # "long" alone would pass the budget
    assert len(covered) == len(set(covered))


def test_a_search_names_at_most_the_models_one_in_list_holds():
    wanted = [(f"m{i}", 1, 1) for i in range(BATCH_MODELS * 2 + 1)]
    batches = _batches(wanted)
    assert [len(names) for names, _ in batches] == [BATCH_MODELS, BATCH_MODELS, 1]


def test_versions_of_hand_made_models_come_as_get_model_version_gives_them(any_client: MlflowClient):
    client = any_client
    exp = client.create_experiment(unique("read versions"))
    names = [unique("plain"), unique("a,b (c) – ünï"), unique("o'brien"), unique("back\\slash 100%_")]
    wanted = []
    for i, name in enumerate(names):
        client.create_registered_model(name)
        for _ in range(3 + i):
            run_id = make_run(client, exp, metrics={"acc": 0.5})
            client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        wanted.append((name, "2", str(3 + i)))
    wanted.append((names[0], "99", "3"))  # gone, or never made: left out for the caller to read alone

    found = read_versions(client, wanted)

    # the name with a quote cannot be written in an IN list: it is left out, and read alone
    assert sorted(found) == sorted((n, "2") for n in names if "'" not in n)
    for (name, version), mv in found.items():
        alone = client.get_model_version(name, version)
        assert (mv.name, mv.version, mv.run_id, mv.source, mv.tags) == (
            alone.name, alone.version, alone.run_id, alone.source, alone.tags,
        )  # fmt: skip
