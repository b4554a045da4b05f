"""What tf.data's autotuning cost aefx's trainings: idle waits when an input iterator is let go.

    python benchmarks/dataset_teardown.py [--repeats 6] [--stream-rows 100000]

tf.data autotunes every pipeline unless told not to, and letting an iterator go sometimes
waited for its tuning thread, with the CPU idle, for up to about as long as the iterator had
run. aefx's pipelines have nothing to tune (`aefx.models.without_autotune`). Two cases,
each with autotuning on (aefx before) and off (now), the two alternating in this process:

- the pipeline's training (`tasks.train_autoencoder.fit_one`): one block of ten passes over
  6,000 rows of 100 features, one iterator per training, let go when it ends;
- `aefx train-stream` (`aefx.streaming.train_stream`): a Parquet file of --stream-rows rows,
  4 epochs, a new iterator every epoch.

Printed: every fit's seconds and every epoch's but the first (which also builds the graph),
their medians and means, the ratio off / on, and how many took 2 s or more longer than the
median with autotuning off (a wait). A wait is occasional, so the median barely moves and the
mean shows what it costs. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextmanager
def autotune(on: bool) -> Iterator[None]:
    """With ``on``, the pipelines as they were built before: tf.data's autotuning left on."""
    import aefx.models
    import tasks.train_autoencoder as stage

    own = aefx.models.without_autotune
    if on:
        aefx.models.without_autotune = stage.without_autotune = lambda dataset: dataset
    try:
        yield
    finally:
        aefx.models.without_autotune = stage.without_autotune = own


def pipeline_fit(X) -> list[float]:
    import tasks.train_autoencoder as stage
    from aefx.config import AutoencoderConfig

    _, _, seconds = stage.fit_one(X, AutoencoderConfig(epochs=10), seed=1)
    return [seconds]


def stream_fit(source: Path, out: Path) -> list[float]:
    import shutil

    from aefx.config import AutoencoderConfig
    from aefx.streaming import train_stream

    shutil.rmtree(out, ignore_errors=True)
    cfg = AutoencoderConfig(epochs=4, batch_size=1024)
    result = train_stream(source, out, cfg, "auto", "label", contamination=0.01)
    return result.seconds_per_epoch[1:]  # the first epoch also builds the graph


def report(name: str, runs: dict[str, list[float]]) -> None:
    waited = statistics.median(runs["off"]) + 2.0
    medians = {k: statistics.median(v) for k, v in runs.items()}
    means = {k: statistics.fmean(v) for k, v in runs.items()}
    print(
        f"{name}: median s on {medians['on']:.2f} / off {medians['off']:.2f} (ratio "
        f"{medians['off'] / medians['on']:.3f}); mean s on {means['on']:.2f} / off "
        f"{means['off']:.2f} (ratio {means['off'] / means['on']:.3f}); 2 s or more over the "
        f"median with it off: on {sum(s >= waited for s in runs['on'])} of {len(runs['on'])}, off "
        f"{sum(s >= waited for s in runs['off'])} of {len(runs['off'])}",
        flush=True,
    )
    for label, seconds in runs.items():
        print(f"  autotune {label}: {', '.join(f'{s:.2f}' for s in seconds)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--stream-rows", type=int, default=100_000)
    args = parser.parse_args()
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.random((6000, 100), dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "table.parquet"
        table = pd.DataFrame(
            rng.random((args.stream_rows, 100), dtype="float32"),
            columns=[f"f{i:02d}" for i in range(100)],
        )
        table["label"] = rng.integers(0, 2, len(table))
        table.to_parquet(source, row_group_size=20_000)
        cases = {
            "pipeline training, 6000 rows x 100, one block of 10 passes (fit s)": (
                lambda: pipeline_fit(X)
            ),
            f"train-stream, {args.stream_rows} rows x 100, epochs 2 to 4 (epoch s)": (
                lambda: stream_fit(source, Path(tmp) / "stream")
            ),
        }
        for name, fit in cases.items():
            runs: dict[str, list[float]] = {"on": [], "off": []}
            for repeat in range(args.repeats):
                order = ("on", "off") if repeat % 2 == 0 else ("off", "on")
                for label in order:
                    with autotune(label == "on"):
                        runs[label].extend(fit())
            report(name, runs)


if __name__ == "__main__":
    main()
