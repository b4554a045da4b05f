"""Input validation: every broken rule reported at once, warnings for suspicious data, files
that are not what their names say, a memory budget, and a property test with hostile frames."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from aefx.config import DataConfig
from aefx.errors import AefxError
from aefx.validation import over_budget, table_warnings, validate_table
from tasks.ingest import ingest


def run_ingest(cfg: DataConfig, out):
    return ingest(cfg, out / "train.parquet", out / "test.parquet", out / "schema.json")


def test_every_broken_rule_is_reported_at_once():
    frame = pd.DataFrame(
        {
            "a": [1.0, np.nan] * 3,
            "b": ["1", "x"] * 3,
            "c": [np.inf, 1.0] * 3,
            "label": [1] * 6,
        }
    )
    with pytest.raises(AefxError) as err:
        validate_table(frame, "label", "mine.csv")
    message = str(err.value)
    assert "\n" not in message and message.startswith("mine.csv: ")
    for needle in (
        "column 'a' has 3 missing and 0 infinite values",
        "column 'b' is not numeric (value 'x')",
        "column 'c' has 0 missing and 3 infinite values",
        "6 rows are too few to split",
        "label column 'label' has a single class (1)",
    ):
        assert needle in message


def test_a_parquet_column_of_lists_is_refused_in_one_line(tmp_path):
    """A Parquet list column (tags, a vector) reaches pandas as arrays; naming an example value
    raised a traceback (`can only convert an array of size 1 to a Python scalar`)."""
    frame = pd.DataFrame({"a": np.arange(40.0), "label": [0, 1] * 20})
    frame["tags"] = [[1, 2]] * 40
    frame.to_parquet(tmp_path / "lists.parquet")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=tmp_path / "lists.parquet"), tmp_path / "out")
    assert str(caught.value) == (
        f"{tmp_path / 'lists.parquet'}: column 'tags' is not numeric (value [1, 2]); "
        "data.categorical: [tags] makes one column of each category if it holds categories; "
        "data.ignore: [tags] keeps it out if it is no feature (an id, a name)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("missing", "needle"), [(1, "1 missing value"), (2, "2 missing values")])
def test_rows_without_a_label_are_counted(missing, needle):
    frame = pd.DataFrame({"a": np.arange(20.0), "label": [0.0, 1.0] * 10})
    frame.loc[: missing - 1, "label"] = np.nan
    with pytest.raises(AefxError, match=f"^mine.csv: label column 'label' has {needle}$"):
        validate_table(frame, "label", "mine.csv")


def test_a_csv_that_is_not_utf8_says_so(tmp_path):
    """Latin-1, as many spreadsheets export: a header with an accented name."""
    path = tmp_path / "mine.csv"
    path.write_bytes("café,label\n".encode("latin-1") + b"0.5,0\n1.5,1\n" * 10)
    with pytest.raises(AefxError) as caught:
        ingest(DataConfig(source="file", path=path), *(tmp_path / n for n in ("a", "b", "c")))
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot be read as CSV, it is not UTF-8 (")
    assert message.endswith("); save it as UTF-8") and "\n" not in message


@pytest.mark.parametrize(
    ("name", "sep", "hint"),
    [
        ("mine.csv", "\t", "write the CSV comma-separated, or name it .tsv"),
        ("mine.tsv", ",", "write the TSV tab-separated, or name it .csv"),
        ("mine.tsv", "|", "write the TSV tab-separated"),
        ("mine.tsv", ";", "write the TSV tab-separated, or name it .csv"),
    ],
)
def test_a_csv_with_another_separator_is_named_as_such(tmp_path, name, sep, hint):
    """A spreadsheet's export in many locales: read with commas, the header is one column."""
    path = tmp_path / name
    pd.DataFrame({"a": [0.5, 1.5] * 10, "label": [0, 1] * 10}).to_csv(path, sep=sep, index=False)
    with pytest.raises(AefxError) as caught:
        ingest(DataConfig(source="file", path=path), *(tmp_path / n for n in ("a", "b", "c")))
    assert str(caught.value) == (
        f"{path}: label column 'label' not found (columns: a{sep}label); the header holds "
        f"{sep!r}: {hint}"
    )


@pytest.mark.parametrize("header", ["label ", "Label"])
def test_a_label_header_off_by_case_or_a_space_is_pointed_at(tmp_path, header):
    """A trailing space, or a capital, in a spreadsheet's header: the columns listed stop after
    eight, so the near miss was out of sight."""
    path = tmp_path / "mine.csv"
    frame = pd.DataFrame({f"f{i}": [0.5, 1.5] * 10 for i in range(9)})
    frame[header] = [0, 1] * 10
    frame.to_csv(path, index=False)
    with pytest.raises(AefxError) as caught:
        ingest(DataConfig(source="file", path=path), *(tmp_path / n for n in ("a", "b", "c")))
    assert str(caught.value).endswith(
        f", ...); column {header!r} differs from it only in case or spaces"
    )
    assert not (tmp_path / "a").exists()


def test_a_label_under_another_name_is_pointed_at_by_the_last_column(tmp_path):
    """scikit-learn's breast cancer table as a CSV: 30 features, then `target`. The columns
    listed stop after eight, so the one line left the label out of sight and said nothing of
    how to name it."""
    path = tmp_path / "cancer.csv"
    frame = pd.DataFrame({f"mean_{i}": [0.5, 1.5] * 10 for i in range(30)})
    frame["target"] = [0, 1] * 10
    frame.to_csv(path, index=False)
    with pytest.raises(AefxError) as caught:
        ingest(DataConfig(source="file", path=path), *(tmp_path / n for n in ("a", "b", "c")))
    assert str(caught.value).endswith(
        ", ...); if the last column, 'target', is the label, set data.label to it"
    )
    assert not (tmp_path / "a").exists()
    # Named so, it is the label: the splits are written.
    named = DataConfig(source="file", path=path, label="target")
    ingest(named, *(tmp_path / n for n in ("a", "b", "c")))
    assert list(pd.read_parquet(tmp_path / "a").columns)[-1] == "target"


def test_one_class_holding_most_rows_warns_that_accuracy_mostly_counts_it():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=100), "label": ["no"] * 85 + ["yes"] * 15})
    assert table_warnings(frame, "label", "mine.csv") == [
        "mine.csv: class 'no' of 'label' holds 85% of the rows, so accuracy mostly counts it; "
        "evaluation.metric: f1_macro weighs every class alike"
    ]
    frame["label"] = ["no"] * 75 + ["yes"] * 25
    assert table_warnings(frame, "label", "mine.csv") == []
    # A share that rounds to 100% reads short of it: the other class has rows.
    for majority, rows, shown in ((398, 400, "99.5%"), (1999, 2000, "99.9%"), (99, 100, "99%")):
        frame = pd.DataFrame(
            {"a": range(rows), "label": ["no"] * majority + ["yes"] * (rows - majority)}
        )
        [warning] = [w for w in table_warnings(frame, "label", "mine.csv") if "accuracy" in w]
        assert f"holds {shown} of the rows" in warning


def test_constant_columns_and_duplicated_rows_warn_but_pass():
    frame = pd.DataFrame({"a": [1.0] * 20, "b": [0.0, 1.0] * 10, "label": [0, 1] * 10})
    out = validate_table(frame, "label", "mine.csv")
    assert out.shape == (20, 3)
    assert table_warnings(frame, "label", "mine.csv") == [
        "mine.csv: 1 constant column(s) carry no information: a",
        "mine.csv: 18 duplicated row(s); they may land in both train and test",
    ]


def test_ignored_columns_are_left_out_of_the_features_and_must_be_there():
    """A customer table with an id and a name was refused for its text column, and a numeric id
    was trained on as a feature: the only way out was to edit the file."""
    frame = pd.DataFrame(
        {
            "name": [f"c{i}" for i in range(20)],
            "a": np.linspace(0, 1, 20),
            "id": np.arange(20),
            "label": [0, 1] * 10,
        }
    )
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv")
    assert str(caught.value) == (
        "mine.csv: column 'name' is not numeric (value 'c0'); data.categorical: [name] makes one "
        "column of each category if it holds categories; data.ignore: [name] keeps it out if it "
        "is no feature (an id, a name)"
    )
    out = validate_table(frame, "label", "mine.csv", ignore=("name", "id"))
    assert list(out.columns) == ["a", "label"]
    assert list(frame.columns) == ["name", "a", "id", "label"]  # the caller's frame is kept
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv", ignore=("name", "ID", "nope"))
    assert str(caught.value) == (
        "mine.csv: data.ignore names column(s) 'ID', 'nope' that it does not have "
        "(columns: name, a, id, label)"
    )
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv", ignore=("name", "id", "a"))
    assert str(caught.value) == (
        "mine.csv: no feature columns besides the label 'label' and data.ignore's columns"
    )


