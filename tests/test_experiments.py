"""Experiments: the picker finds what the user typed, and a miss says what was close."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest
from mlflow import MlflowClient

from registry.errors import BadInput, NotFound
from registry.settings import Settings
from registry.store.experiments import get_experiment, search_experiments
from tests.stack import create_experiment


def _names(found: list) -> list[str]:
    return [e.name for e in found]


def test_search_matches_substring_case_insensitively_sorted_by_name(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:8]
    for name in (f"Zeta-{tag}", f"alpha-{tag}", f"Beta-{tag}", f"unrelated-{uuid.uuid4().hex[:8]}"):
        create_experiment(any_client, any_settings, name, tags={"team": "vision"})

    found = search_experiments(any_client, name_contains=tag.upper())

    assert _names(found) == [f"Beta-{tag}", f"Zeta-{tag}", f"alpha-{tag}"]  # MLflow sorts by byte order
    first = found[0]
    assert first.lifecycle_stage == "active"
    assert first.tags == {"team": "vision"}
    assert first.artifact_location
    assert first.creation_time is not None and first.creation_time.tzinfo == UTC


def test_like_wildcards_and_quotes_in_the_text_are_matched_literally(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:8]
    for name in (f"x_y-{tag}", f"xzy-{tag}", f"50%-{tag}", f"500-{tag}", f"it's-{tag}"):
        create_experiment(any_client, any_settings, name)

    assert _names(search_experiments(any_client, f"x_y-{tag}")) == [f"x_y-{tag}"]
    assert _names(search_experiments(any_client, f"50%-{tag}")) == [f"50%-{tag}"]
    assert _names(search_experiments(any_client, f"it's-{tag}")) == [f"it's-{tag}"]


def test_views_separate_active_and_deleted(any_client: MlflowClient, any_settings: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    create_experiment(any_client, any_settings, f"kept-{tag}")
    gone = create_experiment(any_client, any_settings, f"gone-{tag}")
    any_client.delete_experiment(gone)

    assert _names(search_experiments(any_client, tag)) == [f"kept-{tag}"]
    assert _names(search_experiments(any_client, tag, view="deleted")) == [f"gone-{tag}"]
    assert _names(search_experiments(any_client, tag, view="all")) == [f"gone-{tag}", f"kept-{tag}"]
    with pytest.raises(BadInput, match="choose one of active, deleted, all"):
        search_experiments(any_client, tag, view="archived")  # type: ignore[arg-type]


def test_get_by_id_by_name_and_by_an_all_digit_name(any_client: MlflowClient, any_settings: Settings) -> None:
    name = f"by-name-{uuid.uuid4().hex[:8]}"
    exp_id = create_experiment(any_client, any_settings, name)
    digits = str(uuid.uuid4().int)[:15]
    digit_id = create_experiment(any_client, any_settings, digits)

    assert get_experiment(any_client, exp_id).name == name
    assert get_experiment(any_client, name).experiment_id == exp_id
    assert get_experiment(any_client, digits).experiment_id == digit_id


def test_unknown_experiment_is_not_found_with_close_names(
    any_client: MlflowClient, any_settings: Settings
) -> None:
    name = f"churn-model-{uuid.uuid4().hex[:6]}"
    create_experiment(any_client, any_settings, name)

    with pytest.raises(NotFound) as err:
        get_experiment(any_client, name[:-1] + "x")
    assert "no experiment with that id or name" in str(err.value)
    assert f"did you mean '{name}'" in str(err.value)

    with pytest.raises(NotFound, match="'99999999'"):
        get_experiment(any_client, "99999999")
    with pytest.raises(BadInput, match="give an experiment id or name"):
        get_experiment(any_client, "  ")
