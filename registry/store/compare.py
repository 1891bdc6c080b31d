"""Reads for comparing runs: the chosen runs as one table, whatever experiments they belong to.

Runs picked for a comparison may come from several experiments, so they are fetched by id (one
request each, at most 50) rather than searched. An id that does not exist is reported back instead
of failing the whole comparison: a shared link may name a run that was deleted since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient

from registry.domain.diff import best_runs, check_run_ids, diff_table, only_differences
from registry.errors import BadInput, NotFound
from registry.store.client import translate_errors
from registry.store.runs import runs_to_frame


@dataclass(frozen=True)
class ComparedRuns:
    runs: pd.DataFrame  # runs_to_frame's columns, in the order asked for
    missing: list[str]  # ids that name no run


def load_runs(client: MlflowClient, run_ids: Sequence[str]) -> ComparedRuns:
    """The runs with these ids (2 to 50, checked) as one table; unknown ids are listed in `missing`."""
    found, missing = [], []
    for run_id in check_run_ids(run_ids):
        try:
            with translate_errors(f"get run {run_id}"):
                found.append(client.get_run(run_id))
        except BadInput:  # not found, or not even a well-formed id
            missing.append(run_id)
    return ComparedRuns(runs=runs_to_frame(found), missing=missing)


@dataclass(frozen=True)
class RunComparison:
    """At least two runs field by field: the whole table, its differing rows, the best run per metric."""

    runs: pd.DataFrame
    missing: list[str]
    table: pd.DataFrame  # diff_table: one row per field, one column per run id, and `differs`
    differences: pd.DataFrame
    best: dict[str, list[str]]


def compare_runs(client: MlflowClient, run_ids: Sequence[str]) -> RunComparison:
    """The runs compared; NotFound when fewer than two of them exist (nothing to compare)."""
    compared = load_runs(client, run_ids)
    if len(compared.runs) < 2:
        missing = ", ".join(compared.missing) or "none"
        raise NotFound(f"compare: fewer than 2 of the runs exist (missing: {missing})")
    table = diff_table(compared.runs)
    return RunComparison(compared.runs, compared.missing, table, only_differences(table), best_runs(table))
