"""Time aefx against a plain Keras script of the same work, side by side in one session.

    python benchmarks/bench_training.py [--repeats 3] [--epochs 200] [--batch-size 16]

Measures, interleaved so machine noise hits both sides alike:
  fit    - the plain script's Keras fit vs the train_autoencoder stage's fit, in this process;
  e2e    - `python benchmarks/plain_keras.py` vs `aefx run` (one seed, logistic regression
           only), each a fresh process with imports, data, training and scoring.
Prints median, min and max of each and the ratios of medians. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def stage_fit_seconds(X_train, epochs: int, batch_size: int) -> float:
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    cfg = AutoencoderConfig.reference(epochs=epochs, batch_size=batch_size)
    return fit_one(X_train, cfg, seed=1)[2]


def aefx_run_seconds(epochs: int, batch_size: int) -> float:
    """`aefx run` in a scratch project: one seed, logistic regression, everything else default."""
    from aefx.config import AutoencoderConfig

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["seeds"] = [1]
    # The baseline script's recipe, not params.yaml's.
    recipe = AutoencoderConfig.reference(epochs=epochs, batch_size=batch_size)
    params["autoencoder"] = recipe.model_dump(mode="json")
    params["classifiers"]["use"] = ["logreg"]
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "params.yaml").write_text(yaml.safe_dump(params))
        (Path(scratch) / "data" / "raw").mkdir(parents=True)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "aefx", "run"], cwd=scratch, check=True, capture_output=True
        )
        return time.perf_counter() - start


def plain_script_seconds(epochs: int, batch_size: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(HERE / "plain_keras.py"),
            "--epochs",
            str(epochs),
            "--batch-size",
            str(batch_size),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<28} median {statistics.median(values):7.2f} s   "
        f"min {min(values):7.2f}   max {max(values):7.2f}   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-e2e", action="store_true", help="only time the fits")
    args = parser.parse_args()
    from plain_keras import fit_seconds, reference_data

    X_train = reference_data()[0]
    times: dict[str, list[float]] = {
        "plain fit": [],
        "stage fit": [],
        "plain script": [],
        "aefx run": [],
    }
    for i in range(args.repeats):
        times["plain fit"].append(fit_seconds(X_train, args.epochs, args.batch_size, 1)[0])
        times["stage fit"].append(stage_fit_seconds(X_train, args.epochs, args.batch_size))
        if not args.skip_e2e:
            times["plain script"].append(plain_script_seconds(args.epochs, args.batch_size))
            times["aefx run"].append(aefx_run_seconds(args.epochs, args.batch_size))
        print(
            f"repeat {i + 1}/{args.repeats}: "
            + json.dumps({k: round(v[-1], 2) for k, v in times.items() if v}),
            flush=True,
        )
    print(
        f"\n{args.epochs} epochs, batch {args.batch_size}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )
    for name, values in times.items():
        if values:
            print(summary(name, values))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"ratio stage fit / plain fit      {med['stage fit'] / med['plain fit']:.2f}")
    if "aefx run" in med:
        print(f"ratio aefx run / plain script    {med['aefx run'] / med['plain script']:.2f}")
        print(f"orchestration + tracking overhead {med['aefx run'] - med['plain script']:.1f} s")


if __name__ == "__main__":
    main()
