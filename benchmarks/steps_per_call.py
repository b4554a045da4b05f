"""How long a stop signal waits, and what bounding the compiled calls costs in fit time.

    python benchmarks/steps_per_call.py [--rows 6000] [--repeats 5]

Python sees Ctrl-C and SIGTERM only between compiled TensorFlow calls, so the longest call is
the longest a stop waits. For a table (ROWS x 100 features, the default deep-bn denoising
autoencoder) and a set of images (ROWS 28x28, the conv autoencoder), one block of ten passes
is trained with the whole block as one call (aefx before `steps_per_call_cap`) and with
`steps_per_execution: auto`, which bounds a call's arithmetic, the two alternating in this
process. Printed per case: the steps per call, each fit's seconds, and the medians of the fit
seconds, of the seconds inside training calls and of the longest call, with the ratios auto /
whole block. Some fits here once took seconds longer whichever way they ran (4 s on the
table, 17 s on the images), outside their training calls: tf.data's autotuning, off since
(benchmarks/dataset_teardown.py). The time inside calls leaves such waits out. Nothing here
is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timed_fit(X, cfg, image_shape) -> tuple[int, float, float, float]:
    """(steps per call, fit seconds, seconds inside training calls, the longest call) of one
    `fit_one`."""
    import keras

    import tasks.train_autoencoder as stage

    calls: list[float] = []

    class CallTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            calls.append(time.perf_counter() - self.started)

    own = stage.training_callbacks
    stage.training_callbacks = lambda cfg, seed: [*own(cfg, seed), CallTimer()]
    try:
        model, _, seconds = stage.fit_one(X, cfg, seed=1, image_shape=image_shape)
    finally:
        stage.training_callbacks = own
    return int(model.steps_per_execution), seconds, sum(calls), max(calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import numpy as np

    from aefx.config import AutoencoderConfig

    rng = np.random.default_rng(0)
    cases = {
        "table, 100 features, deep-bn": (
            rng.random((args.rows, 100), dtype="float32"),
            {},
            None,
        ),
        "images, 28x28, conv": (
            rng.random((args.rows, 784), dtype="float32"),
            {"kind": "conv"},
            (28, 28, 1),
        ),
    }
    whole = 10**9  # runs as the whole block, its own largest divisor
    for name, (X, settings, shape) in cases.items():
        runs: dict[str, list[tuple[int, float, float, float]]] = {"whole block": [], "auto": []}
        for _ in range(args.repeats):
            for label, steps in (("whole block", whole), ("auto", "auto")):
                cfg = AutoencoderConfig(**settings, epochs=10, steps_per_execution=steps)
                runs[label].append(timed_fit(X, cfg, shape))
        fit, inside, call = (
            {k: statistics.median(r[i] for r in v) for k, v in runs.items()} for i in (1, 2, 3)
        )
        print(
            f"{name}, {args.rows} rows: steps per call whole {runs['whole block'][0][0]}, auto "
            f"{runs['auto'][0][0]}; fit s {fit['whole block']:.2f} / {fit['auto']:.2f} "
            f"(ratio {fit['auto'] / fit['whole block']:.3f}); inside calls s "
            f"{inside['whole block']:.2f} / {inside['auto']:.2f} "
            f"(ratio {inside['auto'] / inside['whole block']:.3f}); longest call s "
            f"{call['whole block']:.2f} / {call['auto']:.2f} "
            f"(ratio {call['auto'] / call['whole block']:.3f})",
            flush=True,
        )
        for label, run in runs.items():
            print(f"  {label} fit s: {', '.join(f'{r[1]:.2f}' for r in run)}", flush=True)


if __name__ == "__main__":
    main()
