"""What reading a CSV's column types from all its rows costs ingest.

    python benchmarks/csv_read.py [--rows 200000] [--columns 100] [--repeats 3]

`aefx.io.read_csv` passes pandas ``low_memory=False``: pandas then infers each column's type
from the whole column, where by default it infers it per chunk of 2**18 rows (and a column of
numbers that turns to text late in the file came as ints and strings at once). This writes a CSV
of generated floats and reads it both ways, each read in a fresh process, interleaved by
repeat, and prints the seconds and the peak RSS of each (median, min, max) and the ratios of
whole-file inference to pandas' default. A third read is `aefx.io.read_csv` itself, which
also gives pandas its missing-value markers column by column, none but the empty field for
the label (:data:`aefx.io.NA_MARKERS`); its ratio is to the second. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Reads the CSV and prints the seconds the read took and the process's peak RSS (KiB, Linux).
READ = (
    "import resource, sys, time; from pathlib import Path; import pandas as pd;"
    "from aefx.io import read_csv;"
    "start = time.perf_counter();"
    "read_csv(Path(sys.argv[1]), text={'label'}) if sys.argv[2] == 'text' else "
    "pd.read_csv(sys.argv[1], low_memory=sys.argv[2] == 'chunks');"
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
MODES = {
    "chunks": "pandas' default (types per chunk)",
    "whole": "types per column",
    "text": "aefx (and markers per column)",
}


def write_csv(path: Path, rows: int, columns: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)), columns=[f"x{i}" for i in range(columns)]
    )
    frame["label"] = rng.integers(0, 2, rows)
    frame.to_csv(path, index=False)


def read_once(path: Path, mode: str) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path), mode], capture_output=True, text=True, check=True
    )
    seconds, peak_kib = done.stdout.split()
    return float(seconds), float(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        write_csv(path, args.rows, args.columns)
        size_mb = path.stat().st_size / 1e6
        runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode in MODES:
                runs[mode].append(read_once(path, mode))
    print(
        f"{args.rows} rows x {args.columns + 1} columns, {size_mb:.0f} MB, {args.repeats} repeats"
    )
    medians = {}
    for mode, label in MODES.items():
        seconds, peaks = zip(*runs[mode], strict=True)
        medians[mode] = (statistics.median(seconds), statistics.median(peaks))
        print(
            f"{label:36s} {medians[mode][0]:6.2f} s (min {min(seconds):.2f}, max "
            f"{max(seconds):.2f})  peak {medians[mode][1]:6.0f} MB (min {min(peaks):.0f}, "
            f"max {max(peaks):.0f})"
        )
    (t_chunks, m_chunks), (t_whole, m_whole) = medians["chunks"], medians["whole"]
    print(f"whole / chunks: time {t_whole / t_chunks:.2f}x, peak memory {m_whole / m_chunks:.2f}x")
    t_text, m_text = medians["text"]
    print(f"text / whole: time {t_text / t_whole:.2f}x, peak memory {m_text / m_whole:.2f}x")


if __name__ == "__main__":
    main()
