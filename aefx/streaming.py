"""Train an autoencoder on a Parquet file larger than memory (`aefx train-stream`; a CSV or
TSV is first copied to Parquet by :func:`stream_source`).

Two kinds of pass over the file, each a chunk at a time: one pass for the row count, the
scaling statistics and a held-out validation sample; then, per epoch, the training rows in
shuffled chunks, the row groups in a new order, fed to Keras through a tf.data pipeline. Memory
is bounded by the chunk size and the validation sample, not by the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aefx.autoencoders import Architecture, batches_per_pass, check_batch_norm, check_trainable
from aefx.config import AutoencoderConfig, params_to_flat_dict
from aefx.errors import AefxError

log = logging.getLogger(__name__)


def parquet_sources(path: Path) -> list[Path]:
    """The Parquet files train-stream reads: ``path``, or those of a folder of them (in path
    order, :func:`aefx.io.parquet_files`; :func:`parquet_features` checks their columns)."""
    from aefx.io import require_parquet_files

    return require_parquet_files(path) if path.is_dir() else [path]


def parquet_partitions(path: Path, files: Sequence[Path]) -> list[dict[str, Any]]:
    """Each file's Hive partition values (:func:`aefx.io.hive_partitions`), which are columns
    of all its rows; none for a file."""
    from aefx.io import hive_partitions

    return hive_partitions(path, list(files))[1] if path.is_dir() else [{} for _ in files]


def parquet_chunks(path: Path, columns: list[str], rows: int) -> Iterator[np.ndarray]:
    """float64 blocks of at most ``rows`` rows of ``columns``, read without read-ahead, from
    the file or each file of the folder in turn; a missing or infinite value is refused, named
    by its file and its row there."""
    from aefx.encode import parquet_batches

    files = parquet_sources(path)
    for source, partition in zip(files, parquet_partitions(path, files), strict=True):
        stored = [c for c in columns if c not in partition]
        start = 0  # the file's rows before this block
        for batch in parquet_batches(source, rows, stored):
            block = _matrix(batch, columns, partition)
            _check_finite(block, columns, source, start)
            start += len(block)
            yield block


def text_features(path: Path, label: str | None, ignore: Sequence[str] = ()) -> list[str]:
    """The feature columns of a CSV or TSV ``path`` (every column but the label and those in
    ``ignore``), from its header, so the model's size is checked before the copy is made.
    The first row's values are checked as the copy checks them: a column of names or ids is
    then refused at once, alone, not after the warnings of the table's columns."""
    from aefx.encode import chunk_origin, read_chunks

    first = next(read_chunks(path, 1), None)
    if first is None or first.empty:
        raise AefxError(f"{path}: 0 row(s); need at least 2 to train and validate")
    features = _text_features(path, [str(c) for c in first.columns], label, ignore)
    _feature_block(first, features, *chunk_origin(first, path, 0))
    return features


def _text_features(
    path: Path, columns: list[str], label: str | None, ignore: Sequence[str]
) -> list[str]:
    from aefx.validation import check_ignored

    check_ignored(columns, ignore, str(path))
    names = [c for c in columns if c != label and c not in ignore]
    if not names:
        raise AefxError(f"{path}: no feature columns")
    return names


def partition_warnings(path: Path, features: Sequence[str]) -> list[str]:
    """A warning for each column of whole numbers that ``path``'s Hive partition folders give
    its rows and that is among ``features`` (:func:`aefx.io.numeric_partitions`), as ingest
    warns of them for `aefx run`."""
    from aefx.io import numeric_partitions

    return [
        f"{path}: column {name!r} comes from the partition folders ({name}=...) and is a "
        f"numeric feature; data.ignore: [{name}] keeps it out"
        for name in numeric_partitions(path)
        if name in features
    ]