def test_columns_of_categories_are_kept_as_text_and_checked_for_what_they_can_break():
    """A column that data.categorical names may hold text or codes: it is kept as text (the
    scale stage makes a 0/1 column of each category); it must be there and complete, and no
    other column may already have the name one of its categories will be given."""
    frame = pd.DataFrame(
        {
            "x": np.linspace(0, 1, 20),
            "region": ["north", "south", "east", "west"] * 5,
            "size": [1, 2] * 10,
            "label": [0, 1] * 10,
        }
    )
    out = validate_table(frame, "label", "mine.csv", categorical=("region", "size"))
    assert list(out.columns) == ["x", "region", "size", "label"]
    assert out["x"].dtype == "float64"
    assert list(out["region"][:4]) == ["north", "south", "east", "west"]
    assert list(out["size"][:2]) == ["1", "2"]
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv", categorical=("regions",))
    assert str(caught.value) == (
        "mine.csv: data.categorical names column(s) 'regions' that it does not have "
        "(columns: x, region, size, label)"
    )
    holed = frame.astype({"region": object})
    holed.loc[[3, 8], "region"] = None
    with pytest.raises(AefxError) as caught:
        validate_table(holed, "label", "mine.csv", categorical=("region",))
    assert str(caught.value) == (
        "mine.csv: column 'region' has 2 missing values; data.impute: median fills missing "
        "values from the training split (data.missing_category: true makes a missing category "
        "one of its own)"
    )
    taken = frame.assign(**{"size=2": 0.0})
    with pytest.raises(AefxError) as caught:
        validate_table(taken, "label", "mine.csv", categorical=("size",))
    assert str(caught.value) == (
        "mine.csv: column 'size=2' has the name that category '2' of 'size' would be given as "
        "a column of its own; rename it"
    )


def test_missing_values_are_refused_with_a_hint_or_kept_for_data_impute_to_fill():
    frame = pd.DataFrame(
        {
            "x": np.linspace(0, 1, 20),
            "region": ["north", "south"] * 10,
            "label": [0, 1] * 10,
        }
    )
    frame.loc[[2, 5], "x"] = np.nan
    frame.loc[7, "region"] = None
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv", categorical=("region",))
    assert str(caught.value) == (
        "mine.csv: column 'x' has 2 missing and 0 infinite values; column 'region' has 1 missing "
        "value; data.impute: median fills missing values from the training split "
        "(data.missing_category: true makes a missing category one of its own)"
    )
    out = validate_table(frame, "label", "mine.csv", categorical=("region",), impute="median")
    assert out["x"].isna().sum() == 2 and out["region"].isna().sum() == 1  # not the text 'nan'
    assert list(out["region"][:2]) == ["north", "south"]
    assert table_warnings(frame, "label", "mine.csv", ("region",), "median") == [
        "mine.csv: 3 missing value(s) will be filled with the training split's median (the most "
        "frequent category for categories), in x (2), region (1)"
    ]
    # Still refused with data.impute: nothing to fill from, an infinity, a missing label.
    frame["x"] = np.nan
    frame = frame.assign(y=np.r_[np.inf, np.zeros(19)])
    frame.loc[4, "label"] = np.nan
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv", categorical=("region",), impute="mean")
    assert str(caught.value) == (
        "mine.csv: label column 'label' has 1 missing value; column 'y' has 0 missing and 1 "
        "infinite values; column 'x' has no values (all missing)"
    )


def test_a_column_of_many_categories_warns_that_each_makes_a_column():
    frame = pd.DataFrame(
        {"x": np.linspace(0, 1, 120), "city": [f"c{i % 60}" for i in range(120)]}
    ).assign(label=[0, 1] * 60)
    assert table_warnings(frame, "label", "mine.csv", ("city",)) == [
        "mine.csv: column 'city' has 60 categories in 120 rows, each made a column of its own "
        "(is it an id or free text?); data.min_category_rows: 5 puts those of fewer rows "
        "together in one"
    ]
    assert table_warnings(frame.iloc[::3], "label", "mine.csv", ("city",)) == []
    # Each city has two rows: with data.min_category_rows 3 they are all one category.
    assert table_warnings(frame, "label", "mine.csv", ("city",), min_category_rows=3) == []


def test_rare_categories_become_one_and_a_missing_category_one_of_its_own(tmp_path):
    """data.min_category_rows puts the categories of fewer training rows together in one,
    '(other)'; data.missing_category makes a missing value of a column of categories a
    category, '(missing)', kept at ingest without data.impute (and not filled by it); a
    column already holding a category of either name is refused."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=90),
            "city": np.array(["lyon", "paris"], dtype=object)[np.arange(90) % 2],
            "plan": 1 + np.arange(90) % 2,
            "label": [0, 1, 1] * 30,
        }
    ).astype({"plan": object})
    frame.loc[[3, 6, 40, 43, 50, 53], "city"] = ["nice"] * 4 + ["brest"] * 2
    frame.loc[::3, "plan"] = None
    frame.to_csv(tmp_path / "mine.csv", index=False)
    cfg = DataConfig(
        source="file",
        path=tmp_path / "mine.csv",
        categorical=("city", "plan"),
        min_category_rows=5,
        missing_category=True,
        impute="median",
    )
    run_ingest(cfg, tmp_path)
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert schema["categories"] == {
        "city": ["lyon", "paris", "(other)"],
        "plan": ["(missing)", "1", "2"],
    }
    assert schema["missing_category"] is True
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert train["plan"].isna().any()  # kept as the file has it, for the scale stage
    # Without data.min_category_rows every category is its own; without
    # data.missing_category a missing plan is filled, the most frequent plan of training.
    run_ingest(cfg.model_copy(update={"min_category_rows": 1, "missing_category": False}), tmp_path)
    schema = json.loads((tmp_path / "schema.json").read_text())
    cities = sorted(pd.read_parquet(tmp_path / "train.parquet")["city"].unique())
    assert len(cities) > 2 and schema["categories"]["city"] == cities
    assert schema["categories"]["plan"] == ["1", "2"]

    for name, update in (("(other)", {}), ("(missing)", {"min_category_rows": 1})):
        taken = frame.assign(city=frame["city"].replace("brest", name))
        taken.to_csv(tmp_path / "taken.csv", index=False)
        with pytest.raises(AefxError) as caught:
            run_ingest(cfg.model_copy(update={"path": tmp_path / "taken.csv", **update}), tmp_path)
        assert str(caught.value) == (
            f"{tmp_path / 'taken.csv'}: column 'city' holds the category {name!r}, the name aefx "
            "gives the category it makes of rare or missing ones; rename it"
        )


def test_numbers_with_a_missing_marker_are_not_taken_for_a_column_to_ignore():
    """A numeric column with '?' for its missing values (as UCI files write them) is data to
    mend, not an id or a name: the hint to ignore it is for columns mostly of words."""
    frame = pd.DataFrame(
        {"a": [str(v) for v in np.linspace(0, 1, 20)], "label": [0, 1] * 10}
    ).astype({"a": object})
    frame.loc[[3, 11], "a"] = "?"
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv")
    assert str(caught.value) == "mine.csv: column 'a' is not numeric (value '?')"


def test_a_column_numbering_the_rows_warns_that_it_may_be_an_id():
    """A row number learns the file's order (a file sorted by class gives it away), not the
    data; whole numbers with a gap or a repeat, or fractions, are taken as data."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "key": rng.permutation(np.arange(101.0, 131.0)),  # shuffled, as after a split
            "count": np.r_[np.arange(29.0), 40.0],  # a gap
            "level": np.arange(30.0) // 2,  # repeats
            "x": np.arange(30.0) + 0.5,
            "label": [0, 1] * 15,
        }
    )
    assert table_warnings(frame, "label", "mine.csv") == [
        "mine.csv: column 'key' holds the whole numbers 101 to 130, one per row (a row id?); "
        "data.ignore: [key] keeps it out of the features"
    ]


def test_a_class_written_two_ways_warns_that_it_counts_twice():
    """'yes' and 'Yes', or 'no' and 'no ' (a hand-kept spreadsheet), became two classes each,
    silently: every classifier was then scored on telling a class from itself."""
    frame = pd.DataFrame({"a": np.linspace(0, 1, 24), "label": ["yes", "no", "Yes", "no "] * 6})
    assert table_warnings(frame, "label", "mine.csv") == [
        "mine.csv: classes of 'label' written more than one way (in case or spaces) count as "
        "different classes: 'Yes'/'yes', 'no'/'no '; write each class one way"
    ]
    assert table_warnings(frame.assign(label=["yes", "no"] * 12), "label", "mine.csv") == []


