"""ingest: read the data set, check it, split it into train and test Parquet files."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from aefx.config import (
    DataConfig,
    SyntheticConfig,
    changed_settings,
    unread_warning,
    untested_classes,
)
from aefx.errors import AefxError, first_few
from aefx.images import (
    array_bytes,
    check_image_path,
    folder_bytes,
    folder_files,
    load_folder,
    load_image_source,
    pixel_columns,
)
from aefx.io import (
    LimitExceeded,
    ReadLimit,
    arrow_frame,
    check_partitions,
    hive_partitions,
    numeric_partitions,
    other_columns,
    parquet_folder,
    read_csv,
    require_table_files,
    table_file,
    table_files,
    text_files,
    unsupported_type,
    with_partitions,
    write_json,
    write_parquet,
)
from aefx.scaling import MISSING, RARE, category_text, fit_categories
from aefx.validation import (
    check_budget,
    check_categorical,
    check_content,
    dataset_bytes,
    header_hint,
    index_ignored,
    marks_problem,
    over_budget,
    show_value,
    table_bytes,
    table_problems,
    table_warnings,
    unreadable,
    validate_table,
    with_feature_types,
)

log = logging.getLogger(__name__)


class Splits(NamedTuple):
    """Train and test frames, a name for messages, the image shape (None for tables), and the
    data's warnings (constant columns, duplicated rows), which ingest logs."""

    train: pd.DataFrame
    test: pd.DataFrame
    origin: str
    shape: list[int] | None
    warnings: tuple[str, ...] = ()


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


def check_source(cfg: DataConfig) -> None:
    """The data file or folder that ``cfg`` names is there and of a kind ingest reads. `aefx
    run` asks before it starts Prefect or an MLflow run, so that a mistyped path is one line
    and leaves no failed run behind; ingest asks again (`dvc repro` runs it alone)."""
    if cfg.is_image:
        check_image_path(cfg.source, cfg.file_path())
    elif cfg.path is not None:
        check_table_path(cfg.path)
        if cfg.test_path is not None:
            check_table_path(cfg.test_path)


def check_table_path(path: Path) -> None:
    """A table file of a type ingest reads, or a folder of such files, is there (the files
    themselves are checked as they are read)."""
    table = table_file(path)
    if table is None:
        raise unsupported_type(path)
    if table.folder:
        require_table_files(path)
    elif not path.is_file():
        raise AefxError(f"{path}: data file not found")


def read_table(
    path: Path, budget_mb: float | None = None, text: Collection[str] = ()
) -> pd.DataFrame:
    """Read a CSV or TSV (plain or compressed) or Parquet file, or a folder of such files,
    turning every failure into one clear line. In a CSV or TSV the ``text`` columns (the label,
    the categories, the ignored columns) keep the text pandas reads as missing
    (:data:`aefx.io.NA_MARKERS`)."""
    import pyarrow.parquet as pq

    check_table_path(path)
    table = table_file(path)
    assert table is not None  # checked above
    check_content(path)
    if table.kind == "csv" and table.folder:
        frame = read_text_folder(path, budget_mb, text)
        frame.columns = [str(c) for c in frame.columns]
        return frame
    folder = parquet_folder(path) if table.folder else None
    limit = None  # a compressed CSV's text is counted as it is read, others judged before
    if budget_mb is not None and table.codec is not None:
        limit = ReadLimit(int(budget_mb * 2**20))
    elif budget_mb is not None:
        estimate = table_bytes(path) if folder is None else dataset_bytes(folder)
        check_budget(path, estimate, budget_mb)
    try:
        if table.kind == "csv":
            frame = read_csv(path, table.codec, limit, table.delimiter, text=text)
        elif folder is not None:
            frame = arrow_frame(folder.to_table())
        else:
            frame = arrow_frame(pq.read_table(path))
    except LimitExceeded as exc:
        assert budget_mb is not None  # only a limit raises it
        raise over_budget(path, exc.count, budget_mb, partial=True) from None
    except Exception as exc:  # pandas and pyarrow raise many types for a corrupt file
        raise unreadable(path, exc) from None
    frame.columns = [str(c) for c in frame.columns]
    return frame


