"""extract_encoder: keep only the encoder of each trained autoencoder, and ship the best one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from aefx.autoencoders import feature_encoder
from aefx.io import atomic_dir, read_json, seed_file, write_json
from aefx.models import load_model, save_model, shipped_metadata

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
    train_scaled: Path,
    contamination: float,
    outputs: tuple[Path, Path, Path, Path],
) -> ExtractResult:
    """Save each seed's encoder sub-model; the seed with the lowest validation loss (never the
    test loss) becomes the shipped encoder, described by its metadata with its scaler.

    ``outputs`` are the encoders directory, the shipped encoder, its metadata and the shipped
    seed's whole autoencoder, whose reconstruction errors on the training rows set the anomaly
    threshold (the ``1 - contamination`` quantile) that ``aefx score`` uses."""
    import pandas as pd

    from aefx.anomaly import ReconstructionDetector, reconstructor

    encoders_dir, encoder_path, encoder_meta, autoencoder_path = outputs

    per_seed = read_json(train_metrics)["per_seed"]
    best = min(seeds, key=lambda s: per_seed[f"seed_{s}"]["val_loss"])
    code_size = 0
    with atomic_dir(encoders_dir) as tmp:
        for seed in seeds:
            autoencoder = load_model(seed_file(autoencoders_dir, seed, ".keras"))
            encoder = feature_encoder(autoencoder)
            save_model(encoder, seed_file(tmp, seed, ".keras"))
            if seed == best:
                save_model(encoder, encoder_path)
                code_size = int(encoder.output.shape[-1])
                shipped = reconstructor(autoencoder)
                save_model(shipped, autoencoder_path)
    X_train = pd.read_parquet(train_scaled).drop(columns=[label]).to_numpy()
    detector = ReconstructionDetector(shipped, contamination).fit(X_train)
    schema = read_json(schema_path)
    image_shape = schema["image_shape"]
    write_json(
        encoder_meta,
        shipped_metadata(
            encoder_path,
            autoencoder_path,
            seed=best,
            scaler=read_json(scaler_path),
            label=label,
            kind=kind,
            image_shape=image_shape,
            image_resize=schema.get("image_resize", False),  # absent before data.image_size
            code_size=code_size,
            detector=detector,
            fitted_on="training rows",
            train_rows=None if image_shape else X_train,  # pixels have their own bounds
            ignored=schema.get("ignored", ()),  # absent from a schema written before data.ignore
        ),
    )
    log.info(
        "extract_encoder: %d encoders saved, seed %d shipped as %s (%d codes)",
        len(seeds),
        best,
        encoder_path,
        code_size,
    )
    return ExtractResult(best, code_size)
