"""`aefx encode` throughput and peak memory as the input grows (issue 6's figures).

    python benchmarks/encode_throughput.py [--rows 100000 1000000] [--repeats 3]

Builds an encoder of the default shape for 100 columns (100 -> 600 -> 300 -> 150; its weights
do not change the cost), writes Parquet files of generated rows, and runs `aefx encode` on each
as a fresh process, interleaved by repeat. Prints rows/s and the process's peak RSS (median,
min, max) and the ratios against the smallest file: flat memory means a ratio near 1 while the
rows grow tenfold. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
N_COLUMNS = 100
CHUNK = 100_000

# Runs `aefx encode` as a child and prints the child's peak RSS (KiB, Linux) on its last line.
MEASURE = (
    "import resource, subprocess, sys;"
    "done = subprocess.run(sys.argv[1:]);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
    "sys.exit(done.returncode)"
)


def build_encoder(directory: Path) -> Path:
    import numpy as np

    from aefx.autoencoders import Architecture, build_autoencoder, feature_encoder
    from aefx.config import AutoencoderConfig
    from aefx.io import file_sha256, write_json
    from aefx.models import code_columns, save_model
    from aefx.scaling import make_scaler, scaler_to_dict

    arch = Architecture.from_config(AutoencoderConfig(), N_COLUMNS, None)
    encoder = feature_encoder(build_autoencoder(arch, 1e-3, seed=1))
    path = directory / "encoder.keras"
    save_model(encoder, path)
    features = [f"x{i:03d}" for i in range(N_COLUMNS)]
    sample = np.random.default_rng(0).normal(size=(1000, N_COLUMNS))
    scaler = make_scaler("minmax").fit(sample)
    meta = directory / "encoder.json"
    write_json(
        meta,
        {
            "encoder": path.name,
            "features": features,
            "label": None,
            "code_size": arch.code_size,
            "code_columns": code_columns(arch.code_size),
            "scaler": scaler_to_dict(scaler, "minmax", features, len(sample)),
            "sha256": file_sha256(path),
        },
    )
    return meta


def write_rows(path: Path, rows: int) -> None:
    """``rows`` x 100 normal floats, written a chunk at a time (this process stays small too)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rows)
    names = [f"x{i:03d}" for i in range(N_COLUMNS)]
    writer = None
    for start in range(0, rows, CHUNK):
        block = rng.normal(size=(min(CHUNK, rows - start), N_COLUMNS))
        table = pa.Table.from_arrays([pa.array(block[:, i]) for i in range(N_COLUMNS)], names)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def encode_once(meta: Path, source: Path, output: Path, chunk: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `aefx encode` process."""
    aefx = [sys.executable, "-m", "aefx", "encode", "-m", str(meta)]
    args = [*aefx, "-i", str(source), "-o", str(output), "--rows", str(chunk)]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"aefx encode failed:\n{done.stderr}")
    return seconds, int(done.stdout.strip().splitlines()[-1]) / 1024


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):9.1f}  min {min(values):9.1f}  max {max(values):9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50_000, help="aefx encode --rows")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aefx-encode-bench-") as tmp:
        tmp_path = Path(tmp)
        meta = build_encoder(tmp_path)
        files = {}
        for rows in args.rows:
            files[rows] = tmp_path / f"rows-{rows}.parquet"
            write_rows(files[rows], rows)
        speed: dict[int, list[float]] = {r: [] for r in args.rows}
        memory: dict[int, list[float]] = {r: [] for r in args.rows}
        for _ in range(args.repeats):
            for rows, source in files.items():
                seconds, peak = encode_once(meta, source, tmp_path / "codes.parquet", args.chunk)
                speed[rows].append(rows / seconds)
                memory[rows].append(peak)

    base = args.rows[0]
    print(
        f"aefx encode, {N_COLUMNS} columns -> 150 codes, chunks of {args.chunk} rows, "
        f"{args.repeats} runs each (a whole process: start-up, read, encode, write)"
    )
    for rows in args.rows:
        print(f"{rows:>9} rows  rows/s {summary(speed[rows])}")
        print(f"{'':>9}       peak MiB {summary(memory[rows])}")
    for rows in args.rows[1:]:
        mem = statistics.median(memory[rows]) / statistics.median(memory[base])
        rate = statistics.median(speed[rows]) / statistics.median(speed[base])
        growth = f"{rows} vs {base} rows ({rows / base:.0f}x)"
        print(f"{growth}: peak memory x{mem:.2f}, rows/s x{rate:.2f}")


if __name__ == "__main__":
    main()