def test_a_continuous_label_is_refused_and_whole_numbered_floats_are_classes():
    """A regression target failed at compare_classifiers, after the autoencoders trained, in
    scikit-learn's traceback ('Unknown label type: continuous'). Floats that are whole numbers
    (a label column with a gap, which pandas reads as 0.0, 1.0) stay classes."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=30), "label": [0.0, 1.0, 2.0] * 10})
    assert list(validate_table(frame, "label", "mine.csv")["label"].unique()) == [0.0, 1.0, 2.0]
    frame.loc[7, "label"] = 1.25
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv")
    assert str(caught.value) == (
        "mine.csv: label column 'label' holds continuous values (4 distinct, e.g. 1.25), and aefx "
        "compares classifiers: give it classes (integers or text; bin a numeric target first)"
    )


def test_a_label_with_a_class_per_row_is_refused():
    """An id column named as the label ran to the end: test rows of classes never trained on
    (accuracy 0 for every cell) and 1,641 scikit-learn warnings in a 200-row run."""
    frame = pd.DataFrame({"a": np.arange(40.0), "label": np.arange(40) // 2})  # 2 rows a class
    validate_table(frame, "label", "mine.csv")
    frame.loc[0, "label"] = -1
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.csv")
    assert str(caught.value) == (
        "mine.csv: label column 'label' has 21 distinct values in 40 rows, so most classes have "
        "a single row (an id rather than a class?); a classifier needs several rows per class"
    )


def test_unused_categories_of_a_categorical_label_are_no_classes():
    """A Parquet file from a filtered pandas frame keeps its label's unused categories: they
    were counted as classes of 0 rows, which stratifying refused."""
    labels = pd.Categorical(["a", "b"] * 20, categories=["a", "b", "gone"])
    frame = pd.DataFrame({"x": np.arange(40.0), "label": labels})
    out = validate_table(frame, "label", "mine.parquet", stratify=True)
    assert sorted(set(out["label"])) == ["a", "b"]


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        (pd.date_range("2020", periods=20, unit="s"), "datetime64[s]"),
        (pd.Categorical([1, 2] * 10), "category"),
    ],
)
def test_a_column_of_numbers_in_a_type_that_is_not_numeric_names_its_type(column, dtype):
    """Every value converts to a number, so the line quoted one as the culprit: 'is not
    numeric (value np.int64(1))'."""
    frame = pd.DataFrame({"a": np.arange(20.0), "b": column, "label": [0, 1] * 10})
    with pytest.raises(AefxError) as caught:
        validate_table(frame, "label", "mine.parquet")
    assert str(caught.value) == (
        f"mine.parquet: column 'b' is not numeric (its type is {dtype}; store it as numbers)"
    )


def test_classes_too_small_to_stratify():
    frame = pd.DataFrame({"a": np.arange(20.0), "label": [0] * 19 + [1]})
    with pytest.raises(AefxError, match="class 1 in 'label' has 1 row"):
        validate_table(frame, "label", "mine.csv", stratify=True)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("data.csv", b"PAR1\x00\x00binary", "named .csv but holds a Parquet file"),
        ("data.csv", b"a,b\n\x00\x01\x02", "named .csv but holds binary data"),
        ("data.tsv", "a\tb\n1\t2\n".encode("utf-16"), "is UTF-16 text, not UTF-8; save it as"),
        ("data.parquet", b"a,b,label\n1,2,0\n", "not a Parquet file"),
    ],
)
def test_a_file_that_is_not_what_its_extension_says(tmp_path, name, content, needle):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(AefxError, match=needle):
        run_ingest(DataConfig(source="file", path=tmp_path / name), tmp_path / "out")
    assert not (tmp_path / "out").exists()


CODECS = [(".gz", "gzip"), (".bz2", "bz2"), (".zst", "zstd")]


def compress(path: Path, data: bytes, codec: str) -> Path:
    import pyarrow as pa

    with pa.output_stream(str(path), compression=codec) as sink:
        sink.write(data)
    return path


@pytest.mark.parametrize(("suffix", "codec"), CODECS)
def test_a_compressed_csv_is_read_as_the_plain_one(tmp_path, suffix, codec):
    """Data sets are often published as table.csv.gz; ingest refused it (`unsupported file
    type '.gz'`) and it had to be unpacked by hand, beside the DVC-tracked original."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"])
    frame["town"] = rng.choice(["lyon", "nice", "paris"], size=60)
    frame["label"] = rng.choice(["yes", "no"], size=60)
    plain = tmp_path / "table.csv"
    frame.to_csv(plain, index=False)
    packed = compress(tmp_path / f"table.csv{suffix}", plain.read_bytes(), codec)
    assert packed.stat().st_size < plain.stat().st_size / 2

    results = [
        run_ingest(DataConfig(source="file", path=path, categorical=["town"]), tmp_path / out)
        for path, out in ((plain, "plain"), (packed, "packed"))
    ]
    assert results[0] == results[1] and results[0].n_train + results[0].n_test == 60
    for name in ("train.parquet", "test.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "plain" / name), pd.read_parquet(tmp_path / "packed" / name)
        )
    assert (tmp_path / "plain" / "schema.json").read_text() == (
        tmp_path / "packed" / "schema.json"
    ).read_text()


def towns_table() -> pd.DataFrame:
    """60 rows of three numbers, a town (one name with a comma) and a yes/no label."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["town"] = rng.choice(["saint-étienne", "nice, old town", "paris"], size=60)
    frame["label"] = rng.choice(["yes", "no"], size=60)
    return frame


def assert_ingested_alike(tmp_path: Path, frame: pd.DataFrame, path: Path, text: str) -> None:
    """``text`` written to ``path`` (gzip-compressed for a .gz) makes the same splits, byte for
    byte, as ``frame``'s comma CSV."""
    plain = tmp_path / "comma.csv"
    frame.to_csv(plain, index=False)
    data = text.encode()
    path.write_bytes(data) if path.suffix != ".gz" else compress(path, data, "gzip")
    categorical = [c for c in ["town"] if c in frame]
    results = [
        run_ingest(DataConfig(source="file", path=p, categorical=categorical), tmp_path / out)
        for p, out in ((plain, "csv"), (path, "other"))
    ]
    assert results[0] == results[1] and results[0].n_train + results[0].n_test == len(frame)
    for part in ("train.parquet", "test.parquet", "schema.json"):
        assert (tmp_path / "csv" / part).read_bytes() == (tmp_path / "other" / part).read_bytes()


