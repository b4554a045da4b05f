"""Loading, saving and seeding Keras models, and stopping a training that diverges (the
builders live in aefx.autoencoders)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aefx.errors import AefxError, first_line


def code_columns(code_size: int) -> list[str]:
    """Names of the code columns in encoded files: z00, z01, ..."""
    width = len(str(max(code_size - 1, 0)))
    return [f"z{i:0{width}d}" for i in range(code_size)]


def configure_determinism(seed: int) -> None:
    """Same seed, same machine: bit-identical weights (op determinism costs nothing here).
    Streamed training is the exception under CPU contention (README, "Reproducibility")."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def without_autotune(dataset: Any) -> Any:
    """``dataset`` with tf.data's autotuning off. aefx's input pipelines leave it nothing to
    tune (no AUTOTUNE parallelism or buffer), but letting an iterator go sometimes waited for
    its tuning thread, with the CPU idle, for up to about as long as the iterator had run:
    measured here, 3 of 6 trainings of 8 s on a table ended 5 s late (3 of 8 of 25 s on images,
    17 s late), and 4 of 18 epochs of ``aefx train-stream`` took 10 s instead of 5
    (benchmarks/dataset_teardown.py)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def load_model(path: Path) -> Any:
    """Load a ``.keras`` file with safe_mode on (no Lambda layers, no arbitrary code)."""
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise AefxError(f"{path}: only .keras model files are loaded")
    if not path.is_file():
        raise AefxError(f"{path}: model file not found (run the pipeline first)")
    import aefx.layers  # noqa: F401  (registers the project's own layers for safe loading)

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError) as exc:
        # Safe mode raises ValueError for Lambda layers, TypeError for unknown classes.
        reason = first_line(exc, 160)
        raise AefxError(f"{path}: refused to load an unsafe or unknown model ({reason})") from None


def save_model(model: Any, path: Path) -> None:
    from aefx.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        # Keras insists on the .keras suffix, so save beside the temporary name and move.
        staged = tmp.with_suffix(".keras")
        try:
            model.save(staged)
            staged.replace(tmp)
        finally:
            staged.unlink(missing_ok=True)


def shipped_metadata(
    encoder_path: Path,
    autoencoder_path: Path,
    *,
    seed: int,
    scaler: dict[str, Any],
    label: str | None,
    kind: str,
    image_shape: Any,
    code_size: int,
    detector: Any,
    fitted_on: str,
    train_rows: Any = None,
    ignored: Sequence[str] = (),
    image_resize: bool = False,
) -> dict[str, Any]:
    """What `aefx encode`/`aefx score` and the pyfunc model need beside a shipped encoder: its
    file names and SHA-256 (a changed file is refused before loading), the features and scaler,
    the columns that were neither features nor the label (``ignored``: carried through when new
    rows have them), the code columns, the anomaly threshold learned on ``fitted_on`` rows, and
    the range of the scaled ``train_rows`` per feature (for `aefx encode` to tell rows far
    outside it), and for images their shape and whether new ones are resized to it."""
    import keras

    from aefx.io import file_sha256

    return {
        "encoder": encoder_path.name,
        "seed": seed,
        "features": scaler.get("columns", scaler["features"]),  # raw columns, before one-hot
        "label": label,
        "ignored": list(ignored),
        "kind": kind,
        "image_shape": image_shape,
        "image_resize": image_resize,  # new images are resized to image_shape (data.image_size)
        "code_size": code_size,
        "code_columns": code_columns(code_size),
        "scaler": scaler,
        "keras_version": keras.__version__,
        "sha256": file_sha256(encoder_path),
        "autoencoder": autoencoder_path.name,
        "autoencoder_sha256": file_sha256(autoencoder_path),
        "anomaly": {
            "score": "reconstruction mse (scaled features)",
            "contamination": detector.contamination,
            "threshold": detector.threshold_,
            "train_flagged": float(detector.labels_.mean()),
            "fitted_on": fitted_on,
        },
        "train_range": None
        if train_rows is None
        else {"low": train_rows.min(axis=0).tolist(), "high": train_rows.max(axis=0).tolist()},
    }


def stop_when_diverged() -> Any:
    """A Keras callback that ends training once a batch's loss is no longer finite, quietly
    (Keras' TerminateOnNaN prints a line on stdout); :func:`require_finite_losses` then says
    so in one line."""
    import keras

    class StopWhenDiverged(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.model.stop_training = True

    return StopWhenDiverged()


def require_finite_losses(
    curve: Any, who: str, setting: str, learning_rate: float, penalties: Sequence[str] = ()
) -> None:
    """The learning curve (a frame of ``epoch`` and its ``loss``/``val_loss`` columns) stayed
    finite. A run that diverged (too high a learning rate) went on to encode every row as NaN,
    or to give NaN probabilities, and ended after all the training in scikit-learn's "Input X
    contains NaN" traceback. ``setting`` names the learning rate's parameter; ``penalties``
    names the loss's penalties raised above their defaults, as likely a cause."""
    import numpy as np

    losses = curve[[c for c in ("loss", "val_loss") if c in curve]].to_numpy(dtype="float64")
    bad = ~np.isfinite(losses).all(axis=1)
    if bad.any():
        at = int(np.argmax(bad))
        value = next(v for v in losses[at] if not np.isfinite(v))
        raise AefxError(
            f"{who} diverged: its loss was {value} by epoch {int(curve['epoch'].iloc[at])} at "
            f"{setting} {learning_rate:g}; lower the learning rate"
            + (f", or the loss's penalty {' or '.join(penalties)}" if penalties else "")
        )
