"""The rules a feature table must meet, in one place (a pandera schema), with every broken rule
reported at once as one line naming the file, the column and the rule."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.errors import AefxError, first_few, first_line
from aefx.io import (
    TableFile,
    is_text_table,
    open_table,
    table_file,
    table_suffix,
    text_files,
    text_separator,
)
from aefx.scaling import category_text, one_hot_name

MIN_ROWS = 10
# Numbers as text, written with a decimal comma or a decimal point (`-1,5e-3`, `.5`).
COMMA_NUMBER = re.compile(r"\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*")
POINT_NUMBER = re.compile(r"\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*")
# ... and with thousands separators beside a decimal mark (`1.234,5`, `-1,234,567.`).
GROUPED_NUMBER = re.compile(r"\s*[-+]?\d{1,3}(?:(?:\.\d{3})+,\d*|(?:,\d{3})+\.\d*)\s*")
# ... and whole numbers with a point between groups of three, as in the decimal-comma locales.
GROUPED_WHOLE = re.compile(r"\s*[-+]?[1-9]\d{0,2}(?:\.\d{3})+\s*")


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _not_infinite(series: pd.Series) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return ~np.isinf(values)


def table_schema(
    features: list[str],
    label: str,
    categorical: Sequence[str] = (),
    gaps: bool = False,
    category_gaps: bool = False,
) -> Any:
    """Every feature numeric, complete and finite, except the ``categorical`` ones, which need
    only be complete (with ``gaps``, features may have missing values, to be filled; with
    ``category_gaps``, the ``categorical`` ones may, a category of their own); the label
    complete. Rules about the whole table (rows, classes) need the split settings and live in
    :func:`validate_table`."""
    import pandera.pandas as pa

    feature_rules = [
        pa.Check(_is_numeric, element_wise=False, name="numeric"),
        pa.Check(_not_infinite, name="finite", ignore_na=True),
    ]
    columns = {
        c: pa.Column(checks=None, nullable=gaps or category_gaps)
        if c in categorical
        else pa.Column(checks=feature_rules, nullable=gaps)
        for c in features
    }
    columns[label] = pa.Column(nullable=False)
    return pa.DataFrameSchema(columns, strict=False)


def show_value(value: object) -> str:
    """repr() of a value without numpy's type wrapper: 1, not np.int64(1); a list (a Parquet
    list cell, which pandas holds as an array) as a list."""
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    return repr(value.item() if hasattr(value, "item") else value)


def numbers_as_text(values: pd.Series, text: pd.Series) -> str | None:
    """What is wrong with a column whose ``text`` (the ``values`` pandas cannot read as
    numbers) is numbers written another way, as the rest of the sentence that names the
    column; else None. Numbers with thousands separators beside a decimal mark (`1.234,5`,
    `1,234.5`) are named as such; numbers with a decimal comma beside others with a point by
    the first of each: a semicolon CSV is read with one mark (:func:`aefx.io.decimal_mark`),
    so where its marks change a column's numbers are text, and the value to blame may be
    either."""
    strings = values[text].astype(str)
    grouped = strings.str.fullmatch(GROUPED_NUMBER.pattern)
    commas = strings.str.fullmatch(COMMA_NUMBER.pattern)
    if grouped.any() and (grouped | commas).all():
        example = show_value(strings[grouped].iloc[0])
        return f"has numbers with thousands separators ({example}): write them without"
    if not commas.all():
        return None
    others = values[~text & values.notna()].astype(str)
    points = others[others.str.fullmatch(POINT_NUMBER.pattern)]
    if points.empty:
        return None
    first_comma, first_point = show_value(strings.iloc[0]), show_value(points.iloc[0])
    return (
        f"mixes decimal marks ({first_comma} with a comma, {first_point} with a point): "
        "write its numbers with one mark"
    )


def points_among_commas(values: pd.Series) -> str | None:
    """What is wrong with a feature column of a CSV or TSV that pandas read as text though
    every value in it is a number, as the rest of the sentence that names the column; else
    None. Numbers written with the mark a file is read with are read as numbers, so such a
    column has decimal points in a semicolon CSV read with decimal commas (as one is where a
    comma marks decimals in its first rows, even after points: :func:`aefx.io.decimal_mark`).
    There a value like `1.234` is more likely a thousand and more, as a spreadsheet of those
    locales writes it, than a little over one: read as the latter, it was 1000 times too
    small."""
    if _is_numeric(values):
        return None
    present = values.dropna()
    if present.empty or pd.to_numeric(present, errors="coerce").isna().any():
        return None
    strings = present.astype(str)
    points = strings[strings.str.contains(".", regex=False)]
    if points.empty:
        return None
    example = show_value(points.iloc[0])
    if points.str.fullmatch(GROUPED_WHOLE.pattern).all():
        return f"has numbers with thousands separators ({example}): write them without"
    return (
        f"has decimal points ({example}) in a file read with decimal commas (a semicolon CSV is "
        "where a comma marks decimals in its first rows): write all numbers with one mark"
    )


def marks_problem(values: pd.Series) -> str | None:
    """What is wrong with a feature column of one CSV or TSV file whose numbers came as text
    for the way they were written: thousands separators, or a decimal mark other than the one
    the file was read with (:func:`numbers_as_text`, :func:`points_among_commas`); as the rest
    of the sentence that names the column; else None (numbers, or text of another kind)."""
    if _is_numeric(values):
        return None
    text = pd.to_numeric(values, errors="coerce").isna() & values.notna()
    if text.any():
        return numbers_as_text(values, text)
    return points_among_commas(values)


def _column_problems(
    frame: pd.DataFrame,
    label: str,
    cases: pd.DataFrame,
    categorical: Sequence[str],
    text_table: bool = False,
) -> list[str]:
    """One phrase for each column ``cases`` (pandera's failure cases) names, then hints;
    ``text_table``: ``frame`` was read from a CSV or TSV (or a folder of them)."""
    problems = []
    text = []  # columns mostly of words: perhaps no features at all, but ids or names
    gaps = False  # features with missing values
    category_gaps = False  # of them, columns of categories
    for column in [c for c in frame.columns if c in set(cases["column"])]:
        mine = cases[cases["column"] == column]
        checks = set(mine["check"].astype(str))
        if column == label:
            noun = "value" if len(mine) == 1 else "values"
            problems.append(f"label column {label!r} has {len(mine)} missing {noun}")
            continue
        if "numeric" in checks:
            values = frame[column]
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            if bad.any() and (problem := numbers_as_text(values, bad)):
                problems.append(f"column {column!r} {problem}")
            elif bad.any():
                example = show_value(values[bad].iloc[0])
                problems.append(f"column {column!r} is not numeric (value {example})")
                if bad.sum() * 2 >= values.notna().sum():  # words, not numbers with a '?' or two
                    text.append(column)
            elif text_table and (problem := points_among_commas(values)):
                problems.append(f"column {column!r} {problem}")
            elif values.notna().any():  # values that convert, in a type that is not a number
                problems.append(
                    f"column {column!r} is not numeric (its type is {values.dtype}; store it as "
                    "numbers)"
                )
            elif len(values):
                problems.append(f"column {column!r} has no values (all missing)")
            continue
        n_nan = int((mine["check"].astype(str) == "not_nullable").sum())
        n_inf = int((mine["check"].astype(str) == "finite").sum())
        gaps = gaps or n_nan > 0
        if column in categorical:  # categories have no infinity
            category_gaps = category_gaps or n_nan > 0
            noun = "value" if n_nan == 1 else "values"
            problems.append(f"column {column!r} has {n_nan} missing {noun}")
        else:
            problems.append(f"column {column!r} has {n_nan} missing and {n_inf} infinite values")
    if text:
        names, one = ", ".join(text), len(text) == 1
        problems.append(
            f"data.categorical: [{names}] makes one column of each category if "
            f"{'it holds' if one else 'they hold'} categories; data.ignore: [{names}] keeps "
            f"{'it' if one else 'them'} out if {'it is' if one else 'they are'} no feature "
            "(an id, a name)"
        )
    if gaps:
        problems.append(
            "data.impute: median fills missing values from the training split"
            + (
                " (data.missing_category: true makes a missing category one of its own)"
                if category_gaps
                else ""
            )
        )
    return problems


def separator_hint(columns: list[object], origin: str | Path) -> str | None:
    """What to do when pandas or Arrow read a delimited file's whole header as one column
    name, for it holds another separator (a tab or '|' in a .csv, a comma or ';' in a .tsv; a
    .csv of semicolons is read as one, see :func:`aefx.io.text_dialect`); else None."""
    if len(columns) != 1:
        return None
    table = table_file(Path(origin)) or TableFile("csv")
    others = [sep for sep in ",;\t|" if sep != table.delimiter]
    found = next((sep for sep in others if sep in str(columns[0])), None)
    if found is None:
        return None
    if table.delimiter == "\t":
        rename = ", or name it .csv" if found in ",;" else ""
        return f"the header holds {found!r}: write the TSV tab-separated{rename}"
    rename = ", or name it .tsv" if found == "\t" else ""
    return f"the header holds {found!r}: write the CSV comma-separated{rename}"


def header_hint(columns: Sequence[object]) -> str | None:
    """What to ask when most of a header's names are numbers, not all whole ones: pandas took
    the first row of a file without a header row (Spark writes none unless told) for the column
    names; else None. Names such as years or pixel indices (2019, 0, 1, ...) are left alone."""

    def number(name: str) -> bool:
        try:
            return math.isfinite(float(name))
        except ValueError:
            return False

    numbers = [str(c) for c in columns if number(str(c))]
    if 2 * len(numbers) <= len(columns) or all(n.isdigit() for n in numbers):
        return None
    return (
        f"its first line holds numbers ({', '.join(numbers[:2])}, ...) where the column names "
        "belong: give the file a header row"
    )


def table_problems(
    frame: pd.DataFrame,
    label: str,
    test_size: float,
    stratify: bool,
    test_rows: int | None = None,
    split_by: str = "",
) -> list[str]:
    """What keeps ``frame`` from being split and compared on. ``test_rows``: how many of its
    rows are the test side, for data that comes split (``split_by`` names how; ``test_size``
    is not read then)."""
    problems = []
    n_rows = len(frame)
    n_test = math.ceil(test_size * n_rows) if test_rows is None else test_rows
    leaves, fewer, more = (
        (f"data.test_size={test_size} leaves", "lower it", "raise it")
        if test_rows is None
        else (f"{split_by} leaves", "at least 2 are needed", "at least 2 are needed")
    )
    if n_rows < MIN_ROWS:
        problems.append(
            f"{n_rows} rows are too few to split into train and test (need at least {MIN_ROWS})"
        )
    elif n_rows - n_test < 2:
        problems.append(f"{leaves} {n_rows - n_test} of the {n_rows} rows to train on; {fewer}")
    elif n_test < 2:  # one test row: every seed's accuracy 0 or 1, and no interval
        problems.append(f"{leaves} {n_test} of the {n_rows} rows to test on; {more}")
    labels = frame[label]
    fractional = labels[labels != labels.round()] if labels.dtype.kind == "f" else labels[:0]
    if len(fractional):  # scikit-learn's "continuous" target: no classifier takes it
        problems.append(
            f"label column {label!r} holds continuous values ({labels.nunique()} distinct, e.g. "
            f"{fractional.iloc[0]:.4g}), and aefx compares classifiers: give it classes "
            "(integers or text; bin a numeric target first)"
        )
        return problems
    counts = labels.value_counts()
    counts = counts[counts > 0]  # a categorical column counts its unused categories too
    if len(counts) > n_rows / 2:  # where scikit-learn warns, once per fit: thousands of lines
        problems.append(
            f"label column {label!r} has {len(counts)} distinct values in {n_rows} rows, so most "
            "classes have a single row (an id rather than a class?); a classifier needs "
            "several rows per class"
        )
        return problems
    if len(counts) == 1:
        problems.append(
            f"label column {label!r} has a single class ({show_value(counts.index[0])}); "
            "a classifier needs at least two"
        )
    elif stratify and counts.min() < 2:
        problems.append(
            f"class {show_value(counts.idxmin())} in {label!r} has {counts.min()} row; "
            "stratified splitting needs at least 2 per class"
        )
    elif stratify and len(counts) > 1 and min(n_test, n_rows - n_test) < len(counts):
        problems.append(
            f"{n_rows} rows are too few to stratify {len(counts)} classes "
            f"with data.test_size={test_size}"
        )
    return problems


# From this share of the rows on, one class makes accuracy mostly a count of that class.
MAJORITY_WARNING = 0.8


def _looks_like_row_id(values: pd.Series) -> bool:
    """Every whole number of a range once, as a row number or a database key would be."""
    if len(values) < MIN_ROWS or not pd.api.types.is_numeric_dtype(values):
        return False
    whole = bool((values == values.round()).all())
    return whole and values.nunique() == len(values) == values.max() - values.min() + 1


def _short_of_all(share: float) -> str:
    """A share under 1 as a percentage that never reads 100%: 398 rows of 400 are 99.5%, and
    more than 99.9% reads 99.9% (rounded, ``:.0%`` made both 100%, as if one class were all)."""
    return f"{share:.0%}" if share < 0.995 else f"{math.floor(share * 1000) / 10:.1f}%"


def _near_duplicate_classes(labels: pd.Series) -> list[list[str]]:
    """Text classes that are one class written two ways ('yes', 'Yes', 'yes '), in groups."""
    groups: dict[str, list[str]] = {}
    for value in labels.dropna().unique():
        if isinstance(value, str):
            groups.setdefault(value.strip().casefold(), []).append(value)
    return [sorted(group) for group in groups.values() if len(group) > 1]


# From this many categories on, a column of them is worth a word: each makes a column.
MANY_CATEGORIES = 50


def table_warnings(
    frame: pd.DataFrame,
    label: str,
    origin: str,
    categorical: Sequence[str] = (),
    impute: str | None = None,
    min_category_rows: int = 1,
    missing_category: bool = False,
    test_from: int | None = None,
) -> list[str]:
    """Legal but suspicious: constant columns (scaling keeps them finite; they carry nothing),
    duplicated rows (they count twice, and may sit on both sides of the split; for a file's own
    split, whose test rows start at row ``test_from``, test rows that are training rows), one class
    holding most rows (accuracy then says little; macro F1 weighs each class alike), a class
    written two ways ('yes', 'Yes'), a column numbering the rows (an id: it learns the file's
    order, not the data), a column of categories with so many that most have few rows (counting
    those of fewer than ``min_category_rows`` as one), and missing values that ``impute`` will
    fill (a column mostly missing is filled mostly with one value; with ``missing_category``,
    a column of categories is not filled)."""
    warnings = []
    shares = frame[label].value_counts(normalize=True)
    if len(shares) > 1 and shares.iloc[0] >= MAJORITY_WARNING:
        warnings.append(
            f"{origin}: class {show_value(shares.index[0])} of {label!r} holds "
            f"{_short_of_all(shares.iloc[0])} of the rows, so accuracy mostly counts it; "
            "evaluation.metric: f1_macro weighs every class alike"
        )
    near = _near_duplicate_classes(frame[label])
    if near:
        shown = ", ".join("/".join(map(show_value, group)) for group in near[:3])
        warnings.append(
            f"{origin}: classes of {label!r} written more than one way (in case or spaces) "
            f"count as different classes: {shown}{', ...' if len(near) > 3 else ''}; write "
            "each class one way"
        )
    features = frame.drop(columns=[label])
    constant = [c for c in features.columns if features[c].nunique(dropna=False) <= 1]
    if constant:
        warnings.append(
            f"{origin}: {len(constant)} constant column(s) carry no information: "
            f"{first_few(constant)}"
        )
    for column in [c for c in features.columns if _looks_like_row_id(features[c])]:
        values = features[column]
        warnings.append(
            f"{origin}: column {column!r} holds the whole numbers {values.min():.0f} to "
            f"{values.max():.0f}, one per row (a row id?); data.ignore: [{column}] keeps it out "
            "of the features"
        )
    missing = features.isna().sum()
    if missing_category:  # a category of its own, not filled
        missing = missing.drop(list(categorical))
    if impute and missing.any():
        gaps = missing[missing > 0].sort_values(ascending=False, kind="stable")
        shown = ", ".join(f"{c} ({n})" for c, n in list(gaps.items())[:5])
        how = f"the training split's {impute}"
        if any(c in categorical for c in gaps.index):
            how += " (the most frequent category for categories)"
        warnings.append(
            f"{origin}: {int(gaps.sum())} missing value(s) will be filled with {how}, in {shown}"
            f"{', ...' if len(gaps) > 5 else ''}"
        )
    for column in categorical:
        counts = features[column].value_counts()
        n = int((counts >= min_category_rows).sum())
        if (counts < min_category_rows).any():
            n += 1  # the rare ones, together
        if n >= MANY_CATEGORIES:
            hint = ""
            if min_category_rows == 1:
                hint = "; data.min_category_rows: 5 puts those of fewer rows together in one"
            warnings.append(
                f"{origin}: column {column!r} has {n} categories in {len(frame)} rows, each made "
                f"a column of its own (is it an id or free text?){hint}"
            )
    if test_from is None:
        n_dup = int(frame.duplicated().sum())
        if n_dup:
            warnings.append(
                f"{origin}: {n_dup} duplicated row(s); they may land in both train and test"
            )
    else:  # the file's own split: which test rows are training rows is known
        seen = pd.util.hash_pandas_object(frame.iloc[:test_from], index=False)
        tests = pd.util.hash_pandas_object(frame.iloc[test_from:], index=False)
        if shared := int(tests.isin(seen).sum()):
            warnings.append(
                f"{origin}: {shared} of the {len(tests)} test rows (data.test_path) are training "
                "rows too, the same in every column: they score the classifiers on rows they "
                "trained on"
            )
    return warnings


def check_ignored(
    columns: Sequence[str], ignore: Sequence[str], origin: str, option: str = "data.ignore"
) -> None:
    """Each column that ``data.ignore`` (or another ``option``) names is among ``columns``."""
    missing = [c for c in ignore if c not in columns]
    if missing:
        shown = first_few([str(c) for c in columns], most=8)
        raise AefxError(
            f"{origin}: {option} names column(s) {', '.join(map(repr, missing))} that it does "
            f"not have (columns: {shown})"
        )


def check_categorical(
    frame: pd.DataFrame, categorical: Sequence[str], origin: str, reserved: Sequence[str] = ()
) -> None:
    """Each column that ``data.categorical`` names is there, holds none of the ``reserved``
    categories (those aefx makes: rare ones together, a missing one), and no other column
    already has the name of one of the 0/1 columns its categories will make (``colour=red``)."""
    check_ignored(list(frame.columns), categorical, origin, "data.categorical")
    for column in categorical:
        for category in category_text(frame[column]).dropna().unique():
            if category in reserved:
                raise AefxError(
                    f"{origin}: column {column!r} holds the category {category!r}, the name aefx "
                    "gives the category it makes of rare or missing ones; rename it"
                )
            if (name := one_hot_name(column, category)) in frame.columns:
                raise AefxError(
                    f"{origin}: column {name!r} has the name that category {category!r} of "
                    f"{column!r} would be given as a column of its own; rename it"
                )


def index_ignored(frame: pd.DataFrame, ignore: Sequence[str], origin: str) -> pd.DataFrame:
    """``frame`` with the columns that ``data.ignore`` names (each must be there) as its index:
    out of the features, yet beside their rows through the split, for ingest to write with
    them."""
    check_ignored(list(frame.columns), ignore, origin)
    return frame.set_index(list(ignore)) if ignore else frame


def validate_table(
    frame: pd.DataFrame,
    label: str,
    origin: str,
    test_size: float = 0.33,
    stratify: bool = False,
    ignore: Sequence[str] = (),
    categorical: Sequence[str] = (),
    impute: str | None = None,
    missing_category: bool = False,
    reserved: Sequence[str] = (),
    split: bool = True,
    test_rows: bool = False,
) -> pd.DataFrame:
    """Check ``frame`` against every rule (without ``split``, not those of splitting its rows and
    their classes: a file of test rows alone); raise one AefxError listing all broken rules, else
    return it with float features (the ``categorical`` ones as text; missing values left for
    ``impute`` to fill, or, with ``missing_category``, for a column of categories to count as
    one; ``reserved`` as in :func:`check_categorical`) and the label last, the ``ignore``
    columns its index (its :func:`table_warnings` are the caller's to log: ingest logs them
    when it writes the splits). ``test_rows``: a file of test rows, whose missing values the
    training rows fill, so a column of them may have none at all."""
    import pandera.pandas as pa

    if label not in frame.columns:
        shown = ", ".join(list(frame.columns)[:8]) + (", ..." if frame.shape[1] > 8 else "")
        near = [c for c in frame.columns if str(c).strip().casefold() == label.strip().casefold()]
        if near:
            hint = f"; column {near[0]!r} differs from it only in case or spaces"
        elif found := separator_hint(list(frame.columns), origin) or header_hint(frame.columns):
            hint = f"; {found}"
        elif frame.shape[1] > 1:  # a table's label is often its last column
            last = str(frame.columns[-1])
            hint = f"; if the last column, {last!r}, is the label, set data.label to it"
        else:
            hint = ""
        raise AefxError(f"{origin}: label column {label!r} not found (columns: {shown}){hint}")
    frame = index_ignored(frame, ignore, origin)
    check_categorical(frame, categorical, origin, reserved)
    features = [c for c in frame.columns if c != label]
    if not features:
        also = " and data.ignore's columns" if ignore else ""
        raise AefxError(f"{origin}: no feature columns besides the label {label!r}{also}")
    problems: list[str] = []
    failed: set[str] = set()
    try:
        table_schema(
            features, label, categorical, gaps=impute is not None, category_gaps=missing_category
        ).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        text_table = is_text_table(Path(origin))
        problems += _column_problems(frame, label, exc.failure_cases, categorical, text_table)
        failed = set(exc.failure_cases["column"])
    if impute and not test_rows:  # a column without a single value has nothing to be filled from
        filled = [c for c in features if not (missing_category and c in categorical)]
        empty = [c for c in filled if c not in failed and frame[c].isna().all()]
        problems += [f"column {c!r} has no values (all missing)" for c in empty]
    if split and not frame[label].isna().any():
        problems += table_problems(frame, label, test_size, stratify)
    if problems:
        raise AefxError(f"{origin}: " + "; ".join(problems))
    return with_feature_types(frame, label, categorical)


def with_feature_types(
    frame: pd.DataFrame, label: str, categorical: Sequence[str] = ()
) -> pd.DataFrame:
    """``frame``'s features as floats, the ``categorical`` ones as text, and the label last."""
    out = {
        column: category_text(frame[column])
        if column in categorical
        else frame[column].astype(float)
        for column in frame.columns
        if column != label
    }
    return pd.DataFrame({**out, label: frame[label]}, index=frame.index)


PARQUET_MAGIC = b"PAR1"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte order marks


def check_content(path: Path, header: bool = True) -> None:
    """A file must be what its name says: Parquet starts with PAR1, a CSV is text (once
    decompressed, for a compressed one); and with ``header``, every column of a CSV has a name
    of its own (``check_csv_header``)."""
    table = table_file(path) or TableFile("csv")  # a labels file of images is a CSV
    if table.folder:  # a Parquet file is read by pyarrow, which names one that is not Parquet
        if table.kind == "csv":
            for part in text_files(path):
                check_content(part, header)
        return
    head = csv_head(path, table.codec)
    is_parquet = head.startswith(PARQUET_MAGIC)
    if table.kind == "parquet" and head and not is_parquet:
        raise AefxError(
            f"{path}: not a Parquet file (it does not start with Parquet's magic bytes)"
        )
    if table.kind == "csv" and head.startswith(UTF16_BOMS):  # Excel's "Unicode Text"
        raise AefxError(f"{path}: is UTF-16 text, not UTF-8; save it as UTF-8")
    if table.kind == "csv" and (is_parquet or b"\x00" in head):
        kind = "a Parquet file" if is_parquet else "binary data"
        raise AefxError(f"{path}: named {table_suffix(path)} but holds {kind}")
    if header and table.kind == "csv":
        check_csv_header(path, table.codec, table.delimiter)


# The bytes each codec's stream starts with: a file without them is not in that compression.
CODEC_MAGIC = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "zstd": b"\x28\xb5\x2f\xfd"}


