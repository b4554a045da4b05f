"""Training from Parquet files larger than memory: peak memory and time per epoch as rows grow.

    python benchmarks/stream_training.py [--rows 200000 1000000 2000000] [--epochs 3] [--folder]
        [--csv]

Writes Parquet files of generated rows (100 columns of a rank-10 signal plus noise), then runs
`aefx train-stream` on each as a fresh process. Prints the process's peak RSS, the median
seconds per epoch (from the run's learning curve) and seconds per million rows, whose ratios
against the smallest file say whether time grows linearly (ratio near 1) and memory stays flat.
With ``--folder``, the same rows are also written as a folder of files of 100,000 rows (one per
row group of the file, as Spark writes a table) and trained on right after the file, and the
folder's figures are printed as ratios to the file's. With ``--csv``, the same rows are also
written as a CSV and trained on right after (train-stream copies a CSV to Parquet first, in one
pass): its process time, peak RSS and median epoch are printed as ratios to the file's.
The model is small (100 -> 50 -> code 20) so the figures measure the input pipeline and the
training loop rather than matrix products. Nothing here is asserted.
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

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from encode_throughput import MEASURE  # noqa: E402  (the child's peak-RSS wrapper)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
N_COLUMNS = 100
CHUNK = 100_000
MODEL = ("autoencoder.hidden_ratios=[0.5]", "autoencoder.bottleneck_ratio=0.2")


def write_folder(source: Path, folder: Path) -> None:
    """``source``'s row groups as the files of ``folder``, one each."""
    import pyarrow.parquet as pq

    folder.mkdir()
    reader = pq.ParquetFile(source)
    for group in range(reader.num_row_groups):
        pq.write_table(reader.read_row_group(group), folder / f"part-{group:05d}.parquet")


def write_csv(source: Path, target: Path) -> None:
    """``source``'s rows as a CSV, a row group at a time."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(source)
    with pacsv.CSVWriter(target, reader.schema_arrow) as writer:
        for group in range(reader.num_row_groups):
            writer.write_table(reader.read_row_group(group))


def write_rows(path: Path, rows: int) -> None:
    """``rows`` x 100 floats (rank-10 signal + noise) and a label, a chunk at a time (a row
    group each)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rows)
    mixing = rng.normal(size=(10, N_COLUMNS))
    names = [f"x{i:03d}" for i in range(N_COLUMNS)] + ["label"]
    with pq.ParquetWriter(
        path, pa.schema([(n, pa.float64()) for n in names[:-1]] + [("label", pa.int64())])
    ) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            latent = rng.normal(size=(n, 10))
            block = latent @ mixing + 0.1 * rng.normal(size=(n, N_COLUMNS))
            label = (latent[:, 0] > 0).astype("int64")
            arrays = [pa.array(block[:, i]) for i in range(N_COLUMNS)] + [pa.array(label)]
            writer.write_table(pa.Table.from_arrays(arrays, names))


def train_once(source: Path, output: Path, epochs: int, scratch: Path) -> tuple[float, float, list]:
    """(wall seconds, peak RSS MiB, seconds per epoch) of one `aefx train-stream` process."""
    args = [sys.executable, "-m", "aefx", "train-stream", "-i", str(source), "-o", str(output)]
    args += ["--epochs", str(epochs), "--batch-size", "1024"]
    for override in MODEL:
        args += ["--set", override]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args], cwd=scratch, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"aefx train-stream failed:\n{done.stderr}")
    per_epoch = pd.read_csv(output / "learning_curve.csv")["seconds"].tolist()
    return seconds, int(done.stdout.strip().splitlines()[-1]) / 1024, per_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000, 2_000_000])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--folder", action="store_true", help="also as a folder of files")
    parser.add_argument("--csv", action="store_true", help="also as a CSV file")
    args = parser.parse_args()

    results, folders, texts = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="aefx-stream-bench-") as tmp:
        scratch = Path(tmp)
        (scratch / "data" / "raw").mkdir(parents=True)
        shutil.copy(REPO / "params.yaml", scratch / "params.yaml")
        for rows in args.rows:
            source = scratch / f"rows-{rows}.parquet"
            write_rows(source, rows)
            size = source.stat().st_size / 2**20
            wall, peak, epochs = train_once(source, scratch / f"model-{rows}", args.epochs, scratch)
            results[rows] = (wall, peak, epochs)
            print(
                f"{rows:>9} rows ({size:,.0f} MiB Parquet): peak RSS {peak:,.0f} MiB, "
                f"epoch seconds {[round(s, 1) for s in epochs]}, process {wall:.0f} s",
                flush=True,
            )
            if args.folder:
                folder = scratch / f"rows-{rows}-parts"
                write_folder(source, folder)
                model = scratch / f"model-{rows}-parts"
                folders[rows] = train_once(folder, model, args.epochs, scratch)
                shutil.rmtree(folder)
                print(
                    f"{rows:>9} rows as {rows // CHUNK} files: peak RSS {folders[rows][1]:,.0f} "
                    f"MiB, epoch seconds {[round(s, 1) for s in folders[rows][2]]}",
                    flush=True,
                )
            if args.csv:
                text = scratch / f"rows-{rows}.csv"
                write_csv(source, text)
                texts[rows] = train_once(text, scratch / f"model-{rows}-csv", args.epochs, scratch)
                print(
                    f"{rows:>9} rows as a CSV ({text.stat().st_size / 2**20:,.0f} MiB): peak RSS "
                    f"{texts[rows][1]:,.0f} MiB, epoch seconds "
                    f"{[round(s, 1) for s in texts[rows][2]]}, process {texts[rows][0]:.0f} s",
                    flush=True,
                )
                text.unlink()
            source.unlink()
    base = args.rows[0]
    base_rate = statistics.median(results[base][2]) / base * 1e6
    print(f"\n{N_COLUMNS} columns, batch 1024, {os.cpu_count()} CPUs")
    for rows, (_, peak, epochs) in results.items():
        rate = statistics.median(epochs) / rows * 1e6
        print(
            f"{rows:>9} rows: median epoch {statistics.median(epochs):6.1f} s "
            f"(min {min(epochs):.1f}, max {max(epochs):.1f}), {rate:5.2f} s per 1M rows "
            f"(x{rate / base_rate:.2f} of {base} rows), peak {peak:,.0f} MiB "
            f"(x{peak / results[base][1]:.2f})"
        )
    for rows, measured in folders.items():
        print(f"{rows:>9} rows, folder / file: {against(measured, results[rows])}")
    for rows, measured in texts.items():
        print(f"{rows:>9} rows, CSV / Parquet file: {against(measured, results[rows])}")


def against(measured: tuple, baseline: tuple) -> str:
    """(wall seconds, peak MiB, epoch seconds) of one run as ratios to the baseline's."""
    (wall, peak, epochs), (base_wall, base_peak, base_epochs) = measured, baseline
    return (
        f"process x{wall / base_wall:.2f} ({wall - base_wall:+.0f} s), median epoch "
        f"x{statistics.median(epochs) / statistics.median(base_epochs):.2f}, "
        f"peak x{peak / base_peak:.2f}"
    )


if __name__ == "__main__":
    main()
