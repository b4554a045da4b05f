"""`aefx encode`, `score`, `reconstruct` and `promote`: use a trained encoder (and the
autoencoder shipped with it) on new data in bounded memory, and pick the registered version
that later runs should use."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.errors import AefxError, did_you_mean, first_few, first_line
from aefx.io import TableFile

log = logging.getLogger(__name__)
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
RUN_URI = re.compile(r"^runs:/([0-9a-f]{32})(?:/(.*))?$")  # the run's id; the path in it


@dataclass(frozen=True)
class EncodeStats:
    rows: int
    chunks: int
    code_size: int
    far_rows: int = 0  # rows with a feature far outside the training rows (FarRows)
    far_columns: dict[str, int] = field(default_factory=dict)
    # column of categories -> rows holding one that training did not see
    unseen: dict[str, int] = field(default_factory=dict)
    filled: dict[str, int] = field(default_factory=dict)  # column -> missing values filled


class FarRows:
    """Counts rows with a feature far outside the training rows' range: beyond it by more than
    the range's width, as after a change of units or a broken sensor. Held-out rows of the same
    data seldom are (the reference task's test split: none); the encoder only extrapolates
    there, and its codes for them mean little."""

    def __init__(self, low: np.ndarray, high: np.ndarray, features: Sequence[str]) -> None:
        width = high - low
        self._low, self._high = low - width, high + width
        self._features = list(features)
        self.rows = 0
        self._by_column = np.zeros(len(self._features), dtype=np.int64)

    def update(self, X: np.ndarray) -> None:
        far = np.less(X, self._low) | np.greater(X, self._high)
        self.rows += int(far.any(axis=1).sum())
        self._by_column += far.sum(axis=0)

    def columns(self) -> dict[str, int]:
        """Column -> rows far outside in it, most first."""
        order = np.argsort(-self._by_column, kind="stable")
        return {self._features[i]: int(self._by_column[i]) for i in order if self._by_column[i]}


class InputCounts:
    """Counts, per column, what new rows hold that the preprocessing makes up for: categories
    the training rows did not have (their one-hot columns are all 0, as for none of the known
    categories, or count as the rare ones' category where training had one), and missing
    values (filled as the training rows' were, where the model imputes; otherwise they are
    refused before they get here, or are a category of their own)."""

    def __init__(self, encoder: Any) -> None:
        self._prep = encoder.preprocessing
        self.unseen: dict[str, int] = {}
        self.filled: dict[str, int] = {}

    def update(self, chunk: pd.DataFrame) -> None:
        if self._prep.impute is not None:
            _add(self.filled, self._prep.impute.counts(chunk))
        _add(self.unseen, self._prep.unseen(chunk))


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for column, n in counts.items():
        totals[column] = totals.get(column, 0) + n


def _model_files(directory: Path) -> tuple[Path, Path]:
    """encoder.keras and its metadata inside a downloaded MLflow model (or a plain folder)."""
    if (directory / "artifacts").is_dir():  # an MLflow pyfunc model keeps its files there
        directory = directory / "artifacts"
    metas = [p for p in sorted(directory.rglob("*.json")) if _is_meta(p)]
    if len(metas) != 1:
        raise AefxError(f"{directory}: expected one encoder metadata .json, found {len(metas)}")
    return _encoder_of(metas[0], directory), metas[0]


def _encoder_of(meta: Path, where: Path) -> Path:
    """The .keras file the metadata ``meta`` names, beside it."""
    encoder = meta.with_name(_read_meta(meta)["encoder"])
    if not encoder.is_file():
        raise AefxError(f"{where}: the encoder {encoder.name} named by its metadata is missing")
    return encoder


def _is_meta(path: Path) -> bool:
    return _meta_payload(path) is not None


def _meta_payload(path: Path) -> dict[str, Any] | None:
    """The encoder metadata in ``path``; None for a file that is not that (other JSON, none)."""
    import json

    try:
        payload = json.loads(path.read_text())
    except (ValueError, OSError):
        return None
    if isinstance(payload, dict) and {"sha256", "code_columns", "scaler"} <= set(payload):
        return payload
    return None


def resolve_model(source: str, uri: str) -> tuple[Path, Path]:
    """(encoder.keras, encoder.json) for a local path, a run id, ``runs:/...`` or
    ``models:/NAME@ALIAS`` / ``models:/NAME/VERSION`` (downloaded from the MLflow store)."""
    run = RUN_URI.match(source)
    if RUN_ID.match(source) or (run and not run.group(2)):
        # A run's id, or its URI alone (MLflow refused `runs:/ID` as "Not a proper runs:/
        # URI"): the encoder its pipeline logged.
        source = f"runs:/{run.group(1) if run else source}/encoder"
    if source.startswith(("runs:/", "models:/")):
        import mlflow
        from mlflow.exceptions import MlflowException

        from aefx.servers import require_tracking_store
        from aefx.tracking import is_local_store, using_store

        require_tracking_store(uri, existing=True)
        try:
            with using_store(uri):
                if is_local_store(uri) and (problem := _why_no_files(source)):
                    raise AefxError(f"{source}: {problem}")
                local = mlflow.artifacts.download_artifacts(artifact_uri=source)
        except (MlflowException, OSError) as exc:
            reason = first_line(exc, 160)
            hint = ""
            if "@" in source and "alias" in reason.lower():
                # An alias exists only once someone set it; the default run sets none.
                hint = "; `aefx promote` sets it, or leave out -m for the last run's encoder"
            elif (at := RUN_URI.match(source)) and (
                "Failed to download artifacts from path" in reason
            ):
                # A path the run does not hold (runs:/ID/model): name the one it may.
                hint = f"; a pipeline run's encoder is runs:/{at.group(1)}/encoder"
            elif re.fullmatch(r"models:/[^/@]+", source) and "logged model" in reason.lower():
                # MLflow 3 reads models:/X as a logged model's id (m-...), not a registered name.
                name = source.removeprefix("models:/")
                hint = (
                    f"; a registered model needs a version or alias: models:/{name}/1 or "
                    f"models:/{name}@champion"
                )
            raise AefxError(f"{source}: cannot be fetched from {uri} ({reason}){hint}") from None
        return _model_files(Path(local))
    path = Path(source)
    if path.is_dir():
        return _model_files(path)
    if path.suffix == ".json":
        return _encoder_of(path, path), path
    if path.suffix == ".keras":
        meta = path.with_suffix(".json")
        if not path.is_file() or not meta.is_file():
            raise AefxError(
                f"{path if not path.is_file() else meta}: not found (an encoder's .keras and the "
                ".json aefx writes beside it go together)"
            )
        _read_meta(meta)  # aefx's
        return path, meta
    raise AefxError(f"{source}: not a model (use models:/NAME@ALIAS, a run id or a local path)")


def _why_no_files(source: str) -> str | None:
    """Why a ``runs:/`` or ``models:/`` reference to a local store has no encoder to fetch,
    where aefx can tell: a run of the comparison (one classifier on one feature set, under
    its pipeline run, which holds the encoder) or a sweep's parent run; a run that logged no
    files (it ended before logging them); or the store's files moved away (a project moved:
    downloading said `No such artifact: ''`, or fetched nothing). None otherwise, or for a
    reference the store cannot resolve (the download then says why)."""
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
    from mlflow.tracking import MlflowClient

    from aefx.tracking import local_artifact_path

    client, run, store = MlflowClient(), None, None
    try:
        if source.startswith("models:/"):
            recorded = ModelsArtifactRepository.get_underlying_uri(source)
        else:  # runs:/ID/...: the run's own folder (MLflow 3 keeps the model beside it)
            run = client.get_run(source.removeprefix("runs:/").split("/", 1)[0])
            recorded = run.info.artifact_uri
            store = local_artifact_path(
                client.get_experiment(run.info.experiment_id).artifact_location
            )
    except MlflowException:
        return None
    if run is not None and (problem := _holds_no_encoder(run)):
        return problem
    folder = local_artifact_path(recorded)
    if folder is None or folder.exists():
        return None
    if run is not None and store is not None and store.is_dir():
        # The store's files are here; this run's are not, because it logged none.
        ended = "" if run.info.status == "FINISHED" else f" (it ended {run.info.status})"
        return f"a run that logged no files{ended}, so it holds no encoder"
    return (
        f"its files were recorded in {folder}, which is not there; MLflow keeps absolute paths, "
        "so a project moved or renamed since loses them: move it back, or run the pipeline "
        "again here"
    )


def _holds_no_encoder(run: Any) -> str | None:
    """Why an aefx run of a kind that logs no encoder holds none, naming the run that does."""
    tags = run.data.tags
    if tags.get("aefx.kind") == "comparison":
        parent = tags.get("mlflow.parentRunId", "")
        return (
            f"the comparison run '{tags.get('mlflow.runName', '')}', which holds scores, not the "
            f"encoder; its pipeline run does: -m {parent}"
        )
    if tags.get("aefx.kind") == "sweep":
        return (
            "a sweep's parent run, which holds no encoder; each member's run holds its own "
            "(aefx sweep's table lists their ids)"
        )
    return None


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AefxError(f"{path}: encoder metadata not found (run the pipeline first)")
    payload = _meta_payload(path)
    if payload is None:  # another JSON file, or none
        raise AefxError(
            f"{path}: not an encoder's metadata (the .json aefx writes beside an encoder's .keras)"
        )
    return payload


def table_format(path: Path, role: str) -> TableFile:
    """The format from the suffixes (CSV, a compressed CSV, or Parquet); any other is the
    user's mistake."""
    from aefx.io import table_file, unsupported_type

    found = table_file(path)
    if found is None:
        raise unsupported_type(path, role)
    return found


def output_format(source: Path, output: Path) -> TableFile:
    """The output's format (see :func:`table_format`), a file. The output may not be the input
    file: the finished output is renamed over it, so the rows would be lost to their codes. Nor
    may it be in the input folder (of images or Parquet files), where the next run would read
    it as one of them."""
    from aefx.io import TABLE_TYPES

    kind = table_format(output, "output")
    if kind.folder:
        raise AefxError(f"{output}: is a folder; name the output file ({TABLE_TYPES})")
    if output.exists() and source.exists() and output.samefile(source):
        raise AefxError(f"{output}: is the input file; write the output to another path")
    if source.is_dir() and output.resolve().is_relative_to(source.resolve()):
        raise AefxError(f"{output}: is inside the input folder {source}; write it elsewhere")
    return kind


# What `aefx reconstruct` writes beside the PNGs of a folder of rebuilt images: one row per PNG
# with the columns carried through (the image file it came from, a label, --keep columns), and
# the mark of a folder it may replace on the next run.
IMAGE_INDEX = "reconstructions.csv"


def is_folder_output(output: Path) -> bool:
    """An output named as a folder (an existing one, or a name without a suffix): for
    reconstruct, where a model trained on images writes one PNG per image."""
    return output.is_dir() or not output.suffix


def check_image_folder(source: Path, output: Path) -> None:
    """reconstruct swaps its whole folder of images for the new one, so that folder may only be
    new, empty, or one it wrote before (it holds :data:`IMAGE_INDEX`); it may not hold the
    input, nor lie in an input folder, where the next run would read the PNGs as input."""
    if output.exists() and not output.is_dir():
        raise AefxError(f"{output}: is a file; name a new folder for the images")
    if source.exists() and source.resolve().is_relative_to(output.resolve()):
        raise AefxError(f"{output}: holds the input {source}; write the images to another folder")
    if source.is_dir() and output.resolve().is_relative_to(source.resolve()):
        raise AefxError(f"{output}: is inside the input folder {source}; write it elsewhere")
    if output.is_dir() and any(output.iterdir()) and not (output / IMAGE_INDEX).is_file():
        raise AefxError(
            f"{output}: has files but no {IMAGE_INDEX}, and reconstruct replaces the whole "
            "folder; write the images to a new or empty folder"
        )
    # A folder of reconstruct's holds its index and PNGs alone: anything else is the user's.
    if output.is_dir() and (
        others := sorted(
            p.relative_to(output).as_posix()
            for p in output.rglob("*")
            if p.is_file() and p != output / IMAGE_INDEX and p.suffix.lower() != ".png"
        )
    ):
        raise AefxError(
            f"{output}: holds {others[0]}, which reconstruct does not write, and it replaces "
            "the whole folder; write the images to a new or empty folder"
        )


# A chunk's ``attrs`` key, set by :func:`read_chunks` for a folder of table files: the file
# it came from and that file's rows before it, which a message about a row names.
PART = "aefx.part"


def chunk_origin(chunk: pd.DataFrame, source: Path, first_row: int) -> tuple[Path, int]:
    """Where ``chunk``'s first row is, for a message: its file of a folder of table files
    and the row within that file (see :data:`PART`); else ``source`` and ``first_row``. The
    mark is taken off the chunk: pandas carries ``attrs`` on to the frames made from it, and
    pyarrow would write them into a Parquet output's metadata."""
    return chunk.attrs.pop(PART, (source, first_row))


def read_chunks(
    path: Path,
    rows: int,
    image_shape: Sequence[int] | None = None,
    label: str | None = None,
    resize: bool = False,
    text: Collection[str] = (),
) -> Iterator[pd.DataFrame]:
    """CSV, TSV (plain or compressed) or Parquet (a file, or a folder of such files for a model
    trained on table rows) in pieces of at most ``rows`` rows, never the whole table at once. For a
    model trained on images (``image_shape``), also image files or arrays, as pixel rows (a
    .npz's labels as the column ``label``; with ``resize``, images of any size, resized). The
    ``text`` columns of a CSV or TSV keep the text pandas reads as missing, as ingest's do
    (:data:`aefx.io.NA_MARKERS`). A folder is read a file at a time, each chunk marked with
    its file (:func:`chunk_origin`)."""
    from aefx.images import IMAGE_SUFFIXES, image_rows, is_image_input
    from aefx.io import (
        arrow_frame,
        check_partitions,
        hive_partitions,
        na_options,
        numbers_kept,
        open_table,
        other_columns,
        parquet_folder,
        table_files,
        text_dialect,
        text_files,
        with_partitions,
    )
    from aefx.validation import READ_ERRORS, check_content, header_hint, unreadable

    # A folder, for a model of table rows, holds table files, unless it holds images instead.
    table_folder = image_shape is None and path.is_dir()
    if table_folder and not table_files(path):
        table_folder = not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*"))
    if is_image_input(path) and not table_folder:
        if image_shape is None:
            raise AefxError(f"{path}: images, but the model was trained on table rows")
        yield from image_rows(path, image_shape, rows, label, resize)
        return
    if not path.is_file() and not table_folder:
        raise AefxError(f"{path}: input file not found")
    table = table_format(path, "input")
    if table.kind == "csv" and table.folder:  # each file in turn, as one of its own
        files = text_files(path)
        partitioned, keys = hive_partitions(path, files)
        first: tuple[Path, set[str]] | None = None  # every file must hold the first's columns
        for part, found in zip(files, keys, strict=True):
            offset = 0  # the part's rows before this chunk
            for number, chunk in enumerate(read_chunks(part, rows, text=text)):
                if number == 0:  # a file's chunks share its header: checked once
                    check_partitions(path, part, chunk.columns, found)
                    first = first or (part, set(chunk.columns))
                    if set(chunk.columns) != first[1]:
                        if headless := header_hint(chunk.columns):  # Spark writes none unasked
                            raise AefxError(f"{part}: {headless}")
                        raise other_columns(path, part, first[0])
                out = with_partitions(chunk, partitioned, found)
                out.attrs[PART] = (part, offset)
                offset += len(chunk)
                yield out
        return
    check_content(path)
    try:
        if table.kind == "csv":
            sep, decimal = text_dialect(path, table.codec, table.delimiter)
            markers = na_options(path, table.codec, sep, text)
            with open_table(path, table.codec) as handle:
                chunks = pd.read_csv(handle, chunksize=rows, sep=sep, decimal=decimal, **markers)
                yield from (numbers_kept(chunk, text) for chunk in chunks)
        elif table.folder:  # one file at a time, without read-ahead: memory as for one file
            dataset = parquet_folder(path)
            for fragment in dataset.get_fragments():  # its files, in path order
                offset = 0  # the file's rows before this chunk
                for batch in fragment.to_batches(
                    schema=dataset.schema, batch_size=rows, batch_readahead=0
                ):
                    out = arrow_frame(batch)
                    out.attrs[PART] = (Path(fragment.path), offset)
                    offset += len(out)
                    yield out
        else:
            yield from map(arrow_frame, parquet_batches(path, rows))
    except READ_ERRORS as exc:  # raised by the readers, not by the consumer of these chunks
        raise unreadable(path, exc) from None


def open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` that reads with bounded memory."""
    import pyarrow.parquet as pq

    # Without pre_buffer=False the reader buffers ahead across row groups: measured here, its
    # memory grew with the file (0.8 GB for 0.6M x 100, 1.4 GB for 1.2M); with it, flat.
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)


def parquet_batches(path: Path, rows: int, columns: list[str] | None = None) -> Iterator[Any]:
    """Arrow record batches of at most ``rows`` rows, read with bounded memory."""
    yield from open_parquet(path).iter_batches(batch_size=rows, columns=columns)


def check_columns(chunk: pd.DataFrame, features: list[str], keep: set[str], origin: Path) -> None:
    from aefx.validation import header_hint, separator_hint

    columns = [str(c) for c in chunk.columns]
    if (hint := separator_hint(columns, origin)) and len(features) > 1:
        raise AefxError(f"{origin}: {hint}")
    missing = [c for c in features if c not in columns]
    extra = [c for c in columns if c not in features and c not in keep]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing[:10])}")
    if extra:
        problems.append(f"extra column(s) {', '.join(extra[:10])}")
    if missing and (headless := header_hint(columns)):
        raise AefxError(f"{origin}: {headless} (the encoder reads {first_few(features)})")
    if problems:
        hint = "; --keep NAME carries a column such as an id through" if extra else ""
        # A name changed only in case or spaces (an export that capitalised or padded them).
        folded = {c.strip().casefold(): c for c in extra}
        near = [
            (folded[m.strip().casefold()], m) for m in missing if m.strip().casefold() in folded
        ]
        if near:
            hint = f"; column {near[0][0]!r} differs from {near[0][1]!r} only in case or spaces"
        raise AefxError(
            f"{origin}: "
            + "; ".join(problems)
            + f" (the encoder was trained on {len(features)}{hint})"
        )


def check_no_clash(carried: list[str], outputs: list[str], origin: Path) -> None:
    """A carried column must not overwrite an output column of the same name (`aefx
    reconstruct --keep f0` would put the raw f0 over the rebuilt one)."""
    clash = [c for c in carried if c in outputs]
    if clash:
        raise AefxError(
            f"{origin}: column(s) {', '.join(clash)} would be carried through over the output "
            "column(s) of the same name; rename them in the input"
        )


def check_values(
    chunk: pd.DataFrame,
    features: list[str],
    first_row: int,
    origin: Path | str,
    categorical: Sequence[str] = (),
    missing_ok: bool = False,
    missing_category: bool = False,
    text_table: bool = False,
) -> None:
    """Every feature a finite number, except the ``categorical`` ones, which need only be there
    (or not even that with ``missing_category``, where a missing one is a category); with
    ``missing_ok`` (a model that fills them) a value may be missing, but not text or infinite.
    ``text_table``: the chunk is of a CSV or TSV, where numbers pandas left as text were
    written with another decimal mark (:func:`aefx.validation.points_among_commas`)."""
    from aefx.validation import numbers_as_text, points_among_commas, show_value

    for column in categorical:
        if missing_ok or missing_category:
            continue
        if (missing := chunk[column].isna().to_numpy()).any():
            raise AefxError(
                f"{origin}: column {column!r} row {first_row + int(np.argmax(missing))} is missing"
            )
    for column in (c for c in features if c not in categorical):
        if (dtype := chunk[column].dtype).kind in "mM":  # a time: to_numeric leaves it as is
            raise AefxError(
                f"{origin}: column {column!r} is not numeric (its type is {dtype}; store it as "
                "numbers)"
            )
        numbers = pd.to_numeric(chunk[column], errors="coerce")
        if not pd.api.types.is_numeric_dtype(chunk[column].dtype):  # text, perhaps of numbers
            text = numbers.isna() & chunk[column].notna()
            if text.any() and (problem := numbers_as_text(chunk[column], text)):
                raise AefxError(f"{origin}: column {column!r} {problem}")
            if text_table and (problem := points_among_commas(chunk[column])):
                raise AefxError(f"{origin}: column {column!r} {problem}")
        values = numbers.to_numpy(dtype="float64")
        bad = ~np.isfinite(values)
        if missing_ok:
            bad &= chunk[column].notna().to_numpy()
        if bad.any():
            at = int(np.argmax(bad))
            value = show_value(chunk[column].iloc[at])  # nan, not np.float64(nan)
            raise AefxError(
                f"{origin}: column {column!r} row {first_row + at} is not a finite number ({value})"
            )


class _CsvWriter:
    """Arrow's CSV writer, with the header written the way pandas and the csv module write it:
    Arrow quotes every column name, this quotes only names that need it. With a ``codec``, the
    file is compressed as it is written; a ``delimiter`` of a tab writes TSV."""

    def __init__(
        self, path: Path, schema: Any, codec: str | None = None, delimiter: str = ","
    ) -> None:
        import csv
        import io

        import pyarrow.csv as pcsv

        from aefx.io import create_table

        header = io.StringIO()
        csv.writer(header, delimiter=delimiter, lineterminator="\n").writerow(schema.names)
        self._file = create_table(path, codec)
        try:
            self._file.write(header.getvalue().encode())
            options = pcsv.WriteOptions(include_header=False, delimiter=delimiter)
            self._writer = pcsv.CSVWriter(self._file, schema, write_options=options)
        except BaseException:
            self._file.close()
            raise

    def write_table(self, table: Any) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


class _ParquetWriter:
    """pyarrow's ParquetWriter for a stream whose carried columns (ids, a label) may change type
    from one chunk to the next: pandas infers each CSV chunk's types on its own, so an id column
    of numbers whose text ids start in a later chunk comes as ints, then as strings, which one
    Parquet file cannot hold. Such a column becomes text: the rows written so far are copied
    once, in batches, into a file where it is."""

    def __init__(self, path: Path, schema: Any, carried: Collection[str]) -> None:
        self._path, self._carried = path, set(carried)
        self._open(schema)

    def _open(self, schema: Any) -> None:
        import pyarrow.parquet as pq

        self.schema = schema
        self._writer = pq.ParquetWriter(self._path, schema)

    def write_table(self, table: Any) -> None:
        import pyarrow as pa

        if not table.schema.equals(self.schema):
            try:  # a chunk of only missing ids reads as floats or nulls: cast, losing nothing
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                changed = [f.name for f in table.schema if f != self.schema.field(f.name)]
                if not set(changed) <= self._carried:
                    raise
                self._as_text(changed)
                table = table.cast(self.schema)
        self._writer.write_table(table)

    def _as_text(self, columns: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._writer.close()
        written = self._path.with_name(f"{self._path.name}.before")
        os.replace(self._path, written)
        try:
            text = [pa.field(f.name, pa.string()) if f.name in columns else f for f in self.schema]
            self._open(pa.schema(text))  # without pandas' metadata, which has the old types
            for batch in pq.ParquetFile(written).iter_batches():
                self._writer.write_table(pa.Table.from_batches([batch]).cast(self.schema))
        finally:
            written.unlink(missing_ok=True)

    def close(self) -> None:
        self._writer.close()


class _ImageFolderWriter:
    """Rebuilt pixel rows as PNG files, one per row, in ``folder``: named after the image file
    each came from (its path under the input folder, as .png), or numbered in input order
    (``00000.png``, ...) when it came from an array or a table of pixel rows. The other columns
    (the source file, a label, --keep columns) go to :data:`IMAGE_INDEX`, beside the name of
    each PNG."""

    def __init__(self, folder: Path, shape: Sequence[int], pixels: list[str], source: Path):
        self._folder, self._pixels, self._source = folder, pixels, source
        self._shape = tuple(int(d) for d in shape)
        self._came_from: dict[str, str] = {}  # PNG name -> the input's name for that image
        self._index: list[pd.DataFrame] = []

    def write_frame(self, frame: pd.DataFrame) -> None:
        from PIL import Image

        from aefx.images import IMAGE_FILE_COLUMN

        height, width, channels = self._shape
        values = np.clip(frame[self._pixels].to_numpy(dtype="float64"), 0.0, 1.0)
        images = np.round(values * 255).astype(np.uint8).reshape(-1, height, width, channels)
        files = frame[IMAGE_FILE_COLUMN] if IMAGE_FILE_COLUMN in frame.columns else None
        names = []
        for i, pixels in enumerate(images):
            number = len(self._came_from)
            if files is None:
                origin, name = f"row {number + 1}", f"{number:05d}.png"
            else:
                origin = str(files.iloc[i])
                name = Path(origin).with_suffix(".png").as_posix()
            if name in self._came_from:
                raise AefxError(
                    f"{self._source}: {self._came_from[name]} and {origin} would both be "
                    f"written as {name}; rename one of them"
                )
            self._came_from[name] = origin
            target = self._folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = "L" if channels == 1 else "RGB"
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(target)
            names.append(name)
        carried = frame.drop(columns=self._pixels).reset_index(drop=True)
        carried.insert(0, "image", names)
        self._index.append(carried)

    def close(self) -> None:
        if self._index:
            pd.concat(self._index).to_csv(self._folder / IMAGE_INDEX, index=False)


def stream_file(
    source: Path,
    output: Path,
    rows: int,
    features: list[str],
    keep: set[str],
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    image_shape: Sequence[int] | None = None,
    label: str | None = None,
    ignored: Sequence[str] = (),
    categorical: Sequence[str] = (),
    missing_ok: bool = False,
    missing_category: bool = False,
    resize: bool = False,
    image_folder: bool = False,
    number_codes: Collection[str] = (),
) -> tuple[int, int]:
    """Check and transform ``source`` chunk by chunk into one CSV or Parquet file (by the
    output's suffix), or with ``image_folder`` into a folder of PNG images of ``image_shape``
    (:class:`_ImageFolderWriter`), written aside and renamed into place. Columns outside
    ``features`` are an error, except those in ``keep``, the ``label`` column and the columns
    ``ignored`` in training, which are carried through (and an image's file name; a .npz's
    labels come as the ``label`` column). Features are numbers, but for the ``categorical``
    ones, and complete unless ``missing_ok`` (for the ``categorical`` ones,
    ``missing_category``; :func:`check_values`). Images of another size are resized to
    ``image_shape`` with ``resize``. Of a CSV or TSV, the ``number_codes`` columns (categories
    that were numbers in training, :func:`aefx.scaling.number_coded`) take 'NA' and pandas'
    other markers as missing in every chunk, as training did: a chunk in which such a column
    held markers alone kept them as a category. Returns (rows, chunks)."""
    import pyarrow as pa

    from aefx.images import IMAGE_FILE_COLUMN, is_image_input
    from aefx.io import atomic_dir, atomic_path, check_parquet_width, is_text_table, markers_missing

    asked = keep  # these must be there; the label, ignored columns and an image's file name may be
    keep = keep | ({label} if label else set()) | set(ignored)
    keep = (
        keep | {IMAGE_FILE_COLUMN} if image_shape is not None and is_image_input(source) else keep
    )

    if image_folder:
        check_image_folder(source, output)
        table_out, place = None, atomic_dir(output)
    else:
        table_out, place = output_format(source, output), atomic_path(output)
    text_table = is_text_table(source)
    total = chunks = 0
    with place as tmp:
        writer: Any = None
        try:
            text = keep | set(categorical)  # all but the numbers the model reads
            for chunk in read_chunks(source, rows, image_shape, label, resize, text):
                chunk.columns = [str(c) for c in chunk.columns]
                for column in number_codes if text_table else ():
                    if column in chunk.columns:
                        chunk[column] = markers_missing(chunk[column])
                if chunks == 0:
                    check_columns(chunk, features, keep, source)
                    require_columns(chunk, asked, "--keep", source)
                if chunk.empty:  # a CSV of only its header reads as one empty chunk
                    continue
                origin, at = chunk_origin(chunk, source, total)
                check_values(
                    chunk,
                    features,
                    at,
                    origin,
                    categorical,
                    missing_ok,
                    missing_category,
                    text_table,
                )
                result = transform(chunk)
                carried = [c for c in chunk.columns if c in keep]  # in the input's order
                if chunks == 0:
                    outputs = [*result.columns, *(["image"] if image_folder else [])]
                    check_no_clash(carried, outputs, source)
                    if table_out is not None and table_out.kind == "parquet":
                        check_parquet_width(len(outputs) + len(carried), output)
                for name in carried:
                    result[name] = chunk[name].to_numpy()
                if table_out is None:
                    writer = writer or _ImageFolderWriter(tmp, image_shape or (), features, source)
                    writer.write_frame(result)
                else:
                    table = pa.Table.from_pandas(
                        result.reset_index(drop=True), preserve_index=False
                    )
                    if writer is None:
                        schema = table.schema
                        writer = (
                            _CsvWriter(tmp, schema, table_out.codec, table_out.delimiter)
                            if table_out.kind == "csv"
                            else _ParquetWriter(tmp, schema, keep)
                        )
                    writer.write_table(table)
                total += len(chunk)
                chunks += 1
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise AefxError(f"{source}: no rows to read")
    return total, chunks


def _stream_model(
    encoder: Any,
    source: Path,
    output: Path,
    rows: int,
    keep: set[str],
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    image_folder: bool = False,
) -> tuple[int, int]:
    """:func:`stream_file` with what the shipped ``encoder`` says of its inputs: features,
    image shape and whether it resizes, label, ignored columns, columns of categories (and
    which of them were number codes), and whether it fills gaps."""
    from aefx.scaling import number_coded

    return stream_file(
        source,
        output,
        rows,
        encoder.features,
        keep,
        transform,
        encoder.image_shape,
        encoder.label,
        encoder.ignored,
        list(encoder.categories),
        encoder.preprocessing.impute is not None,
        encoder.preprocessing.missing_category,
        encoder.image_resize,
        image_folder,
        number_coded(encoder.categories),
    )


def encode_file(
    encoder: Any, source: Path, output: Path, rows: int = 50_000, keep: Sequence[str] = ()
) -> EncodeStats:
    """Scale and encode ``source`` in chunks of ``rows``; the label column and the columns in
    ``keep`` (ids) are carried through. Rows far outside the training rows are counted
    (:class:`FarRows`), for models that record their range (tables)."""
    span = encoder.train_range
    far = None if span is None else FarRows(*span, encoder.scaled_features)
    counts = InputCounts(encoder)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        counts.update(chunk)
        X = encoder.scale(chunk)
        if far is not None:
            far.update(X)
        return encoder.encode(X)

    total, chunks = _stream_model(encoder, source, output, rows, set(keep), transform)
    log.info("encode: %d rows in %d chunk(s) -> %s", total, chunks, output)
    found = (0, {}) if far is None else (far.rows, far.columns())
    return EncodeStats(
        total, chunks, len(encoder.code_columns), *found, counts.unseen, counts.filled
    )


@dataclass(frozen=True)
class ScoreStats:
    rows: int
    chunks: int
    threshold: float
    flagged: int
    roc_auc: float | None = None
    average_precision: float | None = None
    unseen: dict[str, int] = field(default_factory=dict)  # as in EncodeStats
    filled: dict[str, int] = field(default_factory=dict)
    known_anomalies: int | None = None  # rows the --truth column marks 1


def score_file(
    encoder: Any,
    detector: Any,
    source: Path,
    output: Path,
    rows: int = 50_000,
    truth: str | None = None,
    keep: Sequence[str] = (),
) -> ScoreStats:
    """Per-row anomaly scores (``decision_score``) and 0/1 flags (``anomaly``) of ``source``.

    ``truth`` names a 0/1 column marking known anomalies: it is carried through, and ROC AUC and
    average precision of the scores against it are reported (its values are kept, one byte and
    one float per row, to compute them). A model trained with ``data.impute`` also writes
    ``filled``: how many of the row's values were missing and filled as in training."""
    carried = set(keep) | ({truth} if truth else set())
    flagged = 0
    truths: list[np.ndarray] = []
    scores: list[np.ndarray] = []

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        nonlocal flagged
        counts.update(chunk)
        X = encoder.scale(chunk)
        score = detector.decision_function(np.asarray(X, dtype="float32"))
        flags = (score > detector.threshold_).astype("int8")
        flagged += int(flags.sum())
        if truth:
            truths.append(_binary(chunk[truth], truth, source))
            scores.append(score)
        out = pd.DataFrame({"decision_score": score, "anomaly": flags}, index=chunk.index)
        if filled:  # a filled value is the training rows' usual one: the row may look more usual
            out["filled"] = chunk[filled].isna().sum(axis=1).astype("int32")
        return out

    if truth:
        # Before the rows stream: its values are collected as they go.
        first = first_row(source, encoder.image_shape, encoder.label, encoder.image_resize)
        require_columns(first, [truth], "--truth", source)
    counts = InputCounts(encoder)
    impute = encoder.preprocessing.impute
    # The columns imputation fills (with data.missing_category, a missing category is none).
    filled = [] if impute is None else [c for c in encoder.features if c in impute.values]
    total, chunks = _stream_model(encoder, source, output, rows, carried, transform)
    stats = ScoreStats(
        total, chunks, detector.threshold_, flagged, unseen=counts.unseen, filled=counts.filled
    )
    if truth:
        from sklearn.metrics import average_precision_score, roc_auc_score

        y, s = np.concatenate(truths), np.concatenate(scores)
        stats = replace(stats, known_anomalies=int(y.sum()))
        if len(np.unique(y)) == 2:  # both need rows of each
            stats = replace(
                stats,
                roc_auc=float(roc_auc_score(y, s)),
                average_precision=float(average_precision_score(y, s)),
            )
    log.info("score: %d rows, %d flagged -> %s", total, flagged, output)
    return stats


def reconstruct_file(
    encoder: Any,
    autoencoder: Any,
    source: Path,
    output: Path,
    rows: int = 50_000,
    keep: Sequence[str] = (),
) -> EncodeStats:
    """Each row of ``source`` as the autoencoder rebuilds it, back in the input's units: scaled,
    passed through the clean autoencoder (no noise; a VAE's mean), unscaled. A denoising model's
    reconstructions are the denoised rows. Same feature columns (one of categories holds the
    category its rebuilt 0/1 columns favour); the label and the columns in ``keep`` are carried
    through. For a model trained on images, an ``output`` folder (:func:`is_folder_output`)
    gets the rebuilt images as PNG files at the model's size instead
    (:class:`_ImageFolderWriter`)."""
    image_folder = is_folder_output(output)
    if image_folder and encoder.image_shape is None:
        raise AefxError(
            f"{output}: a folder takes rebuilt images, but the model was trained on table rows; "
            "name a CSV or Parquet file"
        )
    counts = InputCounts(encoder)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        counts.update(chunk)
        X = encoder.scale(chunk)
        rebuilt = autoencoder.predict(np.asarray(X, dtype="float32"), batch_size=4096, verbose=0)
        return encoder.unscale(rebuilt, chunk.index)

    total, chunks = _stream_model(encoder, source, output, rows, set(keep), transform, image_folder)
    log.info("reconstruct: %d rows in %d chunk(s) -> %s", total, chunks, output)
    return EncodeStats(
        total, chunks, len(encoder.code_columns), unseen=counts.unseen, filled=counts.filled
    )


def require_columns(chunk: pd.DataFrame, columns: Iterable[str], option: str, origin: Path) -> None:
    """``chunk`` has every column that ``option`` names."""
    missing = sorted(set(columns) - {str(c) for c in chunk.columns})
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise AefxError(f"{origin}: no {noun} {', '.join(map(repr, missing))} (named by {option})")


def first_row(
    source: Path, image_shape: Sequence[int] | None, label: str | None, resize: bool = False
) -> pd.DataFrame:
    """The input's first row, read on its own (a Parquet file of no rows reads as none)."""
    first = next(read_chunks(source, 1, image_shape, label, resize), None)
    if first is None:
        raise AefxError(f"{source}: no rows to read")
    return first


def _binary(values: pd.Series, column: str, source: Path) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce")
    if not numeric.isin([0, 1]).all():
        raise AefxError(f"{source}: column {column!r} must hold only 0 and 1 (1 = anomaly)")
    return numeric.to_numpy(dtype="int8")


def chosen_on_test(metric: str) -> str | None:
    """The warning for ranking versions by a test-split metric, or None for any other."""
    if not metric.startswith("test_"):
        return None
    return (
        f"{metric} ranks the versions on the test split: the one chosen is tuned to it, and "
        "its test figures no longer estimate how it does on new data (a cv_ metric does not)"
    )


# The logged params that name the data a run was trained and scored on (with the synthetic
# source's own settings, data.synthetic.*); the paths among them are compared absolute.
_DATA_PARAMS = ("data.source", "data.path", "data.test_path", "data.labels_path", "data.label")
_DATA_PATHS = ("data.path", "data.test_path", "data.labels_path")


def data_identity(flat: dict[str, str]) -> dict[str, str]:
    """Of params as runs log them (``params_to_flat_dict``), those that name the data the run
    was trained and scored on: its source, files and label, and the synthetic source's settings.
    Runs that differ in one scored other data, so their figures do not rank against each other,
    and their encoders may take other columns. Relative paths are made absolute from here."""
    synthetic = flat.get("data.source") == "synthetic"
    return {
        key: os.path.abspath(value) if key in _DATA_PATHS and value != "null" else value
        for key, value in flat.items()
        if key in _DATA_PARAMS or (synthetic and key.startswith("data.synthetic."))
    }


def promote(
    uri: str,
    name: str,
    metric: str,
    alias: str,
    lowest: bool = False,
    data: dict[str, str] | None = None,
    whose: str = "the params'",
    note: Callable[[str], None] = log.info,
) -> tuple[str, float]:
    """Point ``alias`` at the registered version whose run has the best ``metric``. A version
    whose run was deleted (in the MLflow UI, or for good by ``mlflow gc``), or that was
    registered without a run, is passed over. With ``data``, a :func:`data_identity` (``whose``
    it is: "params.yaml's"), so is a version whose run was trained on other data (``--set
    data.path=...``, an image folder), and ``note`` says how many were."""
    from aefx.tracking import all_pages, client

    mlflow_client = client(uri)
    # A name with an apostrophe is searched in double quotes (in single ones it ends the text).
    quoted = f'"{name}"' if "'" in name else f"'{name}'"
    versions = all_pages(mlflow_client.search_model_versions, f"name = {quoted}")
    if not versions:
        raise AefxError(f"no registered model {name!r} in {uri}: run `aefx run` first")
    # Versions registered from one run (a model registered again) read its run once.
    runs = {run: _live_run(mlflow_client, run) for run in {v.run_id for v in versions}}
    if data is not None:
        versions = _on_the_data(name, versions, runs, data, whose, note)
    logged = {v.run_id: runs[v.run_id].data.metrics if runs[v.run_id] else {} for v in versions}
    scored = [
        (logged[v.run_id][metric], int(v.version)) for v in versions if metric in logged[v.run_id]
    ]
    if not scored:
        raise AefxError(
            f"no version of {name!r} has a run with metric {metric!r}"
            f"{_metric_hint(metric, {m for found in logged.values() for m in found})}"
        )
    value, best = (min if lowest else max)(scored)
    mlflow_client.set_registered_model_alias(name, alias, str(best))
    return str(best), float(value)


def _metric_hint(metric: str, logged: set[str]) -> str:
    """What to try when no version's run logged ``metric``: the nearest name the runs did log
    (a typo), else a few of them; for a cv_ metric, only cv_ names (the nearest is often the
    test_ one, which would choose on the test split), and why there are none; for a ROC AUC
    that no run logged, why."""
    if metric.startswith("cv_"):
        logged = {m for m in logged if m.startswith("cv_")}
        if not logged:
            return (
                " (cv_ metrics are logged only by runs with evaluation.mode cv; a test_ metric "
                "chooses on the test split)"
            )
    from aefx.config import two_classes_only

    if reason := two_classes_only(metric):
        return f" ({reason})"  # the nearest name logged would be another classifier's ROC AUC
    if metric.startswith("test_roc_auc") and not any(m.startswith("test_roc_auc") for m in logged):
        # Not a typo: the nearest name would be another score (test_accuracy...).
        return " (their runs log no test ROC AUC: it needs test rows of every class)"
    if hint := did_you_mean(metric, sorted(logged)):
        return f" {hint}"
    # Scores first, and each seed's own figure left out while there are others to show.
    shown = sorted(
        [m for m in logged if ".seed" not in m] or logged,
        key=lambda m: (not m.startswith(("cv_", "test_")), m),
    )
    return f" (their runs log {first_few(shown)})" if logged else ""


def _on_the_data(
    name: str,
    versions: list[Any],
    runs: dict[str | None, Any],
    identity: dict[str, str],
    whose: str,
    note: Callable[[str], None],
) -> list[Any]:
    """The ``versions`` whose run was trained on the data ``identity`` names (``whose`` it is:
    "params.yaml's"); the others are noted, or refused where none is left. Versions
    without a run are kept, for the metric's own check to pass over, and so are those whose run
    logged no data params (not made by aefx): nothing says their data differs."""
    kept, other = [], set()
    for version in versions:
        run = runs[version.run_id]
        logged = run is not None and "data.source" in run.data.params
        theirs = data_identity(run.data.params) if logged else identity
        if theirs == identity:
            kept.append(version)
            continue
        # Named by its file where it has one that differs (data.path=data/raw/other.csv).
        keys = ["data.path"] if theirs.get("data.path", "null") != "null" else []
        keys += [*identity, *theirs]
        key = next(k for k in keys if theirs.get(k) != identity.get(k))
        other.add(f"{key}={run.data.params.get(key, '(not logged)')}")
    if not other:
        return kept
    passed, shown = len(versions) - len(kept), first_few(sorted(other))
    if not any(runs[v.run_id] for v in kept):
        raise AefxError(
            f"no version of {name!r} was trained on {whose} data: all {passed} had {shown}; "
            "`aefx run` registers one"
        )
    note(
        f"passed over {passed} version(s) of {name!r} trained on other data than {whose} ({shown})"
    )
    return kept


def _live_run(mlflow_client: Any, run_id: str | None) -> Any:
    """A run that is still there, else None: a run deleted in the UI is kept (lifecycle
    ``deleted``) until ``mlflow gc`` removes it, after which MLflow says not found."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    if not run_id:
        return None
    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        return None
    return None if run.info.lifecycle_stage == "deleted" else run