def csv_head(path: Path, codec: str | None) -> bytes:
    """The first 4 KiB of the file, decompressed with ``codec``. A file that does not start
    the way that compression does is refused in one line, and so is one cut off before 4 KiB
    of text (as unreadable)."""
    if codec is not None:
        with open(path, "rb") as handle:
            magic = CODEC_MAGIC[codec]
            if handle.read(len(magic)) != magic:
                raise AefxError(
                    f"{path}: named {table_suffix(path)} but is not {codec}-compressed (it does "
                    "not start with the compression's magic bytes)"
                )
    try:
        with open_table(path, codec) as handle:
            return handle.read(4096)
    except OSError as exc:
        if codec is None:
            raise
        raise unreadable(path, exc) from None


def check_csv_header(path: Path, codec: str | None = None, delimiter: str = ",") -> None:
    """Every column of a CSV's header has a name of its own.

    pandas reads a repeated name ``a`` as ``a`` and ``a.1``, and a nameless column (the row
    index that ``to_csv`` writes by default) as ``Unnamed: 0``: both would then be features
    under names that the file does not have, the index one that follows the row order."""
    import csv
    import io

    delimiter = text_separator(path, codec, delimiter)
    try:
        with io.TextIOWrapper(
            open_table(path, codec), newline="", encoding="utf-8-sig", errors="replace"
        ) as handle:
            header = next((row for row in csv.reader(handle, delimiter=delimiter) if row), [])
    except OSError as exc:  # a compressed file cut off in the first block read
        if codec is None:
            raise
        raise unreadable(path, exc) from None
    first: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        if not name.strip() and number == len(header) > 1:  # a spreadsheet's export, often
            shown = "a tab" if delimiter == "\t" else repr(delimiter)
            raise AefxError(
                f"{path}: the header's last column ({number}) has no name (does each line end "
                f"with {shown}? remove the trailing delimiters, or name the column)"
            )
        if not name.strip():
            raise AefxError(
                f"{path}: column {number} of the header has no name (a saved row index? "
                "write the file without it, e.g. to_csv(index=False), or name the column)"
            )
        if name in first:
            raise AefxError(
                f"{path}: the header names {name!r} twice (columns {first[name]} and {number}); "
                "give each column a name of its own"
            )
        first[name] = number


