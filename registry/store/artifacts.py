"""Artifacts of runs and of MLflow 3 logged models: list, preview and download, with size caps.

A preview must never pull a 5 GB checkpoint into the dashboard's memory, so the size is read from
the listing before anything is downloaded, and the file on disk is checked again before it is read.
Downloads go to a temporary folder that is removed afterwards.

MLflow 3 stores a logged model's files under `models/m-<id>/artifacts/`, not under its run, so
models have their own functions; they reach the files through the logged model's
`artifact_location`, which works against a server that proxies S3 (`mlflow-artifacts:/...`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote

import mlflow.artifacts
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import FileInfo

from registry.errors import BadInput, NotFound, Refused, Unreachable
from registry.settings import Settings
from registry.store.client import translate_errors

PreviewKind = Literal["text", "json", "yaml", "csv", "image", "binary", "too_large"]
DEFAULT_PREVIEW_MAX_BYTES: int = Settings.model_fields["preview_max_bytes"].default
DEFAULT_DOWNLOAD_MAX_BYTES = 200 * 1024 * 1024
PREVIEW_MAX_TEXT_CHARS = 200_000
PREVIEW_MAX_CSV_ROWS = 1_000
# Columns are capped too: a 100,000-column CSV is small on disk and took 95 s to draw.
PREVIEW_MAX_CSV_COLUMNS = 200
# Beyond this an image is not drawn in the page (decoding and scaling it costs seconds and memory).
PREVIEW_MAX_IMAGE_PIXELS = 40_000_000
_IMAGE_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
    ".bmp": (b"BM",),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL, newlines, escapes: no file name needs them
_DRIVE = re.compile(r"[A-Za-z]:")  # C:\ or C:/ on a Windows artifact store
_YAML_NAMES = {"MLmodel"}
_YAML_SUFFIXES = {".yaml", ".yml"}
_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_TOO_DEEP = "nested too deeply to show as a tree: shown as text"


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True)
class ArtifactTree:
    entries: list[ArtifactEntry]
    truncated: bool


@dataclass(frozen=True)
class Preview:
    """What a page needs to show one file; `message` says why there is nothing to show, if so."""

    path: str
    kind: PreviewKind
    size: int | None
    text: str | None = None
    truncated: bool = False
    data: Any = None
    table: pd.DataFrame | None = None
    image: bytes | None = None
    message: str = ""


@dataclass(frozen=True)
class _Owner:
    """A run or a logged model: where its files are listed from and downloaded from."""

    label: str  # "run <id>" or "model <id>"
    list_files: Callable[[str | None], list[FileInfo]]
    download: Callable[[str, str], str]  # (relative path, destination folder) -> local path


def _decodings(raw: str) -> list[str]:
    """The path and every form a store or server on the way might turn it into: percent-decoded
    (repeatedly, for double encoding) and Unicode-normalized (fullwidth `．．／` is `../` in NFKC)."""
    forms = [raw]
    for _ in range(3):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms + [unicodedata.normalize("NFKC", f) for f in forms]


def safe_path(path: str, allow_root: bool = False) -> str:
    """A normalized relative artifact path; anything that could leave the artifact root is refused.

    Every decoding of the path is checked, not only the text as given: `%2e%2e/` is an odd folder
    name on disk, but `../` to a server that decodes it.
    """
    raw = (path or "").strip()
    for form in _decodings(raw):
        if "\\" in form or "://" in form or _CONTROL.search(form) or _DRIVE.match(form):
            raise BadInput(f"artifact path {path!r}: use a relative path with forward slashes")
        if PurePosixPath(form).is_absolute() or form.startswith("~"):
            raise BadInput(f"artifact path {path!r}: must be relative to the artifact root")
        if ".." in PurePosixPath(form).parts:
            raise BadInput(f"artifact path {path!r}: '..' is not allowed")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if not parts and not allow_root:
        raise BadInput("artifact path: name a file")
    return "/".join(parts)


def _run_owner(client: MlflowClient, run_id: str) -> _Owner:
    with translate_errors(f"get run {run_id}"):
        try:
            client.get_run(run_id)
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"run {run_id}: no such run") from exc
            raise
    return _Owner(
        label=f"run {run_id}",
        list_files=lambda p: client.list_artifacts(run_id, p),
        download=lambda p, dst: client.download_artifacts(run_id, p, dst),
    )


def _model_owner(client: MlflowClient, model_id: str) -> _Owner:
    with translate_errors(f"get logged model {model_id}"):
        try:
            location = client.get_logged_model(model_id).artifact_location.rstrip("/")
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"logged model {model_id}: no such model") from exc
            raise
    return _Owner(
        label=f"model {model_id}",
        list_files=lambda p: client.list_logged_model_artifacts(model_id, p),
        download=lambda p, dst: mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location}/{p}", dst_path=dst, tracking_uri=client.tracking_uri
        ),
    )


@contextmanager
def _artifact_errors(what: str) -> Iterator[None]:
    """`translate_errors`, plus a clearer message when a proxying server cannot reach its S3.

    The server then answers HTTP 500, which MLflow's client reports as "too many 500 error
    responses" from the tracking server, though it just answered us: the store behind it is down.
    """
    try:
        with translate_errors(what):
            yield
    except Unreachable as exc:
        if "500 error responses" not in str(exc.__cause__ or ""):
            raise
        raise Unreachable(
            f"{what}: the tracking server answered, but could not read its artifact store (HTTP 500); "
            "check the server's artifact destination (S3 endpoint, bucket, credentials)"
        ) from exc


def _entries(owner: _Owner, path: str) -> list[ArtifactEntry]:
    with _artifact_errors(f"list artifacts of {owner.label}"):
        infos = owner.list_files(path or None)
    return [ArtifactEntry(path=i.path, is_dir=bool(i.is_dir), size=i.file_size) for i in infos]


def _find(owner: _Owner, path: str) -> ArtifactEntry:
    """The listing entry of one file or folder, found in its parent's listing (object stores list
    a file's own path as empty, exactly like a missing path)."""
    parent = str(PurePosixPath(path).parent)
    for entry in _entries(owner, "" if parent == "." else parent):
        if entry.path.rstrip("/") == path:
            return entry
    raise NotFound(f"artifact {path!r}: not found in {owner.label}")


