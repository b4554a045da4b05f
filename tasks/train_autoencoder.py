"""train_autoencoder: fit one autoencoder per seed on the scaled training split."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aefx.autoencoders import (
    Architecture,
    batches_per_pass,
    build_autoencoder,
    check_pipeline_model,
    describe,
    raised_penalties,
    recalibrate_batchnorm,
    small_last_batch,
    steps_per_call_cap,
    warn_unused_settings,
    weight_count,
)
from aefx.config import AutoencoderConfig, largest_divisor
from aefx.errors import AefxError
from aefx.io import atomic_dir, read_json, seed_file, write_json
from aefx.models import (
    configure_determinism,
    require_finite_losses,
    save_model,
    stop_when_diverged,
    without_autotune,
)
from aefx.progress import epoch_callback
from aefx.scaling import one_hot_width

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
    validation slice of the training split (patience in epochs, rounded up to whole blocks)."""
    import keras

    block = cfg.block()
    callbacks = [
        epoch_callback(log, f"autoencoder seed {seed}", cfg.epochs, block),
        stop_when_diverged(),
    ]
    if cfg.reduce_lr_patience:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss",
                factor=0.5,
                patience=math.ceil(cfg.reduce_lr_patience / block),
                min_lr=1e-5,
            )
        )
    if cfg.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=math.ceil(cfg.early_stopping_patience / block),
                restore_best_weights=True,
            )
        )
    return callbacks


