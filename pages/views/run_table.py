"""Shaping one page of runs for the runs table: nesting, column choice and server-side ordering.

Pure functions over the table `registry.store.runs.search_runs` returns. MLflow orders runs on the server
(that is what makes paging right), so a sort choice becomes an `order_by` clause and the URL keeps
that clause as it is (`?order=metrics.loss ASC`); duration is not a run attribute MLflow can order
by, so it is sorted within the page by the table's own header instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from registry.errors import BadInput
from registry.store.activity import ExperimentActivity

CHILD_MARK = "↳ "
# Table column → the attribute MLflow orders by.
ORDERABLE_ATTRIBUTES = {
    "start_time": "start_time",
    "end_time": "end_time",
    "run_name": "run_name",
    "status": "status",
    "user": "user_id",
}
DEFAULT_ORDER = "start_time DESC"
SUMMARY_COLUMNS = ["run_name", "status", "start_time", "duration_s", "user"]
FILTER_EXAMPLES = [
    "metrics.accuracy > 0.9",
    "params.lr = '0.01' AND metrics.loss < 0.5",
    "attributes.status = 'FINISHED'",
    "tags.team = 'search'",
    "attributes.run_name LIKE '%baseline%'",
]
_BARE_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_ORDER = re.compile(r"^(?P<column>.+?)(?:\s+(?P<direction>ASC|DESC))?$", re.IGNORECASE)


def nest_children(runs: pd.DataFrame) -> pd.DataFrame:
    """Children right after their parent (recursively), with `depth` and an indented `run_name`.

    Only parents on the same page can adopt their children; a child whose parent is on another page
    stays where the server put it, still marked as a child. Roots keep the server's order.
    """
    if runs.empty:
        return runs.assign(depth=pd.Series(dtype="int64"))
    ids = set(runs["run_id"])
    children: dict[str, list[int]] = {}
    roots: list[int] = []
    for position, parent in enumerate(runs["parent_run_id"]):
        if isinstance(parent, str) and parent and parent in ids:
            children.setdefault(parent, []).append(position)
        else:
            roots.append(position)
    order: list[tuple[int, int]] = []
    seen: set[int] = set()

    def visit(position: int, depth: int) -> None:
        if position in seen:  # a cycle in bad data: show each run once
            return
        seen.add(position)
        order.append((position, depth))
        for child in children.get(runs["run_id"].iloc[position], []):
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    for position in range(len(runs)):  # runs only reachable through a cycle
        visit(position, 0)
    positions, depths = zip(*order, strict=True)
    nested = runs.iloc[list(positions)].reset_index(drop=True)
    is_child = nested["parent_run_id"].map(lambda p: isinstance(p, str) and bool(p))
    nested["depth"] = [d if d else int(c) for d, c in zip(depths, is_child, strict=True)]
    nested["run_name"] = [
        "    " * max(d - 1, 0) + CHILD_MARK + str(name) if d else str(name)
        for name, d in zip(nested["run_name"], nested["depth"], strict=True)
    ]
    return nested


def column_groups(runs: pd.DataFrame) -> dict[str, list[str]]:
    """The columns a user can show, by group: summary, params, metrics, tags."""
    return {
        "summary": [c for c in [*SUMMARY_COLUMNS, "end_time", "parent_run_id"] if c in runs.columns],
        "params": [c for c in runs.columns if c.startswith("params.")],
        "metrics": [c for c in runs.columns if c.startswith("metrics.")],
        "tags": [c for c in runs.columns if c.startswith("tags.")],
    }


def default_columns(runs: pd.DataFrame, per_group: int = 8) -> list[str]:
    """Summary columns, then the first params and metrics: enough to read, few enough to fit."""
    groups = column_groups(runs)
    summary = [c for c in SUMMARY_COLUMNS if c in runs.columns]
    return summary + groups["metrics"][:per_group] + groups["params"][:per_group]


def order_clause(column: str, ascending: bool) -> str:
    """The `order_by` clause for a table column: `metrics.`my loss` ASC`, `start_time DESC`."""
    direction = "ASC" if ascending else "DESC"
    if column in ORDERABLE_ATTRIBUTES:
        return f"{ORDERABLE_ATTRIBUTES[column]} {direction}"
    prefix, _, key = column.partition(".")
    if prefix not in ("params", "metrics", "tags") or not key:
        raise BadInput(
            f"order: cannot sort by {column!r} on the server; choose a param, metric, tag or "
            f"one of {', '.join(ORDERABLE_ATTRIBUTES)}"
        )
    quoted = key if _BARE_KEY.fullmatch(key) else f"`{key}`"
    return f"{prefix}.{quoted} {direction}"


def parse_order(clause: str) -> tuple[str, bool]:
    """(table column, ascending) from an `order_by` clause, the inverse of `order_clause`."""
    match = _ORDER.match((clause or "").strip())
    if not match:
        raise BadInput("order: empty; write e.g. 'metrics.accuracy DESC' or 'start_time ASC'")
    column = match.group("column").strip()
    ascending = (match.group("direction") or "ASC").upper() == "ASC"
    column = re.sub(r"^(attributes|attribute|attr|run)\.", "", column)
    prefix, dot, key = column.partition(".")
    if dot and key.startswith("`") and key.endswith("`"):
        column = f"{prefix}.{key[1:-1]}"
    reverse = {attr: col for col, attr in ORDERABLE_ATTRIBUTES.items()}
    column = reverse.get(column, column)
    prefix = {"metric": "metrics", "param": "params", "parameter": "params", "tag": "tags"}.get(prefix)
    if prefix:
        column = f"{prefix}.{column.partition('.')[2]}"
    return column, ascending


def order_choices(runs: pd.DataFrame, current: str | None = None) -> list[str]:
    """Columns the server can sort by: the attributes, then every param, metric and tag on the page."""
    groups = column_groups(runs)
    choices = list(ORDERABLE_ATTRIBUTES) + groups["metrics"] + groups["params"] + groups["tags"]
    if current and current not in choices:
        choices.append(current)
    return choices


def visible_columns(runs: pd.DataFrame, chosen: Sequence[str]) -> list[str]:
    """run_id (hidden by the page, kept for selection), then the chosen columns this page has."""
    return ["run_id"] + [c for c in dict.fromkeys(chosen) if c in runs.columns and c != "run_id"]


def experiments_frame(activity: Sequence[ExperimentActivity]) -> pd.DataFrame:
    """Experiments at a glance, as MLflow's home page lists them: name, runs, last activity, id."""
    return pd.DataFrame(
        {
            "experiment": [e.name for e in activity],
            "runs": [e.runs for e in activity],
            "last activity": pd.to_datetime([e.last_activity for e in activity], utc=True),
            "id": [e.experiment_id for e in activity],
        },
        columns=["experiment", "runs", "last activity", "id"],
    )


HISTORY_STATS = ("min", "max", "mean", "last")


def history_column(metric: str, stat: str) -> str:
    return f"metrics.{metric} ({stat})"


def with_history_columns(
    runs: pd.DataFrame, stats: pd.DataFrame, metrics: Sequence[str], which: Sequence[str]
) -> pd.DataFrame:
    """The table with a column per (metric, statistic) of each run's whole history (mlflow#7790).

    `stats` is `registry.store.summaries.stats_frame` (run_id, key, min, max, mean, last, ...); a run
    that never logged the metric gets no value.
    """
    unknown = [w for w in which if w not in HISTORY_STATS]
    if unknown:
        raise BadInput(f"history columns: {', '.join(unknown)} is not one of {', '.join(HISTORY_STATS)}")
    out = runs.copy()
    for metric in metrics:
        of_metric = stats[stats["key"] == metric].set_index("run_id")
        for stat in which:
            out[history_column(metric, stat)] = out["run_id"].map(of_metric[stat]).astype("float64")
    return out
