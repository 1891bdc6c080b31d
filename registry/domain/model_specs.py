"""Train a small scikit-learn model from a JSON spec: how an assistant makes a model to track.

An assistant can only send JSON, and nothing it sends is unpickled, imported by name or evaluated:
the estimator is looked up in an allow-list of scikit-learn classes, its params must be JSON scalars
named among that class's own parameters, and the data is one of scikit-learn's bundled datasets,
split the same way every time. Iteration counts are capped so one call cannot tie up the server.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from registry.errors import BadInput

Task = Literal["classification", "regression"]
ParamValue = str | int | float | bool | None

_PAIRS: tuple[tuple[type, Task], ...] = (
    (LogisticRegression, "classification"),
    (DecisionTreeClassifier, "classification"),
    (RandomForestClassifier, "classification"),
    (ExtraTreesClassifier, "classification"),
    (GradientBoostingClassifier, "classification"),
    (KNeighborsClassifier, "classification"),
    (SVC, "classification"),
    (LinearRegression, "regression"),
    (Ridge, "regression"),
    (Lasso, "regression"),
    (ElasticNet, "regression"),
    (DecisionTreeRegressor, "regression"),
    (RandomForestRegressor, "regression"),
    (ExtraTreesRegressor, "regression"),
    (GradientBoostingRegressor, "regression"),
    (KNeighborsRegressor, "regression"),
    (SVR, "regression"),
)
ESTIMATORS: dict[str, tuple[type, Task]] = {cls.__name__: (cls, task) for cls, task in _PAIRS}
DATASETS: dict[str, tuple[Callable[..., Any], Task]] = {
    "iris": (load_iris, "classification"),
    "wine": (load_wine, "classification"),
    "breast_cancer": (load_breast_cancer, "classification"),
    "diabetes": (load_diabetes, "regression"),
}
# Params that set how much work a fit does, with the most one call may ask for.
PARAM_CAPS: dict[str, int] = {"n_estimators": 500, "max_iter": 10_000, "n_neighbors": 100}
# Params that would reach outside the estimator: parallel workers and console output.
FORBIDDEN_PARAMS = frozenset({"n_jobs", "verbose"})
TEST_SIZE_RANGE = (0.1, 0.5)
MAX_TEXT_PARAM = 100


@dataclass(frozen=True)
class TrainedSpec:
    """A fitted model with what its run should record: every param, validation metrics, an example."""

    model: Any
    task: Task
    params: dict[str, str]
    metrics: dict[str, float]
    input_example: pd.DataFrame


def train_from_spec(
    estimator: str,
    dataset: str,
    params: Mapping[str, ParamValue] | None = None,
    *,
    test_size: float = 0.3,
    seed: int = 0,
) -> TrainedSpec:
    """Fit the allow-listed `estimator` with `params` on `dataset` and score it on a held-out split.

    Raises BadInput, naming what is allowed, for an unknown estimator or dataset, an estimator whose
    task does not fit the dataset, an unknown or non-scalar param, a capped param set too high, or a
    value scikit-learn itself rejects.
    """
    cls, task = _estimator(estimator)
    load, data_task = _dataset(dataset)
    if task != data_task:
        raise BadInput(
            f"{estimator} is a {task} estimator but {dataset} is a {data_task} dataset; "
            f"choose one of: {', '.join(name for name, (_, t) in ESTIMATORS.items() if t == data_task)}"
        )
    if not TEST_SIZE_RANGE[0] <= test_size <= TEST_SIZE_RANGE[1]:
        raise BadInput(f"test_size: {test_size} is not between {TEST_SIZE_RANGE[0]} and {TEST_SIZE_RANGE[1]}")
    chosen = _check_params(cls, dict(params or {}))
    if "random_state" in cls().get_params() and "random_state" not in chosen:
        chosen["random_state"] = seed

    bunch = load(as_frame=True)
    x_train, x_val, y_train, y_val = train_test_split(
        bunch.data,
        bunch.target,
        test_size=test_size,
        random_state=seed,
        stratify=bunch.target if task == "classification" else None,
    )
    model = cls(**chosen)
    try:
        model.fit(x_train, y_train)
    except (ValueError, TypeError) as exc:  # scikit-learn's own parameter validation
        raise BadInput(f"{estimator}: {_first_line(str(exc))}") from exc
    predictions = model.predict(x_val)
    metrics = _score(task, y_val, predictions)
    logged = {k: str(v) for k, v in model.get_params(deep=False).items()}
    logged.update(estimator=estimator, dataset=dataset, test_size=str(test_size), seed=str(seed))
    return TrainedSpec(model, task, logged, metrics, x_val.head(5).reset_index(drop=True))


def describe_allowed() -> str:
    """One line per task for tool descriptions and error messages."""
    lines = []
    for task in ("classification", "regression"):
        names = ", ".join(n for n, (_, t) in ESTIMATORS.items() if t == task)
        data = ", ".join(n for n, (_, t) in DATASETS.items() if t == task)
        lines.append(f"{task}: estimators {names}; datasets {data}")
    return "\n".join(lines)


def _estimator(name: str) -> tuple[type, Task]:
    if name in ESTIMATORS:
        return ESTIMATORS[name]
    close = difflib.get_close_matches(name, list(ESTIMATORS), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise BadInput(f"estimator {name!r} is not allowed{hint}\nAllowed:\n{describe_allowed()}")


def _dataset(name: str) -> tuple[Callable[..., Any], Task]:
    if name in DATASETS:
        return DATASETS[name]
    raise BadInput(f"dataset {name!r}: choose one of {', '.join(DATASETS)}")


def _check_params(cls: type, params: dict[str, Any]) -> dict[str, ParamValue]:
    known = cls().get_params(deep=False)
    for key, value in params.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
            raise BadInput(f"{cls.__name__} has no parameter {key!r}{hint}")
        if key in FORBIDDEN_PARAMS:
            raise BadInput(f"{cls.__name__}: {key} cannot be set here; the server decides it")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise BadInput(f"{cls.__name__}.{key}: only a string, number, boolean or null is accepted")
        if isinstance(value, str) and len(value) > MAX_TEXT_PARAM:
            raise BadInput(f"{cls.__name__}.{key}: a text value is at most {MAX_TEXT_PARAM} characters")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInput(f"{cls.__name__}.{key}: {value} is not a finite number")
        cap = PARAM_CAPS.get(key)
        if cap is not None and isinstance(value, int | float) and value > cap:
            raise BadInput(f"{cls.__name__}.{key}: {value} is above this server's limit of {cap}")
    return dict(params)


def _score(task: Task, y_true: Any, predictions: Any) -> dict[str, float]:
    if task == "classification":
        return {
            "val_accuracy": float(accuracy_score(y_true, predictions)),
            "val_f1_macro": float(f1_score(y_true, predictions, average="macro")),
        }
    return {
        "val_rmse": float(root_mean_squared_error(y_true, predictions)),
        "val_mae": float(mean_absolute_error(y_true, predictions)),
        "val_r2": float(r2_score(y_true, predictions)),
    }


def _first_line(text: str, limit: int = 300) -> str:
    return (text.strip().splitlines() or [""])[0][:limit]
