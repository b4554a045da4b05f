"""What reading a table as a folder of Parquet (or CSV) files costs, against the same rows in
one file.

    python benchmarks/parquet_folder.py [--rows 400000] [--columns 100] [--parts 8]
        [--repeats 3] [--format parquet|csv]

Spark and Dask write a table as a folder of part files; ingest reads such a folder whole
(``tasks.ingest.read_table``: pyarrow's dataset for Parquet parts, pandas part by part then
joined for CSV ones) and ``aefx encode`` streams it in chunks (``aefx.encode.read_chunks``, one
file at a time, no read-ahead). This writes one table of generated floats as one file and as a
folder of ``--parts`` files of ``--format``, then for each layout reads it both ways, each in a
fresh process, interleaved by repeat, and prints the seconds and peak RSS (median, min, max) and
the ratios of the folder to the file. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from compressed_csv import read_once, spread  # noqa: E402  (a fresh process's time and memory)

# Reads the table whole (ingest) or in chunks of 50,000 rows (encode); prints the seconds the
# read took and the process's peak RSS (KiB, Linux).
READ = (
    "import resource, sys, time;"
    "from pathlib import Path;"
    "from aefx.encode import read_chunks; from tasks.ingest import read_table;"
    "path = Path(sys.argv[1]); start = time.perf_counter();"
    "rows = len(read_table(path, 4096)) if sys.argv[2] == 'whole' else"
    " sum(len(chunk) for chunk in read_chunks(path, 50_000));"
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
READS = {"whole": "ingest (whole)", "chunks": "encode (chunks of 50,000)"}


def write_layouts(
    folder: Path, rows: int, columns: int, parts: int, kind: str = "parquet"
) -> dict[str, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)), columns=[f"x{i}" for i in range(columns)]
    )
    frame["label"] = rng.integers(0, 2, rows)

    def write(part: pd.DataFrame, path: Path) -> None:
        if kind == "csv":
            part.to_csv(path, index=False)
        else:
            part.to_parquet(path, index=False)

    one = folder / f"rows.{kind}"
    write(frame, one)
    many = folder / f"parts.{kind}"
    many.mkdir()
    for number, block in enumerate(np.array_split(np.arange(rows), parts)):
        write(frame.iloc[block], many / f"part-{number:05d}.{kind}")
    return {"file": one, "folder": many}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layouts = write_layouts(Path(tmp), args.rows, args.columns, args.parts, args.format)
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {
            (how, layout): [] for how in READS for layout in layouts
        }
        for _ in range(args.repeats):
            for how, layout in runs:
                runs[how, layout].append(read_once(READ, str(layouts[layout]), how))
    print(
        f"{args.rows} rows x {args.columns + 1} columns of {args.format}; one file against "
        f"{args.parts} files; {args.repeats} fresh reads each"
    )
    medians = {}
    for (how, layout), results in runs.items():
        seconds, peaks = (list(values) for values in zip(*results, strict=True))
        medians[how, layout] = statistics.median(seconds), statistics.median(peaks)
        print(
            f"{READS[how]:26s} {layout:6s}  {spread(seconds, 's', 2)}  "
            f"peak {spread(peaks, 'MB', 0)}"
        )
    for how, label in READS.items():
        (t_file, m_file), (t_folder, m_folder) = medians[how, "file"], medians[how, "folder"]
        print(
            f"{label}: folder / file: time {t_folder / t_file:.2f}x, "
            f"peak memory {m_folder / m_file:.2f}x"
        )


if __name__ == "__main__":
    main()
