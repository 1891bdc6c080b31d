"""Small, real training recipes on scikit-learn's bundled datasets, for the demo store.

The demo must show what a real store looks like (loss curves that fall, a model that is better than
the last, one run that blew up) yet seed in well under a minute on two cores: every recipe trains a
small model for a few dozen epochs or boosting stages, with fixed seeds so the numbers, and hence the
promotion story told in `registry.training.demo`, come out the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import Ridge, SGDRegressor
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
_LOADERS: dict[str, Callable[..., Any]] = {"iris": load_iris, "wine": load_wine, "diabetes": load_diabetes}


@dataclass(frozen=True)
class Split:
    """A bundled dataset split once, the same way for every model trained on it."""

    dataset: str
    x_train: np.ndarray
    x_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    feature_names: list[str]
    class_names: list[str] | None  # None for regression

    @property
    def classes(self) -> np.ndarray:
        return np.arange(len(self.class_names or []))


@dataclass
class Trained:
    """A fitted model with what the run should record about it."""

    model: Any
    params: dict[str, Any]
    metrics: dict[str, float]  # final values only
    predictions: np.ndarray  # on the validation set
    history: dict[str, list[float]] = field(default_factory=dict)  # one value per epoch or stage
    probabilities: np.ndarray | None = None  # classifiers only


class TrainingDiverged(RuntimeError):
    """The loss exploded; carries the history up to that point so the failed run can still show it."""

    def __init__(self, message: str, params: dict[str, Any], history: dict[str, list[float]]):
        super().__init__(message)
        self.params = params
        self.history = history


def load_split(dataset: str) -> Split:
    """Hold out 30% (stratified for classification) with a fixed seed."""
    bunch = _LOADERS[dataset]()
    is_classifier = dataset != "diabetes"
    x_train, x_val, y_train, y_val = train_test_split(
        bunch.data,
        bunch.target,
        test_size=0.3,
        random_state=SEED,
        stratify=bunch.target if is_classifier else None,
    )
    return Split(
        dataset=dataset,
        x_train=x_train,
        x_val=x_val,
        y_train=y_train,
        y_val=y_val,
        feature_names=[str(name) for name in bunch.feature_names],
        class_names=[str(name) for name in bunch.target_names] if is_classifier else None,
    )


def train_by_epochs(
    split: Split, classifier: ClassifierMixin, params: dict[str, Any], epochs: int
) -> Trained:
    """Train a `partial_fit` classifier epoch by epoch on standardised features, recording the curves."""
    scaler = StandardScaler().fit(split.x_train)
    x_train, x_val = scaler.transform(split.x_train), scaler.transform(split.x_val)
    order = np.random.default_rng(SEED)
    history: dict[str, list[float]] = {
        "train_loss": [],
        "val_loss": [],
        "train_accuracy": [],
        "val_accuracy": [],
    }
    for _ in range(epochs):
        shuffled = order.permutation(len(x_train))
        classifier.partial_fit(x_train[shuffled], split.y_train[shuffled], classes=split.classes)
        for part, x, y in (("train", x_train, split.y_train), ("val", x_val, split.y_val)):
            history[f"{part}_loss"].append(log_loss(y, classifier.predict_proba(x), labels=split.classes))
            history[f"{part}_accuracy"].append(accuracy_score(y, classifier.predict(x)))
    model = Pipeline([("scale", scaler), ("classifier", classifier)])
    return _classified(split, model, {**params, "epochs": epochs}, history)


def train_boosted_classifier(split: Split, params: dict[str, Any]) -> Trained:
    """Gradient boosting; each boosting stage is one step of the validation curves."""
    model = GradientBoostingClassifier(random_state=SEED, **params).fit(split.x_train, split.y_train)
    history: dict[str, list[float]] = {"train_loss": [float(v) for v in model.train_score_]}
    history["val_loss"] = [
        log_loss(split.y_val, p, labels=split.classes) for p in model.staged_predict_proba(split.x_val)
    ]
    history["val_accuracy"] = [accuracy_score(split.y_val, p) for p in model.staged_predict(split.x_val)]
    return _classified(split, model, {"model": "gradient_boosting", **params}, history)


def train_ridge(split: Split, alpha: float) -> Trained:
    model = Pipeline([("scale", StandardScaler()), ("regressor", Ridge(alpha=alpha))])
    model.fit(split.x_train, split.y_train)
    predictions = model.predict(split.x_val)
    metrics = {
        "val_rmse": root_mean_squared_error(split.y_val, predictions),
        **_regression_scores(split, predictions),
    }
    return Trained(model, {"model": "ridge", "alpha": alpha}, metrics, predictions)


def train_boosted_regressor(split: Split, params: dict[str, Any]) -> Trained:
    model = GradientBoostingRegressor(random_state=SEED, **params).fit(split.x_train, split.y_train)
    history = {
        "train_rmse": [
            root_mean_squared_error(split.y_train, p) for p in model.staged_predict(split.x_train)
        ],
        "val_rmse": [root_mean_squared_error(split.y_val, p) for p in model.staged_predict(split.x_val)],
    }
    predictions = model.predict(split.x_val)
    return Trained(
        model,
        {"model": "gradient_boosting", **params},
        _regression_scores(split, predictions),
        predictions,
        history,
    )


def train_sgd_regressor(split: Split, eta0: float, epochs: int, blow_up_at: float = 1e6) -> Trained:
    """Plain SGD with a constant rate; raises TrainingDiverged once val_rmse passes `blow_up_at`."""
    scaler = StandardScaler().fit(split.x_train)
    x_train, x_val = scaler.transform(split.x_train), scaler.transform(split.x_val)
    regressor = SGDRegressor(learning_rate="constant", eta0=eta0, penalty=None, random_state=SEED)
    params = {"model": "sgd", "eta0": eta0, "epochs": epochs}
    history: dict[str, list[float]] = {"train_rmse": [], "val_rmse": []}
    for epoch in range(epochs):
        regressor.partial_fit(x_train, split.y_train)
        history["train_rmse"].append(root_mean_squared_error(split.y_train, regressor.predict(x_train)))
        history["val_rmse"].append(root_mean_squared_error(split.y_val, regressor.predict(x_val)))
        if not np.isfinite(history["val_rmse"][-1]) or history["val_rmse"][-1] > blow_up_at:
            raise TrainingDiverged(
                f"val_rmse {history['val_rmse'][-1]:.3g} after epoch {epoch + 1}: eta0={eta0} is too high",
                params,
                history,
            )
    model = Pipeline([("scale", scaler), ("regressor", regressor)])
    predictions = model.predict(split.x_val)
    return Trained(model, params, _regression_scores(split, predictions), predictions, history)


def run_artifacts(split: Split, trained: Trained) -> dict[str, Any]:
    """What a careful team keeps next to each model: plots, a report, the config and the predictions."""
    config = {
        "dataset": split.dataset,
        "seed": SEED,
        "features": split.feature_names,
        "params": trained.params,
    }
    predictions = pd.DataFrame(split.x_val, columns=split.feature_names)
    predictions["target"] = split.y_val
    predictions["prediction"] = trained.predictions
    artifacts: dict[str, Any] = {"config.json": config, "predictions.csv": predictions}
    if split.class_names is not None and trained.probabilities is not None:
        for index, name in enumerate(split.class_names):
            predictions[f"p_{name}"] = trained.probabilities[:, index]
        artifacts["classification_report.txt"] = classification_report(
            split.y_val, trained.predictions, target_names=split.class_names, zero_division=0
        )
        artifacts["plots/confusion_matrix.png"] = _confusion_matrix(split, trained)
    else:
        artifacts["report.txt"] = (
            "\n".join(f"{k}: {v:.4f}" for k, v in sorted(trained.metrics.items())) + "\n"
        )
        artifacts["plots/residuals.png"] = _residuals(split, trained)
    if trained.history:
        artifacts["plots/learning_curve.png"] = learning_curve(trained.history)
    return artifacts


def learning_curve(history: dict[str, list[float]]) -> Figure:
    """Loss (or RMSE) curves per step. Built on `Figure`, not pyplot, so no global state is touched."""
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for key, values in history.items():
        if not key.endswith("accuracy"):
            axes.plot(range(len(values)), values, label=key)
    axes.set_xlabel("step")
    axes.set_yscale("log" if max(max(v) for v in history.values()) > 1e3 else "linear")
    axes.legend()
    return figure


def _classified(split: Split, model: Any, params: dict[str, Any], history: dict[str, list[float]]) -> Trained:
    predictions = model.predict(split.x_val)
    metrics = {"val_f1_macro": f1_score(split.y_val, predictions, average="macro")}
    return Trained(model, params, metrics, predictions, history, model.predict_proba(split.x_val))


def _regression_scores(split: Split, predictions: np.ndarray) -> dict[str, float]:
    return {
        "val_mae": mean_absolute_error(split.y_val, predictions),
        "val_r2": r2_score(split.y_val, predictions),
    }


def _confusion_matrix(split: Split, trained: Trained) -> Figure:
    figure = Figure(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(
        split.y_val,
        trained.predictions,
        display_labels=split.class_names,
        ax=figure.subplots(),
        colorbar=False,
    )
    return figure


def _residuals(split: Split, trained: Trained) -> Figure:
    figure = Figure(figsize=(5, 4))
    axes = figure.subplots()
    axes.scatter(trained.predictions, split.y_val - trained.predictions, s=10)
    axes.axhline(0, color="grey", linewidth=1)
    axes.set_xlabel("prediction")
    axes.set_ylabel("residual")
    return figure