def label_warnings(
    path: Path, label: str, features: Sequence[str], ignore: Sequence[str] = ()
) -> list[str]:
    """A warning when ``path`` (a table train-stream reads) has no ``label`` column: it then
    trains on every column, and a label named otherwise (target, class) is learnt as a feature
    that the encoder asks for in every table it encodes. Its partition folders count."""
    from aefx.encode import read_chunks
    from aefx.io import is_text_table

    if is_text_table(path):
        columns = [str(c) for c in next(read_chunks(path, 1)).columns]
    else:
        import pyarrow.parquet as pq

        first = parquet_sources(path)[:1]
        columns = [*pq.read_schema(first[0]).names, *parquet_partitions(path, first)[0]]
    if label in columns:
        return []
    outside = " outside data.ignore" if ignore else ""
    return [
        f"{path} has no column {label!r} (data.label), so all {len(features)} of its columns"
        f"{outside} are trained as features; if one of them is the label, name it: "
        "-s data.label=NAME"
    ]


@contextmanager
def stream_source(
    path: Path, label: str | None, ignore: Sequence[str], rows: int, beside: Path
) -> Iterator[Path]:
    """What train-stream's passes read: ``path`` itself, for Parquet; for a CSV or TSV (plain
    or compressed, or a folder of them, Hive partition folders as columns, as ingest reads
    them) a Parquet copy in a hidden folder beside ``beside``, removed when the block ends.

    The copy is written in one pass of ``rows`` rows at a time (re-parsing the text every
    epoch would cost more than the epoch), in row groups of that size, its features as floats
    and the label and ignored columns as text. The values are checked on the way, so a mistake
    names ``path``: a feature column of text, a missing or infinite value, fewer than 2 rows."""
    from aefx.io import is_text_table

    if not is_text_table(path):
        yield path
        return
    import shutil
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from aefx.encode import chunk_origin, read_chunks

    folder = Path(tempfile.mkdtemp(prefix=".aefx-stream-", dir=_nearest_folder(beside.parent)))
    writer: Any = None
    try:
        copy, features, start = folder / f"{path.name}.parquet", [], 0
        for chunk in read_chunks(path, rows):
            if writer is None:  # a folder's parts hold the same columns: read_chunks checks
                columns = [str(c) for c in chunk.columns]
                features = _text_features(path, columns, label, ignore)
                fields = [(c, pa.float64() if c in features else pa.string()) for c in columns]
                schema = pa.schema(fields)
                writer = pq.ParquetWriter(copy, schema)
            block = _feature_block(chunk, features, *chunk_origin(chunk, path, start))
            arrays = [
                block[:, features.index(c)] if c in features else _text_column(chunk[c])
                for c in schema.names
            ]
            writer.write_table(pa.table(arrays, schema=schema), row_group_size=rows)
            start += len(chunk)
        if writer is not None:
            writer.close()
        if start < 2:
            raise AefxError(f"{path}: {start} row(s); need at least 2 to train and validate")
        yield copy
    finally:
        if writer is not None and writer.is_open:
            writer.close()
        shutil.rmtree(folder, ignore_errors=True)


def _nearest_folder(path: Path) -> Path:
    """``path``, or its nearest parent that exists (nothing is made for the copy's sake)."""
    path = path.resolve()
    while not path.is_dir():
        path = path.parent
    return path


def _feature_block(chunk: Any, features: list[str], path: Path, start: int) -> np.ndarray:
    """``features`` of a chunk of CSV rows (from row ``start`` of ``path``, the file, or the
    part of a folder, it came from) as a float64 matrix: booleans as 0 and 1, as ingest reads
    them; text, or a missing or infinite value, refused in one line naming ``path`` (and the
    row, counted from 0, as for a Parquet file)."""
    import pandas as pd

    from aefx.validation import marks_problem, show_value

    columns = []
    for name in features:
        values = chunk[name]
        if pd.api.types.is_numeric_dtype(values.dtype):  # booleans too, as 0 and 1
            columns.append(values.to_numpy(dtype="float64"))
            continue
        if problem := marks_problem(values):  # numbers written with another mark
            raise AefxError(f"{path}: column {name!r} {problem}")
        numbers = pd.to_numeric(values, errors="coerce")
        text = numbers.isna() & values.notna()
        if text.any():
            example = show_value(values[text].iloc[0])
            words = text.sum() * 2 >= values.notna().sum()  # an id or a name, as ingest tells
            hint = f"; data.ignore: [{name}] keeps it out (an id, a name?)" if words else ""
            raise AefxError(f"{path}: column {name!r} is not numeric (value {example}){hint}")
        columns.append(numbers.to_numpy(dtype="float64"))
    block = np.column_stack(columns)
    _check_finite(block, features, path, start)
    return block


