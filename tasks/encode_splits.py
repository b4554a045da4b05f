"""encode_splits: map the scaled train and test splits to codes with each seed's encoder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aefx.io import atomic_dir, encoded_file, read_json, seed_file
from aefx.models import code_columns, load_model

log = logging.getLogger(__name__)
ENCODE_BATCH = 4096


@dataclass(frozen=True)
class EncodeResult:
    seeds: tuple[int, ...]
    code_size: int


def encode_frame(encoder: object, X: np.ndarray) -> np.ndarray:
    return np.asarray(encoder.predict(X.astype("float32"), batch_size=ENCODE_BATCH, verbose=0))


def encode_splits(
    seeds: tuple[int, ...],
    label: str,
    schema_path: Path,
    splits: dict[str, tuple[Path, Path]],
    encoders_dir: Path,
    encoded_dir: Path,
) -> EncodeResult:
    """Write ``{split}-seed-N.parquet`` for each of ``splits`` (name -> its ingested file and its
    scaled file): the columns that ``data.ignore`` kept out of training (ids, read from the
    ingested file, in the same row order), then the code columns and the label."""
    ignored = list(read_json(schema_path).get("ignored", ()))  # absent before data.ignore
    scaled = {split: pd.read_parquet(files[1]) for split, files in splits.items()}
    carried = {
        split: pd.read_parquet(files[0], columns=ignored) if ignored else None
        for split, files in splits.items()
    }
    code_size = 0
    with atomic_dir(encoded_dir) as tmp:
        for seed in seeds:
            encoder = load_model(seed_file(encoders_dir, seed, ".keras"))
            for split, frame in scaled.items():
                codes = encode_frame(encoder, frame.drop(columns=[label]).to_numpy())
                code_size = codes.shape[1]
                out = pd.DataFrame(codes, columns=code_columns(code_size))
                out[label] = frame[label].to_numpy()
                if carried[split] is not None:
                    out = pd.concat([carried[split], out], axis=1)
                out.to_parquet(encoded_file(tmp, split, seed), index=False)
    log.info("encode_splits: %d seeds x 2 splits encoded to %d codes", len(seeds), code_size)
    return EncodeResult(tuple(seeds), code_size)
