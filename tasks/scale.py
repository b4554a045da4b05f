"""scale: fit a scaler on the training split only and apply it to both splits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aefx.config import ScaleConfig
from aefx.errors import first_few
from aefx.io import read_json, write_json, write_parquet
from aefx.scaling import Imputation, make_scaler, one_hot, scaler_to_dict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleResult:
    n_features: int
    constant_features: tuple[str, ...]  # constant in training, not in test (tables only)


def split_xy(
    frame: pd.DataFrame, label: str, ignored: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.Series]:
    """The features and the label of a split (the ignored columns are neither)."""
    return frame.drop(columns=[label, *ignored]), frame[label]


def _constant_in_training(X_train: pd.DataFrame, X_test: pd.DataFrame) -> tuple[str, ...]:
    """The features of one value in the training split and others in the test split (those of
    one value in both, ingest has named already as constant columns)."""
    low, high = X_train.min(), X_train.max()
    return tuple(
        str(c) for c in X_train.columns if low[c] == high[c] and (X_test[c] != low[c]).any()
    )


def scale(
    cfg: ScaleConfig,
    label: str,
    schema_path: Path,
    train_path: Path,
    test_path: Path,
    train_out: Path,
    test_out: Path,
    scaler_out: Path,
) -> ScaleResult:
    """Fit the scaler on train rows and write scaled copies of both splits (their features and
    label: the ignored columns are left out) plus the scaler.
    First, with the schema's ``impute``, missing values are filled from the training rows
    (:class:`Imputation`); then the columns of categories the schema names become one 0/1
    column per category that ingest found in the training rows (a category only test rows have
    sets none of them, or that of the rare ones where the schema has it; with the schema's
    ``missing_category``, a missing value is a category, not filled)."""
    schema = read_json(schema_path)
    kind = cfg.kind_for(schema["image_shape"] is not None)
    ignored = schema.get("ignored", ())  # (absent from a schema written before data.ignore)
    raw_train, y_train = split_xy(pd.read_parquet(train_path), label, ignored)
    raw_test, y_test = split_xy(pd.read_parquet(test_path), label, ignored)
    columns = list(raw_train.columns)
    # (absent from a schema written before data.categorical or data.impute)
    categories = schema.get("categories", {})
    missing_category = schema.get("missing_category", False)
    impute = None
    if schema.get("impute"):
        # With missing_category, a missing category is one of its own: those columns keep it.
        fit_on = raw_train.drop(columns=list(categories)) if missing_category else raw_train
        impute = Imputation.fit(fit_on, schema["impute"], list(categories), str(train_path))
        filled = sum(impute.counts(raw_train).values()) + sum(impute.counts(raw_test).values())
        log.info(
            "scale: %d missing value(s) filled (%s of the training rows)", filled, impute.strategy
        )
        raw_train, raw_test = impute.fill(raw_train), impute.fill(raw_test)
    X_train = one_hot(raw_train, columns, categories, missing_category)
    X_test = one_hot(raw_test, columns, categories, missing_category)
    # Fit on train only: test rows must not leak into the min/max (or mean/std).
    scaler = make_scaler(kind).fit(X_train)
    features = list(X_train.columns)
    # scikit-learn maps a zero range to scale 1, so constant features stay finite. Pixels the
    # same in every training image, as a border's are, are no news: images are not asked.
    constant = () if schema["image_shape"] is not None else _constant_in_training(X_train, X_test)
    if constant:
        log.warning(
            "scale: %d feature(s) constant in the training split vary in the test split; the "
            "models learn nothing from them: %s",
            len(constant),
            first_few(list(constant)),
        )
    for X, y, out in ((X_train, y_train, train_out), (X_test, y_test, test_out)):
        scaled = pd.DataFrame(scaler.transform(X), columns=features, index=X.index)
        scaled[label] = y.to_numpy()
        write_parquet(out, scaled)
    write_json(
        scaler_out,
        scaler_to_dict(
            scaler, kind, features, len(X_train), columns, categories, impute, missing_category
        ),
    )
    log.info(
        "scale: %s scaler fit on %d train rows, %d features%s",
        kind,
        len(X_train),
        len(features),
        f" ({len(categories)} column(s) of categories one-hot)" if categories else "",
    )
    return ScaleResult(len(features), constant)
