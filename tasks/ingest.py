"""ingest: read the data set, check it, split it into train and test Parquet files."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aefx.config import DataConfig, SyntheticConfig
from aefx.errors import AefxError
from aefx.images import load_image_source, pixel_columns
from aefx.io import write_json, write_parquet

log = logging.getLogger(__name__)

MIN_ROWS = 10
READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


@dataclass(frozen=True)
class IngestResult:
    n_train: int
    n_test: int
    features: tuple[str, ...]
    classes: tuple[str, ...]


def synthetic_frame(cfg: SyntheticConfig, label: str) -> pd.DataFrame:
    """The reference task: ``make_classification`` with the tutorial's arguments."""
    from sklearn.datasets import make_classification

    if cfg.n_informative + cfg.n_redundant > cfg.n_features:
        raise AefxError("data.synthetic: n_informative + n_redundant must not exceed n_features")
    X, y = make_classification(
        n_samples=cfg.n_samples,
        n_features=cfg.n_features,
        n_informative=cfg.n_informative,
        n_redundant=cfg.n_redundant,
        n_classes=cfg.n_classes,
        random_state=cfg.random_state,
    )
    width = len(str(cfg.n_features - 1))
    frame = pd.DataFrame(X, columns=[f"f{i:0{width}d}" for i in range(cfg.n_features)])
    frame[label] = y
    return frame


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every failure into one clear line."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise AefxError(f"{path}: unsupported file type {path.suffix!r} (use .csv or .parquet)")
    if not path.is_file():
        raise AefxError(f"{path}: data file not found")
    try:
        frame = reader(path)
    except pd.errors.EmptyDataError:
        raise AefxError(f"{path}: file is empty") from None
    except Exception as exc:  # pandas and pyarrow raise many types for a corrupt file
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AefxError(f"{path}: cannot be read as {kind} ({reason})") from None
    frame.columns = [str(c) for c in frame.columns]
    return frame


def check_frame(frame: pd.DataFrame, label: str, origin: str) -> pd.DataFrame:
    """Validate a feature table; return it with float features and the label last."""
    if label not in frame.columns:
        shown = ", ".join(list(frame.columns)[:8]) + (", ..." if frame.shape[1] > 8 else "")
        raise AefxError(f"{origin}: label column {label!r} not found (columns: {shown})")
    features = [c for c in frame.columns if c != label]
    if not features:
        raise AefxError(f"{origin}: no feature columns besides the label {label!r}")
    problems = []
    for column in features:
        values = frame[column]
        if values.dtype == bool:
            values = values.astype(float)
        if not pd.api.types.is_numeric_dtype(values):
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            example = values[bad].iloc[0] if bad.any() else values.iloc[0]
            problems.append(f"column {column!r} is not numeric (value {example!r})")
            continue
        n_nan = int(values.isna().sum())
        n_inf = int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())
        if n_nan or n_inf:
            problems.append(f"column {column!r} has {n_nan} missing and {n_inf} infinite values")
    if frame[label].isna().any():
        problems.append(f"label column {label!r} has {int(frame[label].isna().sum())} missing")
    if problems:
        raise AefxError(f"{origin}: " + "; ".join(problems))
    out = frame[features].astype("float64")
    out[label] = frame[label].to_numpy()
    return out


def _show(value: object) -> str:
    """repr() of a label without numpy's type wrapper: 1, not np.int64(1)."""
    return repr(value.item() if hasattr(value, "item") else value)


