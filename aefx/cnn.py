"""A small convolutional classifier on raw images, behind scikit-learn's estimator interface so
the comparison (and its cross-validation and tuning) treats it like every other classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class CnnClassifier(ClassifierMixin, BaseEstimator):
    """Conv2D + MaxPooling blocks, a dense layer and a softmax, trained with Adam.

    Takes flat pixel rows (channels last) and reshapes them to ``image_shape``."""

    def __init__(
        self,
        image_shape: tuple[int, ...] = (8, 8, 1),
        filters: tuple[int, ...] = (16, 32),
        dense: int = 64,
        epochs: int = 30,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        random_state: int = 0,
    ):
        self.image_shape = image_shape
        self.filters = filters
        self.dense = dense
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _network(self, n_classes: int) -> Any:
        import keras
        from keras import layers

        inputs = keras.Input((int(np.prod(self.image_shape)),), name="pixels")
        x = layers.Reshape(tuple(self.image_shape))(inputs)
        for filters in self.filters:
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            # Pool only while there is room: 8x8 digits take two halvings, 28x28 more.
            if min(x.shape[1], x.shape[2]) >= 2:
                x = layers.MaxPooling2D(2, padding="same")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(self.dense, activation="relu")(x)
        outputs = layers.Dense(n_classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs, name="cnn_classifier")
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
        )
        return model

    def fit(self, X: np.ndarray, y: np.ndarray) -> CnnClassifier:
        import pandas as pd

        from aefx.models import configure_determinism, require_finite_losses, stop_when_diverged

        configure_determinism(self.random_state)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.model_ = self._network(len(self.classes_))
        history = self.model_.fit(
            np.asarray(X, dtype="float32"),
            codes,
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=True,
            verbose=0,
            callbacks=[stop_when_diverged()],
        )
        curve = pd.DataFrame({"loss": history.history["loss"]})
        curve.insert(0, "epoch", np.arange(1, len(curve) + 1))
        # Its probabilities would be NaN, and scoring them scikit-learn's traceback.
        require_finite_losses(
            curve, "classifiers.cnn", "classifiers.cnn.learning_rate", self.learning_rate
        )
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(np.asarray(X, dtype="float32"), verbose=0))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
