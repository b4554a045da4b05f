"""Which autoencoder recipe gives the best codes for logistic regression on the reference task?

    python benchmarks/sweep_recipe.py [--seeds 1 2 3 4 5] [--only NAME ...]

Each recipe trains one autoencoder per seed. Recipes are *ranked* by 5-fold cross-validated
accuracy of logistic regression on the training split's codes (the test split plays no part in
choosing); the test accuracy is printed beside it for the report only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Each recipe changes a few fields of AutoencoderConfig from the reference recipe.
RECIPES: dict[str, dict] = {
    "reference": {},
    "early-stop": {"early_stopping_patience": 30, "epochs": 300},
    "early-stop+lr": {"early_stopping_patience": 40, "reduce_lr_patience": 15, "epochs": 300},
    "denoise-0.05": {"kind": "denoising", "corruption_level": 0.05},
    "denoise-0.1+es": {
        "kind": "denoising",
        "corruption_level": 0.1,
        "early_stopping_patience": 30,
        "epochs": 300,
    },
    "bottleneck-100": {"bottleneck": 100},
    "l2-1e-4": {"l2": 1e-4},
    "batch-64+lr": {"batch_size": 64, "epochs": 400, "reduce_lr_patience": 20},
    "bottleneck-100+l2": {"bottleneck": 100, "l2": 1e-4},
    "bottleneck-150": {"bottleneck": 150},
    "bottleneck-200": {"bottleneck": 200},
    "bottleneck-100-wide": {"bottleneck": 100, "hidden": [400, 200]},
    "bottleneck-150-wide": {"bottleneck": 150, "hidden": [400, 200]},
    "bottleneck-150-e300": {"bottleneck": 150, "epochs": 300},
    "bottleneck-200-wide": {"bottleneck": 200, "hidden": [400, 200]},
    "bottleneck-150-wider": {"bottleneck": 150, "hidden": [600, 300]},
    "bottleneck-150-cosine": {"bottleneck": 150, "lr_schedule": "cosine"},
    "bottleneck-150-wider-cosine": {
        "bottleneck": 150,
        "hidden": [600, 300],
        "lr_schedule": "cosine",
    },
    "bottleneck-150-wider-l2": {"bottleneck": 150, "hidden": [600, 300], "l2": 1e-4},
    "bottleneck-200-wider": {"bottleneck": 200, "hidden": [600, 300]},
    # Added after the per-kind table (benchmarks/kinds.py) had been seen; ranked on CV like all.
    "bottleneck-150-wider-denoise-0.2": {
        "kind": "denoising",
        "corruption_level": 0.2,
        "bottleneck": 150,
        "hidden": [600, 300],
    },
    # Issue 7, time to a good encoder: bigger batches (the rate scaled up with them), a whole
    # epoch per compiled call and validation every 10th epoch. Ranked on train CV like all.
    **{
        f"fast-{w}-b{b}-e{e}": {
            "hidden_ratios": ratios,
            "bottleneck_ratio": 1.5,
            "batch_size": b,
            "learning_rate": lr,
            "epochs": e,
            "validation_every": 10,
        }
        for w, ratios in (("wider", [6.0, 3.0]), ("ref", [2.0, 1.0]))
        for b, lr in ((32, 1.5e-3), (64, 2e-3), (128, 3e-3), (256, 4e-3))
        for e in (50, 100, 200)
    },
}


def evaluate(overrides: dict, seeds: list[int]) -> dict:
    import numpy as np
    from plain_keras import reference_data
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    X_train, X_test, y_train, y_test = reference_data()
    cv, test, seconds = [], [], []
    for seed in seeds:
        model, _, fit_s = fit_one(X_train, AutoencoderConfig(**overrides), seed)
        encoder = model.get_layer("encoder")
        Z_train = np.asarray(encoder.predict(X_train, verbose=0))
        Z_test = np.asarray(encoder.predict(X_test, verbose=0))
        clf = LogisticRegression(max_iter=1000)
        cv.append(float(cross_val_score(clf, Z_train, y_train, cv=5).mean()))
        test.append(float(clf.fit(Z_train, y_train).score(Z_test, y_test)))
        seconds.append(fit_s)
    return {
        "cv_mean": statistics.mean(cv),
        "cv_std": statistics.stdev(cv) if len(cv) > 1 else 0.0,
        "test_mean": statistics.mean(test),
        "test_std": statistics.stdev(test) if len(test) > 1 else 0.0,
        "fit_s_median": statistics.median(seconds),
        "test": test,
    }


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--only", nargs="*", choices=list(RECIPES))
    args = parser.parse_args()
    for name in args.only or RECIPES:
        start = time.perf_counter()
        result = evaluate(RECIPES[name], args.seeds)
        print(
            json.dumps(
                {
                    "recipe": name,
                    **RECIPES[name],
                    **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()},
                    "wall_s": round(time.perf_counter() - start, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
