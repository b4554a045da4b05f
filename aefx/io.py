"""File I/O that never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from aefx.errors import AefxError, first_line


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; rename it into place only if the block succeeds.

    DVC caches whatever a stage leaves behind when it exits 0, and the next stage trusts it,
    so a crash must leave either the old file or the new one, never a partial one.
    """
    target = Path(target)
    tmp = _aside(target, _create_file)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Like :func:`atomic_path` for a directory output: build it aside, then swap it in."""
    target = Path(target)
    tmp = _aside(target, lambda path: path.mkdir(mode=0o777))
    try:
        yield tmp
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _aside(target: Path, create: Callable[[Path], None]) -> Path:
    """The temporary sibling of ``target``, its folder made first."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _fresh_sibling(target, create)
    except OSError as exc:
        raise cannot_write(target, exc) from None


def cannot_write(target: Path, exc: OSError, folder: bool = False) -> AefxError:
    """One line for an output (a ``folder``, or a file) that cannot be made where it was asked
    for (a read-only place, a file where a folder should be): the user's to fix, and nothing
    was written yet."""
    reason = exc.strerror or str(exc)
    places = [Path(target), *Path(target).parents] if folder else Path(target).parents
    blocking = next((p for p in places if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        reason = f"{blocking} is a file, not a folder"
    return AefxError(f"{target}: cannot write there ({reason})")


def _fresh_sibling(target: Path, create: Callable[[Path], None]) -> Path:
    """A new hidden sibling of ``target``, made by ``create`` under the user's umask. (mkstemp
    and mkdtemp make theirs 0600 and 0700 and the rename keeps that, so teammates sharing the
    project could not read its outputs.)"""
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{target}: no free temporary name beside it")


def _create_file(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))


def seed_file(directory: Path, seed: int, suffix: str) -> Path:
    """The per-seed file in a stage's output directory: ``seed-3.keras``, ``seed-3.csv``."""
    return Path(directory) / f"seed-{seed}{suffix}"


def encoded_file(directory: Path, split: str, seed: int) -> Path:
    """Codes of one split made by one seed's encoder."""
    return Path(directory) / f"{split}-seed-{seed}.parquet"


# A CSV may come compressed, named by the codec's suffix after .csv (``table.csv.gz``). pyarrow
# decompresses and compresses these as streams, so a compressed table is read and written chunk
# by chunk like a plain one; its wheels carry all three codecs.
CSV_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
# Delimited text: comma-separated, or tab-separated (.tsv, as many scientific data sets come);
# both read and written by the same code, "csv" files of another delimiter.
DELIMITERS = {".csv": ",", ".tsv": "\t"}
# A field of a semicolon CSV's bytes that is a number with a decimal mark, the mark its group;
# and a mark before a digit anywhere (`.5` too), a search ten times as fast.
DIGIT_MARK = re.compile(rb"[.,]\d")
DECIMAL_FIELD = re.compile(
    rb'(?:^|;)[ \t]*"?[-+]?\d*([.,])\d+(?:[eE][-+]?\d+)?"?[ \t]*(?=;|\r?$)', re.MULTILINE
)
# The text pandas reads as a missing value by default. In a column of numbers it is one; in
# the label and category columns only an empty field is, and 'NA' (North America) or 'None'
# (a severity) is a value like any other, as in a Parquet file of the same table.
NA_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
TABLE_KINDS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
TABLE_TYPES = ".csv, .tsv (plain or compressed: .csv.gz, .tsv.zst, ...) or .parquet"


# pyarrow reads a Parquet file's footer with at most 1,000,000 items in a list (its default
# thrift_container_size_limit), and the schema is such a list: the root and one per column.
PARQUET_ITEM_LIMIT = 1_000_000
PARQUET_MAX_COLUMNS = PARQUET_ITEM_LIMIT - 1


def check_parquet_width(columns: int, path: Path) -> None:
    """Refuse, before it is written, a Parquet file of more columns than pyarrow reads back:
    past :data:`PARQUET_MAX_COLUMNS` the file was written whole and every later read failed in
    a traceback (`Couldn't deserialize thrift`)."""
    if columns > PARQUET_MAX_COLUMNS:
        raise AefxError(
            f"{path}: {columns:,} columns would make a Parquet file too wide to read back "
            f"({PARQUET_MAX_COLUMNS:,} columns at most); name a .csv output instead"
        )


@dataclass(frozen=True)
class TableFile:
    """What a table file's name says it holds: ``kind`` "csv" (delimited text, its
    ``delimiter`` a comma or, for .tsv, a tab) or "parquet", and for compressed text its
    ``codec`` (a pyarrow codec name); ``folder``: a folder of Parquet files
    (:func:`parquet_folder`), or for "csv" of CSV and TSV files (:func:`text_files`)."""

    kind: str
    codec: str | None = None
    folder: bool = False
    delimiter: str = ","

    @property
    def label(self) -> str:
        """The kind for messages: "CSV", "TSV", "gzip-compressed CSV", "Parquet"."""
        name = "Parquet" if self.kind == "parquet" else "TSV" if self.delimiter == "\t" else "CSV"
        return f"{self.codec}-compressed {name}" if self.codec else name


def table_file(path: Path) -> TableFile | None:
    """The table file ``path`` names by its suffixes, or None for a name no reader takes; a
    folder is one of Parquet files, or else of CSV or TSV files (:func:`text_files`)."""
    if Path(path).is_dir():
        found = _folder_tables(path)
        return TableFile("csv" if found["csv"] and not found["parquet"] else "parquet", folder=True)
    return _named_table(path)


def is_text_table(path: Path) -> bool:
    """A CSV or TSV file (plain or compressed), or a folder of them: what train-stream first
    copies to Parquet, and where pandas' reading decides which numbers come as text."""
    table = table_file(path)
    return table is not None and table.kind == "csv"


def _named_table(path: Path) -> TableFile | None:
    """:func:`table_file` of a file, from its name alone."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if suffixes and suffixes[-1] in CSV_CODECS:
        if suffixes[0] in DELIMITERS and len(suffixes) == 2:
            return TableFile("csv", CSV_CODECS[suffixes[-1]], delimiter=DELIMITERS[suffixes[0]])
        return None
    suffix = Path(path).suffix.lower()
    kind = TABLE_KINDS.get(suffix)
    return None if kind is None else TableFile(kind, delimiter=DELIMITERS.get(suffix, ","))


def _folder_tables(folder: Path) -> dict[str, list[Path]]:
    """The table files under ``folder``, at any depth, in path order, by kind ("parquet",
    "csv"), in one walk. Names that start with '.' or '_', of files or of folders on the way,
    are left out, as pyarrow and Spark leave them out: Spark's ``_SUCCESS`` and ``.crc``
    checksums, Dask's ``_metadata``; so are CSV parts of no bytes at all (not even a header),
    which Spark's CSV writer leaves for a partition with no rows."""
    found: dict[str, list[Path]] = {"parquet": [], "csv": []}
    for path in sorted(Path(folder).rglob("*")):
        named = _named_table(path)
        if (
            named is None
            or any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
            or not path.is_file()
            or (named.kind == "csv" and path.stat().st_size == 0)
        ):
            continue
        found[named.kind].append(path)
    return found


def parquet_files(folder: Path) -> list[Path]:
    """The Parquet files under ``folder`` (see :func:`_folder_tables`)."""
    return _folder_tables(folder)["parquet"]


def text_files(folder: Path) -> list[Path]:
    """The CSV and TSV files, plain or compressed, under ``folder`` (see
    :func:`_folder_tables`): a table as Spark's CSV writer leaves it."""
    return _folder_tables(folder)["csv"]


def table_files(folder: Path) -> list[Path]:
    """The files of the table a folder holds: its Parquet files, or else its CSV and TSV files."""
    found = _folder_tables(folder)
    return found["parquet"] or found["csv"]


def require_table_files(folder: Path) -> list[Path]:
    """:func:`table_files`, of which a table's folder must have one."""
    files = table_files(folder)
    if not files:
        raise AefxError(
            f"{folder}: a folder with no .parquet, .csv or .tsv files in it (a table is a CSV, "
            "TSV or Parquet file, or a folder of them)"
        )
    return files


def require_parquet_files(folder: Path) -> list[Path]:
    """:func:`parquet_files`, of which a folder of Parquet files must have one."""
    files = parquet_files(folder)
    if not files:
        require_table_files(folder)  # the same line where there is no table at all
        raise AefxError(f"{folder}: a folder of CSV or TSV files, where Parquet files are read")
    return files


def other_columns(folder: Path, source: Path, first: Path) -> AefxError:
    """The refusal of a file of ``folder`` whose columns are not those of its ``first`` file."""
    return AefxError(
        f"{source}: its columns differ from those of {first.relative_to(folder)} (the files of a "
        "folder make one table)"
    )


def parquet_folder(folder: Path) -> Any:
    """The table a folder of Parquet files holds (as Spark, Dask or pandas' ``partition_cols``
    write one), as a pyarrow dataset: its files in path order, so that the rows come in the same
    order on every machine, and Hive partition folders (``region=north/``) as columns. Every
    file must hold the same columns (in any order): pyarrow takes the first file's, and would
    drop another's extra column silently."""
    import pyarrow.parquet as pq

    files = require_parquet_files(folder)
    names: set[str] | None = None
    for source in files:
        try:
            found = set(pq.read_schema(source).names)
        except (ValueError, OSError) as exc:  # ArrowInvalid (a ValueError): not Parquet
            reason = first_line(exc)
            where = source.relative_to(folder)
            raise AefxError(f"{folder}: cannot be read as Parquet ({where}: {reason})") from None
        if names is None:
            names = found
        elif found != names:
            raise other_columns(folder, source, files[0])
    for source, keys in zip(files, hive_partitions(folder, files)[1], strict=True):
        check_partitions(folder, source, names or (), keys)
    return _hive_dataset(folder, files)


def _hive_dataset(folder: Path, files: list[Path]) -> Any:
    import pyarrow.dataset as ds

    return ds.dataset(
        [str(f) for f in files],
        format="parquet",
        partitioning="hive",
        partition_base_dir=str(folder),
    )


def hive_partitions(folder: Path, files: list[Path]) -> tuple[Any, list[dict[str, Any]]]:
    """The columns a folder's Hive partition folders (``year=2024/region=north/`` on the way
    to a file) add to its table, as pyarrow types them (whole numbers where every folder's value
    is one, else text; ``__HIVE_DEFAULT_PARTITION__`` is a missing value, ``%20`` a space), and
    each file's values of them: those of every row in it. Reads no file, so it serves a folder
    of CSV files as well as one of Parquet files."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    options = ds.FileSystemFactoryOptions(
        partition_base_dir=str(folder), partitioning=ds.HivePartitioning.discover()
    )
    factory = ds.FileSystemDatasetFactory(
        fs.LocalFileSystem(), [str(f) for f in files], ds.ParquetFileFormat(), options
    )
    schema = factory.inspect(fragments=0)  # the partition folders' columns alone
    keys = {
        Path(fragment.path): ds.get_partition_keys(fragment.partition_expression)
        for fragment in factory.finish(schema).get_fragments()
    }
    return schema, [keys[f] for f in files]


def numeric_partitions(folder: Path) -> list[str]:
    """The columns of whole numbers that a table folder's Hive partition folders
    (``year=2024/``) give its rows; none for a file. Each becomes a numeric feature unless the
    user keeps it out: the value a folder was cut by (a year, a day, a shard) may tell the
    classes apart in this data set and not in the next, so aefx warns rather than guesses."""
    import pyarrow as pa

    if not folder.is_dir():
        return []
    schema, _ = hive_partitions(folder, table_files(folder))
    return [field.name for field in schema if pa.types.is_integer(field.type)]


def check_partitions(folder: Path, source: Path, columns: Iterable[str], keys: dict) -> None:
    """Refuse a column that ``source`` holds and that a partition folder on its way sets too
    (``keys``, see :func:`hive_partitions`): Spark writes a partition column only in the
    folder names, and of two values one would be dropped."""
    present = set(columns)
    both = [name for name in keys if name in present]
    if both:
        folders = source.relative_to(folder).parent.parts
        named = next(p for p in folders if p.split("=", 1)[0] == both[0])
        raise AefxError(
            f"{source}: column {both[0]!r} is in the file and in its partition folder "
            f"{named}/ (a partition column belongs in the folder names alone)"
        )


def with_partitions(frame: pd.DataFrame, schema: Any, keys: dict) -> pd.DataFrame:
    """``frame``, the rows of one file, with its Hive partition values (``keys``, of the
    columns in ``schema``, see :func:`hive_partitions`) as columns after its own, as pyarrow
    adds them to a folder of Parquet files: a missing whole number is NaN, missing text None."""
    import pyarrow as pa

    values = {
        field.name: (
            float("nan")
            if keys.get(field.name) is None and pa.types.is_integer(field.type)
            else keys.get(field.name)
        )
        for field in schema
    }
    return frame.assign(**values) if values else frame


def arrow_frame(data: Any) -> pd.DataFrame:
    """An Arrow table or record batch as a pandas frame, with its decimal columns (Spark's
    DecimalType, for amounts and prices) as floats: pandas would make them Python ``Decimal``
    objects, which no model takes, and refuse the column as not numeric."""
    import pyarrow as pa

    if any(pa.types.is_decimal(f.type) for f in data.schema):
        fields = [
            f.with_type(pa.float64()) if pa.types.is_decimal(f.type) else f for f in data.schema
        ]
        data = data.cast(pa.schema(fields, metadata=data.schema.metadata), safe=False)
    return data.to_pandas()


def table_stem(path: Path) -> str:
    """A data file's name without the suffixes of its type, to name the data by: ``sales`` of
    ``sales.csv.gz``, of ``sales.csv`` and of a folder ``sales.parquet``."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[0] in DELIMITERS and suffixes[1] in CSV_CODECS:
        return Path(path).name[: -len("".join(suffixes))]
    return Path(path).stem


def table_suffix(path: Path) -> str:
    """The suffix a message names: ``.txt``, and both of ``.tar.gz``; ``(none)`` for none."""
    suffixes = Path(path).suffixes
    if suffixes and suffixes[-1].lower() in CSV_CODECS:
        return "".join(suffixes[-2:])
    return Path(path).suffix or "(none)"


# Files people often have a table in, which no reader here takes, and how to get one that is.
CONVERT_HINTS = {
    **dict.fromkeys(
        (".xlsx", ".xlsm", ".xls", ".ods", ".numbers"),
        "a spreadsheet: save it from its program as CSV (UTF-8)",
    ),
    **dict.fromkeys((".feather", ".arrow"), "an Arrow file: write it as Parquet (to_parquet)"),
}


def unsupported_type(path: Path, role: str = "") -> AefxError:
    """One line for a table ``path`` of a type no reader takes (``role``: "input", "output"),
    with how to convert a spreadsheet or an Arrow file."""
    hint = CONVERT_HINTS.get(Path(path).suffix.lower()) if role != "output" else None
    kind = f"{role} file type" if role else "file type"
    use = f"{hint}; use {TABLE_TYPES}" if hint else f"use {TABLE_TYPES}"
    return AefxError(f"{path}: unsupported {kind} {table_suffix(path)!r} ({use})")


def text_dialect(path: Path, codec: str | None = None, delimiter: str = ",") -> tuple[str, str]:
    """The (delimiter, decimal mark) a delimited text file is read with: for a CSV of
    semicolons (see :func:`text_separator`) ';' and its :func:`decimal_mark`; for any other
    file ``delimiter`` and a decimal point."""
    separator = text_separator(path, codec, delimiter)
    if separator == delimiter:
        return delimiter, "."
    return separator, decimal_mark(path, codec)


def text_separator(path: Path, codec: str | None = None, delimiter: str = ",") -> str:
    """';' for a CSV whose header line holds ';' and no ',', as spreadsheets save "CSV" where
    a comma marks decimals; else ``delimiter``. Reads the header line only (up to 64 KiB). A
    compressed file cut off before its end is judged by what comes before the cut; its reader
    names the cut."""
    if delimiter != ",":
        return delimiter
    size, block = 1 << 16, 1 << 12
    data = b""
    try:
        with open_table(path, codec) as handle:
            while len(data) < size and b"\n" not in data and (piece := handle.read(block)):
                data += piece
    except OSError:
        if codec is None:
            raise
    header = data.split(b"\n", 1)[0]
    return ";" if b";" in header and b"," not in header else delimiter


def decimal_mark(path: Path, codec: str | None = None) -> str:
    """The decimal mark of a semicolon CSV's numbers: a comma, the mark of the locales that
    separate with ';', unless its rows show decimal points only. The first 64 KiB of rows
    decide; if they hold whole numbers only, the next MiB that shows a mark does (a file of
    whole numbers is read through once). A compressed file cut off before its end is judged by
    what comes before the cut."""
    size, block = 1 << 16, 1 << 20
    rest, header = b"", True
    try:
        with open_table(path, codec) as handle:
            while True:
                piece = handle.read(size)
                rest += piece
                if header:  # its names are no numbers
                    _, _, rest = rest.partition(b"\n")
                    header = False
                cut = rest.rfind(b"\n") + 1 if piece else len(rest)  # the last line whole?
                lines, rest = rest[:cut], rest[cut:]
                marks = set()
                if _may_hold_marks(lines):
                    marks = {found.group(1) for found in DECIMAL_FIELD.finditer(lines)}
                if marks:
                    return "." if marks == {b"."} else ","
                if not piece:
                    return ","
                size = block
    except OSError:
        if codec is None:
            raise
        return ","


def _may_hold_marks(lines: bytes) -> bool:
    """Whether ``lines`` may hold a number with a decimal mark: a block of whole numbers
    without '.' or ',' is passed over at memory speed, one with them in text (e-mail addresses)
    at about 300 MB/s, where the field search reads about 35 MB/s."""
    return (b"." in lines or b"," in lines) and DIGIT_MARK.search(lines) is not None


def open_table(path: Path, codec: str | None = None) -> IO[bytes]:
    """``path`` opened for reading its bytes, decompressed as they are read for a ``codec``.
    Errors of a file that is not in that compression come when it is read (``OSError``)."""
    if codec is None:
        return open(path, "rb")
    import pyarrow as pa

    return pa.input_stream(str(path), compression=codec)


def create_table(path: Path, codec: str | None = None) -> IO[bytes]:
    """``path`` opened for writing bytes, compressed with ``codec`` as they are written."""
    if codec is None:
        return open(path, "wb")
    import pyarrow as pa

    return pa.output_stream(str(path), compression=codec)


class LimitExceeded(Exception):
    """A read passed its limit of bytes; ``count`` had been read by then."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} bytes read, over the limit")
        self.count = count


class ReadLimit:
    """Bytes that reads may take, together (the files of a folder share one)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0


class _Limited:
    """A binary stream that raises :class:`LimitExceeded` once its reads, with those counted
    against the same ``limit`` before, have taken more bytes than it allows (pandas passes the
    exception on, out of its parser)."""

    def __init__(self, stream: IO[bytes], limit: ReadLimit) -> None:
        self._stream, self._limit = stream, limit

    def read(self, size: int = -1) -> bytes:
        block = self._stream.read(size)
        self._limit.count += len(block)
        if self._limit.count > self._limit.limit:
            raise LimitExceeded(self._limit.count)
        return block

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def na_options(
    path: Path, codec: str | None, sep: str, text: Collection[str] | bool
) -> dict[str, Any]:
    """``pd.read_csv`` keywords by which the :data:`NA_MARKERS` are missing values in every
    column of ``path`` but the ``text`` ones (named in its header, which this reads; True:
    every column), where only an empty field is; none without ``text``. See
    :func:`numbers_kept` for those of numbers."""
    if text is True:
        return {"keep_default_na": False, "na_values": [""]}
    if not text:
        return {}
    with open_table(path, codec) as handle:
        columns = pd.read_csv(handle, sep=sep, nrows=0).columns
    markers = list(NA_MARKERS)
    values = {c: [""] if str(c) in text else markers for c in columns}
    return {"keep_default_na": False, "na_values": values}


def numbers_kept(frame: pd.DataFrame, text: Collection[str]) -> pd.DataFrame:
    """``frame``, read with :func:`na_options`, with each ``text`` column that holds numbers
    and :data:`NA_MARKERS` alone (a label of 0, 1 and 'NA') read as pandas reads it by
    default: the numbers as numbers, the markers as missing values."""
    for column in [c for c in frame.columns if str(c) in text]:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values.dtype):  # booleans too
            continue
        marked = values.isin(NA_MARKERS) & values.notna()
        if not marked.any():
            continue
        numbers = pd.to_numeric(values.mask(marked), errors="coerce")
        if numbers.notna().any() and (numbers.notna() | marked | values.isna()).all():
            frame[column] = numbers
    return frame