def check_splittable(frame: pd.DataFrame, label: str, cfg: DataConfig, origin: str) -> None:
    n_rows = len(frame)
    n_test = math.ceil(cfg.test_size * n_rows)
    if n_rows < MIN_ROWS or n_rows - n_test < 2:
        raise AefxError(
            f"{origin}: {n_rows} rows are too few to split into train and test "
            f"(need at least {MIN_ROWS})"
        )
    counts = frame[label].value_counts()
    if len(counts) < 2:
        raise AefxError(
            f"{origin}: label column {label!r} has a single class ({_show(counts.index[0])}); "
            "a classifier needs at least two"
        )
    if cfg.stratify and counts.min() < 2:
        raise AefxError(
            f"{origin}: class {_show(counts.idxmin())} in {label!r} has {counts.min()} row; "
            "stratified splitting needs at least 2 per class"
        )
    if cfg.stratify and min(n_test, n_rows - n_test) < len(counts):
        raise AefxError(
            f"{origin}: {n_rows} rows are too few to stratify {len(counts)} classes "
            f"with data.test_size={cfg.test_size}"
        )


def image_frame(images: np.ndarray, labels: np.ndarray, label: str) -> pd.DataFrame:
    """Images flattened to one float column per pixel (channels last), plus the label."""
    flat = images.reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    frame[label] = labels
    return frame


def subsample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n=n, random_state=seed).sort_index()


def load_source(cfg: DataConfig) -> tuple[pd.DataFrame, str]:
    """The configured table as a checked frame, and a name for messages."""
    if cfg.source == "synthetic":
        return synthetic_frame(cfg.synthetic, cfg.label), "synthetic"
    assert cfg.path is not None  # guaranteed by DataConfig
    origin = str(cfg.path)
    return check_frame(read_table(cfg.path), cfg.label, origin), origin


def load_splits(cfg: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame, str, list[int] | None]:
    """Train and test frames, a name for messages, and the image shape (None for tables)."""
    from sklearn.model_selection import train_test_split

    presplit: tuple[pd.DataFrame, pd.DataFrame] | None = None
    shape = None
    if cfg.is_image:
        path = cfg.file_path()
        origin = cfg.source if path is None else str(path)
        images = load_image_source(cfg.source, path, cfg.labels_path)
        shape = list(images.shape)
        frame = image_frame(images.images, images.labels, cfg.label)
        if images.test_images is not None:
            assert images.test_labels is not None
            presplit = (frame, image_frame(images.test_images, images.test_labels, cfg.label))
    else:
        frame, origin = load_source(cfg)
    if presplit is not None:
        # The file's own split is kept; max_rows shrinks both sides in proportion.
        train, test = presplit
        if cfg.max_rows is not None:
            total = len(train) + len(test)
            n_test = max(1, round(cfg.max_rows * len(test) / total))
            train = subsample(train, cfg.max_rows - n_test, cfg.split_seed)
            test = subsample(test, n_test, cfg.split_seed)
        check_splittable(pd.concat([train, test]), cfg.label, cfg, origin)
        return train, test, origin, shape
    if cfg.max_rows is not None:
        frame = subsample(frame, cfg.max_rows, cfg.split_seed)
    check_splittable(frame, cfg.label, cfg, origin)
    train, test = train_test_split(
        frame,
        test_size=cfg.test_size,
        random_state=cfg.split_seed,
        stratify=frame[cfg.label] if cfg.stratify else None,
    )
    return train, test, origin, shape


def ingest(cfg: DataConfig, train_path: Path, test_path: Path, schema_path: Path) -> IngestResult:
    """Load, validate and split the data set; write both splits as Parquet and a schema that
    names the features, the label, the classes and (for images) the image shape."""
    train, test, origin, shape = load_splits(cfg)
    features = tuple(c for c in train.columns if c != cfg.label)
    classes = tuple(str(c) for c in sorted(pd.concat([train, test])[cfg.label].unique()))
    write_parquet(train_path, train)
    write_parquet(test_path, test)
    write_json(
        schema_path,
        {
            "source": cfg.source,
            "features": list(features),
            "label": cfg.label,
            "classes": list(classes),
            "image_shape": shape,
        },
    )
    log.info(
        "ingest: %s -> %d train / %d test rows, %d features%s, %d classes",
        origin,
        len(train),
        len(test),
        len(features),
        f" ({'x'.join(map(str, shape))} images)" if shape else "",
        len(classes),
    )
    return IngestResult(len(train), len(test), features, classes)
