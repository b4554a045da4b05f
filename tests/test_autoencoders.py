"""Every autoencoder kind: trains, saves, reloads with safe_mode and encodes to the right shape;
the VAE's KL term and the sparse kind's code statistics behave as their definitions say."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import numpy as np
import pytest

from aefx.autoencoders import (
    DECODER,
    ENCODER,
    Architecture,
    build_autoencoder,
    check_batch_norm,
    check_code_width,
    check_trainable,
    feature_encoder,
    recalibrate_batchnorm,
    weight_count,
)
from aefx.config import AutoencoderConfig
from aefx.errors import AefxError
from aefx.io import PARQUET_ITEM_LIMIT, PARQUET_MAX_COLUMNS
from aefx.models import configure_determinism, load_model, save_model

IMAGE_SHAPE = (6, 5, 1)  # odd sizes on purpose: pooling rounds up, the decoder crops back


def tiny_table(n: int = 96, d: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, d)) + 0.05 * rng.normal(size=(n, d))
    return ((X - X.min(0)) / (X.max(0) - X.min(0))).astype("float32")


def tiny_images(n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, int(np.prod(IMAGE_SHAPE)))).astype("float32")


def fit(
    cfg: AutoencoderConfig, X: np.ndarray, epochs: int, image_shape=None, seed: int = 3
) -> object:
    configure_determinism(seed)
    arch = Architecture.from_config(cfg, X.shape[1], image_shape)
    model = build_autoencoder(arch, cfg.learning_rate, seed=seed)
    model.fit(X, X, epochs=epochs, batch_size=16, verbose=0)
    return model


CASES = [
    ({"kind": "dense"}, None),
    ({"kind": "deep-bn"}, None),
    ({"kind": "denoising", "corruption": "gaussian"}, None),
    ({"kind": "denoising", "corruption": "masking"}, None),
    ({"kind": "sparse"}, None),
    ({"kind": "variational"}, None),
    ({"kind": "conv"}, IMAGE_SHAPE),
    ({"kind": "denoising", "corruption": "masking"}, IMAGE_SHAPE),  # base auto = conv
    ({"kind": "sparse"}, IMAGE_SHAPE),
    ({"kind": "dense", "output": "sigmoid"}, IMAGE_SHAPE),
    ({"kind": "denoising", "dropout": 0.2}, None),
    ({"kind": "conv", "dropout": 0.2}, IMAGE_SHAPE),
]


@pytest.mark.parametrize(("overrides", "image_shape"), CASES, ids=lambda c: str(c))
def test_each_kind_trains_saves_reloads_safely_and_encodes(tmp_path, overrides, image_shape):
    cfg = AutoencoderConfig(bottleneck=4, **overrides)
    X = tiny_images() if image_shape else tiny_table()
    model = fit(cfg, X, epochs=1, image_shape=image_shape)
    arch = Architecture.from_config(cfg, X.shape[1], image_shape)
    assert {layer.name for layer in model.layers} >= {"encoder", "decoder"}

    save_model(model, tmp_path / "ae.keras")
    save_model(feature_encoder(model), tmp_path / "encoder.keras")
    reloaded = load_model(tmp_path / "ae.keras")
    encoder = load_model(tmp_path / "encoder.keras")

    codes = np.asarray(encoder.predict(X, verbose=0))
    assert codes.shape == (len(X), arch.code_size)
    np.testing.assert_allclose(
        reloaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6
    )
    np.testing.assert_allclose(
        codes, feature_encoder(reloaded).predict(X, verbose=0), rtol=1e-5, atol=1e-6
    )
    # Encoding is deterministic: corruption and sampling live outside the shipped encoder.
    np.testing.assert_array_equal(codes, encoder.predict(X, verbose=0))
    if image_shape:
        assert arch.stack == ("dense" if cfg.kind == "dense" else "conv")


@pytest.mark.parametrize(("overrides", "image_shape"), CASES, ids=lambda c: str(c))
def test_a_draw_from_pythons_shared_random_does_not_change_the_weights(overrides, image_shape):
    """Other threads in the process draw from Python's global ``random`` (Prefect's service loops
    do, for their sleep jitter); one such draw between seeding and building moves no weight."""
    cfg = AutoencoderConfig(bottleneck=4, **overrides)
    n_features = int(np.prod(IMAGE_SHAPE)) if image_shape else 10
    arch = Architecture.from_config(cfg, n_features, image_shape)

    configure_determinism(3)
    quiet = build_autoencoder(arch, 1e-3, seed=3).get_weights()
    configure_determinism(3)
    random.random()  # another thread's draw, landing at the worst moment
    busy = build_autoencoder(arch, 1e-3, seed=3).get_weights()
    assert len(quiet) == len(busy)
    for a, b in zip(quiet, busy, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("overrides", "image_shape"), CASES, ids=lambda c: str(c))
def test_the_weights_are_counted_from_the_architecture_as_keras_counts_them(overrides, image_shape):
    n_features = int(np.prod(image_shape)) if image_shape else 10
    arch = Architecture.from_config(AutoencoderConfig(**overrides), n_features, image_shape)
    assert weight_count(arch) == build_autoencoder(arch, 1e-3, seed=1).count_params()


def test_codes_too_wide_for_the_encoded_splits_parquet_files_are_refused(tmp_path):
    """A bottleneck of 1,000,000 on 5 features trained for minutes; then the encoded splits
    were written and could not be read back, and the comparison failed in a traceback."""
    import pandas as pd
    import pyarrow.parquet as pq

    # pyarrow counts the schema's root and each column against its limit on a footer's lists.
    pd.DataFrame({f"z{i}": [0.5] for i in range(3)}).to_parquet(tmp_path / "three.parquet")
    assert pq.read_table(tmp_path / "three.parquet", thrift_container_size_limit=4).num_columns == 3
    with pytest.raises(OSError, match="thrift"):
        pq.read_table(tmp_path / "three.parquet", thrift_container_size_limit=3)
    assert PARQUET_MAX_COLUMNS == PARQUET_ITEM_LIMIT - 1 == 999_999

    dense = Architecture.from_config(AutoencoderConfig(bottleneck=999_998), 10, None)
    check_code_width(dense, carried=1)  # codes and the label: 999,999 columns
    with pytest.raises(AefxError) as caught:
        check_code_width(dense, carried=2)  # and an ignored id
    assert str(caught.value) == (
        "autoencoder: deep-bn 10 -> 60 -> 30 -> code 999998 makes codes of 999,998 columns, and "
        "the encoded splits (1,000,000 columns with the 2 carried beside them) would be Parquet "
        "files too wide to read back (999,999 columns at most); set autoencoder.bottleneck "
        "smaller (or autoencoder.bottleneck_ratio)"
    )
    # The conv stack's code keeps a quarter of each side: 8 x 500 x 500 for 2000 x 2000 images.
    photos = Architecture.from_config(AutoencoderConfig(), 2000 * 2000, (2000, 2000, 1))
    with pytest.raises(
        AefxError, match=r"codes of 2,000,000 columns.*set data\.image_size smaller"
    ):
        check_code_width(photos, carried=1)
    check_code_width(replace(photos, image_shape=(1000, 1000, 1)), carried=1)


def test_batches_of_one_row_are_refused_for_batch_normalisation():
    """On batches of one row the deep-bn stack's batch normalisation sets every unit to 0, and
    what the model learns does not hold on the moving statistics it encodes with: the same
    steps on batches of 2 or 3 reconstruct held-out rows many times better. A batch size of 1
    is refused for every kind on that stack, and left to the stacks without it."""
    X = tiny_table(160)
    fit_rows, held_out = X[:128], X[128:]
    errors = {}
    for batch in (1, 2, 3):
        configure_determinism(3)
        arch = Architecture.from_config(AutoencoderConfig(), X.shape[1], None)
        model = build_autoencoder(arch, 2e-3, seed=3)
        steps = 256  # as many optimizer steps for each size
        rows = np.resize(fit_rows, (steps * batch, X.shape[1]))
        model.fit(rows, rows, epochs=1, batch_size=batch, shuffle=False, verbose=0)
        errors[batch] = float(model.evaluate(held_out, held_out, verbose=0))
    assert errors[1] > 100 * max(errors[2], errors[3]), errors

    table = Architecture.from_config(AutoencoderConfig(kind="deep-bn"), 10, None)
    with pytest.raises(AefxError) as caught:
        check_batch_norm(table, 1, "autoencoder.batch_size")
    assert str(caught.value) == (
        "autoencoder.batch_size=1: the deep-bn autoencoder's batch normalisation learns nothing "
        "from batches of one row, whose every unit it sets to 0; set autoencoder.batch_size to "
        "2 or more, or autoencoder.kind: dense (no batch normalisation)"
    )
    check_batch_norm(table, 2, "autoencoder.batch_size")
    denoising = Architecture.from_config(AutoencoderConfig(kind="denoising"), 10, None)
    with pytest.raises(AefxError, match=r"^--batch-size=1: the denoising .*stack\).*\.base: dense"):
        check_batch_norm(denoising, 1, "--batch-size")
    for kind, image_shape in (("dense", None), ("conv", IMAGE_SHAPE)):
        other = Architecture.from_config(AutoencoderConfig(kind=kind), 30, image_shape)
        check_batch_norm(other, 1, "autoencoder.batch_size")


def test_a_pass_leaves_out_a_last_batch_of_one_row_on_the_batch_normalisation_stack():
    """Rows one more than a multiple of the batch size ended every pass of the deep-bn stack on
    a batch of one row, which batch normalisation learns nothing from: with train-stream on 603
    training rows, batches of 43 reached twice the validation loss of batches of 42 or 44."""
    from aefx.autoencoders import small_last_batch
    from tasks.train_autoencoder import shuffled_batches

    deep_bn = Architecture.from_config(AutoencoderConfig(), 10, None)
    dense = Architecture.from_config(AutoencoderConfig(kind="dense"), 10, None)
    assert small_last_batch(deep_bn, 7, 3) and small_last_batch(deep_bn, 603, 43)
    assert not small_last_batch(deep_bn, 8, 3)  # 2 of 3, a quarter and more: kept
    assert not small_last_batch(deep_bn, 6, 3) and not small_last_batch(dense, 7, 3)

    X = np.arange(14, dtype="float32").reshape(7, 2)
    for drop_last, sizes in ((True, [3, 3]), (False, [3, 3, 1])):
        batches, per_pass = shuffled_batches(X, 3, seed=1, drop_last=drop_last)
        passes = [[len(x) for x, _ in batches.take(per_pass * 3)]]
        assert passes == [sizes * 3]
    # Each pass leaves out another row: over passes every row is trained on.
    batches, per_pass = shuffled_batches(X, 3, seed=1, drop_last=True)
    left_out = set()
    for first in range(0, 40 * per_pass, per_pass):
        taken = np.vstack([x.numpy() for x, _ in batches.skip(first).take(per_pass)])
        left_out |= {int(r) for r in set(X[:, 0]) - set(taken[:, 0])}
    assert len(left_out) > 1


def test_a_pass_leaves_out_a_last_batch_of_fewer_rows_than_a_quarter_of_the_batch():
    """A last batch of a few rows on the deep-bn stack trained on statistics too noisy to
    learn from: `aefx run` in batches of 50 (three of the default's 603 training rows left over
    each pass) reached a test MSE of 0.0223 over seeds 1 to 3 with it and 0.0061 without."""
    from aefx.autoencoders import small_last_batch
    from tasks.train_autoencoder import shuffled_batches

    deep_bn = Architecture.from_config(AutoencoderConfig(), 10, None)
    dense = Architecture.from_config(AutoencoderConfig(kind="dense"), 10, None)
    assert small_last_batch(deep_bn, 603, 50)  # 3 left over
    assert small_last_batch(deep_bn, 561, 43) and small_last_batch(deep_bn, 567, 43)  # 2, 8
    assert not small_last_batch(deep_bn, 570, 43)  # 11: a quarter of the batch and more
    assert not small_last_batch(deep_bn, 592, 64)  # 16, exactly a quarter
    assert not small_last_batch(deep_bn, 603, 64)  # 27: the default is trained as before
    assert not small_last_batch(deep_bn, 10, 64)  # no whole batch: all ten are one batch
    assert not small_last_batch(dense, 603, 50)

    X = np.arange(70, dtype="float32").reshape(35, 2)  # batches of 16: two left over
    batches, per_pass = shuffled_batches(X, 16, seed=1, drop_last=small_last_batch(deep_bn, 35, 16))
    assert [len(x) for x, _ in batches.take(per_pass * 2)] == [16, 16] * 2


def test_an_autoencoder_over_the_memory_budget_is_refused_with_widths_that_fit():
    """The default's width ratios on 2,000 features: 12,000 and 6,000 units, 228M weights,
    which peaked at 8,444 MB in training and saved 2.6 GB per seed; refused at the default
    4,096 MB."""
    arch = Architecture.from_config(AutoencoderConfig(), 2000, None)
    with pytest.raises(AefxError) as caught:
        check_trainable(arch, 4096)
    message = str(caught.value)
    assert message.startswith(
        "autoencoder: deep-bn 2000 -> 12000 -> 6000 -> code 3000 has 228,185,000 weights and "
        "needs about 7,834 MB to train, over data.memory_budget_mb=4096; "
    )
    found = re.search(r"hidden \[(\d+), (\d+)\] and bottleneck (\d+) would fit", message)
    assert found is not None
    first, second, code = map(int, found.groups())
    check_trainable(replace(arch, hidden=(first, second), bottleneck=code), 4096)  # fits
    assert first > 6000  # the largest step that fits, not any small model
    check_trainable(arch, 8192)  # a larger budget takes the model as it is
    with pytest.raises(AefxError, match="no narrower layers fit"):
        check_trainable(arch, 0.1)  # 2,000 inputs and outputs alone are over 0.1 MB


def test_a_conv_autoencoder_over_the_memory_budget_names_its_filters():
    arch = Architecture.from_config(AutoencoderConfig(kind="conv"), 64, (8, 8, 1))
    check_trainable(arch, 1)
    with pytest.raises(
        AefxError,
        match=r"conv 8x8x1 -> filters \[16, 8\] -> code 32 has "
        r"3,217 weights .*use fewer autoencoder\.conv_filters",
    ):
        check_trainable(arch, 0.05)


def test_conv_code_is_a_small_spatial_grid_flattened():
    cfg = AutoencoderConfig(kind="conv", conv_filters=(8, 4))
    arch = Architecture.from_config(cfg, 28 * 28, (28, 28, 1))
    assert arch.conv_code_shape() == (7, 7, 4) and arch.code_size == 196
    model = build_autoencoder(arch, 1e-3)
    encoder = model.get_layer(ENCODER)
    assert [type(layer).__name__ for layer in encoder.layers].count("MaxPooling2D") == 2
    assert model.output.shape[-1] == 28 * 28


def test_vae_kl_is_non_negative_and_its_loss_falls():
    from aefx.layers import kl_divergence

    X = tiny_table()
    cfg = AutoencoderConfig(kind="variational", bottleneck=3, learning_rate=3e-3)
    configure_determinism(5)
    model = build_autoencoder(Architecture.from_config(cfg, X.shape[1], None), 3e-3, seed=5)
    history = model.fit(X, X, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0]
    mean, log_var = model.get_layer(ENCODER).predict(X, verbose=0)
    kl = np.asarray(kl_divergence(mean, log_var))
    assert kl.shape == (len(X),) and np.all(kl >= 0) and np.isfinite(kl).all()
    # Zero exactly where the posterior is the prior.
    assert float(np.max(np.abs(kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)))))) == 0.0


def test_a_vae_on_a_table_keeps_its_codes_instead_of_collapsing_to_the_prior():
    """With a linear output the reconstruction term is a calibrated Gaussian likelihood. Under
    plain MSE (a likelihood of variance 0.5) the KL term outweighed it on min-max-scaled rows:
    the codes hugged zero and the reconstruction was no better than the column means."""
    from aefx.layers import calibrated_gaussian_nll

    X = tiny_table()  # rank 3 plus a little noise
    cfg = AutoencoderConfig(kind="variational", bottleneck=3, learning_rate=3e-3)
    arch = Architecture.from_config(cfg, X.shape[1], None)
    assert arch.loss == "calibrated_gaussian_nll"
    model = fit(cfg, X, epochs=30, seed=5)
    explained = 1 - np.mean((model.predict(X, verbose=0) - X) ** 2) / np.mean(X.var(axis=0))
    spread = np.asarray(model.get_layer(ENCODER).predict(X, verbose=0)[0]).std(axis=0)
    assert explained > 0.2, explained  # 0.43 here; -0.21 under plain MSE
    assert np.sum(spread > 0.3) >= 2, spread  # two units near 0.6; all below 0.12 under MSE
    # The term itself: 0.5 * log(MSE) of the whole batch, repeated for each row.
    y, y_hat = np.zeros((4, 2), "float32"), np.full((4, 2), 0.5, "float32")
    np.testing.assert_allclose(calibrated_gaussian_nll(y, y_hat), [0.5 * np.log(0.25)] * 4)


def test_sparse_codes_are_less_active_than_plain_ones():
    from tasks.inspect_autoencoder import code_statistics

    X = tiny_table()
    stats = {}
    for kind in ("deep-bn", "sparse"):
        cfg = AutoencoderConfig(kind=kind, bottleneck=8)
        model = fit(cfg, X, epochs=10)
        stats[kind] = code_statistics(np.asarray(feature_encoder(model).predict(X, verbose=0)))
    assert stats["sparse"]["mean_code_activation"] < stats["deep-bn"]["mean_code_activation"]
    assert stats["sparse"]["inactive_code_fraction"] > stats["deep-bn"]["inactive_code_fraction"]


def test_codes_a_penalty_silenced_are_warned_of_and_drawn_without_a_warning(tmp_path):
    """autoencoder.sparsity: 1e23 trained a sparse autoencoder whose every code unit was 0 for
    every row: the run went on without a word, the encoded column scored as a guess would, and
    the codes' 2-D picture printed scikit-learn's `invalid value encountered in divide`.
    Trained here at 1e4 and a rate of 0.01, which silences the units by driving every ReLU
    below zero, not by overflow (at that rate even a penalty of 1 did): at 1e23 they fell
    silent on an Intel Xeon with AVX-512, while on an AMD EPYC without it the weights overflowed
    to NaN."""
    import warnings

    from tasks.inspect_autoencoder import collapsed, collapsed_warning, plot_codes_2d

    X = tiny_table()
    y = np.arange(len(X)) % 2
    codes = {}
    for sparsity, rate in ((1e-4, 1e-3), (1e4, 1e-2)):
        cfg = AutoencoderConfig(kind="sparse", bottleneck=8, sparsity=sparsity, learning_rate=rate)
        codes[sparsity] = np.asarray(feature_encoder(fit(cfg, X, epochs=10)).predict(X, verbose=0))
    assert not collapsed(codes[1e-4]) and collapsed(codes[1e4])
    assert collapsed_warning([1, 3], codes[1e4], "sparse") == (
        "autoencoder seed(s) 1, 3: all 8 code units are 0 for every test row, so the encoded "
        "features cannot tell the rows apart and classifiers on them score as a guess would: "
        "lower autoencoder.sparsity, whose penalty silenced them"
    )
    assert collapsed_warning([2], np.full((5, 3), 0.5), "deep-bn").startswith(
        "autoencoder seed(s) 2: all 3 code units are one value for every test row,"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_codes_2d(codes[1e4], y, "silenced", tmp_path / "codes.png")
    assert (tmp_path / "codes.png").stat().st_size > 0


@pytest.mark.parametrize("kind", ["deep-bn", "denoising"])
def test_the_leaky_slope_reaches_every_deep_bn_activation(kind):
    """`autoencoder.leaky_slope` sets each LeakyReLU of the encoder and decoder, and the codes
    move with it (the same seed, the same initial weights)."""
    X = tiny_table()
    codes = {}
    for slope in (0.3, 0.05):
        cfg = AutoencoderConfig(kind=kind, leaky_slope=slope)
        model = build_autoencoder(Architecture.from_config(cfg, X.shape[1], None), 1e-3, seed=3)
        slopes = {
            layer.name: layer.negative_slope
            for part in model.layers
            for layer in getattr(part, "layers", [part])
            if type(layer).__name__ == "LeakyReLU"
        }
        assert len(slopes) == 4 and list(slopes.values()) == pytest.approx([slope] * 4), slopes
        codes[slope] = np.asarray(model.get_layer(ENCODER)(X, training=False))
    assert not np.allclose(codes[0.3], codes[0.05])


@pytest.mark.parametrize("activation", ["elu", "gelu"])
def test_the_activation_replaces_every_deep_bn_leaky_relu(tmp_path, activation):
    """`autoencoder.activation` puts its function after each BatchNorm of the encoder and
    decoder instead of LeakyReLU; the codes move with it, and the encoder reloads safely."""
    X = tiny_table()
    codes = {}
    for name in ("leaky_relu", activation):
        cfg = AutoencoderConfig(kind="denoising", activation=name)
        model = build_autoencoder(Architecture.from_config(cfg, X.shape[1], None), 1e-3, seed=3)
        acts = [
            layer
            for part in (model.get_layer(ENCODER), model.get_layer(DECODER))
            for layer in part.layers
            if layer.name.endswith("_act")
        ]
        assert len(acts) == 4
        if name != "leaky_relu":
            assert {a.get_config()["activation"] for a in acts} == {name}
        codes[name] = np.asarray(model.get_layer(ENCODER)(X, training=False))
    assert not np.allclose(codes["leaky_relu"], codes[activation])
    save_model(feature_encoder(model), tmp_path / "encoder.keras")
    reloaded = np.asarray(load_model(tmp_path / "encoder.keras").predict(X, verbose=0))
    np.testing.assert_allclose(reloaded, codes[activation], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "image_shape"), [("dense", None), ("deep-bn", None), ("conv", IMAGE_SHAPE)]
)
def test_dropout_follows_every_hidden_layer_and_acts_only_in_training(kind, image_shape):
    """`autoencoder.dropout` puts one Dropout after each hidden layer of the encoder and the
    decoder, from the same starting kernels as without it; inference is untouched by it."""
    X = tiny_images() if image_shape else tiny_table()
    models = {}
    for rate in (0.0, 0.5):
        cfg = AutoencoderConfig(kind=kind, dropout=rate)
        arch = Architecture.from_config(cfg, X.shape[1], image_shape)
        models[rate] = build_autoencoder(arch, 1e-3, seed=3)
    hidden = len(arch.conv_filters if image_shape else arch.hidden)
    for part in (ENCODER, DECODER):
        rates = [
            la.rate for la in models[0.5].get_layer(part).layers if type(la).__name__ == "Dropout"
        ]
        assert rates == [0.5] * hidden
        assert not any(type(la).__name__ == "Dropout" for la in models[0.0].get_layer(part).layers)
    kernels = [[np.array(w) for w in m.weights if "kernel" in w.path] for m in models.values()]
    assert all(np.array_equal(a, b) for a, b in zip(*kernels, strict=True))

    encoder = models[0.5].get_layer(ENCODER)
    inference = np.asarray(encoder(X, training=False))
    np.testing.assert_array_equal(
        inference, np.asarray(models[0.0].get_layer(ENCODER)(X, training=False))
    )
    # Without BatchNorm, training mode differs from inference by dropout alone.
    if kind != "deep-bn":
        plain = models[0.0].get_layer(ENCODER)
        np.testing.assert_allclose(np.asarray(plain(X, training=True)), inference, atol=1e-6)
        assert not np.allclose(np.asarray(encoder(X, training=True)), inference, atol=1e-3)


@pytest.mark.parametrize(
    "overrides",
    [{"kind": "denoising"}, {"kind": "variational"}, {"kind": "denoising", "dropout": 0.3}],
)
def test_recalibrated_batchnorm_holds_the_clean_rows_own_statistics(overrides):
    """After `recalibrate_batchnorm` each BatchNorm layer's moving mean and variance are those
    of its inputs when the clean rows pass through the final weights in inference mode, layer
    after layer (training left them elsewhere, and dropout plays no part); the weights, the
    momentum and the dropout rate are untouched."""
    import keras

    X = tiny_table()
    model = fit(AutoencoderConfig(**overrides), X, epochs=2)
    weights = [np.array(w) for w in model.trainable_weights]
    parts = [model.get_layer(ENCODER), model.get_layer(DECODER)]
    norms = [(p, la) for p in parts for la in p.layers if type(la).__name__ == "BatchNormalization"]
    assert recalibrate_batchnorm(model, X) == len(norms) == 4

    code = np.asarray(feature_encoder(model)(X, training=False))  # a VAE's mean
    for part, layer in norms:
        rows = X if part is parts[0] else code
        before = keras.Model(part.input, part.get_layer(layer.name).input)
        seen = np.asarray(before(rows, training=False))
        np.testing.assert_allclose(np.asarray(layer.moving_mean), seen.mean(0), atol=1e-5)
        np.testing.assert_allclose(np.asarray(layer.moving_variance), seen.var(0), atol=1e-5)
        assert layer.momentum == 0.99
    drops = [la for p in parts for la in p.layers if type(la).__name__ == "Dropout"]
    assert [la.rate for la in drops] == [overrides.get("dropout", 0)] * len(drops)
    after = [np.array(w) for w in model.trainable_weights]
    assert all(np.array_equal(a, b) for a, b in zip(weights, after, strict=True))


@pytest.mark.parametrize(
    ("settings", "image_shape", "stack"),
    [
        ({"kind": "dense"}, None, "dense"),
        ({"kind": "variational", "base": "dense"}, None, "dense"),
        ({"kind": "denoising"}, IMAGE_SHAPE, "conv"),
        ({"kind": "deep-bn"}, None, None),
        ({"kind": "denoising"}, None, None),
    ],
)
def test_recalibrate_bn_on_a_stack_without_batchnorm_says_so(caplog, settings, image_shape, stack):
    """The warning comes exactly when the stack that would train has no BatchNorm layer."""
    import logging

    from aefx.autoencoders import warn_unused_settings

    cfg = AutoencoderConfig(**settings, recalibrate_bn=True)
    X = tiny_images() if image_shape else tiny_table()
    model = build_autoencoder(Architecture.from_config(cfg, X.shape[1], image_shape), 1e-3, seed=0)
    norms = recalibrate_batchnorm(model, X)  # how many BatchNorm layers it set
    is_image, log = image_shape is not None, logging.getLogger("t")
    with caplog.at_level(logging.WARNING):
        expected = ["autoencoder.recalibrate_bn"] if stack else []
        assert warn_unused_settings(cfg, is_image, log) == expected
        off = cfg.model_copy(update={"recalibrate_bn": False})
        assert warn_unused_settings(off, is_image, log) == []
    assert (norms == 0) == (stack is not None)
    assert len(caplog.records) == (stack is not None)


def test_recalibrating_a_stack_without_batchnorm_changes_nothing():
    X = tiny_table()
    model = fit(AutoencoderConfig(kind="dense"), X, epochs=1)
    weights = [np.array(w) for w in model.weights]
    assert recalibrate_batchnorm(model, X) == 0
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(weights, model.weights, strict=True))


def test_corruption_happens_only_in_training():
    from aefx.layers import MaskingNoise

    X = np.ones((200, 50), dtype="float32")
    layer = MaskingNoise(0.3, seed=1)
    masked = np.asarray(layer(X, training=True))
    assert 0.2 < 1 - masked.mean() < 0.4 and set(np.unique(masked)) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(layer(X, training=False)), X)


@pytest.mark.parametrize(
    ("settings", "is_image", "unused"),
    [
        ({}, False, []),  # the defaults, for a table and for images
        ({}, True, []),
        ({"sparsity": 0.01, "kl_weight": 0.5}, False, ["sparsity", "kl_weight"]),
        (
            {"kind": "sparse", "sparsity": 0.01, "corruption_level": 0.3},
            False,
            ["corruption_level"],
        ),
        ({"kind": "variational", "kl_weight": 0.5, "base": "dense"}, False, []),
        (
            {"kind": "deep-bn", "base": "dense", "corruption": "masking"},
            False,
            ["base", "corruption"],
        ),
        ({"conv_filters": [32, 4], "bottleneck_ratio": 0.5}, False, ["conv_filters"]),
        ({"conv_filters": [32, 4], "bottleneck_ratio": 0.5}, True, ["bottleneck_ratio"]),
        # Widths given outright leave their ratios unread; the ratios alone are read.
        ({"bottleneck": 8, "bottleneck_ratio": 0.5}, False, ["bottleneck_ratio"]),
        ({"hidden": [20, 10], "hidden_ratios": [2.0, 1.0]}, False, ["hidden_ratios"]),
        ({"bottleneck_ratio": 0.5, "hidden_ratios": [2.0, 1.0]}, False, []),
        ({"kind": "dense", "activation": "elu"}, False, ["activation"]),
        ({"kind": "dense", "leaky_slope": 0.1}, False, ["leaky_slope"]),
        ({"activation": "gelu", "recalibrate_bn": True}, True, ["activation", "recalibrate_bn"]),
    ],
)
def test_settings_the_autoencoder_does_not_read_are_named(caplog, settings, is_image, unused):
    """`--set autoencoder.sparsity=0.01` trained the default (denoising) autoencoder as before,
    silently: a setting changed from its default that this kind or stack does not read is said
    once, in one warning."""
    import logging

    from aefx.autoencoders import warn_unused_settings

    cfg, log = AutoencoderConfig(**settings), logging.getLogger("t")
    with caplog.at_level(logging.WARNING):
        assert warn_unused_settings(cfg, is_image, log) == [
            f"autoencoder.{name}" for name in unused
        ]
    assert len(caplog.records) == bool(unused)


def test_a_diverged_cnn_classifier_is_one_line_not_nan_probabilities():
    """Too high a learning rate: the CNN's probabilities were NaN, and scoring them ended the
    comparison in scikit-learn's "Input contains NaN" traceback."""
    from aefx.cnn import CnnClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((64, 64)).astype("float32"), np.arange(64) % 2
    with pytest.raises(AefxError) as raised:
        CnnClassifier(image_shape=(8, 8, 1), epochs=2, learning_rate=1e12).fit(X, y)
    assert re.fullmatch(
        r"classifiers\.cnn diverged: its loss was (nan|inf) by epoch [12] at "
        r"classifiers\.cnn\.learning_rate 1e\+12; lower the learning rate",
        str(raised.value),
    ), raised.value
    model = CnnClassifier(image_shape=(8, 8, 1), epochs=2).fit(X, y)  # the default rate
    assert np.isfinite(model.predict_proba(X)).all()


def test_conv_needs_image_data_and_cnn_too():
    from aefx.config import load_params
    from aefx.errors import AefxError

    with pytest.raises(AefxError, match="conv autoencoder needs image data"):
        load_params(overrides=["autoencoder.kind=conv"])
    with pytest.raises(AefxError, match="cnn needs image data"):
        load_params(overrides=["classifiers.use=[logreg, cnn]"])
    with pytest.raises(AefxError, match="variational kind has a dense base"):
        load_params(overrides=["autoencoder.kind=variational", "autoencoder.base=conv"])
    params = load_params(overrides=["data.source=digits", "autoencoder.kind=denoising"])
    assert params.autoencoder.architecture(params.data.is_image) == "conv"
    assert params.scale.kind_for(params.data.is_image) == "none"