def _check_finite(block: np.ndarray, features: list[str], path: Path, start: int) -> None:
    """Refuse a missing or infinite value in ``block``, rows ``start`` on of ``path``, in one
    line naming its column and row (counted from 0)."""
    if not np.isfinite(block).all():
        bad_row, bad_col = np.argwhere(~np.isfinite(block))[0]
        raise AefxError(
            f"{path}: column {features[bad_col]!r} row {start + bad_row} is not a finite number"
        )


def _text_column(values: Any) -> Any:
    """A label or ignored column as Arrow text (missing values null): train-stream carries its
    name, never its values, and text holds whatever type each chunk's values were read as."""
    import pyarrow as pa

    return pa.array(values.astype("string"), type=pa.string())


@dataclass(frozen=True)
class RowGroup:
    """One row group of one of the files: what an epoch reads whole, in a random order."""

    file: int  # its index in parquet_sources
    group: int
    start: int  # the global row number of its first row


def row_groups(files: Sequence[Path]) -> list[RowGroup]:
    import pyarrow.parquet as pq

    found, start = [], 0
    for number, source in enumerate(files):
        meta = pq.ParquetFile(source).metadata
        for group in range(meta.num_row_groups):
            found.append(RowGroup(number, group, start))
            start += meta.row_group(group).num_rows
    return found


def _matrix(batch: Any, columns: list[str], partition: dict[str, Any]) -> np.ndarray:
    """``columns`` of an Arrow record batch of numeric columns as a float64 matrix (a null as
    NaN, an int beyond 2**53 rounded, as numpy rounds it), those of the file's Hive
    ``partition`` filled with its value."""
    return np.column_stack(
        [
            np.full(batch.num_rows, partition[name], dtype="float64")
            if name in partition
            else batch.column(name).cast("float64", safe=False).to_numpy(zero_copy_only=False)
            for name in columns
        ]
    )


def _is_number(kind: Any) -> bool:
    """A Parquet column type train-stream reads as floats, as ingest does: numbers (decimals
    too, :func:`aefx.io.arrow_frame`), and booleans as 0 and 1."""
    import pyarrow as pa

    return any(
        check(kind)
        for check in (
            pa.types.is_floating,
            pa.types.is_integer,
            pa.types.is_decimal,
            pa.types.is_boolean,
        )
    )


