"""train_autoencoder: fit one autoencoder per seed on the scaled training split."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aefx.config import AutoencoderConfig
from aefx.errors import AefxError
from aefx.io import atomic_dir, seed_file, write_json
from aefx.models import build_autoencoder, configure_determinism, save_model
from aefx.progress import epoch_callback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    seeds: tuple[int, ...]
    final_loss: dict[int, float]
    final_val_loss: dict[int, float]
    n_params: int


def carve_validation(X: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a slice of the *training* split for validation; the test split is never used."""
    n_val = max(1, round(fraction * len(X)))
    if len(X) - n_val < 1:
        raise AefxError(f"autoencoder.validation_fraction={fraction} leaves no training rows")
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order[n_val:]], X[order[:n_val]]


def training_callbacks(cfg: AutoencoderConfig, seed: int) -> list:
    """Progress, and the optional early stopping and learning-rate schedule, all judged on the
    validation slice of the training split."""
    import keras

    callbacks = [epoch_callback(log, f"autoencoder seed {seed}", cfg.epochs)]
    if cfg.reduce_lr_patience:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=cfg.reduce_lr_patience, min_lr=1e-5
            )
        )
    if cfg.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
            )
        )
    return callbacks


def fit_one(X: np.ndarray, cfg: AutoencoderConfig, seed: int) -> tuple[object, pd.DataFrame, float]:
    """Train one autoencoder; return it, its per-epoch losses and the fit time in seconds."""
    configure_determinism(seed)
    X_fit, X_val = carve_validation(X, cfg.validation_fraction, seed)
    n_features = X.shape[1]
    model = build_autoencoder(
        n_features,
        cfg.hidden_for(n_features),
        cfg.bottleneck_for(n_features),
        cfg.learning_rate,
        noise_std=cfg.noise_std,
        l2=cfg.l2,
    )
    start = time.perf_counter()
    history = model.fit(
        X_fit,
        X_fit,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        validation_data=(X_val, X_val),
        shuffle=True,
        verbose=0,
        callbacks=training_callbacks(cfg, seed),
    )
    seconds = time.perf_counter() - start
    curve = pd.DataFrame({k: history.history[k] for k in ("loss", "val_loss")})
    curve.insert(0, "epoch", np.arange(1, len(curve) + 1))
    return model, curve, seconds


def plot_learning_curves(curves: dict[int, pd.DataFrame], path: Path) -> None:
    from aefx.report import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for i, (seed, curve) in enumerate(sorted(curves.items())):
        color = f"C{i % 10}"
        ax.plot(curve["epoch"], curve["loss"], color=color, label=f"seed {seed} train")
        ax.plot(
            curve["epoch"],
            curve["val_loss"],
            color=color,
            linestyle="--",
            label=f"seed {seed} validation",
        )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction MSE (log scale)")
    ax.set_title("Autoencoder learning curves (dashed: validation slice of train)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def train_autoencoder(
    cfg: AutoencoderConfig,
    seeds: tuple[int, ...],
    label: str,
    train_scaled: Path,
    models_dir: Path,
    curves_dir: Path,
    metrics_path: Path,
    plot_path: Path,
) -> TrainResult:
    """Train one autoencoder per seed; write the models, learning curves, a plot and metrics."""
    X = pd.read_parquet(train_scaled).drop(columns=[label]).to_numpy(dtype="float32")
    curves: dict[int, pd.DataFrame] = {}
    summary: dict[str, dict[str, float]] = {}
    n_params = 0
    with atomic_dir(models_dir) as models_tmp, atomic_dir(curves_dir) as curves_tmp:
        for seed in seeds:
            model, curve, seconds = fit_one(X, cfg, seed)
            n_params = int(model.count_params())
            save_model(model, seed_file(models_tmp, seed, ".keras"))
            curve.to_csv(seed_file(curves_tmp, seed, ".csv"), index=False)
            curves[seed] = curve
            # The kept weights: the best epoch with early stopping, else the last one.
            kept = (
                curve.loc[curve["val_loss"].idxmin()]
                if cfg.early_stopping_patience
                else (curve.iloc[-1])
            )
            summary[f"seed_{seed}"] = {
                "loss": float(kept["loss"]),
                "val_loss": float(kept["val_loss"]),
                "epochs": len(curve),
                "fit_seconds": round(seconds, 3),
            }
            log.info(
                "train_autoencoder: seed %d done in %.1f s, %d epochs, val_loss=%.5f",
                seed,
                seconds,
                len(curve),
                kept["val_loss"],
            )
    val = [s["val_loss"] for s in summary.values()]
    write_json(
        metrics_path,
        {
            "n_params": n_params,
            "val_loss_mean": float(np.mean(val)),
            "val_loss_std": float(np.std(val)),
            "per_seed": summary,
        },
    )
    plot_learning_curves(curves, plot_path)
    return TrainResult(
        seeds=tuple(seeds),
        final_loss={s: summary[f"seed_{s}"]["loss"] for s in seeds},
        final_val_loss={s: summary[f"seed_{s}"]["val_loss"] for s in seeds},
        n_params=n_params,
    )
