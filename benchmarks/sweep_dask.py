"""A 4-member sweep on a local 2-worker Dask cluster against the same sweep run one member
after another (issue 6's scale-out figure).

    python benchmarks/sweep_dask.py [--repeats 2] [--epochs 60]

Both sides are `aefx sweep` processes in one scratch project (the reference task, one seed,
logistic regression and an RBF SVM), interleaved by repeat so machine noise hits both alike.
Prints wall time (median, min, max) and the ratio of medians. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEMBERS = "sweep.grid.autoencoder.bottleneck=[25, 50, 100, 150]"


def sweep_seconds(project: Path, epochs: int, workers: int | None) -> float:
    args = [sys.executable, "-m", "aefx", "sweep", "-s", MEMBERS, "-s", "seeds=[1]"]
    args += ["-s", f"autoencoder.epochs={epochs}", "-s", "classifiers.use=[logreg, svm_rbf]"]
    if workers:
        args += ["--workers", str(workers)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"aefx sweep failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    times: dict[str, list[float]] = {"one after another": [], f"{args.workers} Dask workers": []}
    with tempfile.TemporaryDirectory(prefix="aefx-sweep-bench-") as tmp:
        project = Path(tmp)
        shutil.copy(REPO / "params.yaml", project / "params.yaml")
        (project / "data" / "raw").mkdir(parents=True)
        for _ in range(args.repeats):
            for label, workers in zip(times, (None, args.workers), strict=True):
                times[label].append(sweep_seconds(project, args.epochs, workers))
                print(f"  {label}: {times[label][-1]:.1f} s", flush=True)

    print(f"4-member sweep, {args.epochs} epochs, {args.repeats} runs each (wall s):")
    for label, values in times.items():
        print(
            f"  {label:<20} median {statistics.median(values):7.1f}  "
            f"min {min(values):7.1f}  max {max(values):7.1f}"
        )
    serial, parallel = (statistics.median(v) for v in times.values())
    print(f"ratio Dask / one after another: {parallel / serial:.2f}")


if __name__ == "__main__":
    main()
