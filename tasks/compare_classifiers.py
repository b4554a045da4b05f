"""compare_classifiers: every classifier on every feature set for every seed, with intervals
and paired verdicts (encoded vs raw, encoded vs PCA)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.config import ClassifiersConfig, EvaluationConfig
from aefx.io import atomic_path, encoded_file, read_json, write_json, write_text
from aefx.report import comparison_markdown, plot_comparison, plot_confusion
from aefx.stats import paired_difference, t_interval, verdict

log = logging.getLogger(__name__)

METRICS = ("accuracy", "f1_macro", "roc_auc")
# Each learned feature set is compared, seed by seed, with these baselines.
CONTRASTS = (("encoded", "raw"), ("encoded", "pca"), ("raw_encoded", "raw"))


@dataclass(frozen=True)
class CompareResult:
    records: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    markdown: str


# Classifiers that only make sense on the raw images, never on codes or PCA components.
RAW_ONLY = ("cnn",)


def make_classifier(
    name: str, cfg: ClassifiersConfig, seed: int, image_shape: tuple[int, ...] | None = None
) -> Any:
    """A fresh estimator with the settings from params.yaml; tuned over its grid if asked."""
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
        return _tuned(
            CnnClassifier(tuple(image_shape), random_state=seed, **kwargs), cfg, settings, seed
        )
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
    return _tuned(builders[name](), cfg, settings, seed)


def _tuned(model: Any, cfg: ClassifiersConfig, settings: Any, seed: int) -> Any:
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    if cfg.tune and settings.grid:
        # Tuning sees only the rows it is given: the training split (or a CV fold of it).
        folds = StratifiedKFold(cfg.tune_folds, shuffle=True, random_state=seed)
        model = GridSearchCV(model, settings.grid, cv=folds, scoring="accuracy")
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


def _xy(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    return frame.drop(columns=[label]).to_numpy(), frame[label].to_numpy()


def feature_sets(
    names: tuple[str, ...],
    label: str,
    raw: tuple[np.ndarray, np.ndarray],
    encoded_dir: Path,
    seed: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(train, test) matrices per feature set for one seed. PCA has the code's width."""
    from sklearn.decomposition import PCA

    X_train, X_test = raw
    Z_train, _ = _xy(pd.read_parquet(encoded_file(encoded_dir, "train", seed)), label)
    Z_test, _ = _xy(pd.read_parquet(encoded_file(encoded_dir, "test", seed)), label)
    sets = {"raw": (X_train, X_test), "encoded": (Z_train, Z_test)}
    if "pca" in names:
        # PCA is fit on train only, like the scaler and the autoencoder.
        width = min(Z_train.shape[1], *X_train.shape)
        pca = PCA(n_components=width, random_state=seed).fit(X_train)
        sets["pca"] = (pca.transform(X_train), pca.transform(X_test))
    if "raw_encoded" in names:
        sets["raw_encoded"] = (np.hstack([X_train, Z_train]), np.hstack([X_test, Z_test]))
    return {n: sets[n] for n in names}


