"""load_uris: the URI each slot resolves to, and a snippet that loads it, checked with MLflow itself."""

from __future__ import annotations

import ast

from registry.domain.load_uris import load_uris
from tests.factories import make_model


def test_alias_and_stage_slots_name_their_uri_and_current_version():
    aliases = load_uris("iris", "aliases", {"production": "3", "champion": "3", "staging": None})
    assert [(u.slot, u.uri, u.version) for u in aliases] == [
        ("production", "models:/iris@production", "3"),
        ("champion", "models:/iris@champion", "3"),
        ("staging", "models:/iris@staging", None),
    ]
    stages = load_uris("iris", "stages", {"production": "2", "staging": "4"})
    assert [u.uri for u in stages] == ["models:/iris/Production", "models:/iris/Staging"]


def test_the_snippet_is_python_and_quotes_any_name():
    [entry] = load_uris('o\'brien "x"', "aliases", {"production": "1"}, "http://mlflow:5000")
    tree = ast.parse(entry.snippet)  # valid Python whatever the name holds
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert 'models:/o\'brien "x"@production' in strings and "http://mlflow:5000" in strings
    assert "# v1 now" in entry.snippet


def test_mlflow_resolves_the_uri_to_the_version_that_holds_the_slot(http_settings, http_client, monkeypatch):
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    monkeypatch.setenv("MLFLOW_TRACKING_URI", http_settings.effective_tracking_uri)
    name = make_model(http_client, [{"acc": 0.8}, {"acc": 0.9}])
    http_client.set_registered_model_alias(name, "production", "2")
    [entry] = load_uris(name, "aliases", {"production": "2"})

    def where(uri: str) -> str:
        return ModelsArtifactRepository.get_underlying_uri(uri)

    assert where(entry.uri) == where(f"models:/{name}/2") != where(f"models:/{name}/1")
