"""Images logged per step (`mlflow.log_image(image, key=..., step=...)`), found in a run's artifacts.

MLflow 3.17.2 (`MlflowClient.log_image`) writes each such image twice under the run's `images/`
folder: `<key>+step+<step>+timestamp+<ms>+<uuid>.png` at full resolution and
`<key>+step+<step>+timestamp+<ms>+<uuid>+compressed.webp` as a small preview, with a `/` in the key
written as `~`; earlier versions used `%` where `+` is now. The file names are the only index, so
one listing of `images/` per run tells every key and step without opening a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlflow import MlflowClient

from registry.errors import NotFound
from registry.store.artifacts import download_artifact, list_artifacts

IMAGES_FOLDER = "images"
PREVIEW_MAX_BYTES = 5 * 1024 * 1024
_NAME = re.compile(
    r"^(?P<key>.+?)[+%]step[+%](?P<step>-?\d+)[+%]timestamp[+%](?P<ts>\d+)[+%](?P<uuid>[0-9A-Za-z-]+)"
    r"(?P<compressed>[+%]compressed)?\.(?P<ext>png|webp|jpe?g)$"
)


@dataclass(frozen=True)
class StepImage:
    """One logged image: its key and step, the full file and the (smaller) file to show."""

    run_id: str
    key: str
    step: int
    timestamp: int
    path: str
    preview_path: str


def parse_image_names(run_id: str, names: Sequence[str]) -> list[StepImage]:
    """The step images among artifact paths (`images/...`), ordered by key, step and time."""
    found: dict[tuple[str, int, int, str], dict[str, str]] = {}
    for path in names:
        match = _NAME.match(path.rsplit("/", 1)[-1])
        if not match:
            continue
        ident = (match["key"].replace("~", "/"), int(match["step"]), int(match["ts"]), match["uuid"])
        found.setdefault(ident, {})["preview" if match["compressed"] else "full"] = path
    images = []
    for (key, step, ts, _), files in found.items():
        full = files.get("full") or files["preview"]
        images.append(StepImage(run_id, key, step, ts, full, files.get("preview") or full))
    return sorted(images, key=lambda i: (i.key, i.step, i.timestamp))


def step_images(client: MlflowClient, run_id: str) -> list[StepImage]:
    """Every image the run logged with a key and step (none if it has no `images/` folder)."""
    try:
        entries = list_artifacts(client, run_id, IMAGES_FOLDER)
    except NotFound:
        return []
    return parse_image_names(run_id, [e.path for e in entries if not e.is_dir])


def image_at(images: Sequence[StepImage], key: str, step: int) -> StepImage | None:
    """The image of `key` shown at `step`: the last one logged at or before it (None before the first)."""
    candidates = [i for i in images if i.key == key and i.step <= step]
    return max(candidates, key=lambda i: (i.step, i.timestamp)) if candidates else None


def image_bytes(client: MlflowClient, run_id: str, path: str, max_bytes: int = PREVIEW_MAX_BYTES) -> bytes:
    """The bytes of one image file of a run (over `max_bytes` is Refused, as every download)."""
    return download_artifact(client, run_id, path, max_bytes)[1]
