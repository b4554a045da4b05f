"""The shipped encoder as an MLflow pyfunc model: raw feature rows in, codes out."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from aefx.errors import AefxError
from aefx.io import file_sha256, read_json
from aefx.models import load_model
from aefx.scaling import Preprocessing


class EncoderModel(mlflow.pyfunc.PythonModel):
    """Scales raw rows with the training scaler, then encodes them with the encoder."""

    @classmethod
    def from_files(cls, encoder_path: str, meta_path: str) -> EncoderModel:
        """An already loaded model, for use outside MLflow's loader."""
        model = cls()
        model._load(encoder_path, meta_path)
        return model

    def load_context(self, context: Any) -> None:
        self._load(context.artifacts["encoder"], context.artifacts["meta"])

    def _load(self, encoder_path: str, meta_path: str) -> None:
        meta = read_json(meta_path)
        self.features = list(meta["features"])
        self.label = meta.get("label")
        self.ignored = list(meta.get("ignored", []))  # columns carried through, not features
        self.code_columns = list(meta["code_columns"])
        # (height, width, channels) for a model trained on images: new images are read as such.
        self.image_shape = meta.get("image_shape")
        # Whether new images of another size are resized to it (trained with data.image_size).
        self.image_resize = bool(meta.get("image_resize", False))
        self.preprocessing = Preprocessing.from_dict(meta["scaler"])
        self.scaler = self.preprocessing.scaler
        # The columns of categories and the categories of each seen in training (tables).
        self.categories = self.preprocessing.categories
        # The training rows' scaled range per scaled column (tables; absent in older models).
        span = meta.get("train_range")
        self.train_range = None if span is None else (np.array(span["low"]), np.array(span["high"]))
        if meta.get("sha256") and file_sha256(encoder_path) != meta["sha256"]:
            raise AefxError(
                f"{encoder_path}: does not match the hash recorded in its metadata; "
                "refusing a modified encoder"
            )
        self.encoder = load_model(encoder_path)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> Any:
        """Codes of raw rows, checked as `aefx encode` checks them: a missing value (for a
        model that fills none), text or an infinity in a feature is refused, naming its column
        and row (from 0), where it came out as a row of NaN codes or an error naming neither.
        Refused as MLflow's invalid-input error, which its scoring server answers with 400 and
        this message (any other error, with a generic one)."""
        from mlflow.exceptions import MlflowException

        from aefx.encode import check_values

        frame = pd.DataFrame(model_input)
        try:
            if all(c in frame.columns for c in self.features):  # else scale() names those missing
                check_values(
                    frame.reset_index(drop=True),
                    self.features,
                    0,
                    "input",
                    list(self.categories),
                    missing_ok=self.preprocessing.impute is not None,
                    missing_category=self.preprocessing.missing_category,
                )
            return self.encode(self.scale(frame), frame.index)
        except AefxError as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from None

    @property
    def scaled_features(self) -> list[str]:
        """The autoencoder's input columns: the features, one per category for those of them."""
        return self.preprocessing.features

    def scale(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature columns of raw rows, scaled as the training rows were (columns of
        categories one-hot first; a category training did not see sets none of its columns, or
        that of the rare ones where training had them)."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise AefxError(f"input is missing feature column(s): {', '.join(missing[:10])}")
        return self.preprocessing.transform(frame)

    def unscale(self, X: np.ndarray, index: Any = None) -> pd.DataFrame:
        """Scaled rows (a reconstruction) back in the features' units and categories."""
        back = self.preprocessing.inverse_transform(X)
        return back if index is None else back.set_axis(index)

    def encode(self, X: np.ndarray, index: Any = None) -> pd.DataFrame:
        codes = self.encoder.predict(np.asarray(X, dtype="float32"), verbose=0)
        return pd.DataFrame(codes, columns=self.code_columns, index=index)


def load_autoencoder(encoder_path: str, meta_path: str) -> Any:
    """The whole autoencoder shipped beside an encoder (clean encoder, then decoder)."""
    return _shipped_autoencoder(encoder_path, meta_path, read_json(meta_path))


def load_detector(encoder_path: str, meta_path: str, threshold: float | None = None) -> Any:
    """The anomaly detector shipped beside an encoder: its whole autoencoder and the threshold
    learned from the training rows' reconstruction errors (or ``threshold`` instead)."""
    from aefx.anomaly import ReconstructionDetector

    meta = read_json(meta_path)
    if "anomaly" not in meta:
        raise AefxError(f"{meta_path}: this model ships no autoencoder for anomaly scores")
    anomaly = meta["anomaly"]
    return ReconstructionDetector.fitted(
        _shipped_autoencoder(encoder_path, meta_path, meta),
        anomaly["threshold"] if threshold is None else threshold,
        anomaly["contamination"],
    )


def _shipped_autoencoder(encoder_path: str, meta_path: str, meta: dict[str, Any]) -> Any:
    """Load the autoencoder ``meta`` names beside the encoder, refusing one whose hash differs."""
    from pathlib import Path

    if "autoencoder" not in meta:
        raise AefxError(f"{meta_path}: this model ships no autoencoder")
    path = Path(encoder_path).with_name(meta["autoencoder"])
    if not path.is_file():
        raise AefxError(f"{path}: the autoencoder named by {meta_path} is missing")
    if file_sha256(path) != meta["autoencoder_sha256"]:
        raise AefxError(f"{path}: does not match the hash recorded in its metadata; refusing it")
    return load_model(path)
