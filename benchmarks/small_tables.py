"""Small tables under params.yaml's training: 50 passes against epochs auto.

    python benchmarks/small_tables.py [--seeds 1 2 3 4 5] [--tables wine breast_cancer photos]

Two tables scikit-learn ships (wine: 178 rows x 13, breast cancer: 569 rows x 30), each split
as `aefx run` splits a table (a third for test, seed 1) and min-max scaled on its training
rows. `photos`, not run unless named, is a small image folder: 60 crops of 64x64 pixels from
the two photos scikit-learn ships (30 of each, the photo is the class), split the same way,
pixels mapped to [0, 1] as ingest maps them; params.yaml's `auto` settings make its
autoencoder the conv stack with a sigmoid output, as `aefx run` would.

params.yaml's autoencoder is trained on the training rows once with 50 passes and once with
`epochs: auto` per seed, interleaved in this process. Printed per table and setting: the
passes trained, the fit seconds (median, min, max), the validation loss on the slice carved
from the training rows, and 5-fold cross-validated accuracy of logistic regression on the
training rows' codes; then auto's paired gain over 50 passes with its 95% interval and the
ratio of median fit times. Logistic regression and an RBF SVM on the raw training rows are
printed for scale. The test rows are never read. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETTINGS = {"50 passes": 50, "auto": "auto"}


PHOTO_SIDE = 64
PHOTO_CROPS = 30  # of each photo


def photo_crops():
    """Flattened 64x64 crops of scikit-learn's two photos at places drawn once (seed 0), pixels
    in [0, 1], and which photo each came from."""
    import numpy as np
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    crops, labels = [], []
    for label, photo in enumerate(load_sample_images().images):
        height, width, _ = photo.shape
        for _ in range(PHOTO_CROPS):
            top = rng.integers(0, height - PHOTO_SIDE)
            left = rng.integers(0, width - PHOTO_SIDE)
            crops.append(photo[top : top + PHOTO_SIDE, left : left + PHOTO_SIDE].reshape(-1))
            labels.append(label)
    return np.stack(crops) / 255.0, np.array(labels)


def training_rows(name: str):
    """The scaled training rows, labels and image shape (None for a table) of one of
    scikit-learn's tables, or of the photo crops."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    if name == "photos":
        X, y = photo_crops()
        X_train, _, y_train, _ = train_test_split(X, y, test_size=0.33, random_state=1)
        return X_train.astype("float32"), y_train, (PHOTO_SIDE, PHOTO_SIDE, 3)
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.33, random_state=1)
    return MinMaxScaler().fit_transform(X_train).astype("float32"), y_train, None


def train_cv(X, y, clf) -> float:
    from sklearn.model_selection import cross_val_score

    return float(cross_val_score(clf, X, y, cv=5).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--tables", nargs="+", default=["wine", "breast_cancer"])
    args = parser.parse_args()
    from aefx.console import quiet_environment

    quiet_environment(tensorflow=True)  # as `aefx run` is: no start-up or retracing lines
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC
    from time_to_encoder import default_config

    from aefx.stats import paired_difference, verdict
    from tasks.train_autoencoder import fit_one

    base = default_config()
    for table in args.tables:
        X, y, image_shape = training_rows(table)
        print(f"\n{table}: {len(X)} training rows x {X.shape[1]} features", flush=True)
        print(f"  raw, logistic regression: train CV {train_cv(X, y, LogisticRegression()):.4f}")
        print(f"  raw, RBF SVM:             train CV {train_cv(X, y, SVC()):.4f}")
        seen: dict[str, dict[str, list[float]]] = {
            name: {"passes": [], "seconds": [], "val_loss": [], "cv": []} for name in SETTINGS
        }
        for seed in args.seeds:
            for name, epochs in SETTINGS.items():
                cfg = base.model_copy(update={"epochs": epochs})
                model, curve, seconds = fit_one(X, cfg, seed, image_shape)
                codes = np.asarray(model.get_layer("encoder").predict(X, verbose=0))
                codes = codes.reshape(len(X), -1)
                row = seen[name]
                row["passes"].append(int(curve["epoch"].iloc[-1]))
                row["seconds"].append(seconds)
                row["val_loss"].append(float(curve["val_loss"].iloc[-1]))
                row["cv"].append(train_cv(codes, y, LogisticRegression(max_iter=1000)))
                print(
                    f"  seed {seed} {name:>9}: {row['passes'][-1]} passes, {seconds:.2f} s, "
                    f"val_loss {row['val_loss'][-1]:.5f}, codes train CV {row['cv'][-1]:.4f}",
                    flush=True,
                )
        for name, row in seen.items():
            sd = statistics.stdev(row["cv"]) if len(row["cv"]) > 1 else 0.0
            print(
                f"  {name:>9}: {row['passes'][0]} passes, fit median "
                f"{statistics.median(row['seconds']):.2f} s (min {min(row['seconds']):.2f}, max "
                f"{max(row['seconds']):.2f}), val_loss median "
                f"{statistics.median(row['val_loss']):.5f}, codes train CV "
                f"{statistics.mean(row['cv']):.4f} sd {sd:.4f}"
            )
        auto, fifty = seen["auto"], seen["50 passes"]
        diff = paired_difference(auto["cv"], fifty["cv"])
        print(
            f"  auto - 50 passes, codes train CV: {diff.mean:+.4f} "
            f"[{diff.low:+.4f}, {diff.high:+.4f}] {verdict(diff)}; val_loss ratio of medians "
            f"x{statistics.median(auto['val_loss']) / statistics.median(fifty['val_loss']):.3f}, "
            f"fit time ratio of medians "
            f"x{statistics.median(auto['seconds']) / statistics.median(fifty['seconds']):.2f}"
        )


if __name__ == "__main__":
    main()
