"""How the spread of each block decides raw+encoded for the classifiers that measure distances.

    make run && python benchmarks/feature_scale.py [--params params.yaml]

Reads the last run's outputs in the project (the scaled splits and every seed's codes) and
scores logistic regression, the RBF SVM, k-NN and the MLP, with their settings from the params
file, three ways:
  as given      what compare_classifiers fits: raw features in [0, 1], codes as the encoder
                writes them, raw+encoded side by side;
  balanced      raw+encoded with the code block times one factor (from the training rows) that
                gives it the raw block's total variance;
  standardised  every column standardised on the training rows (PCA components are then
                whitened, their noisiest directions made as loud as the first).
Prints each cell's mean test accuracy over the seeds with its SD, and the code block's share of
raw+encoded's variance. The test split is only reported here: nothing chooses a setting by it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CLASSIFIERS = ("logreg", "svm_rbf", "knn", "mlp")  # the trees do not depend on scale
FEATURE_SETS = ("raw", "pca", "encoded", "raw_encoded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    args = parser.parse_args()

    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from aefx.classifiers import make_classifier, score
    from aefx.config import load_params
    from tasks.compare_classifiers import CompareInputs, feature_set

    params = load_params(args.params)
    p, label = params.paths, params.data.label
    inputs = CompareInputs(p.data_schema, p.train_scaled, p.test_scaled, p.encoded)
    y_train = pd.read_parquet(p.train_scaled, columns=[label])[label].to_numpy()
    y_test = pd.read_parquet(p.test_scaled, columns=[label])[label].to_numpy()

    scores: dict[tuple[str, str, str], list[float]] = {}
    shares = []
    for seed in params.seeds:
        X_raw, X_raw_test = feature_set("raw", label, inputs, seed)
        Z, Z_test = feature_set("encoded", label, inputs, seed)
        share = Z.var(axis=0).sum() / (Z.var(axis=0).sum() + X_raw.var(axis=0).sum())
        shares.append(float(share))
        factor = float(np.sqrt(X_raw.var(axis=0).sum() / Z.var(axis=0).sum()))
        for features in FEATURE_SETS:
            X, X_test = feature_set(features, label, inputs, seed)
            ways = {"as given": (X, X_test, False), "standardised": (X, X_test, True)}
            if features == "raw_encoded":
                ways["balanced"] = (
                    np.hstack([X_raw, Z * factor]),
                    np.hstack([X_raw_test, Z_test * factor]),
                    False,
                )
            for way, (train, test, standardise) in ways.items():
                for name in CLASSIFIERS:
                    model = make_classifier(name, params.classifiers, seed)
                    if standardise:
                        model = make_pipeline(StandardScaler(), model)
                    accuracy = score(model.fit(train, y_train), test, y_test)["accuracy"]
                    scores.setdefault((name, features, way), []).append(accuracy)

    print(
        f"code block's share of raw+encoded's variance: median {statistics.median(shares):.4f} "
        f"over {len(shares)} seeds"
    )
    print(f"{'classifier':10s} {'features':12s} {'way':13s} mean    sd")
    for (name, features, way), values in sorted(scores.items()):
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(f"{name:10s} {features:12s} {way:13s} {statistics.mean(values):.4f}  {sd:.4f}")


if __name__ == "__main__":
    main()
