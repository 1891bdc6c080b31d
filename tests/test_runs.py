"""Runs: paged search as a table, filters that explain themselves, and one run's whole story."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from mlflow import MlflowClient

from registry.errors import BadInput, NotFound
from registry.settings import Settings
from registry.store.runs import BASE_COLUMNS, get_run, search_runs
from tests.run_data import make_logged_model, make_run, register_logged_model
from tests.stack import create_experiment, unique_name


@dataclass
class Runs:
    experiment_id: str
    by_name: dict[str, str]


@pytest.fixture(scope="module")
def five_runs(shared_client: MlflowClient, shared_settings: Settings) -> Runs:
    """Five trained runs and one with only a rare param, shared by the read-only tests of a backend."""
    exp = create_experiment(shared_client, shared_settings)
    by_name = {}
    for i, acc in enumerate([0.55, 0.71, 0.93, 0.88, 0.62]):
        by_name[f"r{i}"] = make_run(
            shared_client, exp, f"r{i}",
            params={"lr": f"0.{i + 1}", "optimizer": "adam" if i % 2 else "sgd"},
            metrics={"accuracy": acc, "loss": 1 - acc},
            tags={"team": "vision"},
        )  # fmt: skip
    by_name["rare"] = make_run(shared_client, exp, "rare", params={"rare_param": "y"})
    return Runs(exp, by_name)


def test_pages_walk_every_run_once(shared_client: MlflowClient, five_runs: Runs) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search_runs(shared_client, five_runs.experiment_id, max_results=2, page_token=token)
        assert len(page.runs) <= 2
        seen += list(page.runs["run_id"])
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(five_runs.by_name.values())


def test_table_has_fixed_columns_then_params_metrics_tags(
    shared_client: MlflowClient, five_runs: Runs
) -> None:
    frame = search_runs(shared_client, [five_runs.experiment_id], order_by=["attributes.run_name ASC"]).runs

    assert list(frame.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert list(frame.columns[len(BASE_COLUMNS) :]) == [
        "params.lr", "params.optimizer", "params.rare_param", "metrics.accuracy", "metrics.loss", "tags.team"
    ]  # fmt: skip
    r2 = frame.set_index("run_name").loc["r2"]
    assert r2["metrics.accuracy"] == pytest.approx(0.93)
    assert r2["params.lr"] == "0.3"
    assert r2["status"] == "FINISHED"
    assert isinstance(r2["start_time"], pd.Timestamp) and str(r2["start_time"].tz) == "UTC"
    assert r2["duration_s"] >= 0
    assert pd.isna(frame.set_index("run_name").loc["rare", "metrics.accuracy"])


def test_filter_and_order_by_are_applied_by_the_store(shared_client: MlflowClient, five_runs: Runs) -> None:
    page = search_runs(
        shared_client, five_runs.experiment_id, "metrics.accuracy > 0.7 AND params.optimizer = 'adam'",
        order_by=["metrics.accuracy DESC"],
    )  # fmt: skip
    assert list(page.runs["run_name"]) == ["r3", "r1"]


def test_a_filter_that_matches_nothing_is_just_empty(shared_client: MlflowClient, five_runs: Runs) -> None:
    assert search_runs(shared_client, five_runs.experiment_id, "metrics.accuracy > 2").runs.empty
    # the key exists, only on a run without the value: not a typo
    assert search_runs(shared_client, five_runs.experiment_id, "params.rare_param = 'x'").runs.empty
    # IS NULL of a tag nobody set is true for every run
    assert len(search_runs(shared_client, five_runs.experiment_id, "tags.nobody IS NULL").runs) == 6


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.9", "unknown column 'metrics.acc'; did you mean metrics.accuracy?"),
        ("params.learning_rate = '0.1'", "unknown column 'params.learning_rate'"),
        ("accuracy > 0.9", "'accuracy' is not a run attribute; did you mean metrics.accuracy?"),
        ("banana > 1", "prefix with metrics., params., tags. or attributes."),
        ("params.lr = 0.1", "put the value in single quotes"),
        ("metrics.accuracy > 0.5 OR metrics.loss < 0.1", "AND only"),
        ("metrics.accuracy >", "write conditions like"),
    ],
)
def test_bad_filters_say_what_to_do(
    shared_client: MlflowClient, five_runs: Runs, filter_string: str, expected: str
) -> None:
    with pytest.raises(BadInput) as err:
        search_runs(shared_client, five_runs.experiment_id, filter_string)
    assert str(err.value).startswith("filter: ")
    assert expected in str(err.value)
    assert "{" not in str(err.value)  # no Python set reprs from MLflow's message


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("metrics.acuracy DESC", "unknown column 'metrics.acuracy'; did you mean metrics.accuracy?"),
        ("accuracy", "did you mean metrics.accuracy?"),
        ("metrics.accuracy DOWN", "write e.g. 'metrics.accuracy DESC'"),
    ],
)
def test_bad_order_by_says_what_to_do(
    shared_client: MlflowClient, five_runs: Runs, order_by: str, expected: str
) -> None:
    with pytest.raises(BadInput) as err:
        search_runs(shared_client, five_runs.experiment_id, order_by=[order_by])
    assert str(err.value).startswith("order_by: ")
    assert expected in str(err.value)


def test_limits_are_checked(shared_client: MlflowClient, five_runs: Runs) -> None:
    with pytest.raises(BadInput, match="max_results"):
        search_runs(shared_client, five_runs.experiment_id, max_results=0)
    with pytest.raises(BadInput, match="at least one experiment"):
        search_runs(shared_client, [])


def test_run_detail_links_parent_children_models_and_versions(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    exp = create_experiment(any_client, any_settings)
    parent = make_run(
        any_client, exp, "sweep",
        params={"n_trials": "2"}, metrics={"best_accuracy": 0.9},
        tags={"team": "vision", "mlflow.source.git.commit": "abc123", "mlflow.source.name": "train.py",
              "mlflow.source.type": "LOCAL"},
    )  # fmt: skip
    kids = {make_run(any_client, exp, f"trial-{i}", parent_run_id=parent) for i in range(2)}
    model_id = make_logged_model(any_client, exp, parent, name="clf")
    name = unique_name("model")
    any_client.create_registered_model(name)
    from_model = register_logged_model(any_client, name, model_id)
    from_run = any_client.create_model_version(name, f"runs:/{parent}/model", run_id=parent).version

    detail = get_run(any_client, parent)

    assert detail.info.run_name == "sweep"
    assert detail.info.status == "FINISHED"
    assert detail.info.git_commit == "abc123"
    assert (detail.info.source_name, detail.info.source_type) == ("train.py", "LOCAL")
    assert detail.info.experiment_id == exp
    assert detail.info.artifact_uri
    assert detail.params == {"n_trials": "2"}
    assert detail.metrics == {"best_accuracy": 0.9}
    assert detail.tags == {"team": "vision"}
    assert detail.system_tags["mlflow.source.git.commit"] == "abc123"
    assert detail.parent_run_id is None
    assert {c.run_id for c in detail.children} == kids
    assert [(m.model_id, m.name) for m in detail.logged_models] == [(model_id, "clf")]
    assert [(v.name, v.version) for v in detail.model_versions] == [(name, from_model), (name, str(from_run))]
    assert detail.model_versions[0].source == f"models:/{model_id}"

    child = get_run(any_client, next(iter(kids)))
    assert child.parent_run_id == parent
    assert child.children == [] and child.logged_models == [] and child.model_versions == []


@pytest.mark.parametrize("run_id", ["0123456789abcdef0123456789abcdef", "no'such"])
def test_unknown_run_is_not_found(shared_client: MlflowClient, run_id: str) -> None:
    with pytest.raises(NotFound, match="no such run"):
        get_run(shared_client, run_id)