@pytest.mark.parametrize("name", ["table.tsv", "table.tsv.gz"])
def test_a_tsv_is_read_as_the_csv_of_the_same_table(tmp_path, name):
    """Tab-separated files, as many scientific data sets come, were refused (`unsupported
    file type '.tsv'`); read by the CSV reader with a tab, they make the same splits."""
    frame = towns_table()
    assert_ingested_alike(tmp_path, frame, tmp_path / name, frame.to_csv(sep="\t", index=False))

    # The header check splits a TSV's header at its tabs: a name given twice is still refused.
    repeated = tmp_path / "repeated.tsv"
    repeated.write_text("a\tb\ta\tlabel\n" + "1\t2\t3\t0\n" * 40)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=repeated), tmp_path / "out")
    assert str(caught.value).startswith(f"{repeated}: the header names 'a' twice (columns 1 and 3)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "decimal"), [("table.csv", ","), ("table.csv.gz", ","), ("table.csv", ".")]
)
def test_a_semicolon_csv_is_read_as_the_comma_csv_of_the_same_table(tmp_path, name, decimal):
    """Spreadsheets save "CSV" with ';' between columns where a comma marks decimals (some
    with decimal points); such a file was refused (`the header holds ';': write the CSV
    comma-separated`). Read with its own delimiter and decimal mark, it makes the same splits."""
    frame = towns_table()
    text = frame.to_csv(sep=";", decimal=decimal, index=False)
    first = text.split("\n")[1].split(";")[0]  # as the locale writes it
    assert ("," in first) == (decimal == ",")
    assert_ingested_alike(tmp_path, frame, tmp_path / name, text)

    # The header check splits the header at its semicolons: a trailing one is named as such.
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("a;b;label;\n" + "1,5;2;0;\n" * 40)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=trailing), tmp_path / "out")
    assert str(caught.value) == (
        f"{trailing}: the header's last column (4) has no name (does each line end with ';'? "
        "remove the trailing delimiters, or name the column)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "decimal"), [("counts.csv", "."), ("counts.csv.gz", "."), ("counts.csv", ",")]
)
def test_a_semicolon_csv_of_whole_numbers_with_a_decimal_late_is_read_as_its_comma_csv(
    tmp_path, name, decimal
):
    """A semicolon CSV whose first 64 KiB held whole numbers only was read with decimal
    commas, so a decimal point further on made its column text, refused as `column 'b' is not
    numeric (its type is str; store it as numbers)`. The first mark its rows show decides."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 1000, size=(8000, 3)), columns=["a", "b", "c"])
    frame = frame.assign(label=rng.choice(["yes", "no"], size=8000)).astype({"b": float})
    frame.loc[7990, "b"] = 2.5  # past the first 64 KiB
    text = frame.to_csv(sep=";", decimal=decimal, index=False).replace(f"{decimal}0;", ";")
    assert len(text.split(f"2{decimal}5")[0]) > 1 << 16
    assert re.search(r"\d[.,]\d", text).group() == f"2{decimal}5"  # the only mark
    assert_ingested_alike(tmp_path, frame, tmp_path / name, text)


def test_the_decimal_mark_of_a_semicolon_csv_is_seen_in_its_first_lines(tmp_path):
    """A decimal comma unless the first lines that show a mark show decimal points only; a
    comma in the header (or no ';' in it) keeps the file a comma CSV."""
    from aefx.io import text_dialect

    cases = {
        "a;b\n1,5;2\n3.5;4\n": (";", ","),  # both: the comma, which the locale writes
        "a;b\n1;2\n": (";", ","),  # integers only: the comma
        "a;b\n-1.5e-3;2\n.5;4": (";", "."),  # the last line, uncut, is read too
        "a,b;c\n1;2,5\n": (",", "."),
        "a\n1,5\n": (",", "."),
    }
    for number, (text, dialect) in enumerate(cases.items()):
        path = tmp_path / f"{number}.csv"
        path.write_text(text)
        assert text_dialect(path) == dialect, text
    assert text_dialect(tmp_path / "0.csv", delimiter="\t") == ("\t", ".")

    # Past whole numbers the first mark decides, wherever the blocks read cut its line.
    start = "a;b\n" + "7;8\n" * 16379 + "77;8\n" * 3  # 65535 bytes
    for tail, mark in (("1.5;2\n", "."), ("1,5;2\n3.5;4\n", ","), ("1;2\n" * 400_000, ",")):
        path = tmp_path / "late.csv"
        path.write_text(start + tail)
        assert text_dialect(path) == (";", mark), tail[:12]
    assert len(start) == 65535


def test_a_semicolon_csv_of_points_without_a_leading_zero_is_read_with_points(tmp_path):
    """`.5`, as some tools write numbers below 1, was passed over by the quick search for a
    mark between two digits, so the file was read with decimal commas."""
    from aefx.io import text_dialect

    path = tmp_path / "lead.csv"
    path.write_text("a;b\n.5;2\n-.25;4\n")
    assert text_dialect(path) == (";", ".")


@pytest.mark.parametrize(("decimal", "late"), [(",", "2.5"), (".", "2,5")])
def test_a_semicolon_csv_whose_decimal_marks_change_late_is_refused_naming_both(
    tmp_path, decimal, late
):
    """A semicolon CSV is read with the decimal mark its first rows show, so a number written
    with the other mark further on made its column text, refused as not numeric with a value
    that might not be the culprit: for commas then a late `2.5`, the first comma (`value
    '-0,132'`) and the hint for columns of words. Both marks are named now."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5000, 3)).round(3), columns=["a", "b", "c"])
    frame = frame.assign(label=rng.choice(["yes", "no"], size=5000))
    path = tmp_path / "mixed.csv"
    path.write_text(frame.to_csv(sep=";", decimal=decimal, index=False) + f"1;{late};3;yes\n")
    first = f"{frame.loc[0, 'b']:.3f}".replace(".", decimal)
    commas, points = (first, late) if decimal == "," else (late, first)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value) == (
        f"{path}: column 'b' mixes decimal marks ({commas!r} with a comma, {points!r} with a "
        "point): write its numbers with one mark"
    )
    assert not (tmp_path / "out").exists()

    # Numbers with a comma and words stay a column of text, refused as before.
    path.write_text("a;b;label\n" + "1;x;yes\n3;2,5;no\n" * 20)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value).startswith(f"{path}: column 'b' is not numeric (value 'x')")

    # Thousands separators, as a spreadsheet formats money, were `not numeric (value
    # '1.234,5')` with the hint for columns of words.
    path.write_text("a;b;label\n" + "1;12,5;yes\n3;-1.234,5;no\n" * 20)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value) == (
        f"{path}: column 'b' has numbers with thousands separators ('-1.234,5'): write them without"
    )
    assert not (tmp_path / "out").exists()


READ = (
    "in a file read with decimal commas (a semicolon CSV is where a comma marks decimals in its "
    "first rows): write all numbers with one mark"
)


def test_a_column_of_decimal_points_in_a_csv_read_with_decimal_commas_is_named_as_such(tmp_path):
    """A semicolon CSV whose first rows have decimal commas is read with them, so a column
    written with points came as text, refused as `is not numeric (its type is str; store it as
    numbers)` without a word of why; and there `1.234` is more likely a thousand and more.
    Named now, for a file and for a folder whose parts were read with different marks; a
    Parquet column of such text is refused as before."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 40)).round(3)
    label = np.array(["yes", "no"] * 20)
    rows = [
        f"{x:.3f};{f'{y:.3f}'.replace('.', ',')};{c}" for x, y, c in zip(a, b, label, strict=True)
    ]
    path = tmp_path / "points.csv"
    path.write_text("\n".join(["a;b;label", *rows]) + "\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value) == f"{path}: column 'a' has decimal points ({f'{a[0]:.3f}'!r}) {READ}"
    assert not (tmp_path / "out").exists()

    # Points first, and one comma in the first rows: read with commas, and named so (it said
    # "where the file's first numbers have decimal commas", which these are not).
    rows = [f"{x:.3f};{y:.3f};{c}" for x, y, c in zip(a, b, label, strict=True)]
    path.write_text("\n".join(["a;b;label", *rows, "1;2,5;yes"]) + "\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value).startswith(
        f"{path}: column 'a' has decimal points ({f'{a[0]:.3f}'!r}) {READ}; column 'b' mixes "
        "decimal marks ('2,5' with a comma, "
    )

    # Whole numbers in groups of three, as such a spreadsheet writes them.
    grouped = [f"{1000 * (i + 1):,}".replace(",", ".") for i in range(40)]  # 1.000 ... 40.000
    rows = [
        f"{x};{f'{y:.3f}'.replace('.', ',')};{c}" for x, y, c in zip(grouped, b, label, strict=True)
    ]
    path.write_text("\n".join(["a;b;label", *rows]) + "\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value) == (
        f"{path}: column 'a' has numbers with thousands separators ('1.000'): write them without"
    )

    # A folder: the first part, of points alone, is read with points; the second with commas,
    # and it is the one named (the folder and the first part's '0.5' were named before).
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "0.csv").write_text("a;b;label\n" + "0.5;1.5;yes\n0.25;2.5;no\n" * 10)
    (folder / "1.csv").write_text("a;b;label\n" + "0.75;1,5;yes\n1.25;2,5;no\n" * 10)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=folder), tmp_path / "out")
    assert str(caught.value) == f"{folder / '1.csv'}: column 'a' has decimal points ('0.75') {READ}"

    # A part whose marks change after its first rows, and one of thousands separators: named.
    (folder / "1.csv").write_text("a;b;label\n" + "0,75;1,5;yes\n" * 20 + "1.25;2,5;no\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=folder), tmp_path / "out")
    assert str(caught.value) == (
        f"{folder / '1.csv'}: column 'a' mixes decimal marks ('0,75' with a comma, "
        "'1.25' with a point): write its numbers with one mark"
    )
    (folder / "1.csv").write_text("a;b;label\n" + "0.5;1.234,5;yes\n" * 20)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=folder), tmp_path / "out")
    assert str(caught.value) == (
        f"{folder / '1.csv'}: column 'b' has numbers with thousands separators ('1.234,5'): "
        "write them without"
    )
    assert not (tmp_path / "out").exists()

    # In a Parquet file, a column of text is text whatever it holds.
    table = pd.DataFrame({"a": [f"{x:.3f}" for x in a], "b": b, "label": label})
    table.to_parquet(tmp_path / "points.parquet")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=tmp_path / "points.parquet"), tmp_path / "out")
    assert str(caught.value) == (
        f"{tmp_path / 'points.parquet'}: column 'a' is not numeric (its type is str; store it as "
        "numbers)"
    )
    assert not (tmp_path / "out").exists()


def regions_table() -> pd.DataFrame:
    """A table whose label and category columns hold text pandas reads as missing ('None',
    'null', 'NA' for North America), with missing numbers and one missing category."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)).round(3), columns=["a", "b", "c"])
    frame["a"] = frame["a"].mask(frame.index % 17 == 0)
    frame["region"] = rng.choice(["EU", "NA", "AS"], size=200)
    frame.loc[5, "region"] = None
    frame["severity"] = rng.choice(["None", "Mild", "null"], size=200)
    return frame