def read_text_folder(
    folder: Path, budget_mb: float | None = None, text: Collection[str] = ()
) -> pd.DataFrame:
    """The table a folder of CSV or TSV files holds (Spark's CSV writer leaves one): each file
    read whole, in path order, and stacked, Hive partition folders (``region=north/``) as
    columns, as for a folder of Parquet files. Every file must hold the same columns (in any
    order). A column of text in one file is text in all, as in one file pandas would read it
    (a code ``7`` in one file and ``x`` in another were an int and a string). Each file is
    read with its own decimal mark, and a feature column whose numbers one file writes with
    another (or with thousands separators) is refused naming that file. Against
    ``budget_mb``, the plain files are judged by their size before any is read, and the
    compressed ones' text is counted as it is read, together."""
    files = text_files(folder)
    kinds = [table_file(f) for f in files]
    partitioned, keys = hive_partitions(folder, files)
    limit, plain = None, 0
    if budget_mb is not None:
        sizes = [f.stat().st_size for f, kind in zip(files, kinds, strict=True) if not kind.codec]
        plain = sum(sizes)
        check_budget(folder, plain, budget_mb)
        limit = ReadLimit(int(budget_mb * 2**20) - plain)
    parts: list[pd.DataFrame] = []
    for source, kind, found in zip(files, kinds, keys, strict=True):
        try:
            part = read_csv(
                source, kind.codec, limit if kind.codec else None, kind.delimiter, text=text
            )
        except LimitExceeded as exc:
            assert budget_mb is not None  # only a limit raises it
            raise over_budget(folder, plain + exc.count, budget_mb, partial=True) from None
        except Exception as exc:  # pandas raises many types for a corrupt file
            raise unreadable(source, exc) from None
        check_partitions(folder, source, part.columns, found)
        part = with_partitions(part, partitioned, found)
        if parts and set(part.columns) != set(parts[0].columns):
            if headless := header_hint(part.columns):  # Spark writes parts without, by default
                raise AefxError(f"{source}: {headless}")
            raise other_columns(folder, source, files[0])
        # Each file is read with its own decimal mark: a column whose numbers came as text
        # for how they are written is named with the file (the joined table could not say).
        marks = [
            f"column {column!r} {problem}"
            for column in part.columns
            if column not in text and (problem := marks_problem(part[column]))
        ]
        if marks:
            raise AefxError(f"{source}: " + "; ".join(marks))
        parts.append(part[parts[0].columns] if parts else part)
    for column in parts[0].columns:
        numeric = [pd.api.types.is_numeric_dtype(p[column]) for p in parts]
        if any(numeric) and not all(numeric):
            for p in parts:
                p[column] = category_text(p[column])
    return pd.concat(parts, ignore_index=True)


def check_splittable(
    frame: pd.DataFrame, label: str, cfg: DataConfig, origin: str, test_rows: int | None = None
) -> None:
    """Enough rows and classes to split (again after ``max_rows`` took a subset); for data
    that comes split, ``test_rows`` of them are its test side, and neither ``data.test_size``
    nor stratifying applies."""
    stratify = cfg.stratify and test_rows is None
    split_by = "data.test_path" if cfg.test_path else "the data's own split"
    problems = table_problems(frame, label, cfg.test_size, stratify, test_rows, split_by)
    if problems:
        raise AefxError(f"{origin}: " + "; ".join(problems))


def image_frame(images: np.ndarray, labels: np.ndarray, label: str) -> pd.DataFrame:
    """Images flattened to one float column per pixel (channels last), plus the label."""
    flat = images.reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    frame[label] = labels
    return frame


