"""The best run of an experiment by one metric: what an assistant asks for before registering.

MLflow orders runs server-side, but a run without the metric would sort first in one direction and
last in the other depending on the backend, so the top page is read and the best value picked here,
among the runs that have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlflow import MlflowClient

from registry.domain.diff import metric_direction
from registry.errors import BadInput, NotFound
from registry.store.experiments import ExperimentInfo, get_experiment
from registry.store.runs import RunDetail, get_run, search_runs

Direction = Literal["max", "min"]
_TOP = 50


@dataclass(frozen=True)
class BestRun:
    experiment: ExperimentInfo
    metric: str
    direction: Direction
    value: float
    run: RunDetail


def best_run(
    client: MlflowClient,
    experiment: str,
    metric: str,
    direction: Direction | None = None,
    filter_string: str = "",
    finished_only: bool = True,
) -> BestRun:
    """The run of `experiment` (name or id) with the best `metric`; default direction by its name.

    Only FINISHED runs count unless `finished_only` is off; NotFound when no run has the metric.
    """
    metric = metric.strip().removeprefix("metrics.")
    if not metric or "`" in metric:
        raise BadInput(f"metric {metric!r}: give a metric name such as val_accuracy")
    direction = direction or metric_direction(metric)
    exp = get_experiment(client, experiment)
    clauses = [
        c for c in (filter_string.strip(), "attributes.status = 'FINISHED'" if finished_only else "") if c
    ]
    order = f"metrics.`{metric}` {'DESC' if direction == 'max' else 'ASC'}"
    page = search_runs(client, [exp.experiment_id], " and ".join(clauses), [order], _TOP)
    column = f"metrics.{metric}"
    scored = page.runs[page.runs[column].notna()] if column in page.runs.columns else page.runs.iloc[0:0]
    if scored.empty:
        raise NotFound(f"no {'FINISHED ' if finished_only else ''}run of {exp.name} has metric {metric}")
    best = scored.loc[scored[column].idxmax() if direction == "max" else scored[column].idxmin()]
    return BestRun(exp, metric, direction, float(best[column]), get_run(client, str(best["run_id"])))
