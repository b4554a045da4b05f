"""extract_encoder: keep only the encoder of each trained autoencoder, and ship the best one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from aefx.autoencoders import feature_encoder
from aefx.io import atomic_dir, file_sha256, read_json, seed_file, write_json
from aefx.models import code_columns, load_model, save_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractResult:
    seed: int
    code_size: int


def extract_encoder(
    seeds: tuple[int, ...],
    label: str,
    kind: str,
    schema_path: Path,
    autoencoders_dir: Path,
    train_metrics: Path,
    scaler_path: Path,
    encoders_dir: Path,
    encoder_path: Path,
    encoder_meta: Path,
) -> ExtractResult:
    """Save each seed's encoder sub-model; the seed with the lowest validation loss (never the
    test loss) becomes ``encoder_path``, described by ``encoder_meta`` with its scaler."""
    import keras

    per_seed = read_json(train_metrics)["per_seed"]
    best = min(seeds, key=lambda s: per_seed[f"seed_{s}"]["val_loss"])
    code_size = 0
    with atomic_dir(encoders_dir) as tmp:
        for seed in seeds:
            encoder = feature_encoder(load_model(seed_file(autoencoders_dir, seed, ".keras")))
            save_model(encoder, seed_file(tmp, seed, ".keras"))
            if seed == best:
                save_model(encoder, encoder_path)
                code_size = int(encoder.output.shape[-1])
    scaler = read_json(scaler_path)
    write_json(
        encoder_meta,
        {
            "encoder": encoder_path.name,
            "seed": best,
            "features": scaler["features"],
            "label": label,
            "kind": kind,
            "image_shape": read_json(schema_path)["image_shape"],
            "code_size": code_size,
            "code_columns": code_columns(code_size),
            "scaler": scaler,
            "keras_version": keras.__version__,
            # Checked before the encoder is loaded for serving: a changed file is refused.
            "sha256": file_sha256(encoder_path),
        },
    )
    log.info(
        "extract_encoder: %d encoders saved, seed %d shipped as %s (%d codes)",
        len(seeds),
        best,
        encoder_path,
        code_size,
    )
    return ExtractResult(best, code_size)
