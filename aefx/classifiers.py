"""The classifiers the comparison fits: built from params.yaml's settings, tuned by
cross-validation on the rows they are given (never the test split), scored, and checked against
the training split before anything is fitted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.config import (
    ClassifiersConfig,
    EvaluationConfig,
    Params,
    two_classes_only,
    untested_classes,
)
from aefx.errors import AefxError, first_few

# Classifiers that only make sense on the raw images, never on codes or PCA components.
RAW_ONLY = ("cnn",)
# An RBF SVM's fit and predictions took 29 s on 40,000 training rows of 30 columns, four
# times as long at twice the rows (benchmarks/classifier_rows.py, the machine of the README's
# figures); from this many rows on, its cells take minutes each, longer than the rest.
SVM_SECONDS, SVM_ROWS = 29.0, 40_000
SLOW_SVM_ROWS = 100_000


def make_classifier(
    name: str,
    cfg: ClassifiersConfig,
    seed: int,
    image_shape: tuple[int, ...] | None = None,
    scoring: str = "accuracy",
) -> Any:
    """A fresh estimator with the settings from params.yaml; tuned over its grid if asked, by
    ``scoring`` (evaluation.metric)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    settings = getattr(cfg, name)
    kwargs = settings.settings()
    if name == "cnn":
        from aefx.cnn import CnnClassifier

        assert image_shape is not None  # Params refuses cnn without image data
        kwargs = {**kwargs, "filters": tuple(kwargs["filters"])}
        cnn = CnnClassifier(tuple(image_shape), random_state=seed, **kwargs)
        return _tuned(cnn, cfg, settings, seed, scoring)
    builders = {
        "logreg": lambda: LogisticRegression(**kwargs),
        "svm_rbf": lambda: SVC(kernel="rbf", **kwargs),
        "random_forest": lambda: RandomForestClassifier(random_state=seed, n_jobs=1, **kwargs),
        "gboost": lambda: HistGradientBoostingClassifier(random_state=seed, **kwargs),
        "knn": lambda: KNeighborsClassifier(**kwargs),
        "mlp": lambda: MLPClassifier(
            random_state=seed,
            **{**kwargs, "hidden_layer_sizes": tuple(kwargs["hidden_layer_sizes"])},
        ),
    }
    return _tuned(builders[name](), cfg, settings, seed, scoring)


def _tuned(model: Any, cfg: ClassifiersConfig, settings: Any, seed: int, scoring: str) -> Any:
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    if cfg.tune and settings.grid:
        # Tuning sees only the rows it is given: the training split (or a CV fold of it).
        folds = StratifiedKFold(cfg.tune_folds, shuffle=True, random_state=seed)
        model = GridSearchCV(model, settings.search_grid(), cv=folds, scoring=scoring)
    return model


def score(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy, macro F1 and ROC AUC (binary, or one-vs-rest where probabilities exist)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = model.predict(X)
    result: dict[str, float | None] = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
        "roc_auc": None,
    }
    classes = getattr(model, "classes_", np.unique(y))
    if len(np.unique(y)) < 2:
        return result
    if len(classes) == 2:
        if hasattr(model, "decision_function"):
            ranking = model.decision_function(X)
        else:
            ranking = model.predict_proba(X)[:, 1]
        result["roc_auc"] = float(roc_auc_score(y, ranking))
    elif hasattr(model, "predict_proba") and set(np.unique(y)) == set(classes):
        result["roc_auc"] = float(
            roc_auc_score(y, model.predict_proba(X), multi_class="ovr", labels=classes)
        )
    return result


