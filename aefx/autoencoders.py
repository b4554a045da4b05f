"""Autoencoder builders, one per kind. Every model takes flat rows (an image's pixels, channels
last) and is made of two named sub-models, ``encoder`` and ``decoder``; corruption (denoising)
and sampling (variational) sit between them in the full autoencoder, so the saved encoder maps
clean rows to codes and nothing random happens when it encodes."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from aefx.config import AutoencoderConfig, changed_settings, unread_warning
from aefx.errors import AefxError
from aefx.io import PARQUET_MAX_COLUMNS

ENCODER = "encoder"
DECODER = "decoder"
CORRUPTION = "corruption"


@dataclass(frozen=True)
class Architecture:
    """Everything the builders need, resolved from params and the data's shape."""

    kind: str  # dense, deep-bn, conv, denoising, sparse, variational
    stack: str  # dense, deep-bn or conv: the layers under the kind
    n_features: int
    image_shape: tuple[int, int, int] | None
    hidden: tuple[int, ...]
    bottleneck: int
    conv_filters: tuple[int, ...]
    output: str  # linear (MSE) or sigmoid (binary cross-entropy)
    l2: float = 0.0
    corruption: str = "gaussian"
    corruption_level: float = 0.0
    sparsity: float = 0.0
    kl_weight: float = 1.0
    activation: str = "leaky_relu"  # deep-bn: leaky_relu, elu or gelu
    leaky_slope: float = 0.3
    dropout: float = 0.0

    @classmethod
    def from_config(
        cls, cfg: AutoencoderConfig, n_features: int, image_shape: Sequence[int] | None
    ) -> Architecture:
        is_image = image_shape is not None
        return cls(
            kind=cfg.kind,
            stack=cfg.architecture(is_image),
            n_features=n_features,
            image_shape=tuple(image_shape) if image_shape else None,  # type: ignore[arg-type]
            hidden=cfg.hidden_for(n_features),
            bottleneck=cfg.bottleneck_for(n_features),
            conv_filters=cfg.conv_filters,
            output=cfg.output_for(is_image),
            l2=cfg.l2,
            corruption=cfg.corruption,
            corruption_level=cfg.corruption_level,
            sparsity=cfg.sparsity,
            kl_weight=cfg.kl_weight,
            activation=cfg.activation,
            leaky_slope=cfg.leaky_slope,
            dropout=cfg.dropout,
        )

    @property
    def loss(self) -> str:
        """The reconstruction loss's name: Keras' own, or the calibrated Gaussian likelihood for
        a VAE with a linear output (its KL term needs a likelihood, not a plain MSE)."""
        if self.output == "sigmoid":
            return "binary_crossentropy"
        return "calibrated_gaussian_nll" if self.kind == "variational" else "mse"

    def conv_code_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the conv code: each pooling halves, rounding up."""
        assert self.image_shape is not None
        h, w, _ = self.image_shape
        k = len(self.conv_filters)
        return math.ceil(h / 2**k), math.ceil(w / 2**k), self.conv_filters[-1]

    @property
    def code_size(self) -> int:
        if self.stack == "conv":
            return math.prod(self.conv_code_shape())
        return self.bottleneck


# Memory per weight while an autoencoder trains and is saved: float32 weights, gradients and
# Adam's two moments, and the copy of weights and optimiser state that saving holds. Measured
# with the default recipe, peak RSS of `aefx stage train_autoencoder` (one seed; MB = 2**20
# bytes, as the budget counts): 791 MB at 0.58M weights (100 features), 2,797 MB at 57M
# (1,000), 8,444 MB at 228M (2,000): 35-37 bytes per weight on top of TensorFlow's own.
TRAINING_BYTES_PER_WEIGHT = 36


@dataclass(frozen=True)
class _Kernel:
    """One kernel of the autoencoder: a Dense layer (``inputs`` x ``outputs``, used once a row)
    or a 3x3 conv (``inputs`` = 9 x its input channels, used at ``positions`` places a row);
    ``batch_norm``: a BatchNorm layer follows it."""

    inputs: int
    outputs: int
    positions: int = 1
    batch_norm: bool = False


def _kernels(arch: Architecture) -> list[_Kernel]:
    """Every kernel of the autoencoder, in order, from the architecture alone: what
    :func:`weight_count` and :func:`multiply_adds_per_row` both sum."""
    if arch.stack == "conv":
        assert arch.image_shape is not None
        height, width, channels = arch.image_shape
        kernels, cin = [], channels
        for filters in arch.conv_filters:  # each conv, then a pooling that halves, rounding up
            kernels.append(_Kernel(9 * cin, filters, height * width))
            height, width, cin = math.ceil(height / 2), math.ceil(width / 2), filters
        for filters in reversed(arch.conv_filters):  # each conv, then an upsampling that doubles
            kernels.append(_Kernel(9 * cin, filters, height * width))
            height, width, cin = 2 * height, 2 * width, filters
        return [*kernels, _Kernel(9 * cin, channels, height * width)]  # the pixels, before the crop
    bn = arch.stack == "deep-bn"
    heads = 2 if arch.kind == "variational" else 1  # a VAE's mean and log-variance
    encoder = [_Kernel(a, b, batch_norm=bn) for a, b in pairwise([arch.n_features, *arch.hidden])]
    code = [_Kernel(arch.hidden[-1], arch.bottleneck)] * heads
    decoder = [
        _Kernel(a, b, batch_norm=bn) for a, b in pairwise([arch.bottleneck, *reversed(arch.hidden)])
    ]
    return [*encoder, *code, *decoder, _Kernel(arch.hidden[0], arch.n_features)]


def weight_count(arch: Architecture) -> int:
    """The autoencoder's weights as Keras' ``count_params`` counts them, from the architecture
    alone, so a model too large to train is refused before it is built: each kernel, its
    biases, and a BatchNorm layer's four vectors."""
    return sum(
        k.inputs * k.outputs + (5 if k.batch_norm else 1) * k.outputs for k in _kernels(arch)
    )


