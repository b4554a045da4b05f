"""Baseline for the benchmarks: the reference task done by hand, no orchestration, no tracking.

Same data, split, scaler, autoencoder, epochs, batch size and validation slice as aefx's
defaults with one seed; logistic regression on the codes at the end. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build(n: int, bottleneck: int, lr: float):
    import keras
    from keras import layers

    def block(x, width):
        return layers.LeakyReLU()(layers.BatchNormalization()(layers.Dense(width)(x)))

    inputs = keras.Input((n,))
    code = layers.Dense(bottleneck)(block(block(inputs, 2 * n), n))
    encoder = keras.Model(inputs, code)
    out = layers.Dense(n)(block(block(code, n), 2 * n))
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    return model, encoder


def fit_seconds(X_train, epochs: int, batch_size: int, seed: int):
    """Train the autoencoder on 90% of the rows (validating on the rest every epoch)."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    order = np.random.default_rng(seed).permutation(len(X_train))
    n_val = round(0.1 * len(X_train))
    fit, val = X_train[order[n_val:]], X_train[order[:n_val]]
    model, encoder = build(X_train.shape[1], round(X_train.shape[1] / 2), 1e-3)
    start = time.perf_counter()
    model.fit(fit, fit, epochs=epochs, batch_size=batch_size, validation_data=(val, val), verbose=0)
    return time.perf_counter() - start, encoder


def reference_data():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X, y = make_classification(
        n_samples=1000, n_features=100, n_informative=10, n_redundant=90, random_state=1
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.33, random_state=1)
    scaler = MinMaxScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype("float32"),
        scaler.transform(X_test).astype("float32"),
        y_train,
        y_test,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test = reference_data()
    seconds, encoder = fit_seconds(X_train, args.epochs, args.batch_size, args.seed)
    clf = LogisticRegression(max_iter=1000).fit(encoder.predict(X_train, verbose=0), y_train)
    accuracy = clf.score(encoder.predict(X_test, verbose=0), y_test)
    print(
        json.dumps(
            {
                "fit_seconds": seconds,
                "total_seconds": time.perf_counter() - start,
                "accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