def check_training_split(
    y_train: np.ndarray,
    classifier: str,
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    origin: str | Path,
) -> None:
    """A training split too small for the settings asked for (folds, k-NN's neighbours) is the
    user's to fix: one line naming the setting, not scikit-learn's error from inside a fit."""
    labels, counts = np.unique(y_train, return_counts=True)
    rarest, fit_rows = labels[counts.argmin()], len(y_train)
    rarest_rows = int(counts.min())
    # Tuning's folds split each evaluation fold's training part again (nested).
    for setting, k, applies in (
        ("evaluation.folds", evaluation.folds, evaluation.mode == "cv"),
        ("classifiers.tune_folds", cfg.tune_folds, cfg.tune),
    ):
        if not applies:
            continue
        if rarest_rows < k:
            raise AefxError(
                f"{origin}: class {rarest} has {rarest_rows} row(s) to split into {setting}={k} "
                "folds; lower it, or give the training split more rows"
            )
        fit_rows -= -(-fit_rows // k)  # what the smallest fold leaves to fit on
        rarest_rows -= -(-rarest_rows // k)
    if classifier == "knn" and cfg.knn.n_neighbors > fit_rows:
        raise AefxError(
            f"{origin}: k-NN fits on {fit_rows} training rows, fewer than "
            f"classifiers.knn.n_neighbors={cfg.knn.n_neighbors}; lower it, or give the "
            "training split more rows"
        )


def check_every_classifier(
    y_train: np.ndarray,
    y_test: np.ndarray | None,
    params: Params,
    origin: str | Path,
    test_origin: str | Path,
) -> None:
    """Every classifier's :func:`check_training_split` at once, and that the run can log the
    metric it promotes by, before any autoencoder trains, so that a setting the data does not
    allow fails in seconds, not after the training it would have wasted: `aefx run` asks
    before Prefect starts, the flow again after scale (a scheduled run has no such check before
    it), `aefx stage train_autoencoder` (``dvc repro``) as it starts; each cell still checks
    for itself. ``test_origin`` names the test split's labels ``y_test`` (None: not checked)."""
    for classifier in params.classifiers.use:
        check_training_split(y_train, classifier, params.classifiers, params.evaluation, origin)
    if params.tracking.promote_alias:
        check_promote_metric(y_train, y_test, params.promote_metric, origin, test_origin)


def check_promote_metric(
    y_train: np.ndarray,
    y_test: np.ndarray | None,
    metric: str,
    origin: str | Path,
    test_origin: str | Path,
) -> None:
    """A promote metric that runs never log on these labels, though its name is one they log
    (names are checked as params are read): else found at the run's last step, with the
    encoder trained and registered, and at every scheduled run's."""
    classes = len(np.unique(y_train))
    if classes > 2 and (reason := two_classes_only(metric)):
        raise AefxError(
            f"tracking.promote_metric {metric!r}: {reason}, and {origin} has {classes} classes; "
            "promote by its test_accuracy or test_f1_macro, or by another classifier's ROC AUC"
        )
    if y_test is None or not metric.startswith("test_roc_auc"):
        return
    if untested := untested_classes(y_train, y_test):
        raise AefxError(
            f"tracking.promote_metric {metric!r}: {test_origin} has no rows of class(es) "
            f"{first_few([repr(c) for c in untested])} that training has, so runs log no "
            "test ROC AUC (it needs every class); promote by a test_accuracy or test_f1_macro"
        )


def slow_classifiers(
    train_rows: int, cfg: ClassifiersConfig, evaluation: EvaluationConfig, seeds: Sequence[int]
) -> str | None:
    """A warning for a comparison whose RBF SVM will take hours: it grows with the square of
    the training rows (the others about linearly, but k-NN, which starts a hundred times
    cheaper), so on a table of some 150,000 rows and more it outlasts the rest of the run;
    else None."""
    if "svm_rbf" not in cfg.use or train_rows < SLOW_SVM_ROWS:
        return None
    cells = len(seeds) * len(cfg.features)
    minutes = SVM_SECONDS * (train_rows / SVM_ROWS) ** 2 / 60
    more = " (more with evaluation.mode: cv)" if evaluation.mode == "cv" else ""
    more += " (more with classifiers.tune)" if cfg.tune else ""
    return (
        f"svm_rbf fits on {train_rows:,} training rows in each of its {cells} cells{more}: an "
        f"RBF SVM's time grows with the square of the rows ({SVM_SECONDS:.0f} s to fit "
        f"{SVM_ROWS:,} rows of 30 columns and predict half as many, on the machine of the "
        f"README's figures: about {minutes:.0f} min a cell here); classifiers.use without "
        "svm_rbf leaves it out"
    )


def read_labels(path: Path, label: str) -> np.ndarray:
    """The label column alone: the features are not held in memory while autoencoders train."""
    return pd.read_parquet(path, columns=[label])[label].to_numpy()
