"""Keras model builders. The encoder and decoder are named sub-models of the autoencoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aefx.errors import AefxError

ENCODER = "encoder"
DECODER = "decoder"


def code_columns(code_size: int) -> list[str]:
    """Names of the code columns in encoded files: z00, z01, ..."""
    width = len(str(max(code_size - 1, 0)))
    return [f"z{i:0{width}d}" for i in range(code_size)]


def configure_determinism(seed: int) -> None:
    """Same seed, same machine: bit-identical weights (op determinism costs nothing here)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _dense_block(x: Any, width: int, name: str, l2: float = 0.0) -> Any:
    from keras import layers, regularizers

    reg = regularizers.L2(l2) if l2 > 0 else None
    x = layers.Dense(width, name=f"{name}_dense", kernel_regularizer=reg)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.LeakyReLU(name=f"{name}_act")(x)


def build_autoencoder(
    n_features: int,
    hidden: Sequence[int],
    bottleneck: int,
    learning_rate: float,
    noise_std: float = 0.0,
    l2: float = 0.0,
) -> Any:
    """The reference dense autoencoder: Dense -> BatchNorm -> LeakyReLU blocks, linear code
    and a mirrored decoder with a linear output, trained with MSE and Adam.

    ``noise_std`` > 0 makes it denoising: Gaussian noise is added to the input during training
    only, outside the encoder, so the saved encoder maps clean rows to codes."""
    import keras
    from keras import layers

    inputs = keras.Input((n_features,), name="features")
    x = inputs
    for i, width in enumerate(hidden):
        x = _dense_block(x, width, f"enc{i}", l2)
    code = layers.Dense(bottleneck, name="code")(x)
    encoder = keras.Model(inputs, code, name=ENCODER)

    code_in = keras.Input((bottleneck,), name="code_in")
    y = code_in
    for i, width in enumerate(reversed(hidden)):
        y = _dense_block(y, width, f"dec{i}", l2)
    recon = layers.Dense(n_features, name="reconstruction")(y)
    decoder = keras.Model(code_in, recon, name=DECODER)

    ae_in = keras.Input((n_features,), name="autoencoder_in")
    noisy = layers.GaussianNoise(noise_std, name="input_noise")(ae_in) if noise_std > 0 else ae_in
    autoencoder = keras.Model(ae_in, decoder(encoder(noisy)), name="autoencoder")
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return autoencoder


def load_model(path: Path) -> Any:
    """Load a ``.keras`` file with safe_mode on (no Lambda layers, no arbitrary code)."""
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise AefxError(f"{path}: only .keras model files are loaded")
    if not path.is_file():
        raise AefxError(f"{path}: model file not found (run the pipeline first)")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError) as exc:
        # Safe mode raises ValueError for Lambda layers, TypeError for unknown classes.
        reason = str(exc).splitlines()[0][:160]
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