# What pandas and pyarrow raise for a file they cannot read: ParserError, EmptyDataError,
# UnicodeDecodeError and ArrowInvalid are ValueErrors; ArrowIOError is an OSError.
READ_ERRORS = (ValueError, OSError)


def unreadable(path: Path, exc: Exception) -> AefxError:
    """One line for a table file that pandas or pyarrow could not read."""
    if isinstance(exc, pd.errors.EmptyDataError):
        return AefxError(f"{path}: file is empty")
    kind = (table_file(path) or TableFile("csv")).label
    reason = first_line(exc)
    if isinstance(exc, UnicodeDecodeError):  # a spreadsheet's export in a legacy encoding
        return AefxError(
            f"{path}: cannot be read as CSV, it is not UTF-8 ({reason}); save it as UTF-8"
        )
    return AefxError(f"{path}: cannot be read as {kind} ({reason})")


def table_bytes(path: Path) -> int:
    """Estimated memory of the loaded table: rows x columns x 8 for Parquet (from its footer),
    the file's size for a CSV (its text is about as large as the floats it holds). A compressed
    CSV's file size says little of its text, which is counted as it is read instead
    (:func:`aefx.io.read_csv`'s ``limit``); for a folder, see :func:`dataset_bytes`."""
    table = table_file(path)
    if table is None or table.kind == "csv":
        return path.stat().st_size
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # a corrupt footer: the reader reports it properly
        return 0
    return int(meta.num_rows) * int(meta.num_columns) * 8