def evaluate(
    name: str,
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    seed: int,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    image_shape: tuple[int, ...] | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Score rows for one classifier on one feature set and seed, and its test predictions."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    X_train, y_train, X_test, y_test = data
    template = make_classifier(name, cfg, seed, image_shape)
    rows = []
    with warnings.catch_warnings():
        # A classifier that hits max_iter is scored as it stands; the warning is only noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if evaluation.mode == "cv":
            folds = StratifiedKFold(evaluation.folds, shuffle=True, random_state=seed)
            for k, (fit_idx, val_idx) in enumerate(folds.split(X_train, y_train)):
                model = clone(template).fit(X_train[fit_idx], y_train[fit_idx])
                rows.append({"split": f"cv{k}", **score(model, X_train[val_idx], y_train[val_idx])})
        model = clone(template).fit(X_train, y_train)
        rows.append({"split": "test", **score(model, X_test, y_test)})
    return rows, model.predict(X_test)


def _interval_fields(prefix: str, values: pd.Series, confidence: float) -> dict[str, Any]:
    values = values.dropna()
    if values.empty:
        return {
            prefix: None,
            f"{prefix}_std": None,
            f"{prefix}_ci_low": None,
            f"{prefix}_ci_high": None,
        }
    iv = t_interval(values.tolist(), confidence)
    low, high = iv.finite_bounds()
    return {
        prefix: iv.mean,
        f"{prefix}_std": iv.std,
        f"{prefix}_ci_low": low,
        f"{prefix}_ci_high": high,
    }


def summarise(rows: pd.DataFrame, evaluation: EvaluationConfig) -> list[dict[str, Any]]:
    """Per classifier x feature set: test metrics over seeds (and CV metrics in cv mode)."""
    records = []
    for (clf, feats), group in rows.groupby(["classifier", "features"], sort=False):
        record: dict[str, Any] = {"classifier": clf, "features": feats}
        test = group[group["split"] == "test"]
        for metric in METRICS:
            record.update(_interval_fields(metric, test[metric], evaluation.confidence))
        if evaluation.mode == "cv":
            cv = group[group["split"] != "test"]
            for metric in METRICS:
                record.update(_interval_fields(f"cv_{metric}", cv[metric], evaluation.confidence))
        record["n_seeds"] = int(test["seed"].nunique())
        records.append(record)
    return records


def differences(rows: pd.DataFrame, evaluation: EvaluationConfig) -> list[dict[str, Any]]:
    """Paired (same seed, same fold) differences of accuracy and macro F1, with a verdict."""
    basis = (
        rows[rows["split"] != "test"] if evaluation.mode == "cv" else rows[rows["split"] == "test"]
    )
    out = []
    for clf, group in basis.groupby("classifier", sort=False):
        wide = {
            m: group.pivot_table(index=["seed", "split"], columns="features", values=m)
            for m in ("accuracy", "f1_macro")
        }
        for learned, baseline in CONTRASTS:
            if learned not in wide["accuracy"] or baseline not in wide["accuracy"]:
                continue
            for metric, table in wide.items():
                diff = paired_difference(
                    table[learned].tolist(), table[baseline].tolist(), evaluation.confidence
                )
                out.append(
                    {
                        "classifier": clf,
                        "contrast": f"{learned} - {baseline}",
                        "metric": metric,
                        "basis": "cv" if evaluation.mode == "cv" else "test",
                        "mean": diff.mean,
                        "std": diff.std,
                        "ci_low": diff.finite_bounds()[0],
                        "ci_high": diff.finite_bounds()[1],
                        "n": diff.n,
                        "verdict": verdict(diff),
                    }
                )
    return out


def metrics_tree(
    records: list[dict[str, Any]], diffs: list[dict[str, Any]], classifiers: tuple[str, ...]
) -> dict[str, Any]:
    """Nested numbers for `dvc metrics show/diff`: scores per feature set, then the mean paired
    differences (``encoded_vs_raw``...) of each classifier."""
    tree: dict[str, Any] = {}
    for clf in classifiers:
        tree[clf] = {
            r["features"]: {k: v for k, v in r.items() if k not in ("classifier", "features")}
            for r in records
            if r["classifier"] == clf
        }
        tree[clf]["difference"] = {
            d["contrast"].replace(" - ", "_vs_") + f".{d['metric']}": d["mean"]
            for d in diffs
            if d["classifier"] == clf
        }
    return tree


def compare_classifiers(
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    seeds: tuple[int, ...],
    label: str,
    inputs: tuple[Path, Path, Path],
    outputs: dict[str, Path],
) -> CompareResult:
    """Fit and score everything; write records, per-seed rows, differences, report and plots.

    ``inputs`` are the schema, the scaled train and test splits and the encoded directory;
    ``outputs`` maps comparison, comparison_rows, differences, scores, comparison_table,
    comparison_plot and confusion_plot to their paths."""
    schema_path, train_scaled, test_scaled, encoded_dir = inputs
    image_shape = read_json(schema_path)["image_shape"]
    X_train, y_train = _xy(pd.read_parquet(train_scaled), label)
    X_test, y_test = _xy(pd.read_parquet(test_scaled), label)
    rows, predictions = [], {}
    for seed in seeds:
        sets = feature_sets(cfg.features, label, (X_train, X_test), encoded_dir, seed)
        for name in cfg.use:
            for feats, (F_train, F_test) in sets.items():
                if name in RAW_ONLY and feats != "raw":
                    continue
                scored, predicted = evaluate(
                    name, cfg, evaluation, seed, (F_train, y_train, F_test, y_test), image_shape
                )
                rows += [{"seed": seed, "classifier": name, "features": feats, **r} for r in scored]
                predictions.setdefault((name, feats), []).append(predicted)
            fitted = ["raw"] if name in RAW_ONLY else list(sets)
            log.info("compare_classifiers: seed %d %s fitted on %s", seed, name, ", ".join(fitted))
    frame = pd.DataFrame(rows)
    records = summarise(frame, evaluation)
    diffs = differences(frame, evaluation)
    markdown = comparison_markdown(records, diffs, evaluation)

    write_json(outputs["comparison"], records)
    write_json(outputs["differences"], diffs)
    with atomic_path(outputs["comparison_rows"]) as tmp:
        frame.to_csv(tmp, index=False)
    write_json(outputs["scores"], metrics_tree(records, diffs, cfg.use))
    write_text(outputs["comparison_table"], markdown)
    plot_comparison(records, outputs["comparison_plot"])
    best = max(records, key=lambda r: r["accuracy"])
    key = (best["classifier"], best["features"])
    plot_confusion(
        np.tile(y_test, len(seeds)),
        np.concatenate(predictions[key]),
        key,
        outputs["confusion_plot"],
    )
    return CompareResult(records, diffs, markdown)
