"""compare_classifiers: each classifier on raw, PCA and encoded features, over every seed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.config import ClassifiersConfig
from aefx.io import encoded_file, write_json, write_text
from aefx.report import comparison_markdown

log = logging.getLogger(__name__)

FEATURE_SETS = ("raw", "pca", "encoded")
METRICS = ("accuracy", "f1_macro", "roc_auc")


@dataclass(frozen=True)
class CompareResult:
    records: list[dict[str, Any]]


def make_classifier(name: str, cfg: ClassifiersConfig, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    if name == "logreg":
        return LogisticRegression(C=cfg.logreg.C, max_iter=cfg.logreg.max_iter)
    if name == "svm_rbf":
        return SVC(C=cfg.svm_rbf.C, gamma=cfg.svm_rbf.gamma, kernel="rbf")
    if name == "gboost":
        g = cfg.gboost
        return HistGradientBoostingClassifier(
            max_iter=g.max_iter,
            learning_rate=g.learning_rate,
            max_leaf_nodes=g.max_leaf_nodes,
            random_state=seed,
        )
    raise ValueError(f"unknown classifier {name!r}")


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
    label: str, train_scaled: Path, test_scaled: Path, encoded_dir: Path, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Train/test matrices for each feature set; PCA has as many components as the code."""
    from sklearn.decomposition import PCA

    X_train, y_train = _xy(pd.read_parquet(train_scaled), label)
    X_test, y_test = _xy(pd.read_parquet(test_scaled), label)
    Z_train, _ = _xy(pd.read_parquet(encoded_file(encoded_dir, "train", seed)), label)
    Z_test, _ = _xy(pd.read_parquet(encoded_file(encoded_dir, "test", seed)), label)
    width = min(Z_train.shape[1], *X_train.shape)
    # PCA is fit on train only, like the scaler and the autoencoder.
    pca = PCA(n_components=width, random_state=seed).fit(X_train)
    return {
        "raw": (X_train, y_train, X_test, y_test),
        "pca": (pca.transform(X_train), y_train, pca.transform(X_test), y_test),
        "encoded": (Z_train, y_train, Z_test, y_test),
    }


def summarise(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean and spread over seeds for every classifier x feature set."""
    records = []
    for (clf, feats), group in rows.groupby(["classifier", "features"], sort=False):
        record: dict[str, Any] = {"classifier": clf, "features": feats}
        for metric in METRICS:
            values = group[metric].dropna().to_numpy(dtype=float)
            record[metric] = float(values.mean()) if len(values) else None
            record[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        record["n_seeds"] = len(group)
        records.append(record)
    return records


def compare_classifiers(
    cfg: ClassifiersConfig,
    seeds: tuple[int, ...],
    label: str,
    train_scaled: Path,
    test_scaled: Path,
    encoded_dir: Path,
    comparison_path: Path,
    scores_path: Path,
    table_path: Path,
) -> CompareResult:
    """Fit every classifier on every feature set for every seed; score on the test split."""
    rows = []
    for seed in seeds:
        sets = feature_sets(label, train_scaled, test_scaled, encoded_dir, seed)
        for name in cfg.use:
            for feats in FEATURE_SETS:
                X_train, y_train, X_test, y_test = sets[feats]
                model = make_classifier(name, cfg, seed).fit(X_train, y_train)
                rows.append(
                    {
                        "seed": seed,
                        "classifier": name,
                        "features": feats,
                        **score(model, X_test, y_test),
                    }
                )
            log.info(
                "compare_classifiers: seed %d %s fitted on %s", seed, name, ", ".join(FEATURE_SETS)
            )
    records = summarise(pd.DataFrame(rows))
    write_json(comparison_path, records)
    write_json(
        scores_path,
        {
            clf: {
                r["features"]: {k: v for k, v in r.items() if k not in ("classifier", "features")}
                for r in records
                if r["classifier"] == clf
            }
            for clf in cfg.use
        },
    )
    write_text(table_path, comparison_markdown(records))
    return CompareResult(records)
