"""Classifier comparison: cells (classifier x feature set x seed) one by one against in parallel.

    python benchmarks/compare_parallel.py [--repeats 3] [--seeds 5]

Prepares encoded splits once in a scratch project (`aefx stage` for the stages before the
comparison, a short autoencoder training), then times the compare_classifiers stage in this
process as the pipeline runs it, interleaved: `compute.threads` 1 (one cell at a time) and
--workers threads. Both must write the same comparison; prints medians, min, max and the
ratio against serial. Nothing here is asserted.
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

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BEFORE_COMPARE = ("ingest", "scale", "train_autoencoder", "extract_encoder", "encode_splits")


def prepare(project: Path, seeds: int) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["seeds"] = list(range(1, seeds + 1))
    params["autoencoder"]["epochs"] = 20  # the codes only need to exist; quality is not timed
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / "data" / "raw").mkdir(parents=True)
    for name in BEFORE_COMPARE:
        subprocess.run(
            [sys.executable, "-m", "aefx", "stage", name],
            cwd=project,
            check=True,
            capture_output=True,
        )


def time_compare(project: Path, threads: int) -> tuple[float, str]:
    """The compare_classifiers stage as the pipeline runs it, on ``threads`` threads."""
    from aefx.config import load_params
    from aefx.pipeline import stage

    cwd = Path.cwd()
    os.chdir(project)
    try:
        params = load_params(overrides=[f"compute.threads={threads}"])
        start = time.perf_counter()
        result = stage("compare_classifiers").run(params)
        seconds = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    return seconds, json.dumps(result.records, sort_keys=True, default=str)


def differing(a: list[dict], b: list[dict]) -> list[str]:
    """classifier/features/field of the records that differ (the first few)."""
    return [
        f"{x['classifier']}/{x['features']}/{k}: {x[k]} vs {y[k]}"
        for x, y in zip(a, b, strict=True)
        for k in x
        if x[k] != y[k]
    ][:5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    variants = {"serial": 1, f"threads x{args.workers}": args.workers}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        prepare(project, args.seeds)
        params = yaml.safe_load((project / "params.yaml").read_text())
        n_cells = (
            len(params["seeds"])
            * len(params["classifiers"]["use"])
            * len(params["classifiers"]["features"])
        )
        reference = None
        for i in range(args.repeats):
            for name, threads in variants.items():
                seconds, records = time_compare(project, threads)
                if reference is None:
                    reference = records
                elif records != reference:
                    differ = differing(json.loads(reference), json.loads(records))
                    raise SystemExit(f"{name} wrote a different comparison than serial: {differ}")
                times[name].append(seconds)
            print(
                f"repeat {i + 1}/{args.repeats}: "
                + json.dumps({k: round(v[-1], 2) for k, v in times.items()}),
                flush=True,
            )
    print(
        f"\n{n_cells} cells ({args.seeds} seeds x {len(params['classifiers']['use'])} classifiers"
        f" x {len(params['classifiers']['features'])} feature sets), {os.cpu_count()} CPUs"
    )
    serial = statistics.median(times["serial"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<14} median {median:6.1f} s   min {min(values):6.1f}   max {max(values):6.1f}"
            f"   ratio to serial {median / serial:.2f}"
        )


if __name__ == "__main__":
    main()
