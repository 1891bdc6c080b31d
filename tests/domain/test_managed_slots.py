"""Which aliases a model's lifecycle manages: the registry.slots tag, or slots in registry.toml."""

from __future__ import annotations

import pytest

from registry.domain.policy import DEFAULT_SLOTS, resolve_policy
from registry.errors import BadInput


def slots_of(
    tags: dict[str, str], override: dict[str, object] | None = None, stages: bool = False
) -> tuple[str, ...]:
    return resolve_policy(tags, override, uses_stages=stages, has_aliases=not stages).slots


def test_a_model_that_names_none_keeps_production_and_staging() -> None:
    assert slots_of({}) == DEFAULT_SLOTS == ("production", "staging")
    assert resolve_policy({}, None, False, False).primary_slot == "production"


def test_the_tag_lists_them_in_order_and_the_first_serves() -> None:
    policy = resolve_policy({"registry.slots": " champion, challenger ,shadow,champion"}, None, False, True)
    assert policy.slots == ("champion", "challenger", "shadow") and policy.primary_slot == "champion"
    assert (
        resolve_policy({"registry.slots": "shadow, production"}, None, False, True).primary_slot
        == "production"
    )


def test_the_config_file_wins_as_a_list_or_as_managed_beside_slot_tables() -> None:
    tags = {"registry.slots": "a, b"}
    assert slots_of(tags, {"slots": ["champion", "challenger"]}) == ("champion", "challenger")
    beside = {"slots": {"managed": ["champion"], "champion": {"movers": ["ada"]}}}
    assert slots_of(tags, beside) == ("champion",)
    assert slots_of(tags, {"slots": {"production": {"movers": ["ada"]}}}) == (
        "a",
        "b",
    )  # tables only: the tag


def test_a_slot_named_by_its_alias_is_found_and_any_other_is_refused_naming_the_managed_ones() -> None:
    policy = resolve_policy({}, None, False, True)
    assert policy.slot_named("prod", {"production": "prod", "staging": "staging"}) == "production"
    assert policy.slot_named("staging") == "staging"
    with pytest.raises(
        BadInput, match="'shadow' is not a slot this model manages: use one of production, staging"
    ):
        policy.slot_named("shadow")


@pytest.mark.parametrize("bad", ["latest", "v3", "archived", "has space", "x" * 21, "naïve"])
def test_names_mlflow_or_the_audit_cannot_hold_are_refused(bad: str) -> None:
    with pytest.raises(BadInput, match="cannot be a slot"):
        slots_of({"registry.slots": f"champion, {bad}"})


def test_stage_mode_keeps_production_and_staging_only() -> None:
    assert slots_of({"registry.slots": "production"}, stages=True) == ("production",)
    with pytest.raises(BadInput, match="stage mode, which has the Production and Staging stages only"):
        slots_of({"registry.slots": "champion, challenger"}, stages=True)
    with pytest.raises(BadInput, match="must be a list of alias names"):
        slots_of({}, {"slots": ["champion", 2]})
