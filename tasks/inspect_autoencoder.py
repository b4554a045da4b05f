"""inspect_autoencoder: how well each autoencoder reconstructs the test split, what its codes
look like, and the pictures that show it (originals above reconstructions, codes in 2-D)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.io import read_json, seed_file, write_json

log = logging.getLogger(__name__)
N_SHOWN = 10  # images (or table rows) in the reconstruction picture
INACTIVE = 1e-6  # a code unit at or below this magnitude counts as inactive


@dataclass(frozen=True)
class InspectResult:
    test_mse: dict[int, float]
    mean_code_activation: dict[int, float]


def code_statistics(codes: np.ndarray) -> dict[str, float]:
    """Mean absolute activation of the code units and the share that are (near) zero."""
    magnitude = np.abs(codes)
    return {
        "mean_code_activation": float(magnitude.mean()),
        "inactive_code_fraction": float((magnitude <= INACTIVE).mean()),
    }


def collapsed(codes: np.ndarray) -> bool:
    """Every code unit takes one value (within :data:`INACTIVE`) over the rows: a sparse
    autoencoder whose L1 penalty silenced every unit, or a code that collapsed to a point."""
    return len(codes) > 1 and float(np.ptp(codes, axis=0).max()) <= INACTIVE


def collapsed_warning(seeds: Sequence[int], codes: np.ndarray, kind: str) -> str:
    """What to tell of ``seeds`` whose test codes are :func:`collapsed` (``codes``: the
    first's, or a row of them)."""
    value = "0" if float(np.abs(codes).max()) <= INACTIVE else "one value"
    hint = ": lower autoencoder.sparsity, whose penalty silenced them" if kind == "sparse" else ""
    return (
        f"autoencoder seed(s) {', '.join(map(str, seeds))}: all {codes.shape[1]} code units are "
        f"{value} for every test row, so the encoded features cannot tell the rows apart and "
        f"classifiers on them score as a guess would{hint}"
    )


def reconstruction_errors(X: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    errors = {"test_mse": float(np.mean((X - recon) ** 2))}
    if X.min() >= 0 and X.max() <= 1:
        p = np.clip(recon, 1e-7, 1 - 1e-7)
        errors["test_bce"] = float(np.mean(-(X * np.log(p) + (1 - X) * np.log(1 - p))))
    return errors


def inspect_one(model: Any, X: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of one autoencoder on ``X``, its reconstructions and its feature codes."""
    from aefx.autoencoders import ENCODER, feature_encoder
    from aefx.layers import kl_divergence

    recon = np.asarray(model.predict(X, verbose=0))
    codes = np.asarray(feature_encoder(model).predict(X, verbose=0))
    metrics = {**reconstruction_errors(X, recon), **code_statistics(codes)}
    encoder = model.get_layer(ENCODER)
    if len(encoder.outputs) == 2:  # variational: report the KL term on the test rows
        mean, log_var = encoder.predict(X, verbose=0)
        metrics["test_kl"] = float(np.mean(np.asarray(kl_divergence(mean, log_var))))
    return metrics, recon, codes


def corrupted(model: Any, X: np.ndarray, seed: int) -> np.ndarray | None:
    """The denoising autoencoder's training-time corruption applied to ``X`` (None otherwise)."""
    import keras

    from aefx.autoencoders import CORRUPTION

    try:
        layer = model.get_layer(CORRUPTION)
    except ValueError:
        return None
    keras.utils.set_random_seed(seed)
    return np.asarray(layer(X.astype("float32"), training=True))


def shown_rows(y: np.ndarray, n: int = N_SHOWN) -> np.ndarray:
    """Row indices to draw: one per class in turn, so every class appears when it can."""
    picked: list[int] = []
    by_class = [np.flatnonzero(y == c).tolist() for c in pd.unique(y)]
    while len(picked) < min(n, len(y)):
        for rows in by_class:
            if rows and len(picked) < n:
                picked.append(rows.pop(0))
    return np.asarray(picked)


def displayed(row: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """One image as imshow takes it: grey levels as a 2-D array, colour clipped to [0, 1].
    Noisy inputs leave that range, and matplotlib ignores vmin/vmax for RGB and logs a warning
    per image as it clips."""
    img = np.clip(row.reshape(image_shape), 0.0, 1.0)
    return img[..., 0] if image_shape[-1] == 1 else img


def plot_reconstructions(
    panels: list[tuple[str, np.ndarray]],
    image_shape: list[int] | None,
    labels: np.ndarray,
    title: str,
    path: Path,
) -> None:
    """Images: one row per panel (original, noisy, reconstruction). Tables: one heat map each."""
    from aefx.report import pyplot, save_png

    plt = pyplot()
    if image_shape is not None:
        n = len(labels)
        fig, axes = plt.subplots(
            len(panels),
            n,
            figsize=(1.0 * n + 0.6, 1.15 * len(panels) + 0.5),
            dpi=110,
            layout="constrained",
        )
        axes = np.atleast_2d(axes)
        for r, (name, rows) in enumerate(panels):
            for c in range(n):
                ax = axes[r, c]
                ax.imshow(displayed(rows[c], image_shape), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"class {labels[c]}", fontsize=8)
            axes[r, 0].set_ylabel(name, fontsize=9)
    else:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), dpi=110)
        axes = np.atleast_1d(axes)
        low = min(float(rows.min()) for _, rows in panels)
        high = max(float(rows.max()) for _, rows in panels)
        for ax, (name, rows) in zip(axes, panels, strict=True):
            shown = ax.imshow(
                rows, aspect="auto", cmap="viridis", vmin=low, vmax=high, interpolation="nearest"
            )
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("feature")
            ax.set_yticks(range(len(labels)), [])
        axes[0].set_yticks(range(len(labels)), [f"class {v}" for v in labels], fontsize=7)
        axes[0].set_ylabel("test row")
        fig.colorbar(shown, ax=list(axes), label="scaled value")
    fig.suptitle(title, fontsize=10)
    save_png(fig, path)
    plt.close(fig)


def plot_codes_2d(codes: np.ndarray, y: np.ndarray, title: str, path: Path) -> None:
    """The test codes projected on their first two principal components, coloured by class."""
    from sklearn.decomposition import PCA

    from aefx.report import pyplot, save_png

    plt = pyplot()
    n_comp = min(2, codes.shape[1], len(codes))
    if collapsed(codes):  # no variance to share out (PCA would divide by zero)
        points, ratio = np.zeros((len(codes), 2)), [0.0, 0.0]
    else:
        pcs = PCA(n_components=n_comp).fit(codes)
        points = pcs.transform(codes)
        ratio = [*pcs.explained_variance_ratio_, 0.0]
    if points.shape[1] == 1:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    classes = pd.unique(y)
    for i, cls in enumerate(sorted(classes, key=str)):
        mask = y == cls
        ax.scatter(
            points[mask, 0], points[mask, 1], s=9, alpha=0.7, color=f"C{i % 10}", label=str(cls)
        )
    ax.set_xlabel(f"PC 1 of the codes ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 of the codes ({ratio[1]:.0%} of variance)")
    ax.set_title(title, fontsize=10)
    ax.legend(title="class", fontsize=7, markerscale=1.5, loc="best")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def inspect_autoencoder(
    seeds: tuple[int, ...],
    label: str,
    kind: str,
    inputs: tuple[Path, Path, Path],
    metrics_path: Path,
    reconstruction_plot: Path,
    codes_plot: Path,
) -> InspectResult:
    """Score every seed's autoencoder on the test split (reported, never used to choose) and
    draw the first seed's reconstructions and codes. ``inputs``: schema, test split, models."""
    from aefx.models import load_model

    schema_path, test_scaled, autoencoders_dir = inputs
    image_shape = read_json(schema_path)["image_shape"]
    test = pd.read_parquet(test_scaled)
    X = test.drop(columns=[label]).to_numpy(dtype="float32")
    y = test[label].to_numpy()
    per_seed: dict[str, dict[str, float]] = {}
    first: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
    silent: dict[int, np.ndarray] = {}  # seeds whose codes are all one value: one row of each
    for seed in seeds:
        model = load_model(seed_file(autoencoders_dir, seed, ".keras"))
        metrics, recon, codes = inspect_one(model, X)
        per_seed[f"seed_{seed}"] = metrics
        if collapsed(codes):
            silent[seed] = codes[:1]
        if first is None:
            first = (recon, codes, corrupted(model, X, seed))
    assert first is not None
    if silent:
        first_silent = next(iter(silent.values()))
        log.warning("inspect_autoencoder: %s", collapsed_warning(list(silent), first_silent, kind))
    summary = {
        f"{name}_mean": float(np.mean([m[name] for m in per_seed.values()]))
        for name in per_seed[f"seed_{seeds[0]}"]
    }
    write_json(metrics_path, {**summary, "per_seed": per_seed})

    recon, codes, noisy = first
    rows = shown_rows(y)
    panels = [("original", X[rows])]
    if noisy is not None:
        panels.append(("corrupted input", noisy[rows]))
    panels.append(("reconstruction", recon[rows]))
    plot_reconstructions(
        panels,
        image_shape,
        y[rows],
        f"{kind} autoencoder, seed {seeds[0]}: test-split examples "
        f"(test MSE {per_seed[f'seed_{seeds[0]}']['test_mse']:.4f})",
        reconstruction_plot,
    )
    plot_codes_2d(
        codes,
        y,
        f"{kind} autoencoder, seed {seeds[0]}: {codes.shape[1]}-wide test codes in 2-D",
        codes_plot,
    )
    log.info(
        "inspect_autoencoder: test MSE %.5f (mean over %d seeds), mean code activation %.4f; "
        "pictures: %s, %s",
        summary["test_mse_mean"],
        len(seeds),
        summary["mean_code_activation_mean"],
        reconstruction_plot,
        codes_plot,
    )
    return InspectResult(
        {s: per_seed[f"seed_{s}"]["test_mse"] for s in seeds},
        {s: per_seed[f"seed_{s}"]["mean_code_activation"] for s in seeds},
    )