def parquet_features(
    path: Path, label: str | None, ignore: Sequence[str] = ()
) -> tuple[list[str], int]:
    """The feature columns (every numeric column but the label and those in ``ignore``) and the
    row count, from the file's footer alone (each file's, for a folder, whose files must hold
    the same columns, in any order, as any numeric types: each is read by name, as floats). The
    columns are those ingest and `aefx encode` read: a folder's Hive partition folders
    (``year=2024/``) are columns too (of whole numbers, a feature; of text, to be ignored), the
    index pandas stored with a frame is none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aefx.io import (
        check_partitions,
        hive_partitions,
        other_columns,
        table_file,
        unsupported_type,
    )
    from aefx.validation import READ_ERRORS, check_content, check_ignored, unreadable

    if not path.exists():
        raise AefxError(f"{path}: input file not found")
    if path.is_file() and table_file(path) is None:  # a CSV is copied first: stream_source
        raise unsupported_type(path, "input")
    if path.is_dir() and table_file(path).kind == "csv":
        raise AefxError(
            f"{path}: a folder of CSV or TSV files; train-stream reads Parquet (convert them "
            "with pandas first)"
        )
    sources = parquet_sources(path)
    schemas, rows = {}, 0
    for source in sources:
        check_content(source)
        try:
            footer = pq.ParquetFile(source)
        except READ_ERRORS as exc:
            raise unreadable(source, exc) from None
        schemas[source] = footer.schema_arrow
        if set(footer.schema_arrow.names) != set(schemas[sources[0]].names):
            raise other_columns(path, source, sources[0])
        rows += footer.metadata.num_rows
    schema = schemas[sources[0]]
    partitioned, values = hive_partitions(path, sources) if path.is_dir() else (pa.schema([]), [])
    for source, found in zip(sources, values, strict=False):  # none for a file
        check_partitions(path, source, schemas[source].names, found)
    # pandas stores a frame's index (one not 0..n-1: rows filtered or sorted) as a column it
    # reads back as the index, never as a column (nor do ingest and `aefx encode`, through it).
    index = {
        c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
    }
    stored = [n for n in schema.names if n not in index]
    columns = stored + [n for n in partitioned.names if n not in stored]
    check_ignored(columns, ignore, str(path))
    names = [c for c in columns if c != label and c not in ignore]
    for field in partitioned:
        if field.name in names and not pa.types.is_integer(field.type):
            raise AefxError(
                f"{path}: column {field.name!r}, of its partition folders such as "
                f"{field.name}={values[0][field.name]}/, is not numeric; data.ignore: "
                f"[{field.name}] keeps it out"
            )
    for source, found in schemas.items():
        bad = [
            name for name in names if name in found.names and not _is_number(found.field(name).type)
        ]
        if bad:
            raise AefxError(
                f"{source}: column {bad[0]!r} is not numeric ({found.field(bad[0]).type})"
            )
    if not names:
        raise AefxError(f"{path}: no feature columns")
    if rows < 2:
        raise AefxError(f"{path}: {rows} row(s); need at least 2 to train and validate")
    return names, rows


def stream_architecture(
    cfg: AutoencoderConfig, n_features: int, memory_budget_mb: float | None = None
) -> Architecture:
    """The autoencoder train-stream builds for ``n_features`` table columns: never a conv
    stack, which needs images (its params file may be an image project's), within
    ``memory_budget_mb`` to train, and with batches its batch normalisation learns from
    (``cfg.batch_size`` is --batch-size)."""
    if cfg.architecture(is_image=False) == "conv":
        raise AefxError(
            "train-stream trains on table rows, and a conv autoencoder needs images: set "
            "autoencoder.kind (or autoencoder.base) to dense or deep-bn"
        )
    arch = Architecture.from_config(cfg, n_features, None)
    if memory_budget_mb is not None:
        check_trainable(arch, memory_budget_mb)
    check_batch_norm(arch, cfg.batch_size, "--batch-size")
    return arch


# What train-stream writes in its output folder, and all it may hold.
STREAM_FILES = frozenset(
    {"encoder.keras", "autoencoder.keras", "encoder.json", "learning_curve.csv"}
)


def check_encoder_folder(output: Path, source: Path) -> None:
    """train-stream swaps its whole output folder for the new encoder's, so that folder may only
    be new, empty, or an encoder folder written before; and it may not hold the input."""
    if output.exists() and not output.is_dir():
        raise AefxError(f"{output}: is a file; train-stream writes an encoder folder")
    if source.resolve().is_relative_to(output.resolve()):
        raise AefxError(f"{output}: holds the input {source}; write the encoder to another folder")
    if output.is_dir() and any(output.iterdir()) and not (output / "encoder.json").is_file():
        raise AefxError(
            f"{output}: has files but no encoder.json, and train-stream replaces the whole "
            "folder; write the encoder to a new or empty folder"
        )
    # An encoder.json among other things is no folder of train-stream's: `-o models` met the
    # pipeline's encoder.json there and would have replaced its scaler, encoders and the rest.
    if output.is_dir() and (
        others := sorted(p.name for p in output.iterdir() if p.name not in STREAM_FILES)
    ):
        raise AefxError(
            f"{output}: holds {others[0]}, which train-stream does not write, and it replaces "
            f"the whole folder; write the encoder to a new or empty folder (such as "
            f"{output / 'stream'})"
        )


@dataclass
class RunningStats:
    """Column min, max, mean and variance over chunks (Chan et al.'s pairwise update)."""

    n: int = 0
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def update(self, block: np.ndarray) -> None:
        k = len(block)
        if k == 0:
            return
        b_mean = block.mean(axis=0)
        b_m2 = ((block - b_mean) ** 2).sum(axis=0)
        if self.n == 0:
            self.low, self.high = block.min(axis=0), block.max(axis=0)
            self.mean, self.m2 = b_mean, b_m2
        else:
            self.low = np.minimum(self.low, block.min(axis=0))
            self.high = np.maximum(self.high, block.max(axis=0))
            delta = b_mean - self.mean
            total = self.n + k
            self.mean = self.mean + delta * k / total
            self.m2 = self.m2 + b_m2 + delta**2 * self.n * k / total
        self.n += k

    def scaler_payload(self, kind: str, features: list[str]) -> dict[str, Any]:
        """The same JSON as a scikit-learn scaler fitted on all rows (aefx.scaling's format)."""
        if kind == "minmax":
            data_range = self.high - self.low
            safe = np.where(data_range == 0, 1.0, data_range)  # scikit-learn's zero-range rule
            state = {
                "min_": (-self.low / safe).tolist(),
                "scale_": (1.0 / safe).tolist(),
                "data_min_": self.low.tolist(),
                "data_max_": self.high.tolist(),
                "data_range_": data_range.tolist(),
            }
        elif kind == "standard":
            var = self.m2 / self.n
            state = {
                "mean_": self.mean.tolist(),
                "scale_": np.where(var == 0, 1.0, np.sqrt(var)).tolist(),
                "var_": var.tolist(),
            }
        else:
            state = {}
        return {"kind": kind, "features": features, "n_samples_seen": self.n, "state": state}


@dataclass(frozen=True)
class StreamPlan:
    features: list[str]
    rows: int
    validation: np.ndarray  # sorted global row numbers held out for validation
    scaler: dict[str, Any]
    X_val: np.ndarray  # the validation rows, scaled

    @property
    def training_rows(self) -> int:
        """Every row but the validation ones."""
        return self.rows - len(self.validation)

    def batches(self, batch_size: int, drop_last: bool = False) -> int:
        """Batches in one epoch over the training rows; with ``drop_last``, whole ones only."""
        return batches_per_pass(self.training_rows, batch_size, drop_last)


def survey(
    path: Path,
    label: str | None,
    scale_kind: str,
    fraction: float,
    cap: int,
    chunk: int,
    seed: int,
    ignore: Sequence[str] = (),
) -> StreamPlan:
    """One pass: row count, scaling statistics of the training rows, the validation sample."""
    features, rows = parquet_features(path, label, ignore)
    n_val = min(cap, max(1, round(fraction * rows)))
    validation = np.sort(np.random.default_rng(seed).choice(rows, n_val, replace=False))
    stats, held, start = RunningStats(), [], 0
    for block in parquet_chunks(path, features, chunk):
        is_val = _in_block(validation, start, len(block))
        held.append(block[is_val].astype("float32"))
        stats.update(block[~is_val])
        start += len(block)
    scaler = stats.scaler_payload(scale_kind, features)
    return StreamPlan(features, rows, validation, scaler, apply_scaler(scaler, np.vstack(held)))


def _in_block(validation: np.ndarray, start: int, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    lo, hi = np.searchsorted(validation, [start, start + size])
    mask[validation[lo:hi] - start] = True
    return mask


def apply_scaler(payload: dict[str, Any], X: np.ndarray) -> np.ndarray:
    state = payload["state"]
    if payload["kind"] == "minmax":
        X = X * np.asarray(state["scale_"]) + np.asarray(state["min_"])
    elif payload["kind"] == "standard":
        X = (X - np.asarray(state["mean_"])) / np.asarray(state["scale_"])
    return X.astype("float32")


def training_dataset(
    path: Path, plan: StreamPlan, batch_size: int, chunk: int, seed: int, drop_last: bool = False
) -> Any:
    """Scaled training rows as a tf.data pipeline. Each epoch reads the file (or the files of a
    folder) again, its row groups in a new random order, shuffles rows within each chunk, and
    re-batches for Keras (with ``drop_last``, leaving out the epoch's last, partial batch).
    Rows never mix across chunks (that would cost memory): a file sorted by label or time
    should be shuffled first, or written in row groups no larger than a chunk."""
    import tensorflow as tf

    from aefx.encode import open_parquet
    from aefx.models import without_autotune

    epoch = [0]
    files = parquet_sources(path)
    groups = row_groups(files)
    partitions = parquet_partitions(path, files)
    stored = [[c for c in plan.features if c not in partition] for partition in partitions]

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng((seed, epoch[0]))
        epoch[0] += 1
        opened: tuple[int, Any] = (-1, None)  # a file's footer is parsed once per run of its groups
        for picked in rng.permutation(len(groups)):
            piece = groups[picked]
            if opened[0] != piece.file:
                opened = (piece.file, open_parquet(files[piece.file]))
            start = piece.start
            batches = opened[1].iter_batches(
                batch_size=chunk, columns=stored[piece.file], row_groups=[piece.group]
            )
            for batch in batches:
                block = _matrix(batch, plan.features, partitions[piece.file])
                keep = ~_in_block(plan.validation, start, len(block))
                start += len(block)
                X = apply_scaler(plan.scaler, block[keep])
                X = X[rng.permutation(len(X))]
                yield X, X

    width = len(plan.features)
    spec = tf.TensorSpec((None, width), tf.float32)
    # rebatch joins chunks, so an epoch is plan.batches(...) batches. Saying so lets Keras
    # end each epoch on the count rather than on the generator running dry (which it reports as
    # "input ran out of data; interrupting training"), and fails a file that changed.
    return without_autotune(
        tf.data.Dataset.from_generator(chunks, output_signature=(spec, spec))
        .rebatch(batch_size, drop_remainder=drop_last)
        .apply(tf.data.experimental.assert_cardinality(plan.batches(batch_size, drop_last)))
        .prefetch(2)
    )


@dataclass(frozen=True)
class StreamResult:
    rows: int
    features: int
    epochs: int
    seconds_per_epoch: list[float]
    val_loss: float
    steps_per_call: int  # training steps per compiled TensorFlow call


def train_stream(
    source: Path,
    output: Path,
    cfg: AutoencoderConfig,
    scale_kind: str,
    label: str | None,
    contamination: float,
    chunk: int = 65_536,
    validation_cap: int = 20_000,
    seed: int = 1,
    ignore: Sequence[str] = (),
    origin: Path | None = None,
) -> StreamResult:
    """Fit one autoencoder on ``source`` in bounded memory; write an encoder folder that
    `aefx encode` and `aefx score` read (encoder, whole autoencoder, metadata, learning curve).
    ``origin``: the user's file, where ``source`` is its Parquet copy (:func:`stream_source`)."""
    import pandas as pd

    from aefx.anomaly import ReconstructionDetector, reconstructor
    from aefx.autoencoders import (
        build_autoencoder,
        feature_encoder,
        raised_penalties,
        recalibrate_batchnorm,
        small_last_batch,
        steps_per_call_cap,
        warn_unused_settings,
    )
    from aefx.io import atomic_dir, write_json
    from aefx.models import (
        configure_determinism,
        require_finite_losses,
        save_model,
        shipped_metadata,
        stop_when_diverged,
    )
    from aefx.progress import epoch_callback

    check_encoder_folder(output, source)
    kind = "minmax" if scale_kind == "auto" else scale_kind
    plan = survey(source, label, kind, cfg.validation_fraction, validation_cap, chunk, seed, ignore)
    log.info(
        "train-stream: %d rows (%d held out for validation), %d features, %s scaling",
        plan.rows,
        len(plan.validation),
        len(plan.features),
        kind,
    )
    configure_determinism(seed)
    warn_unused_settings(cfg, False, log)
    arch = stream_architecture(cfg, len(plan.features))
    drop_last = small_last_batch(arch, plan.training_rows, cfg.batch_size)
    steps = plan.batches(cfg.batch_size, drop_last)
    # An epoch's rows run out (the dataset is not repeated), so Keras ends a call there: the
    # steps per call need not divide the epoch's.
    spe = (
        min(steps, steps_per_call_cap(arch, cfg.batch_size))
        if cfg.steps_per_execution == "auto"
        else cfg.steps_per_execution
    )
    model = build_autoencoder(
        arch, cfg.learning_rate, seed=seed, steps_per_execution=spe, weight_ema=cfg.weight_ema
    )
    timer = epoch_timer()
    history = model.fit(
        training_dataset(source, plan, cfg.batch_size, chunk, seed, drop_last),
        epochs=cfg.epochs,
        validation_data=(plan.X_val, plan.X_val),
        validation_batch_size=max(cfg.batch_size, 1024),
        shuffle=False,  # the pipeline shuffles row groups and rows within each chunk itself
        verbose=0,
        callbacks=[
            timer,
            epoch_callback(log, "train-stream", cfg.epochs),
            stop_when_diverged(),
        ],
    )
    curve = pd.DataFrame(
        {
            "epoch": np.arange(1, len(history.history["loss"]) + 1),
            "loss": history.history["loss"],
            "val_loss": history.history["val_loss"],
            "seconds": timer.seconds,
        }
    )
    require_finite_losses(
        curve,
        "train-stream",
        "autoencoder.learning_rate",
        cfg.learning_rate,
        raised_penalties(cfg, arch.kind),
    )
    if cfg.recalibrate_bn:  # from the held-out rows: the training rows are not in memory
        recalibrate_batchnorm(model, plan.X_val, seed=seed)
    shipped = reconstructor(model)
    # The threshold comes from the held-out validation rows' errors (one more pass over the
    # training rows would cost as much as an epoch).
    detector = ReconstructionDetector(shipped, contamination).fit(plan.X_val)
    encoder = feature_encoder(model)
    with atomic_dir(output) as tmp:
        save_model(encoder, tmp / "encoder.keras")
        save_model(shipped, tmp / "autoencoder.keras")
        curve.to_csv(tmp / "learning_curve.csv", index=False)
        meta = shipped_metadata(
            tmp / "encoder.keras",
            tmp / "autoencoder.keras",
            seed=seed,
            scaler=plan.scaler,
            label=label,
            kind=cfg.kind,
            image_shape=None,
            code_size=arch.code_size,
            detector=detector,
            fitted_on="validation rows",
            ignored=ignore,
        )
        trained_on = origin or source
        meta["trained_on"] = {"file": str(trained_on), "rows": plan.rows, "epochs": cfg.epochs}
        write_json(tmp / "encoder.json", meta)
    return StreamResult(
        plan.rows,
        len(plan.features),
        len(curve),
        [float(s) for s in timer.seconds],
        float(curve["val_loss"].iloc[-1]),
        spe,
    )


def epoch_timer() -> Any:
    """A Keras callback keeping each epoch's wall seconds (training pass plus validation)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


@contextmanager
def record_stream_run(
    params: Any, cfg: AutoencoderConfig, source: Path, output: Path
) -> Iterator[Callable[[StreamResult], None]]:
    """An MLflow run around `aefx train-stream`: params, the data file's MD5 (or a folder's, of
    its files' MD5s, :func:`aefx.io.folder_md5`), per-epoch loss, val_loss and seconds, and the
    encoder folder as artifacts. Failed or interrupted training ends the run FAILED or KILLED,
    as `aefx run` does."""
    import mlflow
    from mlflow.entities import Metric, Param

    from aefx.io import table_digest, table_stem
    from aefx.tracking import (
        end_run,
        ended_on_error,
        git_tags,
        log_dataset,
        project_root,
        start_run,
        tracking_uri,
    )

    uri = tracking_uri(params.tracking.uri)
    kind, digest = table_digest(source) or ("file_md5", "missing")
    tags = {
        **git_tags(project_root()),
        "aefx.entry_point": "aefx train-stream",
        "aefx.kind": "train-stream",
        "data.source": f"file:{source}",
        f"data.{kind}": digest,
    }
    run_id = start_run(
        uri,
        params.tracking.experiment,
        tags,
        params_to_flat_dict(cfg, "autoencoder"),
    )
    # Its rows are larger than memory: the dataset names the file without reading it.
    log_dataset(uri, run_id, table_stem(source), "train", source, digest)

    def record(result: StreamResult) -> None:
        import pandas as pd

        curve = pd.read_csv(output / "learning_curve.csv")
        now = int(time.time() * 1000)
        metrics = [
            Metric(name, float(row[name]), now, int(row["epoch"]))
            for _, row in curve.iterrows()
            for name in ("loss", "val_loss", "seconds")
        ]
        flat = {"data.rows": str(result.rows), "data.features": str(result.features)}
        client = mlflow.MlflowClient(uri)
        client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in flat.items()])
        client.log_artifacts(run_id, str(output), artifact_path="encoder")

    with ended_on_error(uri, run_id):
        yield record
    end_run(uri, run_id, "FINISHED")
    log.info("train-stream: MLflow run %s in %s", run_id, uri)