def subsample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded random ``n`` of the rows, in the order they had (by position: the index may
    be the ignored columns)."""
    if len(frame) <= n:
        return frame
    picked = frame.reset_index(drop=True).sample(n=n, random_state=seed).index
    return frame.iloc[np.sort(picked)]


def _text_columns(cfg: DataConfig) -> set[str]:
    """The columns of text whatever they hold: the label, the categories, the ignored ones."""
    return {cfg.label, *cfg.categorical, *cfg.ignore}


def load_source(cfg: DataConfig) -> tuple[pd.DataFrame, str]:
    """The configured table as a checked frame, and a name for messages."""
    if cfg.source == "synthetic":
        # Judged as a Parquet file's table is: rows x columns x 8 bytes, before it is made.
        made = cfg.synthetic.n_samples * (cfg.synthetic.n_features + 1) * 8
        fewer = "fewer data.synthetic.n_samples or n_features, or raise the budget"
        check_budget(Path("synthetic"), made, cfg.memory_budget_mb, fewer)
        frame = index_ignored(synthetic_frame(cfg.synthetic, cfg.label), cfg.ignore, "synthetic")
        check_categorical(frame, cfg.categorical, "synthetic", _reserved(cfg))
        return with_feature_types(frame, cfg.label, cfg.categorical), "synthetic"
    assert cfg.path is not None  # guaranteed by DataConfig
    origin = str(cfg.path)
    frame = read_table(cfg.path, cfg.memory_budget_mb, _text_columns(cfg))
    checked = validate_table(
        frame,
        cfg.label,
        origin,
        cfg.test_size,
        cfg.stratify,
        cfg.ignore,
        cfg.categorical,
        cfg.impute,
        cfg.missing_category,
        _reserved(cfg),
        split=cfg.test_path is None,  # with a test file, the two are judged together
    )
    return checked, origin


def load_test_file(cfg: DataConfig, train: pd.DataFrame) -> pd.DataFrame:
    """The test rows of a table that comes split (``data.test_path``), checked as the training
    file's are and returned alike; ``train`` is the training file's, checked (the columns
    ``data.ignore`` names its index). The rules of splitting apply to the two together."""
    assert cfg.test_path is not None
    origin = str(cfg.test_path)
    frame = read_table(cfg.test_path, cfg.memory_budget_mb, _text_columns(cfg))
    expected = [*cfg.ignore, *map(str, train.columns)]
    missing = [c for c in expected if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in expected]
    if missing or extra:
        parts = [f"no column(s) {', '.join(map(repr, missing[:8]))}"] if missing else []
        parts += [f"extra column(s) {', '.join(map(repr, extra[:8]))}"] if extra else []
        raise AefxError(
            f"{origin}: {'; '.join(parts)} (the test rows need the columns of {cfg.path})"
        )
    return validate_table(
        frame[expected],
        cfg.label,
        origin,
        ignore=cfg.ignore,
        categorical=cfg.categorical,
        impute=cfg.impute,
        missing_category=cfg.missing_category,
        reserved=_reserved(cfg),
        split=False,
        test_rows=True,
    )


def _reserved(cfg: DataConfig) -> tuple[str, ...]:
    """The categories aefx makes for ``cfg``, which a column's own may not be named like."""
    reserved = []
    if cfg.min_category_rows > 1:
        reserved.append(RARE)
    if cfg.missing_category:
        reserved.append(MISSING)
    return tuple(reserved)


def partition_features(cfg: DataConfig) -> list[str]:
    """A warning for each column of whole numbers that a table folder's Hive partition folders
    give its rows and that is left a numeric feature (:func:`aefx.io.numeric_partitions`);
    whether it should be a feature, a category or neither is the user's call (text partition
    values are refused as features already, with that hint)."""
    if cfg.path is None:
        return []
    kept_out = {cfg.label, *cfg.ignore, *cfg.categorical}
    return [
        f"{cfg.path}: column {name!r} comes from the partition folders "
        f"({name}=...) and is a numeric feature; data.ignore: [{name}] keeps it "
        f"out, data.categorical: [{name}] makes each value a category"
        for name in numeric_partitions(cfg.path)
        if name not in kept_out
    ]


def unread_data_settings(cfg: DataConfig, own_split: bool) -> dict[str, str]:
    """The data settings changed from their defaults that reading this source does not read,
    each with when it would: ``data.synthetic`` for another source, and how to split for data
    that comes split (``data.test_path``, train/ and test/ folders, mnist's two arrays)."""
    unread = {}
    if cfg.source != "synthetic":
        for field in changed_settings(cfg.synthetic):
            unread[f"data.synthetic.{field}"] = "with data.source synthetic"
    if own_split:
        changed = changed_settings(cfg)
        # split_seed also draws the data.max_rows subset of each side.
        splitting = ("test_size", "stratify", *(("split_seed",) if cfg.max_rows is None else ()))
        for field in splitting:
            if field in changed:
                unread[f"data.{field}"] = "when the data comes without a split of its own"
    return unread