def markers_missing(values: pd.Series) -> pd.Series:
    """``values`` with the text pandas reads as missing by default (:data:`NA_MARKERS`) as
    missing values."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values
    return values.mask(values.isin(NA_MARKERS))


def read_csv(
    path: Path,
    codec: str | None = None,
    limit: ReadLimit | None = None,
    delimiter: str = ",",
    dtype: dict | None = None,
    text: Collection[str] | bool = (),
) -> pd.DataFrame:
    """``pd.read_csv`` of a whole file (decompressed with ``codec``, see :data:`CSV_CODECS`;
    its columns separated by ``delimiter``, see :data:`DELIMITERS`, or by ';' for a CSV that
    uses them, see :func:`text_dialect`; ``dtype`` as pandas takes
    it, by column name or position; the columns named in ``text`` keep the text pandas reads
    as missing, see :data:`NA_MARKERS`; True: every column),
    with Ctrl-C and SIGTERM held until it returns. With ``limit``, a compressed file's text is
    counted as it is read, and the read stops with :class:`LimitExceeded` once it is longer:
    the file's size cannot say beforehand (zeros pack a thousandfold).

    pandas 3.1 parses a CSV over 5 MB on several threads and waits for them in Python. A
    KeyboardInterrupt raised in that wait closes the parsers under the threads still using
    them, and the process dies of a segmentation fault instead of stopping in one line (1 in
    about 12 interrupts of a 200 MB read). Held, the signal lands once the threads are done.

    ``low_memory=False`` infers each column's type from all its rows: by default pandas infers
    it per chunk of 2**18 rows, so a column of numbers that turns to text late in the file (an
    id, a label) came as ints and strings at once, which split a class in two (1 and '1') and
    which Parquet cannot write. The whole-file pass costs 2.7x the read time (0.65 s -> 1.75 s
    for 393 MB, medians of 3) and no more memory (795 -> 801 MB peak): benchmarks/csv_read.py."""
    sep, decimal = text_dialect(path, codec, delimiter)
    options = {"sep": sep, "decimal": decimal, "low_memory": False, "dtype": dtype}
    options |= na_options(path, codec, sep, text)
    with signals_held():
        if codec is None:
            frame = pd.read_csv(path, **options)
        else:
            with open_table(path, codec) as handle:
                stream = handle if limit is None else _Limited(handle, limit)
                frame = pd.read_csv(stream, **options)
    names = [str(c) for c in frame.columns]
    typed = {names[k] if isinstance(k, int) else str(k) for k in dtype or {}}  # text as asked
    return numbers_kept(frame, [c for c in (names if text is True else text) if c not in typed])


@contextlib.contextmanager
def signals_held(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Keep ``signums`` back for the block, then raise the first that came with its usual
    handler. Only the main thread receives signals, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in signums}
    held = [s for s, handler in previous.items() if handler is not None]  # None: set outside Python
    for signum in held:
        signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum in held:
            signal.signal(signum, previous[signum])
        if caught:
            signal.raise_signal(caught[0])


def write_json(path: Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_md5(path: Path) -> str:
    """The hash DVC records for a single file (plain MD5 of its bytes)."""
    return _digest(path, "md5")


def folder_md5(folder: Path, files: list[Path]) -> str:
    """One MD5 for ``files`` of ``folder``: of each one's path in the folder and its MD5, in
    the order given. A file added, removed, renamed or changed changes it. (DVC hashes a
    folder its own way, which this does not copy.)"""
    listing = "".join(f"{f.relative_to(folder).as_posix()}\t{file_md5(f)}\n" for f in files)
    return hashlib.md5(listing.encode()).hexdigest()


def table_digest(path: Path) -> tuple[str, str] | None:
    """How a run records the data at ``path``: ("file_md5", the file's MD5, as DVC hashes
    it), ("folder_md5", :func:`folder_md5` of a folder's table files), or None where neither
    is there."""
    if path.is_file():
        return "file_md5", file_md5(path)
    if path.is_dir():
        return "folder_md5", folder_md5(path, table_files(path))
    return None


def file_sha256(path: Path) -> str:
    return _digest(path, "sha256")
