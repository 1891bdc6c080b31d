"""Artifacts: list, preview and download files of runs and logged models, within size caps."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pandas as pd
import pytest
from mlflow import MlflowClient

from registry.errors import BadInput, NotFound, Refused, Unreachable
from registry.settings import Settings
from registry.store.artifacts import (
    ArtifactEntry,
    artifact_tree,
    download_artifact,
    download_model_artifact,
    list_artifacts,
    list_model_artifacts,
    model_artifact_tree,
    preview_artifact,
    preview_model_artifact,
    safe_path,
)
from registry.store.client import make_client
from tests.run_data import make_logged_model, make_run
from tests.stack import Stack, create_experiment, free_port

CAP = 10_000
CSV_ROWS = 1_500


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.plot([0, 1, 2], [2, 0, 1])
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


FILES: dict[str, bytes] = {
    "notes/readme.txt": "héllo, artifacts\n".encode(),
    "notes/deep/inner.md": b"# inner\n",
    "metrics.json": json.dumps({"accuracy": 0.93, "classes": ["cat", "dog"]}).encode(),
    "broken.json": b'{"accuracy": ',
    "config.yaml": b"lr: 0.1\nlayers: [64, 32]\n",
    "table.csv": ("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(CSV_ROWS))).encode(),
    "blob.bin": b"\x00\x01\x02binary\x00" * 10,
    "latin1.txt": "caf\xe9".encode("latin-1"),
    "big.txt": b"x" * (CAP + 1),
    "fits.txt": b"y" * CAP,
}


@dataclass
class Logged:
    run_id: str
    model_id: str
    png: bytes


@pytest.fixture(scope="module")
def logged(
    shared_client: MlflowClient, shared_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Logged:
    folder = tmp_path_factory.mktemp("to-log")
    files = dict(FILES, **{"plots/curve.png": _png()})
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    exp = create_experiment(shared_client, shared_settings)
    run_id = make_run(shared_client, exp, "with-files")
    shared_client.log_artifacts(run_id, str(folder))
    model_id = make_logged_model(shared_client, exp, run_id, files={"extra/labels.json": b'["cat", "dog"]'})
    return Logged(run_id, model_id, files["plots/curve.png"])


def test_listing_shows_folders_and_sizes(shared_client: MlflowClient, logged: Logged) -> None:
    root = {e.path: e for e in list_artifacts(shared_client, logged.run_id)}
    assert set(root) == {
        "notes", "plots", "metrics.json", "broken.json", "config.yaml", "table.csv", "blob.bin", "latin1.txt",
        "big.txt", "fits.txt",
    }  # fmt: skip
    assert root["notes"].is_dir and not root["metrics.json"].is_dir
    assert root["big.txt"].size == CAP + 1

    assert list_artifacts(shared_client, logged.run_id, "notes/") == [
        ArtifactEntry("notes/deep", True, None),
        ArtifactEntry("notes/readme.txt", False, len(FILES["notes/readme.txt"])),
    ]
    assert list_artifacts(shared_client, logged.run_id, "notes/readme.txt") == [
        ArtifactEntry("notes/readme.txt", False, len(FILES["notes/readme.txt"]))
    ]
    with pytest.raises(NotFound, match="'nope': not found in run"):
        list_artifacts(shared_client, logged.run_id, "nope")


def test_model_files_live_with_the_logged_model_not_the_run(
    shared_client: MlflowClient, logged: Logged
) -> None:
    assert "MLmodel" not in {e.path for e in list_artifacts(shared_client, logged.run_id)}
    model_files = {e.path for e in list_model_artifacts(shared_client, logged.model_id)}
    assert model_files == {"MLmodel", "weights.bin", "extra"}
    assert [e.path for e in model_artifact_tree(shared_client, logged.model_id).entries] == [
        "MLmodel", "extra", "weights.bin", "extra/labels.json",
    ]  # fmt: skip


def test_tree_is_recursive_and_bounded(shared_client: MlflowClient, logged: Logged) -> None:
    tree = artifact_tree(shared_client, logged.run_id)
    paths = {e.path for e in tree.entries}
    assert not tree.truncated
    assert {"notes/deep/inner.md", "notes/readme.txt", "plots/curve.png", "metrics.json"} <= paths
    assert len(paths) == len(FILES) + 1 + 3  # the png, and the folders notes, notes/deep, plots

    small = artifact_tree(shared_client, logged.run_id, max_entries=3)
    assert small.truncated and len(small.entries) == 3


def test_previews_by_kind(shared_client: MlflowClient, logged: Logged) -> None:
    def preview(path: str):
        return preview_artifact(shared_client, logged.run_id, path, max_bytes=CAP)

    text = preview("notes/readme.txt")
    assert (text.kind, text.text, text.truncated) == ("text", "héllo, artifacts\n", False)
    assert preview("metrics.json").data == {"accuracy": 0.93, "classes": ["cat", "dog"]}
    broken = preview("broken.json")
    assert broken.kind == "text" and "not valid JSON" in broken.message
    assert preview("config.yaml").data == {"lr": 0.1, "layers": [64, 32]}
    image = preview("plots/curve.png")
    assert image.kind == "image" and image.image == logged.png
    assert preview("blob.bin").kind == "binary"
    assert preview("latin1.txt").kind == "binary"
    assert preview("fits.txt").kind == "text"

    table = preview_artifact(shared_client, logged.run_id, "table.csv", max_bytes=1_000_000)
    assert table.kind == "csv" and table.truncated
    assert isinstance(table.table, pd.DataFrame) and list(table.table.columns) == ["a", "b"]
    assert len(table.table) == 1_000 and table.table["b"].iloc[-1] == 999 * 999


def test_a_file_over_the_cap_is_refused_without_downloading_it(
    shared_client: MlflowClient, shared_settings: Settings, logged: Logged, request: pytest.FixtureRequest
) -> None:
    big = preview_artifact(shared_client, logged.run_id, "big.txt", max_bytes=CAP)

    assert big.kind == "too_large" and big.size == CAP + 1
    assert "over the preview limit of 9.8 KiB" in big.message
    with pytest.raises(Refused, match="over the dashboard's download limit"):
        download_artifact(shared_client, logged.run_id, "big.txt", max_bytes=CAP)
    if shared_settings.effective_tracking_uri.startswith("http"):
        stack: Stack = request.getfixturevalue("stack")
        gets = [
            line for line in (stack.tmpdir / "mlflow-server.log").read_text().splitlines() if '"GET ' in line
        ]
        preview_artifact(shared_client, logged.run_id, "fits.txt", max_bytes=CAP)
        gets_after = (stack.tmpdir / "mlflow-server.log").read_text()
        assert f"{logged.run_id}/artifacts/fits.txt HTTP" in gets_after  # a download shows in the access log
        assert not [line for line in gets if f"{logged.run_id}/artifacts/big.txt HTTP" in line]


def test_download_returns_name_and_bytes(shared_client: MlflowClient, logged: Logged) -> None:
    assert download_artifact(shared_client, logged.run_id, "plots/curve.png") == ("curve.png", logged.png)
    assert download_model_artifact(shared_client, logged.model_id, "extra/labels.json") == (
        "labels.json", b'["cat", "dog"]',
    )  # fmt: skip
    mlmodel = preview_model_artifact(shared_client, logged.model_id, "MLmodel")
    assert mlmodel.kind == "yaml" and mlmodel.data["model_id"] == logged.model_id


@pytest.mark.parametrize(
    "path", ["../secrets.txt", "notes/../../x", "/etc/passwd", "~/x", "..\\x", "s3://bucket/key", "a\x00b"]
)
def test_paths_that_leave_the_root_are_refused(
    shared_client: MlflowClient, logged: Logged, path: str
) -> None:
    with pytest.raises(BadInput, match="artifact path"):
        preview_artifact(shared_client, logged.run_id, path)
    with pytest.raises(BadInput, match="artifact path"):
        list_artifacts(shared_client, logged.run_id, path)


def test_safe_path_normalizes_harmless_forms() -> None:
    assert safe_path("./notes//readme.txt") == "notes/readme.txt"
    assert safe_path("notes/", allow_root=True) == "notes"
    assert safe_path("", allow_root=True) == ""


def test_missing_things_are_not_found(shared_client: MlflowClient, logged: Logged) -> None:
    with pytest.raises(NotFound, match=r"'notes/none\.txt': not found in run"):
        preview_artifact(shared_client, logged.run_id, "notes/none.txt")
    with pytest.raises(BadInput, match="is a folder"):
        preview_artifact(shared_client, logged.run_id, "notes")
    with pytest.raises(NotFound, match="no such run"):
        list_artifacts(shared_client, "0123456789abcdef0123456789abcdef")
    with pytest.raises(NotFound, match="no such model"):
        list_model_artifacts(shared_client, "m-0123456789abcdef0123456789abcdef")


def test_direct_s3_store_that_is_down_is_unreachable(
    stack: Stack, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct SQL store with artifacts in S3: the client talks to S3 itself."""
    settings = make_settings("sqlite")
    client = make_client(settings)
    exp = client.create_experiment("direct-s3", artifact_location=f"s3://{stack.bucket}/direct")
    run_id = make_run(client, exp, "direct")
    client.log_text(run_id, "hello", "hello.txt")
    assert preview_artifact(client, run_id, "hello.txt").text == "hello"

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", dead)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(Unreachable, match="list artifacts of run"):
        preview_artifact(client, run_id, "hello.txt")


def test_a_wide_csv_is_cut_to_a_drawable_number_of_columns():
    """870 KB with 100,000 columns took 95 s to draw when the run opened (issue 12)."""
    from registry.store.artifacts import PREVIEW_MAX_CSV_COLUMNS, classify

    header = ",".join(f"c{i}" for i in range(100_000))
    row = ",".join("1" for _ in range(100_000))
    preview = classify("wide.csv", f"{header}\n{row}\n{row}\n".encode())
    assert preview.kind == "csv" and preview.table is not None
    assert preview.table.shape == (2, PREVIEW_MAX_CSV_COLUMNS) and preview.truncated
    assert "100,000 columns" in (preview.message or "")


def test_a_corrupt_or_huge_image_says_so_instead_of_failing():
    import io

    from PIL import Image

    from registry.store.artifacts import classify

    corrupt = classify("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50)
    assert corrupt.kind == "binary" and "not a readable image" in (corrupt.message or "")

    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")  # 400 megapixels, a few KB on disk
    huge = classify("huge.png", buffer.getvalue())
    assert huge.kind == "binary" and "too large to draw" in (huge.message or "")

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    assert classify("small.png", buffer.getvalue()).kind == "image"
