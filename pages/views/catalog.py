"""Display tables for the Models and Overview pages, and the links between pages.

The service returns models and versions as data (registry.lifecycle.catalog); how they read as
tables, with which columns and which links, is the pages' business.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pandas as pd

from registry.domain.labels import holder_label
from registry.domain.times import parse_time
from registry.lifecycle.actions import TAG_ARCHIVED_AT, TAG_ARCHIVED_BY, TAG_PROMOTED_AT, TAG_PROMOTED_BY
from registry.lifecycle.catalog import Candidate, ModelRow, ModelView

MAX_METRIC_COLUMNS = 8


def _ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


# promotions ----------------------------------------------------------------------------------------


def model_link(name: str) -> str:
    """A relative link to a model's page (`models?model=...`), safe for any model name."""
    return f"models?model={quote(name, safe='')}"


def run_link(run_id: str | None) -> str | None:
    return f"run?run={quote(run_id, safe='')}" if run_id else None


def models_frame(rows: Sequence[ModelRow]) -> pd.DataFrame:
    """The models list: one row per model, production first-class."""
    return pd.DataFrame(
        [
            {
                "model": r.name,
                "open": model_link(r.name),
                "production": holder_label(r.production, r.primary_slot),
                "staging": f"v{r.staging}" if r.staging else "",
                "key metric": r.key_metric or "",
                "value": r.key_value,
                "latest": f"v{r.latest_version}" if r.latest_version else "",
                "mode": r.mode,
                "promoted by": r.promotion.by or "",
                "since": r.promotion.at,
                "updated": _ms(r.updated_ms),
                "description": r.description,
                "problem": r.problem,
            }
            for r in rows
        ],
        columns=[
            "model",
            "open",
            "production",
            "staging",
            "key metric",
            "value",
            "latest",
            "mode",
            "promoted by",
            "since",
            "updated",
            "description",
            "problem",
        ],
    )


def production_frame(rows: Sequence[ModelRow]) -> pd.DataFrame:
    """Production at a glance: model, version, key metric, since when and by whom."""
    return pd.DataFrame(
        [
            {
                "model": r.name,
                "open": model_link(r.name),
                "version": holder_label(r.production, r.primary_slot),
                "key metric": r.key_metric or "",
                "value": r.key_value,
                "since": r.promotion.at,
                "by": r.promotion.by or ("unknown (set outside the dashboard)" if not r.problem else ""),
                "source run": run_link(r.production_run),
                "problem": r.problem,
            }
            for r in rows
        ],
        columns=["model", "open", "version", "key metric", "value", "since", "by", "source run", "problem"],
    )


def candidates_frame(candidates: Sequence[Candidate]) -> pd.DataFrame:
    """What waits for a decision: a model's newest version next to what holds production now."""
    return pd.DataFrame(
        [
            {
                "model": c.model,
                "open": model_link(c.model),
                "version": f"v{c.version}",
                "production": f"v{c.production}" if c.production else "none yet",
                "staging": f"v{c.staging}" if c.staging else "",
                "registered": _ms(c.registered_ms),
                "source run": run_link(c.run_id),
            }
            for c in candidates
        ],
        columns=["model", "open", "version", "production", "staging", "registered", "source run"],
    )


def metric_columns(view: ModelView, limit: int = MAX_METRIC_COLUMNS) -> list[str]:
    """The key metric and the gate's first, then the others by name, at most `limit`."""
    first = [m for m in (view.key_metric, view.gate_metric) if m]
    others = sorted({k for v in view.versions for k in v.metrics})
    return list(dict.fromkeys(first + others))[:limit]


def versions_frame(view: ModelView, limit: int = MAX_METRIC_COLUMNS) -> pd.DataFrame:
    """The versions table: one row per version, newest first, metric columns prefixed `metrics.`."""
    metrics = metric_columns(view, limit)
    labels = "aliases" if view.mode == "aliases" else "stage"
    rows = []
    for v in view.versions:
        row: dict[str, Any] = {
            "version": f"v{v.version}",
            "holds": view.role_of(v.version),
            labels: ", ".join(v.aliases) if view.mode == "aliases" else v.stage,
            "status": v.status,
            "created": _ms(v.created_ms),
            "source run": run_link(v.run_id),
            "run status": v.run_status or "",
        }
        row.update({f"metrics.{k}": v.metrics.get(k) for k in metrics})
        row.update(
            {
                "tags": ", ".join(f"{k}={val}" for k, val in sorted(v.user_tags.items())),
                "promoted by": v.tags.get(TAG_PROMOTED_BY, ""),
                "promoted at": parse_time(v.tags.get(TAG_PROMOTED_AT)),
                "archived": v.archived,
                "archived by": v.tags.get(TAG_ARCHIVED_BY, ""),
                "archived at": parse_time(v.tags.get(TAG_ARCHIVED_AT)),
                "problem": v.problem,
            }
        )
        rows.append(row)
    columns = ["version", "holds", labels, "status", "created", "source run", "run status"]
    columns += [f"metrics.{k}" for k in metrics]
    columns += ["tags", "promoted by", "promoted at", "archived", "archived by", "archived at", "problem"]
    return pd.DataFrame(rows, columns=columns)


_HOW = {"observed": "first seen in MLflow", "outside": "changed in MLflow directly"}


def slots_frame(view: ModelView) -> pd.DataFrame:
    """One row per managed slot: its holder, who moved it last and when, and its history (the
    versions that held it, oldest first: what its rollback walks back)."""
    rows = [
        {
            "slot": s.slot,
            "alias" if view.mode == "aliases" else "stage": s.alias,
            "holds": f"v{s.holder}" if s.holder else "none",
            "since": s.set_at,
            "by": s.set_by or "",
            "how": _HOW.get(s.set_how, s.set_how),
            "history": " → ".join(f"v{v}" for v in s.chain),
            "rollback to": f"v{s.rollback_to}" if s.rollback_to else "",
        }
        for s in view.slots
    ]
    label = "alias" if view.mode == "aliases" else "stage"
    return pd.DataFrame(
        rows, columns=["slot", label, "holds", "since", "by", "how", "history", "rollback to"]
    )