def load_splits(cfg: DataConfig) -> Splits:
    """The data set read, checked and split."""
    from sklearn.model_selection import train_test_split

    presplit: tuple[pd.DataFrame, pd.DataFrame] | None = None
    shape = None
    warnings: tuple[str, ...] = ()
    if cfg.is_image:
        path, folder = cfg.file_path(), None
        origin = cfg.source if path is None else str(path)
        if path is not None and path.is_file():
            check_budget(path, array_bytes(path), cfg.memory_budget_mb)
        elif cfg.source == "images" and path is not None and path.is_dir():
            # The folder is walked (and a labels CSV read) once, for the estimate and the read.
            files = folder_files(path, cfg.labels_path, cfg.label)
            smaller = "data.image_size: [height, width] reads them smaller, or raise the budget"
            estimate = folder_bytes(path, cfg.image_size, files=files)
            check_budget(path, estimate, cfg.memory_budget_mb, smaller)
            folder = load_folder(path, cfg.image_size, files=files)
        images = (
            folder
            if folder is not None
            else load_image_source(
                cfg.source,
                path,
                cfg.labels_path,
                cfg.image_size,
                cfg.label,
                cfg.memory_budget_mb,
            )
        )
        shape = list(images.shape)
        frame = image_frame(images.images, images.labels, cfg.label)
        if images.test_images is not None:
            assert images.test_labels is not None
            presplit = (frame, image_frame(images.test_images, images.test_labels, cfg.label))
    else:
        frame, origin = load_source(cfg)
        test_from = None
        if cfg.test_path is not None:  # a table that comes split
            presplit = (frame, load_test_file(cfg, frame))
            test_from = len(frame)
            frame = pd.concat(presplit)  # its warnings (duplicated rows) are of both files
        warnings = (
            *table_warnings(
                frame,
                cfg.label,
                origin,
                cfg.categorical,
                cfg.impute,
                cfg.min_category_rows,
                cfg.missing_category,
                test_from,
            ),
            *partition_features(cfg),
        )
    if unread := unread_data_settings(cfg, own_split=presplit is not None):
        warnings = (*warnings, unread_warning(f"ingest ({origin})", unread))
    if presplit is not None:
        # The file's own split is kept; max_rows shrinks both sides in proportion.
        train, test = presplit
        if cfg.max_rows is not None:
            total = len(train) + len(test)
            n_test = max(1, round(cfg.max_rows * len(test) / total))
            train = subsample(train, cfg.max_rows - n_test, cfg.split_seed)
            test = subsample(test, n_test, cfg.split_seed)
        check_splittable(pd.concat([train, test]), cfg.label, cfg, origin, test_rows=len(test))
        test_origin = origin if cfg.test_path is None else str(cfg.test_path)
        drawn_from = presplit if len(train) + len(test) < sum(map(len, presplit)) else None
        check_classes_trained(
            train, test, cfg.label, test_origin, own_split=True, drawn_from=drawn_from
        )
        warnings = (
            *warnings,
            *untested_warning(train, test, cfg, test_origin, own_split=True, drawn_from=drawn_from),
        )
        return Splits(train, test, origin, shape, warnings)
    if cfg.max_rows is not None:
        frame = subsample(frame, cfg.max_rows, cfg.split_seed)
    check_splittable(frame, cfg.label, cfg, origin)
    train, test = train_test_split(
        frame,
        test_size=cfg.test_size,
        random_state=cfg.split_seed,
        stratify=frame[cfg.label] if cfg.stratify else None,
    )
    check_classes_trained(train, test, cfg.label, origin)
    warnings = (*warnings, *untested_warning(train, test, cfg, origin))
    return Splits(train, test, origin, shape, warnings)


