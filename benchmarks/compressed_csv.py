"""What reading a compressed CSV costs ingest, against the same CSV uncompressed.

    python benchmarks/compressed_csv.py [--rows 100000] [--columns 100] [--repeats 3]

Ingest reads ``table.csv.gz`` (``.bz2``, ``.zst``) through pyarrow's decompressing stream,
counting its text against ``data.memory_budget_mb`` as it goes. This writes one table of
generated floats as a plain CSV and in each compression, then reads each with
``tasks.ingest.read_table`` (the checks and the read, as ingest does) in a fresh process,
interleaved by repeat, and prints the file sizes, the seconds and peak RSS of each read (median,
min, max) and the ratios to the plain CSV. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Reads the table as ingest does (under the default budget); prints the seconds the read took
# and the process's peak RSS (KiB, Linux).
READ = (
    "import resource, sys, time;"
    "from pathlib import Path;"
    "from tasks.ingest import read_table;"
    "start = time.perf_counter(); read_table(Path(sys.argv[1]), 4096);"
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
CODECS = {"plain": None, "gz": "gzip", "zst": "zstd", "bz2": "bz2"}


def write_tables(folder: Path, rows: int, columns: int) -> dict[str, Path]:
    import numpy as np
    import pandas as pd

    from aefx.io import create_table

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)), columns=[f"x{i}" for i in range(columns)]
    )
    frame["label"] = rng.integers(0, 2, rows)
    plain = folder / "rows.csv"
    frame.to_csv(plain, index=False)
    paths = {"plain": plain}
    for name, codec in CODECS.items():
        if codec is not None:
            paths[name] = folder / f"rows.csv.{name}"
            with open(plain, "rb") as source, create_table(paths[name], codec) as sink:
                while block := source.read(1 << 24):
                    sink.write(block)
    return paths


def read_once(code: str, *args: str) -> tuple[float, float]:
    """Run ``code`` in a fresh process from the repository root; it prints the seconds it took
    and its peak RSS in KiB, returned as (seconds, MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    seconds, peak_kib = done.stdout.split()
    return float(seconds), float(peak_kib) / 1024


def spread(values: list[float], unit: str, digits: int) -> str:
    """Median, min and max, as this script and benchmarks/parquet_folder.py print them."""
    return (
        f"{statistics.median(values):.{digits}f} {unit} (min {min(values):.{digits}f}, "
        f"max {max(values):.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_tables(Path(tmp), args.rows, args.columns)
        sizes = {name: path.stat().st_size / 1e6 for name, path in paths.items()}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, path in paths.items():
                runs[name].append(read_once(READ, str(path)))
    print(f"{args.rows} rows x {args.columns + 1} columns, {args.repeats} fresh reads each")
    medians = {}
    for name, results in runs.items():
        seconds, peaks = (list(values) for values in zip(*results, strict=True))
        medians[name] = statistics.median(seconds), statistics.median(peaks)
        print(
            f"{name:5s} {sizes[name]:6.0f} MB  read {spread(seconds, 's', 2)}  "
            f"peak {spread(peaks, 'MB', 0)}"
        )
    seconds_plain, peak_plain = medians["plain"]
    for name, (seconds, peak) in medians.items():
        if name != "plain":
            print(
                f"{name} / plain: size {sizes[name] / sizes['plain']:.2f}x, read time "
                f"{seconds / seconds_plain:.2f}x, peak memory {peak / peak_plain:.2f}x"
            )


if __name__ == "__main__":
    main()
