"""Anomaly scores from reconstruction error, in the conventions PyOD users know.

A row's score is the mean squared error of its reconstruction, in the scaled space the
autoencoder was trained in; higher is more anomalous. Fitting on the training rows sets
``decision_scores_``, ``threshold_`` (their ``1 - contamination`` quantile) and ``labels_``
(1 above the threshold); ``decision_function`` scores new rows and ``predict`` flags them."""

from __future__ import annotations

from typing import Any

import numpy as np


class ReconstructionDetector:
    def __init__(self, autoencoder: Any, contamination: float = 0.05, batch_size: int = 4096):
        if not 0 < contamination < 0.5:
            raise ValueError("contamination must be in (0, 0.5)")
        self.autoencoder = autoencoder
        self.contamination = contamination
        self.batch_size = batch_size

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype="float32")
        reconstructed = self.autoencoder.predict(X, batch_size=self.batch_size, verbose=0)
        return np.mean((reconstructed - X) ** 2, axis=1).astype("float64")

    def fit(self, X: np.ndarray) -> ReconstructionDetector:
        self.decision_scores_ = self.decision_function(X)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(int)

    @classmethod
    def fitted(cls, autoencoder: Any, threshold: float, contamination: float) -> Any:
        """A detector whose threshold was learned earlier (read back from the model's meta)."""
        detector = cls(autoencoder, contamination)
        detector.threshold_ = float(threshold)
        return detector


def reconstructor(autoencoder: Any) -> Any:
    """The trained autoencoder without its noise: clean encoder (a VAE's mean), then decoder.
    What anomaly scores use, so a row always gets the same score."""
    import keras

    from aefx.autoencoders import DECODER, feature_encoder

    encoder = feature_encoder(autoencoder)
    decoder = autoencoder.get_layer(DECODER)
    inputs = keras.Input(encoder.inputs[0].shape[1:], name="rows")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