def dataset_bytes(dataset: Any) -> int:
    """:func:`table_bytes` of a folder of Parquet files, as a pyarrow dataset (from the files'
    footers)."""
    try:
        return int(dataset.count_rows()) * len(dataset.schema) * 8
    except Exception:  # a corrupt footer: the reader reports it properly
        return 0


SMALLER_FILE = "raise the budget, or use a smaller file"


def check_budget(path: Path, estimate: int, budget_mb: float, advice: str = SMALLER_FILE) -> None:
    if estimate > budget_mb * 2**20:
        raise over_budget(path, estimate, budget_mb, advice=advice)


def over_budget(
    path: Path, estimate: int, budget_mb: float, partial: bool = False, advice: str = SMALLER_FILE
) -> AefxError:
    """The refusal of ``path`` at ``estimate`` bytes; ``partial``: a count that stopped once
    over the budget, so a lower bound."""
    needs = "more than" if partial else "about"
    # Under half a megabyte would round to "0 MB" (a budget set below 1 MB): say it in KB.
    size = f"{estimate / 2**10:,.0f} KB" if estimate < 2**19 else f"{estimate / 2**20:,.0f} MB"
    return AefxError(
        f"{path}: needs {needs} {size} in memory, over data.memory_budget_mb={budget_mb:g} "
        f"({advice})"
    )
