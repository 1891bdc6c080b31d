"""train_from_spec: the allow-list, JSON-only params and caps hold; a fit gives the documented metrics."""

from __future__ import annotations

import pytest

from registry.domain.model_specs import DATASETS, ESTIMATORS, train_from_spec
from registry.errors import BadInput


def test_classifier_on_iris_logs_every_param_and_validation_metrics():
    trained = train_from_spec("LogisticRegression", "iris", {"C": 0.5, "max_iter": 500}, seed=1)
    assert set(trained.metrics) == {"val_accuracy", "val_f1_macro"}
    assert 0.8 < trained.metrics["val_accuracy"] <= 1.0
    assert trained.params["C"] == "0.5" and trained.params["estimator"] == "LogisticRegression"
    assert trained.params["dataset"] == "iris" and trained.params["random_state"] == "1"
    assert list(trained.input_example.columns) == list(trained.model.feature_names_in_)


def test_regressor_on_diabetes():
    trained = train_from_spec("RandomForestRegressor", "diabetes", {"n_estimators": 10, "max_depth": 3})
    assert set(trained.metrics) == {"val_rmse", "val_mae", "val_r2"}
    assert trained.task == "regression"


def test_same_spec_same_numbers():
    spec = ("GradientBoostingClassifier", "wine", {"n_estimators": 20})
    assert train_from_spec(*spec).metrics == train_from_spec(*spec).metrics


def test_every_dataset_has_an_estimator_of_its_task():
    for _, task in DATASETS.values():
        assert any(t == task for _, t in ESTIMATORS.values())


@pytest.mark.parametrize(
    ("estimator", "dataset", "params", "message"),
    [
        ("os.system", "iris", {}, "not allowed"),
        ("LogisticRegresion", "iris", {}, "did you mean LogisticRegression"),
        ("LogisticRegression", "mnist", {}, "choose one of iris"),
        ("Ridge", "iris", {}, "regression estimator but iris is a classification dataset"),
        ("LogisticRegression", "iris", {"CC": 1}, "did you mean C"),
        ("LogisticRegression", "iris", {"C": [1, 2]}, "only a string, number"),
        ("LogisticRegression", "iris", {"C": float("nan")}, "not a finite number"),
        ("LogisticRegression", "iris", {"max_iter": 10**7}, "above this server's limit"),
        ("RandomForestClassifier", "iris", {"n_jobs": -1}, "cannot be set here"),
        ("LogisticRegression", "iris", {"C": "lots"}, "'C' parameter of LogisticRegression"),
        ("SVC", "iris", {"kernel": "x" * 500}, "at most 100 characters"),
    ],
)
def test_refusals_name_what_is_allowed(estimator, dataset, params, message):
    with pytest.raises(BadInput, match=message):
        train_from_spec(estimator, dataset, params)


def test_test_size_is_bounded():
    with pytest.raises(BadInput, match="test_size"):
        train_from_spec("LogisticRegression", "iris", test_size=0.9)
