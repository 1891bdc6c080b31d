"""The benchmark's store builder, as its docstring tells a developer to run it."""

from __future__ import annotations

import json

from mlflow import MlflowClient

from bench import build_stores


def test_a_relative_out_folder_builds_a_store_mlflow_reads(tmp_path, monkeypatch):
    """`--out bench/.stores` (relative, as documented) once failed: MLflow's store wants a file URI
    for the artifacts, and a relative path has none."""
    monkeypatch.chdir(tmp_path)
    argv = ["--out", "stores", "--only", "registry", "--models", "2", "--versions", "3"]
    assert build_stores.main(argv) == 0

    manifest = json.loads((tmp_path / "stores" / "manifest.json").read_text())
    db = manifest["registry"]["db"]
    assert db == str(tmp_path / "stores" / "registry.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    assert len(client.search_registered_models()) == 2
