"""Fitted scalers saved as plain JSON, so shipping one with an encoder needs no pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aefx.errors import AefxError
from aefx.io import read_json, write_json

# The fitted attributes that fully determine each scaler's ``transform``.
_STATE = {
    "minmax": ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
    "standard": ("mean_", "scale_", "var_"),
    "none": (),  # identity: images already lie in [0, 1]
}


def make_scaler(kind: str) -> Any:
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    return {"minmax": MinMaxScaler, "standard": StandardScaler, "none": FunctionTransformer}[kind]()


def scaler_to_dict(scaler: Any, kind: str, features: list[str], n_samples: int) -> dict[str, Any]:
    state = {name: np.asarray(getattr(scaler, name)).tolist() for name in _STATE[kind]}
    return {
        "kind": kind,
        "features": list(features),
        "n_samples_seen": n_samples,
        "state": state,
    }


def scaler_from_dict(payload: dict[str, Any]) -> Any:
    """Rebuild a fitted scikit-learn scaler from :func:`scaler_to_dict` output."""
    kind = payload["kind"]
    if kind not in _STATE:
        raise AefxError(f"unknown scaler kind {kind!r}")
    scaler = make_scaler(kind)
    for name in _STATE[kind]:
        setattr(scaler, name, np.asarray(payload["state"][name], dtype="float64"))
    scaler.n_features_in_ = len(payload["features"])
    scaler.feature_names_in_ = np.asarray(payload["features"], dtype=object)
    if kind != "none":
        scaler.n_samples_seen_ = payload["n_samples_seen"]
    if kind == "standard":
        scaler.with_mean = scaler.with_std = True
    return scaler


def save_scaler(path: Path, scaler: Any, kind: str, features: list[str], n_samples: int) -> None:
    write_json(path, scaler_to_dict(scaler, kind, features, n_samples))


def load_scaler(path: Path) -> tuple[Any, list[str]]:
    payload = read_json(path)
    return scaler_from_dict(payload), list(payload["features"])
