"""Images logged per step (`mlflow.log_image(key=..., step=...)`): their files, and the one a step shows.

Pure rules over artifact names, so the chart's image strip and its tests need no store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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


def image_at(images: Sequence[StepImage], key: str, step: int) -> StepImage | None:
    """The image of `key` shown at `step`: the last one logged at or before it (None before the first)."""
    candidates = [i for i in images if i.key == key and i.step <= step]
    return max(candidates, key=lambda i: (i.step, i.timestamp)) if candidates else None
