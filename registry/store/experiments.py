"""Experiments: list them and find one by id or name.

Pages take an experiment as the user typed it (an id from a URL, a name from a link), so lookup
accepts either, and a miss says which names were close instead of just "not found".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from mlflow import MlflowClient
from mlflow.entities import Experiment, ViewType

from registry.errors import BadInput, NotFound
from registry.store.client import translate_errors
from registry.store.filters import contains, name_contains_filter

View = Literal["active", "deleted", "all"]
_VIEW_TYPES = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
_PAGE = 1000
_MAX_EXPERIMENTS = 20_000


@dataclass(frozen=True)
class ExperimentInfo:
    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: datetime | None = None
    last_update_time: datetime | None = None


def ms_to_datetime(ms: int | None) -> datetime | None:
    """MLflow stores milliseconds since the epoch; pages show aware UTC datetimes."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def to_experiment_info(exp: Experiment) -> ExperimentInfo:
    return ExperimentInfo(
        experiment_id=str(exp.experiment_id),
        name=exp.name,
        lifecycle_stage=exp.lifecycle_stage,
        artifact_location=exp.artifact_location,
        tags=dict(exp.tags or {}),
        creation_time=ms_to_datetime(exp.creation_time),
        last_update_time=ms_to_datetime(exp.last_update_time),
    )


def search_experiments(
    client: MlflowClient, name_contains: str = "", view: View = "active"
) -> list[ExperimentInfo]:
    """Experiments whose name contains `name_contains` (case-insensitive), sorted by name.

    All matching pages are read: an experiment list is short next to runs, and a picker that shows
    only the first page hides the experiment the user is looking for.
    """
    if view not in _VIEW_TYPES:
        raise BadInput(f"view {view!r}: choose one of {', '.join(_VIEW_TYPES)}")
    needle = name_contains.strip()
    found: list[ExperimentInfo] = []
    token: str | None = None
    with translate_errors("search experiments"):
        while True:
            page = client.search_experiments(
                view_type=_VIEW_TYPES[view],
                max_results=_PAGE,
                filter_string=name_contains_filter(name_contains.strip()),
                order_by=["name ASC"],
                page_token=token,
            )
            found.extend(to_experiment_info(e) for e in page if contains(e.name, needle))
            token = page.token
            if not token or len(found) >= _MAX_EXPERIMENTS:
                break
    return found


def get_experiment(client: MlflowClient, id_or_name: str) -> ExperimentInfo:
    """The experiment with this id, or else with this name (a name may be all digits)."""
    key = str(id_or_name).strip()
    if not key:
        raise BadInput("experiment: give an experiment id or name")
    with translate_errors(f"get experiment {key}"):
        if key.isdigit():
            try:
                return to_experiment_info(client.get_experiment(key))
            except Exception as exc:  # not an id after all: try it as a name below
                if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                    raise
        exp = client.get_experiment_by_name(key)
    if exp is not None:
        return to_experiment_info(exp)
    names = [e.name for e in search_experiments(client, view="all")]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
    raise NotFound(f"experiment {key!r}: no experiment with that id or name{hint}")


def has_experiments(client: MlflowClient) -> bool:
    """Whether the store holds any experiment besides MLflow's Default (two rows read at most)."""
    with translate_errors("look for existing experiments"):
        return any(e.name != "Default" for e in client.search_experiments(max_results=2))
