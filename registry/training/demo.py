"""Fill an empty store with a realistic demo: experiments, curves, a failed run, a search, models.

A new user should see every page of the dashboard do something useful within a minute of starting
it, and the tests need a store with known content. Everything here is real training (see
`registry.training.demo_training`), logged through `track_model` like any user's model, and the promotion
history goes through the lifecycle service so the audit log, aliases and stages agree and rollback
has somewhere to go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from itertools import product
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier

from registry.errors import BadInput
from registry.settings import Settings
from registry.store.client import make_client, translate_errors
from registry.store.filters import name_equals_filter
from registry.training import demo_training as training
from registry.training.tracking import ensure_experiment, log_artifacts, log_results, open_run, track_model

if TYPE_CHECKING:
    from registry.service import Registry

Progress = Callable[[float, str], None]

IRIS, WINE, DIABETES = "iris-classification", "wine-quality", "diabetes-regression"
DEMO_EXPERIMENTS = (IRIS, WINE, DIABETES)
SEED_ACTOR = "seed-demo"
EPOCHS = 30
# A version is tagged validation=passed when its key metric clears the bar, so the required-tags guard
# has one version to refuse (iris v4) and the others to let through.
MIN_VAL_ACCURACY = 0.85
MAX_VAL_RMSE = 60.0

# Registered-model tags configure the lifecycle (see registry.domain.policy); one model per style.
DEMO_MODELS: dict[str, dict[str, Any]] = {
    "iris-classifier": {
        "description": "Iris species from petal and sepal sizes. Alias style: @production, @staging.",
        "tags": {
            "registry.mode": "aliases",
            "registry.key_metric": "val_accuracy",
            "registry.gate.metric": "val_accuracy",
            "registry.gate.direction": "max",
            "registry.gate.tolerance": "0.02",
            "team": "botany",
        },
    },
    "wine-classifier": {
        "description": "Wine cultivar from its chemistry. Stage style: Staging, Production, Archived.",
        "tags": {
            "registry.mode": "stages",
            "registry.key_metric": "val_accuracy",
            "registry.gate.metric": "val_accuracy",
            "registry.gate.direction": "max",
            "registry.gate.tolerance": "0.02",
            "registry.required_tags": "validation=passed",
            "team": "beverage-analytics",
        },
    },
    "diabetes-regressor": {
        "description": "Disease progression after one year. Lower RMSE is better.",
        "tags": {
            "registry.mode": "aliases",
            "registry.key_metric": "val_rmse",
            "registry.gate.metric": "val_rmse",
            "registry.gate.direction": "min",
            "registry.gate.tolerance": "2.0",
            "registry.required_tags": "validation=passed",
            "team": "health-analytics",
        },
    },
}


@dataclass(frozen=True)
class DemoSummary:
    """What one call to `seed_demo` did; `already_seeded` means it found the demo and changed nothing."""

    already_seeded: bool
    experiments: dict[str, str] = field(default_factory=dict)  # name -> id
    runs: int = 0
    versions: dict[str, list[str]] = field(default_factory=dict)  # model -> versions created
    history: bool = False
    seconds: float = 0.0

    @property
    def message(self) -> str:
        if self.already_seeded:
            return "the demo is already seeded; nothing was changed"
        models = ", ".join(f"{name} v{'/'.join(v)}" for name, v in self.versions.items())
        return (
            f"seeded {len(self.experiments)} experiments, {self.runs} runs, {models} in {self.seconds:.1f}s"
        )


def seed_demo(
    settings: Settings,
    client: MlflowClient | None = None,
    progress: Progress | None = None,
    *,
    with_history: bool = True,
) -> DemoSummary:
    """Train and log the demo into the store; a second call finds it and changes nothing.

    "Already there" means any demo experiment exists, even deleted or half-seeded by an interrupted
    call: MLflow keeps a deleted experiment's name until garbage collection, so start again from an
    empty store. Refuses (BadInput) when the demo's registered-model names belong to someone else's
    models: adding versions to them would corrupt a real registry. `with_history` then promotes and
    archives through the lifecycle service (`seed_history`), which writes the audit database.
    """
    started = time.perf_counter()
    client = client or make_client(settings)
    report = progress or (lambda fraction, message: None)
    with translate_errors("check for an existing demo"):
        found = [client.get_experiment_by_name(name) for name in DEMO_EXPERIMENTS]
        if any(found):
            report(1.0, "already seeded")
            existing = {e.name: e.experiment_id for e in found if e is not None}
            return DemoSummary(
                already_seeded=True, experiments=existing, seconds=time.perf_counter() - started
            )
        taken = [name for name in DEMO_MODELS if client.search_registered_models(name_equals_filter(name))]
    if taken:
        raise BadInput(
            f"the store already has registered models named {', '.join(taken)}; "
            "seed the demo into an empty store"
        )

    seeder = _Seeder(settings, client)
    steps = seeder.steps()
    total = len(steps) + (1 if with_history else 0)
    for index, (label, step) in enumerate(steps):
        report(index / total, label)
        step()
    if with_history:
        from registry.service import Registry

        report(len(steps) / total, "promotion history")
        seed_history(Registry(settings, client=client))
    report(1.0, "done")
    return DemoSummary(
        already_seeded=False,
        experiments=seeder.experiments,
        runs=seeder.runs,
        versions=seeder.versions,
        history=with_history,
        seconds=time.perf_counter() - started,
    )


def seed_history(reg: Registry) -> None:
    """Promote and archive the demo's versions so the audit log has a story and rollback a target.

    iris-classifier: v1 then v2 to production (v1 becomes the rollback target), v3 to staging, v4
    archived after failing validation. wine-classifier (stages): v1 then v2 to Production.
    diabetes-regressor: v1 to production, v2 left as a candidate that passes the gate.
    """
    from registry.access.identity import Actor

    actor = Actor(name=SEED_ACTOR, role="admin")
    reg.promote("iris-classifier", "1", "first model over 0.85 validation accuracy", actor=actor)
    reg.promote("iris-classifier", "2", "the alpha search found a better regulariser than v1's", actor=actor)
    reg.promote(
        "iris-classifier",
        "3",
        "MLP candidate; shadow traffic before production",
        actor=actor,
        target="staging",
    )
    reg.archive("iris-classifier", "4", "failed validation: accuracy below the 0.85 bar", actor=actor)
    reg.promote("wine-classifier", "1", "baseline stumps, validated on the hold-out set", actor=actor)
    reg.promote("wine-classifier", "2", "deeper trees: a tenth of v1's validation loss", actor=actor)
    reg.promote("diabetes-regressor", "1", "ridge baseline for the progression score", actor=actor)


Step = tuple[str, Callable[[], None]]


class _Seeder:
    """The seeding steps, in the order that fixes each model's version numbers (seed_history uses them)."""

    def __init__(self, settings: Settings, client: MlflowClient):
        self.settings, self.client = settings, client
        self.experiments: dict[str, str] = {}
        self.versions: dict[str, list[str]] = {}
        self.runs = 0

    def steps(self) -> list[Step]:
        iris, wine, diabetes = (training.load_split(name) for name in ("iris", "wine", "diabetes"))

        def sgd(alpha: float, eta0: float) -> training.Trained:
            classifier = SGDClassifier(
                loss="log_loss", alpha=alpha, learning_rate="constant", eta0=eta0, random_state=training.SEED
            )
            return training.train_by_epochs(
                iris, classifier, {"model": "sgd", "alpha": alpha, "eta0": eta0}, EPOCHS
            )

        def mlp(*hidden: int) -> training.Trained:
            classifier = MLPClassifier(
                hidden_layer_sizes=hidden, learning_rate_init=0.01, random_state=training.SEED
            )
            params = {"model": "mlp", "hidden_layers": list(hidden), "learning_rate_init": 0.01}
            return training.train_by_epochs(iris, classifier, params, EPOCHS)

        def boosted(**params: Any) -> training.Trained:
            return training.train_boosted_classifier(wine, params)

        def boosted_regressor(**params: Any) -> training.Trained:
            return training.train_boosted_regressor(diabetes, params)

        iris_version = partial(self.version_step, "iris-classifier", IRIS, iris)
        wine_version = partial(self.version_step, "wine-classifier", WINE, wine)
        diabetes_version = partial(self.version_step, "diabetes-regressor", DIABETES, diabetes)
        return [
            ("experiments and registered models", self.create_containers),
            iris_version("sgd-baseline", lambda: sgd(0.01, 0.1)),
            ("iris-classifier: grid search, 8 nested runs", lambda: self.search(iris, sgd)),
            iris_version("sgd-best-of-search", lambda: sgd(1e-4, 0.1)),
            iris_version("mlp-32x16", lambda: mlp(32, 16)),
            iris_version("mlp-16", lambda: mlp(16)),
            wine_version("boosted-stumps", lambda: boosted(n_estimators=20, max_depth=1, learning_rate=0.05)),
            wine_version("boosted-depth-2", lambda: boosted(n_estimators=60, max_depth=2, learning_rate=0.1)),
            wine_version(
                "boosted-depth-3-subsampled",
                lambda: boosted(n_estimators=60, max_depth=3, learning_rate=0.1, subsample=0.7),
            ),
            diabetes_version("ridge", lambda: training.train_ridge(diabetes, alpha=1.0)),
            diabetes_version(
                "boosted-regressor",
                lambda: boosted_regressor(n_estimators=100, max_depth=2, learning_rate=0.05),
            ),
            ("diabetes-regressor: a run that diverges", lambda: self.diverging_run(diabetes)),
        ]

    def version_step(
        self,
        model: str,
        experiment: str,
        split: training.Split,
        run_name: str,
        train: Callable[[], training.Trained],
    ) -> Step:
        """Training runs inside the step, so progress is reported before the slow part, not after."""
        return f"{model}: {run_name}", lambda: self.version(model, experiment, split, run_name, train())

    def create_containers(self) -> None:
        for name in DEMO_EXPERIMENTS:
            self.experiments[name] = ensure_experiment(self.settings, self.client, name)
            self.client.set_experiment_tag(self.experiments[name], "demo", "true")
        for name, spec in DEMO_MODELS.items():
            self.client.create_registered_model(name, tags=spec["tags"], description=spec["description"])

    def version(
        self, model: str, experiment: str, split: training.Split, run_name: str, trained: training.Trained
    ) -> None:
        """One training run that becomes a version; `validation` says whether it beat the bar."""
        key = "val_rmse" if split.class_names is None else "val_accuracy"
        score = trained.history[key][-1] if key in trained.history else trained.metrics[key]
        passed = score <= MAX_VAL_RMSE if key == "val_rmse" else score >= MIN_VAL_ACCURACY
        tracked = track_model(
            self.settings,
            model,
            trained.model,
            trained.params,
            trained.metrics,
            training.run_artifacts(split, trained),
            tags={
                "dataset": split.dataset,
                "team": DEMO_MODELS[model]["tags"]["team"],
                "validation": "passed" if passed else "failed",
            },
            experiment=experiment,
            run_name=run_name,
            step_metrics=trained.history,
            input_example=split.x_val[:3],
            client=self.client,
        )
        self.runs += 1
        self.versions.setdefault(model, []).append(str(tracked.version))

    def search(self, split: training.Split, train: Callable[[float, float], training.Trained]) -> None:
        """A parent run with one nested run per (alpha, eta0); the parent records the winner."""
        alphas, rates = (1e-4, 1e-3, 1e-2, 1e-1), (0.01, 0.1)
        experiment_id = self.experiments[IRIS]
        tags = {"dataset": split.dataset, "team": "botany", "search": "grid"}
        with open_run(
            self.settings, self.client, experiment_id, run_name="sgd-grid-search", tags=tags
        ) as parent:
            results = []
            for alpha, eta0 in product(alphas, rates):
                trained = train(alpha, eta0)
                with open_run(
                    self.settings,
                    self.client,
                    experiment_id,
                    run_name=f"sgd-alpha={alpha:g}-eta0={eta0:g}",
                    tags=tags,
                    parent_run_id=parent,
                ) as child:
                    log_results(
                        self.client,
                        child,
                        metrics=trained.metrics,
                        step_metrics=trained.history,
                        params=trained.params,
                    )
                history = trained.history
                results.append((history["val_accuracy"][-1], -history["val_loss"][-1], alpha, eta0, child))
                self.runs += 1
            accuracy, _, alpha, eta0, best = max(results)
            params = {"alpha_grid": list(alphas), "eta0_grid": list(rates), "epochs": EPOCHS}
            log_results(
                self.client,
                parent,
                params={**params, "best_alpha": alpha, "best_eta0": eta0},
                metrics={"best_val_accuracy": accuracy},
            )
            self.client.set_tag(parent, "best_run_id", best)
        self.runs += 1

    def diverging_run(self, split: training.Split) -> None:
        """A learning rate that is too high: the run keeps the exploding curve and ends FAILED."""
        tags = {"dataset": split.dataset, "team": "health-analytics"}
        experiment_id = self.experiments[DIABETES]
        with (
            suppress(training.TrainingDiverged),
            open_run(
                self.settings, self.client, experiment_id, run_name="sgd-eta0=0.16", tags=tags
            ) as run_id,
        ):
            self.runs += 1
            try:
                trained = training.train_sgd_regressor(split, eta0=0.16, epochs=EPOCHS)
            except training.TrainingDiverged as diverged:
                log_results(self.client, run_id, step_metrics=diverged.history, params=diverged.params)
                self.client.set_tag(run_id, "error", str(diverged))
                curve = training.learning_curve(diverged.history)
                log_artifacts(self.client, run_id, {"plots/learning_curve.png": curve})
                raise
            log_results(
                self.client,
                run_id,
                metrics=trained.metrics,
                step_metrics=trained.history,
                params=trained.params,
            )