# The most training arithmetic one compiled TensorFlow call is given when
# autoencoder.steps_per_execution is auto. Python sees Ctrl-C and SIGTERM only between calls,
# so a call bounds how long a stop waits: on a 2-core CPU, about a second for Dense stacks
# (near 30 GFLOP/s) and three for the conv stack (near 10), benchmarks/steps_per_call.py.
# The default's whole block of ten passes (about 20 GFLOP) stays one call; a block of 20,000
# 28x28 images (about 770 GFLOP) was one call of 78 s, and `aefx run` took 74 s to stop after
# a SIGTERM sent 8 s into it.
CALL_FLOPS = 3e10
# Training FLOPs per multiply-add of the forward pass: 2 FLOPs each, and the backward pass
# costs about twice the forward one.
TRAINING_FLOPS_PER_MULTIPLY_ADD = 6


def multiply_adds_per_row(arch: Architecture) -> int:
    """Multiply-adds of one row's forward pass through the autoencoder: each Dense kernel once,
    each conv kernel at every position of its grid (3x3, padding same). Biases, batch
    normalisation, pooling and the like are left out: they are a small part."""
    return sum(k.inputs * k.outputs * k.positions for k in _kernels(arch))


def steps_per_call_cap(arch: Architecture, batch_size: int) -> int:
    """The most training steps of ``batch_size`` rows one compiled call may take when
    autoencoder.steps_per_execution is auto: as many as fit in :data:`CALL_FLOPS`, at least
    one."""
    per_step = TRAINING_FLOPS_PER_MULTIPLY_ADD * multiply_adds_per_row(arch) * batch_size
    return max(1, int(CALL_FLOPS // per_step))


def describe(arch: Architecture) -> str:
    """The layer widths in one line, e.g. ``deep-bn 100 -> 600 -> 300 -> code 150``."""
    if arch.stack == "conv":
        assert arch.image_shape is not None
        shape = "x".join(map(str, arch.image_shape))
        return f"conv {shape} -> filters {list(arch.conv_filters)} -> code {arch.code_size}"
    widths = " -> ".join(map(str, (arch.n_features, *arch.hidden)))
    return f"{arch.stack} {widths} -> code {arch.bottleneck}"


def check_trainable(arch: Architecture, budget_mb: float) -> None:
    """Refuse, in one line, an autoencoder whose training would need more memory than
    ``budget_mb``: the width ratios grow the weights with the square of the feature count, so
    a wide table meets this long before its rows fill the memory. Names widths that fit."""
    need = TRAINING_BYTES_PER_WEIGHT * weight_count(arch)
    if need <= budget_mb * 2**20:
        return
    if arch.stack == "conv":
        hint = "use fewer autoencoder.conv_filters"
    elif (smaller := _widths_that_fit(arch, budget_mb)) is None:
        hint = "no narrower layers fit"
    else:
        hint = (
            f"{smaller} would fit: set autoencoder.hidden and autoencoder.bottleneck (or "
            "smaller ratios)"
        )
    raise AefxError(
        f"autoencoder: {describe(arch)} has {weight_count(arch):,} weights and needs about "
        f"{_megabytes(need)} MB to train, over data.memory_budget_mb={budget_mb:g}; {hint}, "
        "or raise the budget"
    )


def check_batch_norm(arch: Architecture, batch_size: int, option: str) -> None:
    """Refuse, in one line, batches of one row for the deep-bn stack (``option`` names the
    setting): batch normalisation over one row sets every unit to its own mean, 0, so the
    layers under it learn nothing, and what the model learned in training mode met, on the
    moving statistics it encodes with, values training never saw. On the default table, 2
    epochs: a test MSE of 1.8e9, against 0.036 on batches of 3, and the run finished without a
    word."""
    if arch.stack != "deep-bn" or batch_size > 1:
        return
    own = arch.kind == "deep-bn"
    stack = "" if own else " (its deep-bn stack)"
    other = "autoencoder.kind: dense" if own else "autoencoder.base: dense"
    raise AefxError(
        f"{option}=1: the {arch.kind} autoencoder's batch normalisation{stack} learns nothing "
        "from batches of one row, whose every unit it sets to 0; set "
        f"{option} to 2 or more, or {other} (no batch normalisation)"
    )


def small_last_batch(arch: Architecture, rows: int, batch_size: int) -> bool:
    """Whether each pass over ``rows`` training rows should leave out its last batch: on the
    deep-bn stack, when it would be a single row, which batch normalisation cannot learn from
    (:func:`check_batch_norm`), or fewer rows than a quarter of ``batch_size``, whose
    statistics are too noisy to learn from. The rows are shuffled each pass, so the rows left
    out change.

    Measured by `benchmarks/last_batch.py` (the default's training rows cut to leave the last
    batch given, seeds 1 to 3, median test MSE kept against left out; one row of 43 by `aefx
    run`, mean). A harm: one row of 43 0.0125 against 0.0055; 2 of 43 0.0343 / 0.0067, 2 of 64
    0.0383 / 0.0052, 3 of 43 0.0169 / 0.0053, 3 of 16 0.0074 / 0.0045, 5 of 43 0.0115 /
    0.0065, 8 of 43 0.0097 / 0.0057. None from a quarter up: 4 of 16 0.0047 / 0.0050, 11 of 43
    0.0062 / 0.0063, 16 of 64 0.0054 / 0.0060, and the default's 27 of 64 0.0054 / 0.0064.
    With no whole batch there is nothing else to train on, so the rows are kept."""
    left = rows % batch_size
    return (
        arch.stack == "deep-bn"
        and batch_size > 1
        and rows > batch_size
        and left > 0
        and (left == 1 or 4 * left < batch_size)
    )


def batches_per_pass(rows: int, batch_size: int, drop_last: bool) -> int:
    """Batches in a pass over ``rows``; with ``drop_last`` (:func:`small_last_batch`), whole ones
    only."""
    return rows // batch_size if drop_last else math.ceil(rows / batch_size)


def raised_penalties(cfg: AutoencoderConfig, kind: str) -> list[str]:
    """The loss penalties of this kind set above their defaults, each with its value
    (``autoencoder.l2 (1e+23)``): a diverged run names them beside the learning rate."""
    read = {"l2": True, "kl_weight": kind == "variational", "sparsity": kind == "sparse"}
    fields = type(cfg).model_fields
    return [
        f"autoencoder.{name} ({getattr(cfg, name):g})"
        for name, used in read.items()
        if used and getattr(cfg, name) > fields[name].get_default()
    ]


def check_code_width(arch: Architecture, carried: int) -> None:
    """Refuse, in one line, codes too wide for the encoded splits: Parquet files of the code's
    columns and ``carried`` more (the label, the ignored columns). Past pyarrow's limit the
    files were written but could not be read back, and the comparison failed in a traceback
    after every autoencoder had trained (a bottleneck of 1,000,000 typed for 1,000; a folder
    of large photos without data.image_size, which the conv stack keeps at a quarter of their
    sides)."""
    columns = arch.code_size + carried
    if columns <= PARQUET_MAX_COLUMNS:
        return
    if arch.stack == "conv":
        hint = "set data.image_size smaller, or the last of autoencoder.conv_filters"
    else:
        hint = "set autoencoder.bottleneck smaller (or autoencoder.bottleneck_ratio)"
    raise AefxError(
        f"autoencoder: {describe(arch)} makes codes of {arch.code_size:,} columns, and the "
        f"encoded splits ({columns:,} columns with the {carried} carried beside them) would be "
        f"Parquet files too wide to read back ({PARQUET_MAX_COLUMNS:,} columns at most); {hint}"
    )


def check_pipeline_model(
    arch: Architecture, batch_size: int, memory_budget_mb: float | None, carried: int
) -> None:
    """What the pipeline checks of its autoencoder before one trains, in :func:`preflight
    <flows.pipeline.preflight>` and again in the train_autoencoder stage (`dvc repro`): its
    training within ``memory_budget_mb`` (when given), its codes and the ``carried`` columns
    within the encoded splits' width, and its batches against batch normalisation."""
    if memory_budget_mb is not None:
        check_trainable(arch, memory_budget_mb)
    check_code_width(arch, carried)
    check_batch_norm(arch, batch_size, "autoencoder.batch_size")


def _megabytes(size: int) -> str:
    mb = size / 2**20
    return f"{mb:,.0f}" if mb >= 1 else f"{mb:.2g}"


def _widths_that_fit(arch: Architecture, budget_mb: float) -> str | None:
    """The widths scaled down by one factor, in steps of 10%, until the model fits (None when
    even one unit per layer does not: the input and output layers alone are too large)."""
    for step in range(1, 200):
        smaller = replace(
            arch,
            hidden=tuple(max(1, round(w * 0.9**step)) for w in arch.hidden),
            bottleneck=max(1, round(arch.bottleneck * 0.9**step)),
        )
        if TRAINING_BYTES_PER_WEIGHT * weight_count(smaller) <= budget_mb * 2**20:
            widths = ", ".join(map(str, smaller.hidden))
            return f"hidden [{widths}] and bottleneck {smaller.bottleneck}"
    return None


class KernelSeeds:
    """Kernel initializer (and dropout) seeds for one model, drawn in layer order from the
    run's own seed.

    An unseeded Keras initializer draws its seed from Python's global ``random``, which every
    thread in the process shares (Prefect's service loops draw their sleep jitter from it, for
    one): a draw landing between seeding and building moves every weight, so the same seed could
    train a different model in a busy process. These are the very draws Keras makes right after
    ``keras.utils.set_random_seed(seed)`` in a quiet one, made from a generator no other thread
    can touch: results from before this class existed are unchanged. ``None``: unseeded."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        # Dropout draws from a generator of its own, so a model with dropout starts from the
        # same kernels as one without.
        self._dropout_rng = random.Random(None if seed is None else f"dropout-{seed}")

    def glorot(self) -> Any:
        from keras import initializers

        return initializers.GlorotUniform(seed=self._rng.randint(1, int(1e9)))

    def dropout(self) -> int:
        return self._dropout_rng.randint(1, int(1e9))


def _regulariser(l2: float) -> Any:
    from keras import regularizers

    return regularizers.L2(l2) if l2 > 0 else None


def _dropout(x: Any, name: str, arch: Architecture, seeds: KernelSeeds) -> Any:
    """Dropout after a hidden layer (training only); nothing when ``arch.dropout`` is 0."""
    from keras import layers

    if arch.dropout == 0:
        return x
    return layers.Dropout(arch.dropout, seed=seeds.dropout(), name=f"{name}_drop")(x)


def _dense_stack(
    x: Any, widths: Sequence[int], prefix: str, arch: Architecture, seeds: KernelSeeds
) -> Any:
    from keras import layers

    for i, width in enumerate(widths):
        name = f"{prefix}{i}"
        reg = _regulariser(arch.l2)
        if arch.stack == "deep-bn":
            x = layers.Dense(
                width,
                name=f"{name}_dense",
                kernel_regularizer=reg,
                kernel_initializer=seeds.glorot(),
            )(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            if arch.activation == "leaky_relu":
                x = layers.LeakyReLU(negative_slope=arch.leaky_slope, name=f"{name}_act")(x)
            else:
                x = layers.Activation(arch.activation, name=f"{name}_act")(x)
        else:
            x = layers.Dense(
                width,
                activation="relu",
                name=f"{name}_dense",
                kernel_regularizer=reg,
                kernel_initializer=seeds.glorot(),
            )(x)
        x = _dropout(x, name, arch, seeds)
    return x


def _conv(x: Any, filters: int, name: str, arch: Architecture, seeds: KernelSeeds) -> Any:
    from keras import layers

    x = layers.Conv2D(
        filters,
        3,
        padding="same",
        activation="relu",
        kernel_regularizer=_regulariser(arch.l2),
        kernel_initializer=seeds.glorot(),
        name=name,
    )(x)
    return _dropout(x, name, arch, seeds)


def _sparse_penalty(arch: Architecture) -> Any:
    from keras import regularizers

    return regularizers.L1(arch.sparsity) if arch.kind == "sparse" else None


def _encoder(arch: Architecture, seeds: KernelSeeds) -> Any:
    import keras
    from keras import layers

    inputs = keras.Input((arch.n_features,), name="features")
    if arch.stack == "conv":
        assert arch.image_shape is not None
        x = layers.Reshape(arch.image_shape, name="to_image")(inputs)
        for i, filters in enumerate(arch.conv_filters):
            x = _conv(x, filters, f"enc{i}_conv", arch, seeds)
            x = layers.MaxPooling2D(2, padding="same", name=f"enc{i}_pool")(x)
        if arch.kind == "sparse":
            x = layers.ActivityRegularization(l1=arch.sparsity, name="code_l1")(x)
        return keras.Model(inputs, layers.Flatten(name="code")(x), name=ENCODER)
    x = _dense_stack(inputs, arch.hidden, "enc", arch, seeds)
    if arch.kind == "variational":
        mean = layers.Dense(arch.bottleneck, name="code", kernel_initializer=seeds.glorot())(x)
        log_var = layers.Dense(
            arch.bottleneck, name="code_log_var", kernel_initializer=seeds.glorot()
        )(x)
        return keras.Model(inputs, [mean, log_var], name=ENCODER)
    # A sparse code is non-negative (ReLU) with an L1 penalty, so inactive units are exact zeros.
    code = layers.Dense(
        arch.bottleneck,
        activation="relu" if arch.kind == "sparse" else None,
        activity_regularizer=_sparse_penalty(arch),
        kernel_initializer=seeds.glorot(),
        name="code",
    )(x)
    return keras.Model(inputs, code, name=ENCODER)


def _decoder(arch: Architecture, seeds: KernelSeeds) -> Any:
    import keras
    from keras import layers

    code_in = keras.Input((arch.code_size,), name="code_in")
    if arch.stack == "conv":
        assert arch.image_shape is not None
        height, width, channels = arch.image_shape
        x = layers.Reshape(arch.conv_code_shape(), name="to_grid")(code_in)
        for i, filters in enumerate(reversed(arch.conv_filters)):
            x = _conv(x, filters, f"dec{i}_conv", arch, seeds)
            x = layers.UpSampling2D(2, name=f"dec{i}_up")(x)
        x = layers.Conv2D(
            channels,
            3,
            padding="same",
            activation=arch.output,
            kernel_initializer=seeds.glorot(),
            name="pixels",
        )(x)
        grown_h, grown_w = x.shape[1], x.shape[2]
        x = layers.Cropping2D(((0, grown_h - height), (0, grown_w - width)), name="crop")(x)
        return keras.Model(code_in, layers.Flatten(name="reconstruction")(x), name=DECODER)
    y = _dense_stack(code_in, list(reversed(arch.hidden)), "dec", arch, seeds)
    recon = layers.Dense(
        arch.n_features,
        activation=arch.output,
        kernel_initializer=seeds.glorot(),
        name="reconstruction",
    )(y)
    return keras.Model(code_in, recon, name=DECODER)


def build_autoencoder(
    arch: Architecture,
    learning_rate: float | Any,
    seed: int | None = None,
    steps_per_execution: int = 1,
    weight_ema: float | None = None,
) -> Any:
    """The compiled autoencoder for ``arch``: corruption -> encoder -> (sampling) -> decoder.
    With ``weight_ema`` the optimiser keeps a moving average of the weights and ``fit`` ends by
    writing it into the model."""
    import keras
    from keras import layers

    from aefx.layers import MaskingNoise, Sampling, calibrated_gaussian_nll

    seeds = KernelSeeds(seed)
    encoder, decoder = _encoder(arch, seeds), _decoder(arch, seeds)
    ae_in = keras.Input((arch.n_features,), name="autoencoder_in")
    x = ae_in
    if arch.kind == "denoising":
        if arch.corruption == "masking":
            x = MaskingNoise(arch.corruption_level, seed=seed, name=CORRUPTION)(x)
        else:
            x = layers.GaussianNoise(arch.corruption_level, seed=seed, name=CORRUPTION)(x)
    code = encoder(x)
    if arch.kind == "variational":
        # Both reconstruction likelihoods are means over the inputs; dividing the KL term by
        # their count keeps the ELBO's per-row balance of a summed reconstruction loss.
        code = Sampling(arch.kl_weight / arch.n_features, seed=seed, name="sampling")(code)
    autoencoder = keras.Model(ae_in, decoder(code), name="autoencoder")
    ema = {} if weight_ema is None else {"use_ema": True, "ema_momentum": weight_ema}
    autoencoder.compile(
        optimizer=keras.optimizers.Adam(learning_rate, **ema),
        loss=calibrated_gaussian_nll if arch.loss == "calibrated_gaussian_nll" else arch.loss,
        steps_per_execution=steps_per_execution,
    )
    return autoencoder


def _layers_of(parts: Sequence[Any], kind: type) -> list[Any]:
    """The layers of type ``kind`` in the sub-models ``parts``, in order."""
    return [layer for part in parts for layer in part.layers if isinstance(layer, kind)]


@contextmanager
def _set_for_now(layers: Sequence[Any], attribute: str, value: Any) -> Iterator[None]:
    """Give every layer's ``attribute`` the value ``value`` inside the block; restore after."""
    saved = [getattr(layer, attribute) for layer in layers]
    try:
        for layer in layers:
            setattr(layer, attribute, value)
        yield
    finally:
        for layer, old in zip(layers, saved, strict=True):
            setattr(layer, attribute, old)


def recalibrate_batchnorm(autoencoder: Any, X: Any, max_rows: int = 20_000, seed: int = 0) -> int:
    """Set every BatchNorm layer's moving mean and variance to the statistics of the clean rows
    ``X`` (at most ``max_rows`` of them, a seeded sample) as they pass through the trained
    encoder and decoder, in order; return how many layers were set.

    Training leaves those statistics as a lagging average over batches of corrupted rows and
    weights that were still moving, and they are what the shipped encoder normalizes with.
    This is Wu and Johnson's "precise BatchNorm": one forward pass, no weight changes."""
    import keras
    import numpy as np

    parts = [autoencoder.get_layer(ENCODER), autoencoder.get_layer(DECODER)]
    norms = _layers_of(parts, keras.layers.BatchNormalization)
    if not norms:
        return 0
    rows = np.asarray(X, dtype="float32")
    if len(rows) > max_rows:
        rows = rows[np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)]
    drops = _layers_of(parts, keras.layers.Dropout)
    # In training mode each layer normalizes by this one batch's statistics, so every layer
    # after it sees what inference will see once the statistics are stored (with dropout
    # switched off, as it is in inference).
    with _set_for_now(norms, "momentum", 0.0), _set_for_now(drops, "rate", 0.0):
        code = parts[0](rows, training=True)
        parts[1](code[0] if isinstance(code, (list, tuple)) else code, training=True)
    return len(norms)


def unused_settings(
    cfg: AutoencoderConfig, is_image: bool, changed_only: bool = True
) -> dict[str, str]:
    """The settings changed from their defaults (with ``changed_only``; else all of them) that
    the autoencoder ``cfg`` trains does not read (``sparsity`` beside kind denoising,
    ``conv_filters`` for a table), each with what would read it."""
    stack = cfg.architecture(is_image)
    dense = ("by the dense and deep-bn stacks", stack != "conv")
    readers = {
        "base": (
            "by the denoising, sparse and variational kinds",
            cfg.kind in ("denoising", "sparse", "variational"),
        ),
        "hidden": dense,
        # A width given outright is used as it is: its ratio scales nothing.
        "hidden_ratios": (
            f"{dense[0]}, with autoencoder.hidden null",
            dense[1] and cfg.hidden is None,
        ),
        "bottleneck": dense,
        "bottleneck_ratio": (
            f"{dense[0]}, with autoencoder.bottleneck null",
            dense[1] and cfg.bottleneck is None,
        ),
        "conv_filters": ("by the conv stack", stack == "conv"),
        "corruption": ("by kind denoising", cfg.kind == "denoising"),
        "corruption_level": ("by kind denoising", cfg.kind == "denoising"),
        "sparsity": ("by kind sparse", cfg.kind == "sparse"),
        "kl_weight": ("by kind variational", cfg.kind == "variational"),
        "activation": ("by the deep-bn stack", stack == "deep-bn"),
        # (with another activation than leaky_relu, a slope is refused by the config)
        "leaky_slope": ("by the deep-bn stack", stack == "deep-bn"),
        "recalibrate_bn": ("by the deep-bn stack, the only one with BatchNorm", stack == "deep-bn"),
    }
    changed = changed_settings(cfg)
    return {
        f"autoencoder.{name}": reader
        for name, (reader, read) in readers.items()
        if not read and (name in changed or not changed_only)
    }


def warn_unused_settings(cfg: AutoencoderConfig, is_image: bool, log: logging.Logger) -> list[str]:
    """Say once which settings change nothing for this autoencoder, rather than let them look
    as if they did something (``--set autoencoder.sparsity=0.01`` trained the default
    denoising autoencoder as before, silently). Returns their names."""
    unused = unused_settings(cfg, is_image)
    if unused:
        stack = cfg.architecture(is_image)
        trained = stack if cfg.kind == stack else f"{cfg.kind} ({stack} stack)"
        log.warning("%s", unread_warning(f"the {trained} autoencoder", unused))
    return list(unused)


def feature_encoder(autoencoder: Any) -> Any:
    """The encoder that ships: rows in, one flat code vector out (a VAE's mean)."""
    import keras

    encoder = autoencoder.get_layer(ENCODER)
    if len(encoder.outputs) == 1:
        return encoder
    return keras.Model(encoder.input, encoder.outputs[0], name=ENCODER)
