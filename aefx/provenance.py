"""What a run's numbers came from beyond the code and data: the installed packages and the CPU.

Tagged on every MLflow run aefx opens (``aefx.tracking.start_run``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def provenance_tags() -> dict[str, str]:
    """The ``pkg.*`` and ``host.*`` tags of a new run."""
    return {**package_versions(), **machine_tags()}


VERSIONED = ("aefx", "tensorflow", "tensorflow-cpu", "keras", "scikit-learn", "numpy", "pandas")
VERSIONED += ("mlflow", "prefect", "dvc", "pydantic", "pandera")


def package_versions() -> dict[str, str]:
    """``pkg.<name>`` tags: what a rerun needs installed to reproduce this run's numbers."""
    from importlib.metadata import PackageNotFoundError, version

    tags = {"pkg.python": platform.python_version()}
    for name in VERSIONED:
        try:
            tags[f"pkg.{name}"] = version(name)
        except PackageNotFoundError:
            continue
    return tags


# Widest SIMD first: oneDNN picks TensorFlow's CPU kernels by it, and their rounding can move a
# test row, so runs from machines that differ here may differ by that much with nothing changed.
SIMD_LEVELS = ("avx512f", "avx2", "avx", "sse4_2", "asimd")
ONEDNN_SETTINGS = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")


def machine_tags(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """``host.*`` tags: the CPU a run's floats came from, and any oneDNN setting that changes
    which kernels it used."""
    # The first CPU's lines speak for all; Linux only, elsewhere the model from platform.
    fields: dict[str, str] = {}
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    tags = {
        "host.machine": platform.machine(),
        "host.cpu": fields.get("model name") or platform.processor() or "unknown",
        "host.simd": next((level for level in SIMD_LEVELS if level in flags), "unknown"),
        "host.cpus": str(os.cpu_count()),
    }
    for name in ONEDNN_SETTINGS:
        if name in os.environ:
            tags[f"host.{name.lower()}"] = os.environ[name]
    return tags
