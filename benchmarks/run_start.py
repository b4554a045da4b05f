"""A run's start: seconds from `aefx run` to Prefect's "Beginning flow run", this checkout
against another (an older commit's worktree, say), on a project whose MLflow store exists.

    git worktree add /tmp/base <commit>
    python benchmarks/run_start.py --baseline /tmp/base [--repeats 5] [--at-once 3]

Both run in one scratch project (the repository's params.yaml, one seed, a short training), one
after the other in turn, each a whole `aefx run` in a new process with its checkout first on
PYTHONPATH. A first run, not timed, makes the store. With ``--at-once N``, N runs start together
(seeds 1 to N, each with ``--set``, so each in a workspace of its own), and the time is the
last one's. Prints each time, the medians and the ratio against the baseline. Nothing here is
asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def seconds_to_flow(code: Path, project: Path, at_once: int = 1) -> float:
    """``at_once`` `aefx run` of ``code`` in ``project`` started together, to their end; when
    the last of their flow runs began (one: a run of params.yaml as it stands)."""
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}
    variants = [[]] if at_once == 1 else [["--set", f"seeds=[{n}]"] for n in range(1, at_once + 1)]
    began: list[float | None] = [None] * len(variants)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aefx", "run", *variant],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for variant in variants
    ]

    def watch(number: int) -> None:
        for line in procs[number].stdout or ():
            if began[number] is None and "Beginning flow run" in line:
                began[number] = time.perf_counter() - start

    watchers = [threading.Thread(target=watch, args=(n,)) for n in range(len(procs))]
    for watcher in watchers:
        watcher.start()
    for watcher, proc in zip(watchers, procs, strict=True):
        watcher.join()
        proc.wait()
        if proc.returncode != 0:
            raise SystemExit(f"aefx run of {code} failed (rc {proc.returncode})")
    if None in began:
        raise SystemExit(f"an aefx run of {code} began no flow run")
    return max(t for t in began if t is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--at-once", type=int, default=1, help="runs started together")
    args = parser.parse_args()
    checkouts = {"baseline": args.baseline.resolve(), "this": REPO}
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["seeds"] = [1]
        params["autoencoder"]["epochs"] = 5  # the start is timed, not the training
        (project / "params.yaml").write_text(yaml.safe_dump(params))
        seconds_to_flow(REPO, project, args.at_once)  # makes the store the timed runs find
        times: dict[str, list[float]] = {name: [] for name in checkouts}
        for _ in range(args.repeats):
            for name, code in checkouts.items():
                times[name].append(seconds_to_flow(code, project, args.at_once))
                print(f"{name}: {times[name][-1]:.2f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name}: median {medians[name]:.2f} s, min {min(values):.2f}, max {max(values):.2f}")
    print(f"this / baseline: x{medians['this'] / medians['baseline']:.3f}")


if __name__ == "__main__":
    main()
