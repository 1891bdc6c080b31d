"""Images logged per step (`mlflow.log_image(image, key=..., step=...)`), found in a run's artifacts.

MLflow 3.17.2 (`MlflowClient.log_image`) writes each such image twice under the run's `images/`
folder: `<key>+step+<step>+timestamp+<ms>+<uuid>.png` at full resolution and
`<key>+step+<step>+timestamp+<ms>+<uuid>+compressed.webp` as a small preview, with a `/` in the key
written as `~`; earlier versions used `%` where `+` is now. The file names are the only index, so
one listing of `images/` per run tells every key and step without opening a file.
"""

from __future__ import annotations

from mlflow import MlflowClient

# The names and the step rule are pure (registry.domain.step_images); importing them from here works.
from registry.domain.step_images import StepImage as StepImage
from registry.domain.step_images import image_at as image_at
from registry.domain.step_images import parse_image_names as parse_image_names
from registry.errors import NotFound
from registry.store.artifacts import download_artifact, list_artifacts

IMAGES_FOLDER = "images"
PREVIEW_MAX_BYTES = 5 * 1024 * 1024


def step_images(client: MlflowClient, run_id: str) -> list[StepImage]:
    """Every image the run logged with a key and step (none if it has no `images/` folder)."""
    try:
        entries = list_artifacts(client, run_id, IMAGES_FOLDER)
    except NotFound:
        return []
    return parse_image_names(run_id, [e.path for e in entries if not e.is_dir])


def image_bytes(client: MlflowClient, run_id: str, path: str, max_bytes: int = PREVIEW_MAX_BYTES) -> bytes:
    """The bytes of one image file of a run (over `max_bytes` is Refused, as every download)."""
    return download_artifact(client, run_id, path, max_bytes)[1]
