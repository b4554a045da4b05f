"""The scale stage's fitted transform of raw rows (columns of categories one-hot, then a
scaler), saved as plain JSON, so shipping it with an encoder needs no pickle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.errors import AefxError
from aefx.io import read_json

# The fitted attributes that fully determine each scaler's ``transform``.
_STATE = {
    "minmax": ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
    "standard": ("mean_", "scale_", "var_"),
    "none": (),  # identity: images already lie in [0, 1]
}


def make_scaler(kind: str) -> Any:
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    return {"minmax": MinMaxScaler, "standard": StandardScaler, "none": FunctionTransformer}[kind]()


def scaler_to_dict(
    scaler: Any,
    kind: str,
    features: list[str],
    n_samples: int,
    columns: Sequence[str] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
    impute: Imputation | None = None,
    missing_category: bool = False,
) -> dict[str, Any]:
    """``features`` are the scaled columns; ``columns`` the raw ones they come from (the same
    unless some hold ``categories``, which :func:`one_hot` spreads over one column each, with a
    missing value as :data:`MISSING` where ``missing_category``), whose missing values
    ``impute`` fills first."""
    state = {name: np.asarray(getattr(scaler, name)).tolist() for name in _STATE[kind]}
    return {
        "kind": kind,
        "features": list(features),
        "columns": list(features if columns is None else columns),
        "categories": {c: list(v) for c, v in (categories or {}).items()},
        "impute": None if impute is None else impute.strategy,
        "fill": {} if impute is None else impute.values,
        "missing_category": missing_category,
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


def load_scaler(path: Path) -> tuple[Any, list[str]]:
    payload = read_json(path)
    return scaler_from_dict(payload), list(payload["features"])


# The categories aefx makes of a column's values: data.min_category_rows puts the training
# split's rare categories together in RARE (and new rows' unseen ones with them);
# data.missing_category makes a missing value MISSING. Ingest refuses a category of the same text.
RARE = "(other)"
MISSING = "(missing)"


def one_hot_name(column: str, category: str) -> str:
    return f"{column}={category}"


def _category(value: Any) -> str:
    # 2.0 is code 2: pandas reads a column of codes with a gap as floats.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def category_text(values: pd.Series) -> pd.Series:
    """Categories as text, the same however a file stores them: a code read as a float (in a
    column with a gap, or sent as JSON's 2.0) is the code (``'2'``, not ``'2.0'``); a missing
    one stays missing (not the text ``'nan'``); a pandas Categorical counts by its values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_float_dtype(values.dtype) or values.dtype == object:
        text = values.map(_category, na_action="ignore")
    else:
        text = values.astype(str)
    return text.astype(object).where(values.notna(), None)


def category_values(values: pd.Series, known: Sequence[str], missing: bool = False) -> pd.Series:
    """The category each value counts as: its text (:func:`category_text`); with ``missing``
    (data.missing_category) a missing value is :data:`MISSING`; where ``known`` (the column's
    training categories) has :data:`RARE`, a value that is none of them is :data:`RARE`."""
    text = category_text(values)
    if missing:
        text = text.fillna(MISSING)
    if RARE in known:
        text = text.where(text.isna() | text.isin(known), RARE)
    return text


def number_coded(categories: Mapping[str, Sequence[str]]) -> list[str]:
    """The columns of ``categories`` (a model's, :func:`fit_categories`) whose training values
    were numbers, codes such as `1` and `2`: in such a column of a CSV, 'NA' and pandas' other
    markers are missing values (:func:`aefx.io.numbers_kept`), whether or not the rows read
    with them hold a number too."""
    coded = []
    for column, known in categories.items():
        values = pd.Series([c for c in known if c not in (MISSING, RARE)], dtype=object)
        if len(values) and pd.to_numeric(values, errors="coerce").notna().all():
            coded.append(column)
    return coded


def fit_categories(
    frame: pd.DataFrame, categorical: Sequence[str], min_rows: int = 1, missing: bool = False
) -> dict[str, list[str]]:
    """The categories of each column in ``categorical`` (as text), sorted: those of the
    training rows, so that a category seen only in test rows gets no column of its own. Those
    of fewer than ``min_rows`` rows become one, :data:`RARE`, listed last; with ``missing``, a
    missing value is the category :data:`MISSING` (rare or not like any other)."""
    out = {}
    for column in categorical:
        counts = category_values(frame[column], (), missing).value_counts()
        kept = sorted(str(c) for c, n in counts.items() if n >= min_rows)
        if len(kept) < len(counts):
            kept.append(RARE)
        out[column] = kept
    return out


@dataclass(frozen=True)
class Imputation:
    """What fills a missing value of each raw column: the ``strategy`` (median or mean) of its
    training values, for a column of categories its most frequent one (the first in sorted
    order on a tie)."""

    strategy: str
    values: dict[str, Any]

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, strategy: str, categorical: Sequence[str], origin: str
    ) -> Imputation:
        values: dict[str, Any] = {}
        for column in frame.columns:
            present = frame[column].dropna()
            if present.empty:
                raise AefxError(
                    f"{origin}: column {column!r} has no values in the training split to fill "
                    "its missing ones from"
                )
            if column in categorical:
                values[column] = str(category_text(present).mode().iloc[0])
            else:
                values[column] = float(getattr(present.astype("float64"), strategy)())
        return cls(strategy, values)

    def fill(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the missing values of these columns filled (others as they are)."""
        return frame.fillna({c: v for c, v in self.values.items() if c in frame.columns})

    def counts(self, frame: pd.DataFrame) -> dict[str, int]:
        """Column -> missing values of ``frame`` that :meth:`fill` fills."""
        missing = frame[[c for c in self.values if c in frame.columns]].isna().sum()
        return {str(c): int(n) for c, n in missing.items() if n}


def one_hot_width(columns: Sequence[str], categories: Mapping[str, Sequence[str]]) -> int:
    """How many columns ``columns`` make once those of ``categories`` are one-hot."""
    return len(columns) + sum(len(known) - 1 for known in categories.values())


def one_hot(
    frame: pd.DataFrame,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    missing: bool = False,
) -> pd.DataFrame:
    """``frame``'s ``columns`` as numbers, in order; each column of ``categories`` replaced, where
    it stood, by one 0/1 column per category (``colour=red``). A value counts as the category
    :func:`category_values` makes it (with ``missing``, a missing value is :data:`MISSING`); one
    that is none of its column's categories (the training rows did not have it, and they had
    no :data:`RARE`) sets none of them."""
    if not categories:  # the common case, and 20 times faster than the loop below
        return frame[list(columns)].astype("float64")
    out: dict[str, Any] = {}
    for column in columns:
        if column not in categories:
            out[column] = frame[column].astype("float64").to_numpy()
            continue
        values = category_values(frame[column], categories[column], missing).to_numpy()
        for category in categories[column]:
            out[one_hot_name(column, category)] = (values == category).astype("float64")
    return pd.DataFrame(out, index=frame.index)


def from_one_hot(
    frame: pd.DataFrame,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    missing: bool = False,
) -> pd.DataFrame:
    """The inverse of :func:`one_hot`: each column of ``categories`` back as the category whose
    0/1 column is largest (for a reconstruction, the one the autoencoder leans to); with
    ``missing``, :data:`MISSING` is a missing value again."""
    out: dict[str, Any] = {}
    for column in columns:
        if column in categories:
            block = frame[[one_hot_name(column, c) for c in categories[column]]].to_numpy()
            back = np.asarray(categories[column], dtype=object)[block.argmax(axis=1)]
            if missing:
                back[back == MISSING] = None
            out[column] = back
        else:
            out[column] = frame[column].to_numpy()
    return pd.DataFrame(out, index=frame.index)


def unseen_categories(
    frame: pd.DataFrame, categories: Mapping[str, Sequence[str]], missing: bool = False
) -> dict[str, int]:
    """Column -> rows of ``frame`` whose value is none of the column's training categories
    (where the column has :data:`RARE`, such a row counts as it, as do those rare in training,
    which are counted too). A missing value is counted
    with ``missing`` where training had none; otherwise it is refused, or filled with a known
    category."""
    counts = {}
    for column, known in categories.items():
        values = category_values(frame[column], (), missing)
        n = int((values.notna() & ~values.isin(known)).sum())
        if n:
            counts[column] = n
    return counts


@dataclass(frozen=True)
class Preprocessing:
    """Raw rows to the autoencoder's inputs and back: the columns of categories one-hot, then
    the scaler, as the scale stage fitted them on the training split."""

    scaler: Any
    columns: list[str]  # the raw feature columns, in order
    categories: dict[str, list[str]]  # the one-hot columns' training categories
    features: list[str]  # the scaled columns the autoencoder reads
    impute: Imputation | None = None  # None: missing values are refused before they get here
    missing_category: bool = False  # a missing value in a column of categories is MISSING

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Preprocessing:
        """From :func:`scaler_to_dict` output (one written before categories or imputation:
        none)."""
        features = list(payload["features"])
        strategy = payload.get("impute")
        return cls(
            scaler_from_dict(payload),
            list(payload.get("columns", features)),
            {c: list(v) for c, v in payload.get("categories", {}).items()},
            features,
            None if strategy is None else Imputation(strategy, dict(payload["fill"])),
            bool(payload.get("missing_category", False)),
        )

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if self.impute is not None:
            frame = self.impute.fill(frame)
        expanded = one_hot(frame, self.columns, self.categories, self.missing_category)
        return np.asarray(self.scaler.transform(expanded))

    def inverse_transform(self, X: np.ndarray) -> pd.DataFrame:
        back = self.scaler.inverse_transform(np.asarray(X, dtype="float64"))
        frame = pd.DataFrame(np.asarray(back), columns=self.features)
        return from_one_hot(frame, self.columns, self.categories, self.missing_category)

    def unseen(self, frame: pd.DataFrame) -> dict[str, int]:
        """:func:`unseen_categories` of ``frame``, as this model counts missing values."""
        return unseen_categories(frame, self.categories, self.missing_category)
