"""A unified diff of one text artifact between two runs: MLmodel, requirements.txt, a config.

Only text is compared: a file over the size cap is refused before it is downloaded, and bytes that
are not UTF-8 text (weights, pickles, images) are refused instead of producing a diff of noise.
A file that only one run has is compared with an empty file, so the diff shows it added or removed.

MLflow 3 keeps a logged model's files (MLmodel, requirements.txt, conda.yaml) with the logged model,
not with the run, so those are named `logged-model:<model name>/<file>` and read from each run's
logged model of that name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import PurePosixPath

from mlflow import MlflowClient
from mlflow.entities import LoggedModel

from registry.errors import NotFound, Refused
from registry.store.artifacts import (
    artifact_tree,
    download_artifact,
    download_model_artifact,
    list_model_artifacts,
    safe_path,
)
from registry.store.runs import fetch_run, logged_models_of

DIFF_MAX_BYTES = 1024 * 1024
DIFF_MAX_LINES = 5000
LOGGED_MODEL = "logged-model:"
_MAX_LOGGED_MODELS = 20


@dataclass(frozen=True)
class TextDiff:
    path: str
    diff: str  # unified diff text; empty when the two files are the same
    identical: bool
    only_in: str | None = None  # the run that has the file, when just one of them does
    truncated: bool = False


def as_text(content: bytes, what: str, max_bytes: int = DIFF_MAX_BYTES) -> str:
    """The bytes as text, or Refused when they are too many or not text."""
    if len(content) > max_bytes:
        raise Refused(f"{what}: {len(content):,} bytes is over the diff limit of {max_bytes:,}; download it")
    if b"\x00" in content[:8192]:
        raise Refused(f"{what}: binary file; only text files can be compared")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"{what}: not UTF-8 text; only text files can be compared") from exc


def unified_diff(
    old: str, new: str, old_name: str, new_name: str, context: int = 3, max_lines: int = DIFF_MAX_LINES
) -> tuple[str, bool]:
    """difflib's unified diff as one string (empty when equal), and whether it was cut at `max_lines`."""
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name, n=context
        )
    )
    cut = len(lines) > max_lines
    lines = [line if line.endswith("\n") else line + "\n" for line in lines[:max_lines]]
    return "".join(lines), cut


def _logged_models(client: MlflowClient, run_id: str) -> list[LoggedModel]:
    return logged_models_of(client, fetch_run(client, run_id), _MAX_LOGGED_MODELS)


def _logged_model_id(client: MlflowClient, run_id: str, model_name: str) -> str | None:
    for model in _logged_models(client, run_id):
        if model.name == model_name:
            return model.model_id
    return None


def _split_logged(path: str) -> tuple[str, str] | None:
    if not path.startswith(LOGGED_MODEL):
        return None
    name, _, inner = path[len(LOGGED_MODEL) :].partition("/")
    return name, safe_path(inner)


def _read(client: MlflowClient, run_id: str, path: str, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when the run does not have it; Refused over `max_bytes`."""
    logged = _split_logged(path)
    try:
        if logged is None:
            return download_artifact(client, run_id, path, max_bytes=max_bytes)[1]
        model_id = _logged_model_id(client, run_id, logged[0])
        if model_id is None:
            return None
        return download_model_artifact(client, model_id, logged[1], max_bytes=max_bytes)[1]
    except NotFound as exc:
        if str(exc).startswith("run "):
            raise  # the run itself is unknown: that is an error, not a missing file
        return None
    except Refused as exc:  # over the cap: say so in terms of the diff, not of a download
        raise Refused(
            f"{path} of run {run_id}: over the diff limit of {max_bytes:,} bytes; "
            "download it from the Run page"
        ) from exc


def artifact_diff(
    client: MlflowClient, old_run: str, new_run: str, path: str, max_bytes: int = DIFF_MAX_BYTES
) -> TextDiff:
    """The unified diff of `path` from `old_run` to `new_run` (a file only one has: against empty)."""
    if _split_logged(path) is None:
        path = safe_path(path)
    old = _read(client, old_run, path, max_bytes)
    new = _read(client, new_run, path, max_bytes)
    if old is None and new is None:
        raise NotFound(f"artifact {path!r}: neither run has it")
    old_text = as_text(old, f"{path} of run {old_run}", max_bytes) if old is not None else ""
    new_text = as_text(new, f"{path} of run {new_run}", max_bytes) if new is not None else ""
    only_in = old_run if new is None else new_run if old is None else None
    text, cut = unified_diff(
        old_text,
        new_text,
        f"{old_run[:8]}/{path}" if old is not None else "/dev/null",
        f"{new_run[:8]}/{path}" if new is not None else "/dev/null",
    )
    return TextDiff(path=path, diff=text, identical=not text, only_in=only_in, truncated=cut)


def diffable_paths(client: MlflowClient, run_ids: list[str], max_entries: int = 2000) -> list[str]:
    """Files any of the runs has, then the files of their logged models (`logged-model:<name>/<file>`)."""
    files: dict[str, None] = {}
    for run_id in run_ids:
        for entry in artifact_tree(client, run_id, max_entries).entries:
            if not entry.is_dir:
                files[entry.path] = None
    model_files: dict[str, None] = {}
    for run_id in run_ids:
        for model in _logged_models(client, run_id):
            for entry in list_model_artifacts(client, model.model_id):
                if not entry.is_dir:
                    name = PurePosixPath(entry.path).name
                    model_files[f"{LOGGED_MODEL}{model.name}/{name}"] = None
    return sorted(files) + sorted(model_files)
