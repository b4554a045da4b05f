"""Time to a good encoder: params.yaml's default training against the reference recipe.

    python benchmarks/time_to_encoder.py [--repeats 3] [--seeds 1 2 3 4 5]

Speed: the recipe's plain Keras fit (benchmarks/plain_keras.py: 200 epochs at batch 16,
validation every epoch, the published 100 -> 200 -> 100 -> 50 model) and the
train_autoencoder stage's fit with params.yaml's autoencoder section, interleaved in this
process, seed 1; medians, min, max and the ratio of medians.
Quality: test accuracy of logistic regression on each one's codes over --seeds (mean and
standard deviation); the test split is only reported here, never used to choose.
Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def default_config():
    from aefx.config import AutoencoderConfig

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    return AutoencoderConfig(**params["autoencoder"])


def accuracy(encoder, data) -> float:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test = data
    Z_train = np.asarray(encoder.predict(X_train, verbose=0))
    Z_test = np.asarray(encoder.predict(X_test, verbose=0))
    return float(LogisticRegression(max_iter=1000).fit(Z_train, y_train).score(Z_test, y_test))


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):6.2f} s   min {min(values):6.2f}   "
        f"max {max(values):6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    from plain_keras import fit_seconds, reference_data

    from tasks.train_autoencoder import fit_one

    data = reference_data()
    cfg = default_config()
    recipe: list[float] = []
    default: list[float] = []
    for i in range(args.repeats):
        recipe.append(fit_seconds(data[0], 200, 16, 1)[0])
        default.append(fit_one(data[0], cfg, seed=1)[2])
        print(f"repeat {i + 1}: recipe {recipe[-1]:.2f} s, default {default[-1]:.2f} s", flush=True)
    quality: dict[str, list[float]] = {"recipe": [], "default": []}
    for seed in args.seeds:
        quality["recipe"].append(accuracy(fit_seconds(data[0], 200, 16, seed)[1], data))
        model = fit_one(data[0], cfg, seed=seed)[0]
        quality["default"].append(accuracy(model.get_layer("encoder"), data))
        print(
            f"seed {seed}: recipe {quality['recipe'][-1]:.4f}, "
            f"default {quality['default'][-1]:.4f}",
            flush=True,
        )
    print(
        f"\ndefault: {cfg.kind}, {cfg.epochs} epochs, batch {cfg.batch_size}, learning rate "
        f"{cfg.learning_rate}, validation every {cfg.validation_every} epochs, hidden ratios "
        f"{list(cfg.hidden_ratios)}, code ratio {cfg.bottleneck_ratio}; {os.cpu_count()} CPUs"
    )
    print(f"recipe fit   {spread(recipe)}")
    print(f"default fit  {spread(default)}")
    ratio = statistics.median(default) / statistics.median(recipe)
    print(f"ratio default / recipe fit time {ratio:.3f}")
    for name, values in quality.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"logistic regression on {name} codes: mean {statistics.mean(values):.4f} "
            f"sd {sd:.4f} over {len(values)} seeds"
        )


if __name__ == "__main__":
    main()