@pytest.mark.parametrize("name", ["table.csv", "table.csv.gz", "table.tsv", "parts"])
def test_na_and_none_are_values_in_the_label_and_categories_as_in_parquet(tmp_path, name):
    """pandas reads 'NA', 'None', 'null' and the like as missing values, so a CSV's region
    'NA' (North America) was a missing category and its class 'None' a missing label: refused
    (`label column 'severity' has 136 missing values`), or with data.missing_category the
    region joined the missing ones. In the label and category columns only an empty field is
    missing now, as in the Parquet file of the same table; in columns of numbers 'NA' still is."""
    frame = regions_table()
    sep = "\t" if name.endswith("tsv") else ","
    written = frame.assign(a=frame["a"].astype(object).where(frame["a"].notna(), "NA"))
    text = written.to_csv(index=False, sep=sep)
    gap = f"{sep}{sep}"  # the missing region
    assert f"\nNA{sep}" in text and f"{sep}NA{sep}" in text and gap in text  # a number, a region
    path = tmp_path / name
    if name == "parts":
        path.mkdir()
        lines = text.splitlines(keepends=True)
        (path / "part-0.csv").write_text("".join(lines[:120]))
        (path / "part-1.csv").write_text("".join(lines[:1] + lines[120:]))
    elif name.endswith(".gz"):
        compress(path, text.encode(), "gzip")
    else:
        path.write_text(text)
    frame.to_parquet(tmp_path / "table.parquet")
    common = {"label": "severity", "categorical": ("region",), "impute": "median"}
    results = [
        run_ingest(DataConfig(source="file", path=p, missing_category=True, **common), tmp_path / o)
        for p, o in ((tmp_path / "table.parquet", "parquet"), (path, "text"))
    ]
    assert results[0] == results[1]
    assert results[0].classes == ("Mild", "None", "null")
    for part in ("train.parquet", "test.parquet"):
        expected = pd.read_parquet(tmp_path / "parquet" / part)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "text" / part), expected)
    both = pd.concat(
        pd.read_parquet(tmp_path / "text" / p) for p in ("train.parquet", "test.parquet")
    )
    assert both["a"].isna().sum() == frame["a"].isna().sum() == 12
    assert (both["region"] == "NA").sum() == (frame["region"] == "NA").sum() > 50
    assert both["region"].isna().sum() == 1


