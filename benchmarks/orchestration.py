"""What orchestration and tracking cost on the reference task, and what a no-op costs.

    python benchmarks/orchestration.py [--repeats 2] [--noop 5]

Each repeat, interleaved, from a clean scratch project (a Git repository with `dvc init`, as a
user's clone), params.yaml's defaults:
  stages  - a plain script: every stage function in one process, one after another
            (ingest ... compare_classifiers), no Prefect, no MLflow, no DVC: the same work;
  aefx run - the Prefect flow with MLflow tracking and dvc.lock;
  dvc repro - every stage as its own `aefx stage` process, then `log_run`.
Then, in the last `dvc repro` project, --noop runs of `dvc repro` with nothing changed, and
--noop runs of `aefx --help`. Prints medians, min, max and the ratios the speed goals name.
Nothing here is asserted.
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

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
ENV.pop("MLFLOW_TRACKING_URI", None)
ENV.pop("PREFECT_API_URL", None)

STAGES_SCRIPT = """
from aefx.config import load_params
from aefx.pipeline import STAGES
params = load_params()
for stage in STAGES:
    if stage.name != "log_run":
        stage.run(params)
"""


def sh(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def project(root: Path) -> Path:
    """A clean clone's worth of files: code, dvc.yaml, params.yaml; Git and DVC initialised."""
    root.mkdir()
    for name in ("aefx", "tasks", "flows"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    (root / "mlruns").mkdir()
    shutil.copy(REPO / "mlruns" / ".gitignore", root / "mlruns" / ".gitignore")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / ".gitkeep").touch()
    sh(["git", "init", "-q"], root)
    sh(["git", "config", "user.email", "bench@example.invalid"], root)
    sh(["git", "config", "user.name", "bench"], root)
    sh([sys.executable, "-m", "dvc", "init", "-q"], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-qm", "project"], root)
    return root


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    sh(args, cwd)
    return time.perf_counter() - start


def spread(name: str, values: list[float]) -> str:
    return (
        f"{name:<22} median {statistics.median(values):7.2f} s   min {min(values):7.2f}   "
        f"max {max(values):7.2f}   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--noop", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"stages": [], "aefx run": [], "dvc repro": []}
    with tempfile.TemporaryDirectory(prefix="aefx-orchestration-") as tmp:
        for i in range(args.repeats):
            base = Path(tmp) / f"repeat-{i}"
            base.mkdir()
            commands = {
                "stages": [sys.executable, "-c", STAGES_SCRIPT],
                "aefx run": [sys.executable, "-m", "aefx", "run"],
                "dvc repro": [sys.executable, "-m", "dvc", "repro"],
            }
            for name, command in commands.items():
                times[name].append(timed(command, project(base / name.replace(" ", "-"))))
            print(
                f"repeat {i + 1}/{args.repeats}: "
                + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
                flush=True,
            )
        last = base / "dvc-repro"
        noop = [timed([sys.executable, "-m", "dvc", "repro"], last) for _ in range(args.noop)]
        status = [timed([sys.executable, "-m", "dvc", "status"], last) for _ in range(args.noop)]
        helps = [timed([str(VENV_BIN / "aefx"), "--help"], last) for _ in range(args.noop)]
    print(f"\nreference task, params.yaml defaults, {os.cpu_count()} CPUs")
    for name, values in times.items():
        print(spread(name, values))
    print(spread("dvc repro, no change", noop))
    print(spread("dvc status", status))
    print(spread("aefx --help", helps))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"ratio aefx run / stages script   {med['aefx run'] / med['stages']:.2f}")
    print(f"ratio dvc repro / aefx run       {med['dvc repro'] / med['aefx run']:.2f}")


if __name__ == "__main__":
    main()
