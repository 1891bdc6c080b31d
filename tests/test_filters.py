"""Names in MLflow filter strings: one quoting, checked against MLflow's parser with every special
character (FIELD_NOTES: the parser does not undo `\\'` or `''`).

The worst case is two models whose names differ only by a backslash: `o'brien` and a model
literally named `o\\'brien`. Escaping `'` as `\\'` made the first read the second's versions, so a
promotion of o'brien was checked against another model's versions.
"""

from __future__ import annotations

import pytest

from registry.lifecycle.catalog import model_rows
from registry.service import Registry
from registry.store.experiments import search_experiments
from registry.store.filters import name_contains_filter, name_equals_filter
from registry.store.models import list_versions, search_models
from tests.factories import make_model, unique

SPECIAL = [
    "o'brien",
    "o\\'brien",
    'say "hi"',
    "both'\"quotes",
    "50%_off",
    "50x_off",
    "under_score",
    "underXscore",
    "a\\b",
    "back\\",
    'q\\"',
    "tick`name",
    "semi;colon -- dash",
    "ünïcödé",
    "%",
]


@pytest.mark.parametrize("name", SPECIAL)
def test_equality_filters_quote_so_the_parser_reads_the_name_back(name):
    quoted = name_equals_filter(name)
    if "'" in name and '"' in name:
        assert quoted is None  # cannot be written: callers search wider and compare in Python
    else:
        assert quoted is not None and "\\'" not in quoted.replace(name, "")


def test_a_name_holding_wildcards_matches_a_superset_on_the_server():
    assert name_contains_filter("") is None
    for text in ("%", "_", "'", '"', "\\", "50%_off"):
        pattern = name_contains_filter(text)
        assert pattern is not None and "%" not in pattern.removeprefix("name ILIKE '%").removesuffix("%'")


def test_every_model_reads_its_own_versions(any_settings):
    reg = Registry.connect(any_settings)
    prefix = unique("q")
    versions = {}
    for i, suffix in enumerate(SPECIAL):
        name = f"{prefix}{suffix}"
        count = 1 + i % 3
        make_model(reg.client, [{"acc": 0.5}] * count, name=name)
        versions[name] = count
    for name, count in versions.items():
        found = list_versions(reg.client, name)
        assert {v.model for v in found} == {name}, name
        assert len(found) == count, name
        assert reg.state(name).model.name == name


def test_searching_for_a_wildcard_finds_only_names_holding_it(any_settings):
    reg = Registry.connect(any_settings)
    prefix = unique("w")
    for suffix in SPECIAL:
        make_model(reg.client, [], name=f"{prefix}{suffix}")
    for needle in ("_", "%", "'", '"', "\\", "\\'", "50%_", "O'B", "ÜNÏ"):
        found = [m.name for m in search_models(reg.client, needle, max_results=1000).models]
        assert found, needle
        assert all(needle.lower() in n.lower() for n in found), (needle, found)
        ours = sorted(n for n in found if n.startswith(prefix))
        assert ours == sorted(f"{prefix}{s}" for s in SPECIAL if needle.lower() in s.lower()), needle
        rows = [r.name for r in model_rows(reg, needle, max_results=1000).rows]
        assert sorted(r for r in rows if r.startswith(prefix)) == ours, needle


def test_experiment_search_still_compares_exactly(sqlite_settings):
    reg = Registry.connect(sqlite_settings)
    for name in ("exp_a", "expXa", "exp%b"):
        reg.client.create_experiment(name, artifact_location=f"{sqlite_settings.local_artifact_root}/{name}")
    assert [e.name for e in search_experiments(reg.client, "_")] == ["exp_a"]
    assert [e.name for e in search_experiments(reg.client, "%")] == ["exp%b"]