def check_classes_trained(
    train: pd.DataFrame,
    test: pd.DataFrame,
    label: str,
    origin: str,
    own_split: bool = False,
    drawn_from: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> None:
    """Every class in the test split has training rows. A class that the split put wholly in
    test (a rare one, without stratifying) can never be predicted, and scoring it failed every
    classifier cell after the autoencoders had trained (ROC AUC is undefined for it). With
    ``own_split`` the split is the file's (stratifying does not apply); ``drawn_from`` is that
    split before data.max_rows drew its subset, if it did."""
    unseen = sorted(set(test[label]) - set(train[label]), key=str)
    if unseen:
        rows = int(test[label].isin(unseen).sum())
        shown = first_few([show_value(u) for u in unseen])
        if drawn_from is not None and set(unseen) <= set(drawn_from[0][label]):
            fix = _MAX_ROWS_DREW_NONE.format(part="their training rows")
        elif own_split:
            fix = "the file's own split: give its training part rows of them"
        elif test[label][test[label].isin(unseen)].value_counts().min() == 1:
            # Stratifying cannot help a class of one row, and refuses it.
            fix = "give them more rows (a class of one row cannot be in both splits)"
        else:
            fix = "set data.stratify: true, or give them more rows"
        raise AefxError(
            f"{origin}: class(es) {shown} in {label!r} have all their rows ({rows}) in the test "
            f"split and none to train on; {fix}"
        )


# A file's own split has rows of a class in each part, but data.max_rows drew none of one's.
_MAX_ROWS_DREW_NONE = "data.max_rows drew none of {part}: a larger data.max_rows keeps more rows"


def untested_warning(
    train: pd.DataFrame,
    test: pd.DataFrame,
    cfg: DataConfig,
    origin: str,
    own_split: bool = False,
    drawn_from: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[str, ...]:
    """A warning, where the test split has no rows of some class that training has: the run
    then logs no test ROC AUC, and its test accuracy and F1 leave that class out, which a
    comparison read without this would not show. ``own_split`` and ``drawn_from`` as for
    :func:`check_classes_trained`."""
    untested = untested_classes(train[cfg.label].to_numpy(), test[cfg.label].to_numpy())
    if not untested:
        return ()
    if drawn_from is not None and set(untested) <= set(drawn_from[1][cfg.label]):
        fix = _MAX_ROWS_DREW_NONE.format(part="the test rows of them")
    elif own_split:
        fix = "give the test split rows of every class"
    elif cfg.stratify:
        fix = "give them more rows"
    else:
        fix = "data.stratify: true puts rows of every class in both splits"
    return (
        f"{origin}: the test split has no rows of class(es) "
        f"{first_few([show_value(c) for c in untested])} in {cfg.label!r}, which training has: "
        f"no test ROC AUC is logged, and test accuracy and F1 leave them out; {fix}",
    )


# Splits that check_data read for this process's next ingest of the same, unchanged source.
_checked: dict[tuple[object, ...], Splits] = {}


def _source_key(cfg: DataConfig) -> tuple[object, ...]:
    """The data settings and the size and modification time of the files they name (of each
    table file in a folder of them): a file changed after the check is read again."""
    stamps: list[object] = []
    for path in (cfg.file_path(), cfg.test_path, cfg.labels_path):
        table_folder = path is not None and not cfg.is_image and path.is_dir()
        files = table_files(path) if table_folder else [path]
        try:
            stats = [None if f is None else f.stat() for f in files]
        except OSError:
            stats = [None]
        stamps.append(tuple(None if s is None else (s.st_mtime_ns, s.st_size) for s in stats))
    return (cfg, *stamps)


def check_data(cfg: DataConfig, keep: bool = True) -> Splits:
    """Read, check and split the data now: `aefx run` asks before it starts Prefect or an MLflow
    run, so that bad data is one line and leaves no failed run behind. With ``keep`` the splits
    wait for the flow's ingest in this process, which then does not read the data again."""
    _checked.clear()
    check_source(cfg)
    key = _source_key(cfg)  # before reading: a file changed while it is read is read again
    splits = load_splits(cfg)
    if keep:
        _checked[key] = splits
    return splits


def ingest(cfg: DataConfig, train_path: Path, test_path: Path, schema_path: Path) -> IngestResult:
    """Load, validate and split the data set; write both splits as Parquet (with the columns
    ``data.ignore`` names, first) and a schema that names the features, the label, the columns
    ignored, the columns of categories with the categories of each in the training split (the
    scale stage makes a 0/1 column of each; rare ones together, a missing one as a category
    where ``data.missing_category``), how missing values are filled (by the scale stage), the
    classes and (for images) the image shape."""
    train, test, origin, shape, warnings = _checked.pop(_source_key(cfg), None) or load_splits(cfg)
    for warning in warnings:
        log.warning("%s", warning)
    features = tuple(c for c in train.columns if c != cfg.label)
    classes = tuple(str(c) for c in sorted(pd.concat([train, test])[cfg.label].unique()))
    # The ignored columns (ids, names) go first, where each row's id is easy to see; they reach
    # the encoded splits (encode_splits) and no model.
    write_parquet(train_path, train.reset_index(drop=not cfg.ignore))
    write_parquet(test_path, test.reset_index(drop=not cfg.ignore))
    write_json(
        schema_path,
        {
            "source": cfg.source,
            "features": list(features),
            "label": cfg.label,
            "ignored": list(cfg.ignore),
            "categories": fit_categories(
                train, cfg.categorical, cfg.min_category_rows, cfg.missing_category
            ),
            "missing_category": cfg.missing_category,
            "impute": cfg.impute,
            "classes": list(classes),
            "image_shape": shape,
            # New images are resized to image_shape as these were (data.image_size).
            "image_resize": cfg.image_size is not None,
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