def _list(owner: _Owner, path: str) -> list[ArtifactEntry]:
    path = safe_path(path, allow_root=True)
    entries = _entries(owner, path)
    if entries or not path:
        return entries
    entry = _find(owner, path)  # a file, or NotFound
    return [entry]


def _tree(owner: _Owner, max_entries: int) -> ArtifactTree:
    found: list[ArtifactEntry] = []
    folders = [""]
    while folders:
        for entry in _entries(owner, folders.pop(0)):
            if len(found) >= max_entries:
                return ArtifactTree(entries=found, truncated=True)
            found.append(entry)
            if entry.is_dir:
                folders.append(entry.path)
    return ArtifactTree(entries=found, truncated=False)


def _fetch(owner: _Owner, path: str, max_bytes: int) -> tuple[ArtifactEntry, bytes | None]:
    """The file's bytes, or None when it is bigger than `max_bytes` (then nothing is downloaded)."""
    path = safe_path(path)
    entry = _find(owner, path)
    if entry.is_dir:
        raise BadInput(f"artifact {path!r} in {owner.label} is a folder; list it instead")
    if entry.size is not None and entry.size > max_bytes:
        return entry, None
    with tempfile.TemporaryDirectory(prefix="registry-artifact-") as folder:
        with _artifact_errors(f"download {path} of {owner.label}"):
            local = Path(owner.download(path, folder))
        size = local.stat().st_size  # the listing may have had no size, or the file changed since
        if size > max_bytes:
            return ArtifactEntry(path, False, size), None
        return ArtifactEntry(path, False, size), local.read_bytes()


def classify(path: str, content: bytes, max_chars: int = PREVIEW_MAX_TEXT_CHARS) -> Preview:
    """Decide how to show a file from its name and its bytes (pure: no store involved)."""
    name = PurePosixPath(path)
    suffix = name.suffix.lower()
    size = len(content)
    if suffix in _IMAGE_MAGIC and content.startswith(_IMAGE_MAGIC[suffix]):
        return _image_preview(path, content)
    if b"\x00" in content[:8192]:
        return Preview(path, "binary", size, message="binary file: download it to open it")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return Preview(path, "binary", size, message="not UTF-8 text: download it to open it")
    shown, cut = text[:max_chars], len(text) > max_chars
    if suffix == ".json":
        try:
            return Preview(path, "json", size, text=shown, truncated=cut, data=json.loads(text))
        except ValueError as exc:
            return Preview(path, "text", size, text=shown, truncated=cut, message=f"not valid JSON: {exc}")
        except RecursionError:  # `[[[[...` a few thousand deep: valid, and too deep for Python's parser
            return Preview(path, "text", size, text=shown, truncated=cut, message=_TOO_DEEP)
    if suffix in _YAML_SUFFIXES or name.name in _YAML_NAMES:
        try:
            return Preview(path, "yaml", size, text=shown, truncated=cut, data=yaml.safe_load(text))
        except yaml.YAMLError as exc:
            return Preview(path, "text", size, text=shown, truncated=cut, message=f"not valid YAML: {exc}")
        except RecursionError:
            return Preview(path, "text", size, text=shown, truncated=cut, message=_TOO_DEEP)
    if suffix in _CSV_SEPARATORS:
        return _table_preview(path, text, _CSV_SEPARATORS[suffix], shown, cut)
    return Preview(path, "text", size, text=shown, truncated=cut)


