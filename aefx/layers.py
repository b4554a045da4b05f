"""The project's own Keras layers, registered so ``.keras`` files load with safe_mode on.

Nothing here is a Lambda: each layer is a class whose config is plain numbers, so loading a
saved model never runs code that came with the file."""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "aefx"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskingNoise(keras.layers.Layer):
    """Masking corruption for denoising: zero each input with probability ``rate`` while
    training (no rescaling, unlike Dropout); the identity at inference."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return inputs * ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
def calibrated_gaussian_nll(y_true, y_pred):
    """A VAE's reconstruction term for real-valued inputs: the Gaussian negative log-likelihood
    per input under the one shared variance that fits the batch best, its mean squared error,
    which is ``0.5 * log(MSE)`` up to a constant (a "calibrated decoder", Rybkin et al. 2021).

    A fixed variance sets the balance with the KL term by accident of the data's scale: plain
    MSE is the likelihood at variance 0.5, far wider than min-max-scaled features spread, so
    the KL term won and every code unit collapsed to the prior. The batch's value is returned
    for each row, so Keras' mean over rows is that value."""
    mse = ops.mean(ops.square(y_true - y_pred))
    # The floor keeps the log finite on a batch reconstructed exactly.
    return 0.5 * ops.log(ops.maximum(mse, 1e-8)) * ops.ones_like(y_true[:, 0])


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, 1)) per row, summed over the code dimensions."""
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(keras.layers.Layer):
    """The VAE's reparameterised draw z = mean + exp(log_var / 2) * eps while training (the
    mean itself at inference), adding ``weight`` x the mean KL divergence to the model's loss."""

    def __init__(self, weight: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        mean, log_var = inputs
        self.add_loss(self.weight * ops.mean(kl_divergence(mean, log_var)))
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "seed": self.seed}