def test_numbers_with_na_in_the_label_or_categories_are_numbers_with_gaps(tmp_path):
    """A label or category column of numbers and 'NA' is read as pandas reads it, the 'NA' a
    missing value: a label of 0, 1 and 'NA' is still refused for its missing label. The
    columns of numbers take pandas' own markers, which aefx names for the others."""
    from pandas._libs.parsers import STR_NA_VALUES

    from aefx.io import NA_MARKERS

    assert set(NA_MARKERS) == STR_NA_VALUES
    path = tmp_path / "codes.csv"
    path.write_text("a,plan,label\n" + "1.5,1,0\n2.5,2,1\n" * 10 + "3.5,NA,NA\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path, categorical=("plan",)), tmp_path / "out")
    assert str(caught.value) == (
        f"{path}: column 'plan' has 1 missing value; label column 'label' has 1 missing value; "
        "data.impute: median fills missing values from the training split "
        "(data.missing_category: true makes a missing category one of its own)"
    )
    assert not (tmp_path / "out").exists()


def assert_cut_is_one_line(cut: Path, tmp_path: Path) -> None:
    """A gzip CSV ``cut`` off is one line from ingest (which writes nothing) and from the
    reader of `aefx encode`."""
    from aefx.encode import read_chunks

    expected = f"{cut}: cannot be read as gzip-compressed CSV (Truncated compressed stream)"
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=cut), tmp_path / "out")
    assert str(caught.value) == expected
    assert not (tmp_path / "out").exists()
    with pytest.raises(AefxError) as caught:
        list(read_chunks(cut, 1000))
    assert str(caught.value) == expected


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_compressed_csv_cut_off_early_is_one_line_from_every_reader(tmp_path, sep):
    """Cut off between the first 4 KiB of its text and 64 KiB (where the delimiter and decimal
    mark are looked for), a gzip CSV gave a traceback (`OSError: Truncated compressed
    stream`) from ingest and `aefx encode`, where one cut later was one line."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 5)), columns=list("abcde")).assign(label=1)
    packed = compress(tmp_path / "t.csv.gz", frame.to_csv(sep=sep, index=False).encode(), "gzip")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed.read_bytes()[:10_000])  # about 21 KB of text
    assert_cut_is_one_line(cut, tmp_path)


def test_a_small_compressed_csv_cut_off_in_its_first_block_is_one_line(tmp_path):
    """Cut off within the first block the header check reads (a small file that packs
    tightly, say), a gzip CSV was a traceback (`OSError: Truncated compressed stream`) from
    ingest and `aefx encode` alike."""
    import zlib

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1000, 3)), columns=["a", "b", "c"]).assign(label=1)
    packed = compress(tmp_path / "t.csv.gz", frame.to_csv(index=False).encode(), "gzip")
    data = packed.read_bytes()

    def text_before(n: int) -> int:  # how much text the first n bytes unpack to
        return len(zlib.decompressobj(wbits=31).decompress(data[:n]))

    # Past the 4 KiB of text the first check reads, short of the 8 KiB the header check reads.
    at = next(n for n in range(len(data)) if text_before(n) >= 6000)
    assert 4096 < text_before(at) < 8192
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[:at])
    assert_cut_is_one_line(cut, tmp_path)


def test_a_data_file_is_named_without_the_suffixes_of_its_type():
    """The MLflow datasets of a run are named after the data file (`sales-train`); for
    sales.csv.gz they were `sales.csv-train`."""
    from aefx.io import table_stem

    names = (
        "sales.csv.gz",
        "sales.CSV.ZST",
        "sales.csv",
        "sales.tsv.bz2",
        "sales.parquet",
        "sales",
    )
    for name in names:
        assert table_stem(Path("data/raw") / name) == "sales"
    assert table_stem(Path("data/raw/sales.2024.csv.bz2")) == "sales.2024"
    assert table_stem(Path("data/raw/mnist.npz")) == "mnist"


@pytest.mark.parametrize(
    ("name", "make", "needle"),
    [
        ("t.csv.gz", "plain", "named .csv.gz but is not gzip-compressed (it does not start"),
        ("t.csv.bz2", "cut", "cannot be read as bz2-compressed CSV ("),
        ("t.csv.zst", "parquet", "named .csv.zst but holds a Parquet file"),
        ("t.csv.gz", "binary", "named .csv.gz but holds binary data"),
        ("t.csv.gz", "repeated", "the header names 'a' twice (columns 1 and 3)"),
        ("t.tar.gz", "plain", "unsupported file type '.tar.gz' (use .csv, .tsv (plain or "),
        ("t.gz", "plain", "unsupported file type '.gz'"),
    ],
)
def test_a_compressed_csv_that_is_not_what_its_name_says(tmp_path, name, make, needle):
    text = pd.DataFrame({"a": range(40), "b": range(40), "label": [0, 1] * 20}).to_csv(index=False)
    codec = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}[Path(name).suffix]
    path = tmp_path / name
    if make == "plain":
        path.write_text(text)
    elif make == "cut":
        compress(path, text.encode(), codec)
        path.write_bytes(path.read_bytes()[:-12])
    elif make == "parquet":
        pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "p.parquet")
        compress(path, (tmp_path / "p.parquet").read_bytes(), codec)
    elif make == "binary":
        compress(path, b"a,b\n\x00\x01\x02", codec)
    else:
        compress(path, text.replace("label", "a").encode(), codec)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
    assert str(caught.value).startswith(f"{path}: {needle}")
    assert "\n" not in str(caught.value) and not (tmp_path / "out").exists()


def test_a_compressed_csv_is_held_to_the_memory_budget_by_its_text(tmp_path):
    """Its file size says little of the table it holds: 3 MB of zeros packs into a few KB.
    The text is counted as it is read, and the read stops once it is over the budget."""
    frame = pd.DataFrame(np.zeros((80_000, 9)), columns=[f"f{i}" for i in range(9)])
    plain = tmp_path / "zeros.csv"
    frame.assign(label=[0, 1] * 40_000).to_csv(plain, index=False)
    packed = compress(tmp_path / "zeros.csv.gz", plain.read_bytes(), "gzip")
    assert packed.stat().st_size < 0.05 * 2**20 < 2.5 * 2**20 < plain.stat().st_size
    cfg = DataConfig(source="file", path=packed, memory_budget_mb=1)
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    found = re.fullmatch(
        rf"{re.escape(str(packed))}: needs more than (\d+) MB in memory, over "
        r"data\.memory_budget_mb=1 \(raise the budget, or use a smaller file\)",
        str(caught.value),
    )
    assert found and 1 <= int(found[1]) < plain.stat().st_size / 2**20
    assert not (tmp_path / "out").exists()
    result = run_ingest(cfg.model_copy(update={"memory_budget_mb": 8}), tmp_path / "out")
    assert result.n_train + result.n_test == 80_000


def write_parts(folder: Path, frame: pd.DataFrame, parts: int) -> Path:
    """``frame`` as Spark writes a table: part files, a _SUCCESS marker and .crc checksums."""
    folder.mkdir()
    for number, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[rows].to_parquet(folder / f"part-{number:05d}.snappy.parquet", index=False)
        (folder / f".part-{number:05d}.snappy.parquet.crc").write_bytes(b"\x00crc")
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def test_a_folder_of_parquet_files_is_read_as_one_table(tmp_path):
    """Spark, Dask and pandas' partition_cols write a table as a folder of Parquet files; ingest
    said `data file not found` of the folder that was there. The files are read in path order
    (the split is the same on every machine), and Hive partition folders are columns."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["region"] = rng.choice(["north", "south"], size=90)
    frame["label"] = rng.choice(["yes", "no"], size=90)
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    folder = write_parts(tmp_path / "table.parquet", frame, parts=3)

    results = [
        run_ingest(DataConfig(source="file", path=path, categorical=["region"]), tmp_path / out)
        for path, out in ((tmp_path / "whole.parquet", "whole"), (folder, "parts"))
    ]
    assert results[0] == results[1] and results[0].n_train + results[0].n_test == 90
    for name in ("train.parquet", "test.parquet", "schema.json"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()

    frame.to_parquet(tmp_path / "by_region", partition_cols=["region"], index=False)
    assert sorted(p.name for p in (tmp_path / "by_region").iterdir()) == [
        "region=north",
        "region=south",
    ]
    cfg = DataConfig(source="file", path=tmp_path / "by_region", categorical=["region"])
    result = run_ingest(cfg, tmp_path / "hive")
    assert result.n_train + result.n_test == 90
    schema = json.loads((tmp_path / "hive" / "schema.json").read_text())
    assert schema["categories"] == {"region": ["north", "south"]}


def assert_same_splits(tmp_path: Path, cfg: dict, whole: Path, folder: Path, rows: int) -> None:
    """Ingest of ``folder`` writes the very splits and schema ingest of the one file ``whole``
    writes (under tmp_path/one and tmp_path/parts), of ``rows`` rows in all."""
    results = [
        run_ingest(DataConfig(path=path, **cfg), tmp_path / out)
        for path, out in ((whole, "one"), (folder, "parts"))
    ]
    assert results[0] == results[1] and results[0].n_train + results[0].n_test == rows
    for part in ("train.parquet", "test.parquet", "schema.json"):
        assert (tmp_path / "one" / part).read_bytes() == (tmp_path / "parts" / part).read_bytes()


def test_a_folder_of_csv_files_is_read_as_the_one_csv_it_splits(tmp_path):
    """Spark's CSV writer leaves a folder of part files (plain or compressed, with _SUCCESS and
    .crc checksums beside them); ingest read only folders of Parquet files. The parts make the
    splits one CSV of their rows makes, even where a column holds numbers in one part and text
    in another (ids, codes), which pandas reads as text in one file, as ints and text in parts."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["zone"] = [str(v) for v in rng.integers(1, 4, 90)]
    frame.loc[60:, "zone"] = rng.choice(["1", "2", "north"], 30)
    frame["label"] = rng.choice(["yes", "no"], 90)
    frame.insert(0, "id", [str(i) if i < 60 else f"r{i}" for i in range(90)])
    whole = tmp_path / "table.csv"
    frame.to_csv(whole, index=False)
    folder = tmp_path / "table.csv.d"
    folder.mkdir()
    frame.iloc[:30].to_csv(folder / "part-00000.csv", index=False)
    compress(folder / "part-00001.csv.gz", frame.iloc[30:60].to_csv(index=False).encode(), "gzip")
    frame.iloc[60:, ::-1].to_csv(folder / "part-00002.csv", index=False)  # columns reversed
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000.csv.crc").write_bytes(b"\x00\x01")
    (folder / "part-00004.csv").write_bytes(b"")  # an empty partition: no header, no rows

    cfg = {"source": "file", "categorical": ["zone"], "ignore": ["id"]}
    assert_same_splits(tmp_path, cfg, whole, folder, rows=90)

    (folder / "part-00003.csv").write_text("a,b,other,label\n1,2,3,yes\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(path=folder, **cfg), tmp_path / "out")
    assert str(caught.value) == (
        f"{folder / 'part-00003.csv'}: its columns differ from those of part-00000.csv (the "
        "files of a folder make one table)"
    )
    (folder / "part-00003.csv").write_text("a,b,a,label\n1,2,3,yes\n")
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(path=folder, **cfg), tmp_path / "out")
    assert str(caught.value).startswith(f"{folder / 'part-00003.csv'}: the header names 'a' twice")
    (folder / "part-00003.csv").unlink()
    # The budget counts the plain parts' sizes, then the compressed part's text as it is read.
    plain = sum(f.stat().st_size for f in folder.glob("*.csv"))
    budget = (plain + 1000) / 2**20
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(path=folder, memory_budget_mb=budget, **cfg), tmp_path / "out")
    assert re.match(
        rf"{re.escape(str(folder))}: needs more than \d+ KB in memory, over ", str(caught.value)
    )
    assert not (tmp_path / "out").exists()


def test_a_csv_without_a_header_row_is_told_to_get_one(tmp_path):
    """Spark writes CSV parts without a header row unless told, and pandas takes a file's first
    row for its column names: ingest said `label column 'label' not found (columns: no,
    0.1257...)`, or of a folder, that its parts' columns differ."""
    from aefx.validation import header_hint

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 4)), columns=list("abcd"))
    frame.insert(0, "label", np.where(frame["a"] > 0, "yes", "no"))
    frame.to_csv(tmp_path / "rows.csv", index=False, header=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    for number, rows in enumerate((frame.iloc[:20], frame.iloc[20:])):
        rows.to_csv(folder / f"part-{number}.csv", index=False, header=False)
    for path, first in ((tmp_path / "rows.csv", frame.iloc[0]), (folder, frame.iloc[20])):
        with pytest.raises(AefxError) as caught:
            run_ingest(DataConfig(source="file", path=path), tmp_path / "out")
        assert str(caught.value).endswith(
            f"its first line holds numbers ({float(first['a'])}, {float(first['b'])}, ...) "
            "where the column names belong: give the file a header row"
        )
        assert not (tmp_path / "out").exists()
    assert str(caught.value).startswith(f"{folder / 'part-1.csv'}: its first line")
    # A header of a few numbers, or of whole numbers only (years, pixel indices), is no sign.
    for names in (["id", "0.5", "x", "label"], ["country", "2019", "2020", "2021"], ["0", "1"]):
        assert header_hint(names) is None


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # the folder name Spark and Hive give a missing value


def test_a_folder_of_csv_files_reads_its_partition_folders_as_columns(tmp_path):
    """Spark's ``partitionBy("label", "region").csv(path, header=True)`` keeps those columns
    only in the folder names (``label=1/region=north%2Feast/``). A folder of Parquet files read
    them as columns; one of CSV files dropped them (`label column 'label' not found`)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["label"] = rng.integers(0, 2, 90)
    frame["region"] = rng.choice(["north/east", "south", None], 90)
    folder = tmp_path / "table.csv.d"
    for (label, region), rows in frame.groupby(["label", "region"], dropna=False):
        named = HIVE_NULL if pd.isna(region) else region.replace("/", "%2F")  # Spark's escape
        where = folder / f"label={label}" / f"region={named}"
        where.mkdir(parents=True)
        rows.drop(columns=["label", "region"]).to_csv(where / "part-00000.csv", index=False)
    in_path_order = frame.assign(key=frame["region"].fillna(HIVE_NULL)).sort_values(
        ["label", "key"], kind="stable"
    )
    whole = tmp_path / "table.csv"
    in_path_order.drop(columns="key").to_csv(whole, index=False)

    cfg = {"source": "file", "categorical": ["region"], "missing_category": True}
    assert_same_splits(tmp_path, cfg, whole, folder, rows=90)
    schema = json.loads((tmp_path / "parts" / "schema.json").read_text())
    assert schema["categories"]["region"] == ["(missing)", "north/east", "south"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_column_its_partition_folder_also_sets_is_refused_in_one_line(tmp_path, suffix):
    """Spark keeps a partition column in the folder names alone; a file that holds it too has
    two values for it. pyarrow raised a traceback (`Unable to merge: Field label has
    incompatible types: int64 vs int32`), or kept one of the two silently."""
    from aefx.encode import read_chunks
    from aefx.streaming import parquet_features

    folder = tmp_path / "table"
    for label in (0, 1):
        part = folder / f"label={label}" / f"part-0{suffix}"
        part.parent.mkdir(parents=True)
        rows = pd.DataFrame({"a": np.arange(30.0), "label": label})
        rows.to_parquet(part) if suffix == ".parquet" else rows.to_csv(part, index=False)
    readers = [
        lambda: run_ingest(DataConfig(source="file", path=folder), tmp_path / "out"),
        lambda: next(read_chunks(folder, 10)),
    ]
    if suffix == ".parquet":
        readers.append(lambda: parquet_features(folder, "label"))
    for read in readers:
        with pytest.raises(AefxError) as caught:
            read()
        assert str(caught.value) == (
            f"{folder / 'label=0' / f'part-0{suffix}'}: column 'label' is in the file and in "
            "its partition folder label=0/ (a partition column belongs in the folder names "
            "alone)"
        )
    assert not (tmp_path / "out").exists()


def test_a_folder_of_parquet_files_that_cannot_be_read_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    (empty / "_temporary").mkdir(parents=True)
    (empty / "_temporary" / "part-0.parquet").write_bytes(b"")  # a job's leftovers: not read
    (empty / "notes.txt").write_text("not a table")
    spoiled = write_parts(tmp_path / "spoiled", pd.DataFrame({"a": [1.0] * 8, "label": 0}), 2)
    (spoiled / "part-00001.snappy.parquet").write_bytes(b"PAR1 but cut off")
    # pyarrow takes the first file's columns: another's extra column was dropped silently.
    extra = write_parts(tmp_path / "extra", pd.DataFrame({"a": [1.0] * 8, "label": 0}), 2)
    part = extra / "part-00001.snappy.parquet"
    pd.read_parquet(part).assign(b=2.0).to_parquet(part, index=False)
    for folder, message in (
        (empty, f"{empty}: a folder with no .parquet, .csv or .tsv files in it (a table is a "),
        (
            extra,
            f"{part}: its columns differ from those of part-00000.snappy.parquet (the files of "
            "a folder make one table)",
        ),
        (spoiled, f"{spoiled}: cannot be read as Parquet (part-00001.snappy.parquet: "),
    ):
        with pytest.raises(AefxError) as caught:
            run_ingest(DataConfig(source="file", path=folder), tmp_path / "out")
        assert str(caught.value).startswith(message)
        assert "\n" not in str(caught.value) and not (tmp_path / "out").exists()

    big = write_parts(tmp_path / "big", pd.DataFrame(np.zeros((2000, 50))).add_prefix("f"), 4)
    with pytest.raises(AefxError) as caught:
        run_ingest(DataConfig(source="file", path=big, memory_budget_mb=0.5), tmp_path / "out")
    assert str(caught.value) == (
        f"{big}: needs about 1 MB in memory, over data.memory_budget_mb=0.5 (raise the budget, "
        "or use a smaller file)"
    )
    # Under half a MB is said in KB: a budget below 1 MB said "needs about 0 MB".
    small = over_budget(big, 40_000, 0.01)
    assert str(small).startswith(f"{big}: needs about 39 KB in memory, over ")


def test_a_file_over_the_memory_budget_is_refused_before_reading(tmp_path):
    frame = pd.DataFrame(np.zeros((2000, 50)), columns=[f"f{i}" for i in range(50)])
    frame["label"] = [0, 1] * 1000
    frame.to_parquet(tmp_path / "big.parquet")
    cfg = DataConfig(source="file", path=tmp_path / "big.parquet", memory_budget_mb=0.5)
    with pytest.raises(
        AefxError, match=r"needs about 1 MB in memory, over data\.memory_budget_mb=0\.5"
    ):
        run_ingest(cfg, tmp_path / "out")
    np.save(tmp_path / "imgs.npy", np.zeros((300, 28, 28), dtype=np.uint8))
    cfg = DataConfig(
        source="images",
        path=tmp_path / "imgs.npy",
        labels_path=tmp_path / "y.npy",
        memory_budget_mb=0.5,
    )
    with pytest.raises(AefxError, match="memory_budget_mb"):
        run_ingest(cfg, tmp_path / "out")


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**40), 2**40),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    frame=data_frames(
        columns=[
            column("f0", elements=st.floats(allow_nan=True, allow_infinity=True)),
            column("f1", elements=CELLS),
            column("f2", elements=st.integers(-5, 5)),
            column("label", elements=st.one_of(st.integers(0, 2), st.none())),
        ],
    ),
    fmt=st.sampled_from(["csv", "csv.gz", "parquet"]),
)
def test_ingest_succeeds_with_finite_output_or_raises_only_our_error(tmp_path, frame, fmt):
    # tmp_path is shared by every example: each gets its own directory, or a refused frame would
    # find the outputs an earlier, accepted one wrote.
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    path = work / f"in.{fmt}"
    if fmt.startswith("csv"):
        frame.to_csv(path, index=False)  # pandas compresses by the name's suffix
    else:
        try:
            frame.to_parquet(path, index=False)
        except Exception:  # pyarrow cannot store mixed-type object columns: not our input
            return
    out = work / "out"
    try:
        result = run_ingest(DataConfig(source="file", path=path), out)
    except AefxError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        assert not (out / "train.parquet").exists()
        return
    train = pd.read_parquet(out / "train.parquet")
    test = pd.read_parquet(out / "test.parquet")
    assert len(train) + len(test) == len(frame) == result.n_train + result.n_test
    features = pd.concat([train, test]).drop(columns="label").to_numpy(dtype="float64")
    assert features.shape[1] == 3 and np.isfinite(features).all()


def test_a_table_that_comes_split_keeps_its_own_test_rows(tmp_path):
    """data.test_path: a benchmark's fixed test set (train.csv and test.csv) is kept as the test
    split, its columns in any order; max_rows shrinks both in proportion. The test file is
    checked as the training file is, and a mistake in it names it."""
    rng = np.random.default_rng(0)

    def table(n: int, first_id: int) -> pd.DataFrame:
        values = {"a": rng.normal(size=n), "b": rng.normal(size=n)}
        return pd.DataFrame(
            {"id": range(first_id, first_id + n), **values, "label": [0, 1] * (n // 2)}
        )

    train_file, test_file = tmp_path / "train.csv", tmp_path / "test.csv"
    given = table(14, 1000)
    table(40, 0).to_csv(train_file, index=False)
    given[["label", "b", "a", "id"]].to_csv(test_file, index=False)
    split = {"source": "file", "path": train_file, "test_path": test_file, "ignore": ("id",)}
    result = run_ingest(DataConfig(**split), tmp_path / "out")
    train = pd.read_parquet(tmp_path / "out" / "train.parquet")
    test = pd.read_parquet(tmp_path / "out" / "test.parquet")
    assert (result.n_train, result.n_test) == (40, 14)
    assert sorted(train["id"]) == list(range(40))
    np.testing.assert_allclose(test.set_index("id").loc[given["id"], ["a", "b"]], given[["a", "b"]])
    small = run_ingest(DataConfig(**split, max_rows=27, stratify=True), tmp_path / "small")
    assert (small.n_train, small.n_test) == (20, 7)
    # A run records what it read: each file's MD5, as DVC hashes it.
    from aefx.config import load_params
    from aefx.io import file_md5
    from flows.pipeline import source_tags

    (tmp_path / "params.yaml").write_text("{}\n")
    sets = [f"data.{key}={value}" for key, value in split.items() if key != "ignore"]
    tags = source_tags(load_params(tmp_path / "params.yaml", sets))
    assert tags["data.file_md5"] == file_md5(train_file)
    assert tags["data.test_file_md5"] == file_md5(test_file)

    bad = tmp_path / "bad.csv"
    for spoiled, message in (
        (given.drop(columns="b"), f"{bad}: no column(s) 'b' (the test rows need the columns of "),
        (given.assign(c=1.0), f"{bad}: extra column(s) 'c' (the test rows need the columns of "),
        (given.assign(a=["x"] * 14), f"{bad}: column 'a' is not numeric"),
        (
            given.assign(label=2),
            f"{bad}: class(es) 2 in 'label' have all their rows (14) in the test",
        ),
    ):
        spoiled.to_csv(bad, index=False)
        with pytest.raises(AefxError) as caught:
            run_ingest(DataConfig(**{**split, "test_path": bad}), tmp_path / "bad")
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
        assert not (tmp_path / "bad").exists()

    # One test row was accepted (each seed scored 0 or 1, and the codes' plot divided by zero);
    # data.test_size, which this split does not read, no longer judges the sizes either.
    given.head(1).to_csv(bad, index=False)
    for size in ({}, {"test_size": 0.99}):
        with pytest.raises(AefxError) as caught:
            run_ingest(DataConfig(**{**split, "test_path": bad, **size}), tmp_path / "bad")
        assert str(caught.value) == (
            f"{train_file}: data.test_path leaves 1 of the 41 rows to test on; at least 2 are "
            "needed"
        )
        assert not (tmp_path / "bad").exists()
    given.head(2).to_csv(bad, index=False)
    two = DataConfig(**{**split, "test_path": bad, "test_size": 0.99})
    result = run_ingest(two, tmp_path / "ok")
    assert (result.n_train, result.n_test) == (40, 2)


def test_split_and_synthetic_settings_the_source_does_not_read_are_named(tmp_path, monkeypatch):
    """`data.test_size: 0.2` beside a `data.test_path` (the file's split is kept), or a changed
    `data.synthetic` beside another source, changed nothing, silently: one warning names them."""
    from tasks.ingest import load_splits

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(2)
    for name, n in (("train.csv", 40), ("test.csv", 10)):
        pd.DataFrame(
            {"a": rng.normal(size=n), "b": rng.normal(size=n), "label": [0, 1] * (n // 2)}
        ).to_csv(name, index=False)

    def unread(**settings):
        warnings = load_splits(
            DataConfig(source="file", path=Path("train.csv"), **settings)
        ).warnings
        return [w for w in warnings if "does not read" in w]

    assert unread() == []
    assert unread(test_path=Path("test.csv")) == []
    assert unread(test_path=Path("test.csv"), test_size=0.2, stratify=True) == [
        "ingest (train.csv) does not read data.test_size (read when the data comes without a "
        "split of its own); data.stratify (read when the data comes without a split of its "
        "own), so changing them does nothing"
    ]
    assert unread(test_size=0.2, stratify=True, split_seed=3) == []  # split here: all read
    assert unread(synthetic={"n_samples": 300}) == [
        "ingest (train.csv) does not read data.synthetic.n_samples (read with data.source "
        "synthetic), so changing it does nothing"
    ]
    synthetic = load_splits(DataConfig(synthetic={"n_samples": 300})).warnings
    assert not [w for w in synthetic if "does not read" in w]


def test_test_rows_that_are_training_rows_are_counted_or_refused(tmp_path, monkeypatch):
    """data.test_path naming data.path (or a folder holding it) scored every classifier on the
    rows it trained on; a test file that repeats training rows said only that duplicated rows
    "may land in both train and test", where which of them do is known."""
    from tasks.ingest import load_splits

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "label": [0, 1] * 20})
    rows.to_csv("train.csv", index=False)
    for test_path in ("train.csv", "./train.csv", "."):
        with pytest.raises(ValueError, match=r"overlap, so the test rows would be training rows"):
            DataConfig(source="file", path="train.csv", test_path=test_path)

    own = {"source": "file", "path": Path("train.csv"), "test_path": Path("test.csv")}
    fresh = pd.DataFrame({"a": rng.normal(size=6), "b": rng.normal(size=6), "label": [0, 1] * 3})
    for test, shared in ((rows, 40), (pd.concat([fresh, rows.iloc[[3, 8]]]), 2), (fresh, 0)):
        test.to_csv("test.csv", index=False)
        warnings = load_splits(DataConfig(**own)).warnings
        said = [w for w in warnings if "test rows" in w or "duplicated" in w]
        assert said == (
            [
                f"train.csv: {shared} of the {len(test)} test rows (data.test_path) are training "
                "rows too, the same in every column: they score the classifiers on rows they "
                "trained on"
            ]
            if shared
            else []
        )


def test_a_test_split_without_rows_of_a_class_is_warned_of(tmp_path, monkeypatch):
    """A test file without rows of class 1, or a random split that put all of a rare class's
    rows in training, ran without a word: no test ROC AUC was logged, and test accuracy and F1
    left the class out. The split is warned of, with what would mend it."""
    from tasks.ingest import load_splits

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)

    def table(labels):
        n = len(labels)
        return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "label": labels})

    def untested(**settings):
        warnings = load_splits(DataConfig(source="file", **settings)).warnings
        return [w for w in warnings if "no rows of class" in w]

    table([0, 1, 2] * 20).to_csv("train.csv", index=False)
    own = {"path": Path("train.csv"), "test_path": Path("test.csv")}
    table([0, 2] * 5).to_csv("test.csv", index=False)
    assert untested(**own) == [
        "test.csv: the test split has no rows of class(es) 1 in 'label', which training has: "
        "no test ROC AUC is logged, and test accuracy and F1 leave them out; give the test "
        "split rows of every class"
    ]
    table([0, 1, 2] * 5).to_csv("test.csv", index=False)
    assert untested(**own) == []

    # 58 rows of each of two classes and 2 of a rare one, which this split keeps out of test.
    table([0, 1] * 29 + [2, 2]).to_csv("rare.csv", index=False)
    split = {"path": Path("rare.csv"), "test_size": 0.2, "split_seed": 1}
    splits = load_splits(DataConfig(source="file", **split))
    assert set(splits.train["label"]) == {0, 1, 2} and set(splits.test["label"]) == {0, 1}
    assert untested(**split) == [
        "rare.csv: the test split has no rows of class(es) 2 in 'label', which training has: "
        "no test ROC AUC is logged, and test accuracy and F1 leave them out; data.stratify: "
        "true puts rows of every class in both splits"
    ]
    assert untested(**{**split, "stratify": True, "test_size": 0.5}) == []


def test_a_class_that_max_rows_left_out_of_a_files_own_split_names_max_rows(tmp_path, monkeypatch):
    """data.max_rows draws its subset of each part of a file's own split at random, so a small
    one (a quick try of mnist) can leave a class out of one part although the file has it
    there. The warning and the error said to give that part rows of the class, which the file
    already does; they now name data.max_rows."""
    from tasks.ingest import load_splits

    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"a": np.arange(61.0), "label": [0, 1] * 30 + [2]}).to_csv(
        "train.csv", index=False
    )
    pd.DataFrame({"a": np.arange(30.0), "label": [0, 1] * 14 + [2, 2]}).to_csv(
        "test.csv", index=False
    )
    own = {"source": "file", "path": Path("train.csv"), "test_path": Path("test.csv")}
    assert not [w for w in load_splits(DataConfig(**own)).warnings if "no rows of class" in w]

    # This draw keeps the training part's one row of class 2 and neither of the test part's.
    splits = load_splits(DataConfig(**own, max_rows=30, split_seed=3))
    assert 2 in set(splits.train["label"]) and 2 not in set(splits.test["label"])
    assert [w for w in splits.warnings if "no rows of class" in w] == [
        "test.csv: the test split has no rows of class(es) 2 in 'label', which training has: "
        "no test ROC AUC is logged, and test accuracy and F1 leave them out; data.max_rows "
        "drew none of the test rows of them: a larger data.max_rows keeps more rows"
    ]
    # This one keeps both test rows of class 2 and not the one training row.
    with pytest.raises(AefxError) as err:
        load_splits(DataConfig(**own, max_rows=30, split_seed=4))
    assert str(err.value) == (
        "test.csv: class(es) 2 in 'label' have all their rows (2) in the test split and none to "
        "train on; data.max_rows drew none of their training rows: a larger data.max_rows "
        "keeps more rows"
    )


def test_a_test_file_column_with_no_values_is_filled_from_the_training_rows(tmp_path):
    """Under data.impute a test file's column may be all missing: the training rows give the
    value it is filled with. It was refused ("column 'b' has no values"), as a training column
    with nothing to fill from is."""
    from aefx.config import ScaleConfig
    from tasks.scale import scale

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=20), "b": [1.0, 3.0] * 10, "label": [0, 1] * 10})
    test = pd.DataFrame({"a": rng.normal(size=6), "b": np.nan, "label": [0, 1] * 3})
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    cfg = DataConfig(
        source="file", path=tmp_path / "train.csv", test_path=tmp_path / "test.csv", impute="mean"
    )
    out = tmp_path / "out"
    run_ingest(cfg, out)
    scale(
        ScaleConfig(kind="none"),
        "label",
        *(out / name for name in ("schema.json", "train.parquet", "test.parquet")),
        *(tmp_path / name for name in ("train_s.parquet", "test_s.parquet", "scaler.json")),
    )
    assert (pd.read_parquet(tmp_path / "test_s.parquet")["b"] == 2.0).all()  # training's mean

    train.assign(b=np.nan).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(AefxError) as caught:  # the training rows still need a value to fill from
        run_ingest(cfg, tmp_path / "bad")
    assert str(caught.value) == f"{tmp_path / 'train.csv'}: column 'b' has no values (all missing)"


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_numeric_partition_column_left_a_feature_is_warned_of(tmp_path, kind):
    """`year=2023/`, `year=2024/` give every row a whole number that ingest read as one more
    feature without a word: the year a table was cut by may tell the classes apart here and
    not in the next data set. Now a warning names it and the two ways to keep it out; text
    partition values are refused as features already, and an ignored or categorical one (or
    the label) is the user's choice made."""
    from tasks.ingest import load_splits

    rng = np.random.default_rng(0)
    folder = tmp_path / "by_year"
    for year in (2023, 2024):
        where = folder / f"year={year}" / "shard=a"
        where.mkdir(parents=True)
        rows = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
        rows["label"] = rng.choice(["x", "y"], 30)
        if kind == "csv":
            rows.to_csv(where / "part-0.csv", index=False)
        else:
            rows.to_parquet(where / "part-0.parquet", index=False)
    shard = {"ignore": ["shard"]}  # text: refused as a feature (its own hint), so kept out
    splits = load_splits(DataConfig(source="file", path=folder, **shard))
    assert "year" in splits.train.columns  # still a feature: nothing changes but the warning
    assert [w for w in splits.warnings if "partition" in w] == [
        f"{folder}: column 'year' comes from the partition folders (year=...) and is a numeric "
        "feature; data.ignore: [year] keeps it out, data.categorical: [year] makes each value "
        "a category"
    ]
    for choice in ({"ignore": ["shard", "year"]}, {**shard, "categorical": ["year"]}):
        splits = load_splits(DataConfig(source="file", path=folder, **choice))
        assert not [w for w in splits.warnings if "partition" in w]
