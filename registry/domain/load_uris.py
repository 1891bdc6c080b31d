"""How to load a model: the `models:/` URI each slot resolves to, and a snippet to paste.

A team serving a model wants the line for its serving code, not the registry's vocabulary: in alias
mode a slot is `models:/name@alias`, in stage mode `models:/name/Production`. The URI always
resolves to whatever holds the slot when it is loaded, which is why each comes with the version it
serves now. Pure: the page and the CLI pass in the holders they read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

STAGE_SLOTS = {"production": "Production", "staging": "Staging"}


@dataclass(frozen=True)
class LoadUri:
    slot: str  # the alias (alias mode) or the lower-case stage (stage mode)
    uri: str
    version: str | None  # what it serves now; None: loading it fails until a version holds it
    snippet: str


def slot_uri(model: str, mode: str, slot: str) -> str:
    if mode == "stages":
        return f"models:/{model}/{STAGE_SLOTS.get(slot, slot.capitalize())}"
    return f"models:/{model}@{slot}"


def snippet(uri: str, version: str | None, tracking_uri: str | None = None) -> str:
    """Python that loads the URI with MLflow's generic pyfunc loader (a repr keeps any name quoted)."""
    lines = ["import mlflow", ""]
    if tracking_uri:
        lines.append(f"mlflow.set_tracking_uri({tracking_uri!r})")
    now = f"  # v{version} now" if version else "  # nothing holds this slot yet"
    lines.append(f"model = mlflow.pyfunc.load_model({uri!r}){now}")
    lines.append("predictions = model.predict(data)")
    return "\n".join(lines)


def load_uris(
    model: str, mode: str, holders: Mapping[str, str | None], tracking_uri: str | None = None
) -> list[LoadUri]:
    """One entry per slot, in the order given (production first by convention)."""
    return [
        LoadUri(slot, uri, version, snippet(uri, version, tracking_uri))
        for slot, version in holders.items()
        for uri in (slot_uri(model, mode, slot),)
    ]