def _table_preview(path: str, text: str, sep: str, shown: str, cut: bool) -> Preview:
    """At most PREVIEW_MAX_CSV_ROWS rows and PREVIEW_MAX_CSV_COLUMNS columns: what is cheap to draw."""
    size = len(text.encode("utf-8"))
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep), [])
    columns = len(header)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            nrows=PREVIEW_MAX_CSV_ROWS + 1,
            usecols=range(min(columns, PREVIEW_MAX_CSV_COLUMNS)) if columns else None,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        return Preview(path, "text", size, text=shown, truncated=cut, message=f"not a readable table: {exc}")
    rows_cut = len(table) > PREVIEW_MAX_CSV_ROWS
    message = None
    if columns > PREVIEW_MAX_CSV_COLUMNS:
        message = f"the first {PREVIEW_MAX_CSV_COLUMNS} of {columns:,} columns; download the file for all"
    return Preview(
        path,
        "csv",
        size,
        table=table.head(PREVIEW_MAX_CSV_ROWS),
        truncated=rows_cut or columns > PREVIEW_MAX_CSV_COLUMNS,
        message=message or "",
    )


def _image_preview(path: str, content: bytes) -> Preview:
    """An image the browser can draw cheaply, or why not: a corrupt file or too many pixels."""
    from PIL import Image, UnidentifiedImageError

    size = len(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                if width * height > PREVIEW_MAX_IMAGE_PIXELS:
                    message = f"{width}×{height} pixels is too large to draw here: download it to open it"
                    return Preview(path, "binary", size, message=message)
                image.verify()
    except Image.DecompressionBombError:
        return Preview(path, "binary", size, message="too many pixels, too large to draw here: download it")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return Preview(path, "binary", size, message=f"not a readable image ({exc}): download it to open it")
    return Preview(path, "image", size, image=content)


def _preview(owner: _Owner, path: str, max_bytes: int) -> Preview:
    entry, content = _fetch(owner, path, max_bytes)
    if content is None:
        return Preview(
            entry.path,
            "too_large",
            entry.size,
            message=f"{_human(entry.size)} is over the preview limit of {_human(max_bytes)}: download it",
        )
    return classify(entry.path, content)


def _download(owner: _Owner, path: str, max_bytes: int) -> tuple[str, bytes]:
    entry, content = _fetch(owner, path, max_bytes)
    if content is None:
        raise Refused(
            f"artifact {entry.path!r} of {owner.label} is {_human(entry.size)}, over the dashboard's "
            f"download limit of {_human(max_bytes)}; fetch it with `mlflow artifacts download`"
        )
    return PurePosixPath(entry.path).name, content


def _human(size: int | None) -> str:
    if size is None:
        return "an unknown size"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def list_artifacts(client: MlflowClient, run_id: str, path: str = "") -> list[ArtifactEntry]:
    """One folder of a run's artifacts (the root by default); a file path lists just that file."""
    return _list(_run_owner(client, run_id), path)


def artifact_tree(client: MlflowClient, run_id: str, max_entries: int = 2000) -> ArtifactTree:
    """All of a run's artifacts, breadth first, stopping at `max_entries` (then `truncated`)."""
    return _tree(_run_owner(client, run_id), max_entries)


def preview_artifact(
    client: MlflowClient, run_id: str, path: str, max_bytes: int = DEFAULT_PREVIEW_MAX_BYTES
) -> Preview:
    """How to show one file of a run; files over `max_bytes` are not downloaded (kind too_large)."""
    return _preview(_run_owner(client, run_id), path, max_bytes)


def download_artifact(
    client: MlflowClient, run_id: str, path: str, max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES
) -> tuple[str, bytes]:
    """(file name, bytes) of one file of a run, for a download button; over `max_bytes` is Refused."""
    return _download(_run_owner(client, run_id), path, max_bytes)


def list_model_artifacts(client: MlflowClient, model_id: str, path: str = "") -> list[ArtifactEntry]:
    """One folder of a logged model's files (`MLmodel`, weights, environment files)."""
    return _list(_model_owner(client, model_id), path)


def model_artifact_tree(client: MlflowClient, model_id: str, max_entries: int = 2000) -> ArtifactTree:
    return _tree(_model_owner(client, model_id), max_entries)


def preview_model_artifact(
    client: MlflowClient, model_id: str, path: str, max_bytes: int = DEFAULT_PREVIEW_MAX_BYTES
) -> Preview:
    return _preview(_model_owner(client, model_id), path, max_bytes)


def download_model_artifact(
    client: MlflowClient, model_id: str, path: str, max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES
) -> tuple[str, bytes]:
    return _download(_model_owner(client, model_id), path, max_bytes)