def learning_rate(cfg: AutoencoderConfig, steps_per_pass: int) -> object:
    """The optimiser's rate: a float, or a cosine decay over every step of the run."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    import keras

    steps = steps_per_pass * cfg.epochs
    return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps, alpha=0.01)


def fit_one(
    X: np.ndarray,
    cfg: AutoencoderConfig,
    seed: int,
    image_shape: Sequence[int] | None = None,
) -> tuple[object, pd.DataFrame, float]:
    """Train one autoencoder; return it, its per-epoch losses and the fit time in seconds."""
    configure_determinism(seed)
    X_fit, X_val = carve_validation(X, cfg.validation_fraction, seed)
    arch = Architecture.from_config(cfg, X.shape[1], image_shape)
    if arch.output == "sigmoid" and (X.min() < 0 or X.max() > 1):
        raise AefxError(
            "autoencoder.output is sigmoid (binary cross-entropy) but the scaled training rows "
            f"leave [0, 1] ({X.min():.3g}..{X.max():.3g}); use scale.kind minmax or output linear"
        )
    batches, per_pass = shuffled_batches(
        X_fit, cfg.batch_size, seed, drop_last=small_last_batch(arch, len(X_fit), cfg.batch_size)
    )
    asked, cfg = cfg.epochs, cfg.for_steps(per_pass)
    if asked != cfg.epochs:
        log.info(
            "autoencoder seed %d: epochs %s trains %d passes of %d step%s",
            seed,
            asked,
            cfg.epochs,
            per_pass,
            "" if per_pass == 1 else "s",
        )
    block = cfg.block()
    steps = per_pass * block  # one Keras epoch = one block
    model = build_autoencoder(
        arch,
        learning_rate(cfg, per_pass),
        seed=seed,
        steps_per_execution=execution_steps(
            cfg.steps_per_execution, steps, steps_per_call_cap(arch, cfg.batch_size)
        ),
        weight_ema=cfg.weight_ema,
    )
    start = time.perf_counter()
    history = model.fit(
        batches,
        steps_per_epoch=steps,
        epochs=cfg.epochs // block,
        validation_data=(X_val, X_val),
        shuffle=False,  # the dataset reshuffles every pass itself
        verbose=0,
        callbacks=training_callbacks(cfg, seed),
    )
    if cfg.recalibrate_bn:
        recalibrate_batchnorm(model, X_fit, seed=seed)
    seconds = time.perf_counter() - start
    curve = pd.DataFrame({k: history.history[k] for k in ("loss", "val_loss")})
    curve.insert(0, "epoch", np.arange(1, len(curve) + 1) * block)
    require_finite_losses(
        curve,
        f"autoencoder seed {seed}",
        "autoencoder.learning_rate",
        cfg.learning_rate,
        raised_penalties(cfg, arch.kind),
    )
    return model, curve, seconds


def execution_steps(requested: int | str, steps: int, cap: int) -> int:
    """Training steps per compiled TensorFlow call, for a block of ``steps``: the largest
    number up to ``requested`` that divides them, or for ``auto`` up to ``cap``
    (:func:`~aefx.autoencoders.steps_per_call_cap`: the whole block, unless it is too much
    arithmetic for a stop signal to wait out). The rows repeat without end
    (:func:`shuffled_batches`), so Keras runs every call to its full length: a number that did
    not divide the block trained more steps than its epochs (7 per call, 21 of a block of 18;
    1,000,000, a million a block)."""
    if requested == "auto":
        return largest_divisor(steps, cap)
    assert isinstance(requested, int)
    runs = largest_divisor(steps, requested)
    if runs != requested:
        log.info(
            "train_autoencoder: autoencoder.steps_per_execution %d runs as %d, the largest "
            "number up to it that divides a block's %d steps",
            requested,
            runs,
            steps,
        )
    return runs


def shuffled_batches(
    X: np.ndarray, batch_size: int, seed: int, drop_last: bool = False
) -> tuple[object, int]:
    """(x, x) batches, every pass over the rows in a new seeded order, repeated without end,
    and the number of batches in a pass: the training loop takes whole blocks of passes from
    it. With ``drop_last``, a pass leaves out its last, partial batch."""
    import tensorflow as tf

    dataset = (
        tf.data.Dataset.from_tensor_slices((X, X))
        .shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=drop_last)
        .repeat()
    )
    return without_autotune(dataset), batches_per_pass(len(X), batch_size, drop_last)


def loss_label(arch: Architecture) -> str:
    """What the curves measure: the reconstruction loss plus any penalty the kind adds."""
    name = {
        "mse": "reconstruction MSE",
        "binary_crossentropy": "reconstruction BCE",
        "calibrated_gaussian_nll": "Gaussian NLL, 0.5 log MSE",
    }[arch.loss]
    extra = {"variational": " + KL", "sparse": " + L1 on the code"}.get(arch.kind, "")
    return name + extra


def plot_learning_curves(
    curves: dict[int, pd.DataFrame], path: Path, ylabel: str, kind: str
) -> None:
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
    ax.set_ylabel(f"{ylabel} (log scale)")
    ax.set_title(f"{kind} autoencoder learning curves (dashed: validation slice of train)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def train_autoencoder(
    cfg: AutoencoderConfig,
    seeds: tuple[int, ...],
    label: str,
    schema_path: Path,
    train_scaled: Path,
    models_dir: Path,
    curves_dir: Path,
    metrics_path: Path,
    plot_path: Path,
    memory_budget_mb: float | None = None,
) -> TrainResult:
    """Train one autoencoder per seed; write the models, learning curves, a plot and metrics.
    An autoencoder needing more than ``memory_budget_mb`` to train is refused first, before
    the training rows are read."""
    schema = read_json(schema_path)
    image_shape = schema["image_shape"]
    # As the scale stage makes them: a column of categories is one per category.
    n_features = one_hot_width(schema["features"], schema.get("categories", {}))
    arch = Architecture.from_config(cfg, n_features, image_shape)
    carried = 1 + len(schema.get("ignored", ()))  # the label, the ignored columns
    check_pipeline_model(arch, cfg.batch_size, memory_budget_mb, carried)
    X = pd.read_parquet(train_scaled).drop(columns=[label]).to_numpy(dtype="float32")
    log.info("train_autoencoder: %s, %s weights", describe(arch), f"{weight_count(arch):,}")
    warn_unused_settings(cfg, image_shape is not None, log)
    curves: dict[int, pd.DataFrame] = {}
    summary: dict[str, dict[str, float]] = {}
    n_params = 0
    with atomic_dir(models_dir) as models_tmp, atomic_dir(curves_dir) as curves_tmp:
        for seed in seeds:
            model, curve, seconds = fit_one(X, cfg, seed, image_shape)
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
            epochs = int(curve["epoch"].iloc[-1])  # the curve has a row per block, not per epoch
            summary[f"seed_{seed}"] = {
                "loss": float(kept["loss"]),
                "val_loss": float(kept["val_loss"]),
                "epochs": epochs,
                "fit_seconds": round(seconds, 3),
            }
            log.info(
                "train_autoencoder: seed %d done in %.1f s, %d epochs, val_loss=%.5f",
                seed,
                seconds,
                epochs,
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
    plot_learning_curves(curves, plot_path, loss_label(arch), cfg.kind)
    return TrainResult(
        seeds=tuple(seeds),
        final_loss={s: summary[f"seed_{s}"]["loss"] for s in seeds},
        final_val_loss={s: summary[f"seed_{s}"]["val_loss"] for s in seeds},
        n_params=n_params,
    )
