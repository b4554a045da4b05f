"""Each stage function on tiny data, called directly: no Prefect, no MLflow."""

from __future__ import annotations

import math
import os
import platform
import re
import stat
import subprocess
import sys
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from aefx.config import load_params
from aefx.errors import AefxError
from aefx.io import read_json
from aefx.models import load_model
from aefx.pipeline import STAGES
from aefx.scaling import load_scaler
from aefx.stats import cv_interval, paired_difference
from tasks.ingest import ingest


def run_until(params, last: str) -> None:
    for stage in STAGES:
        stage.run(params)
        if stage.name == last:
            return


def test_ingest_reproduces_the_reference_split(tmp_path):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    from aefx.config import DataConfig

    result = ingest(
        DataConfig(), tmp_path / "train.parquet", tmp_path / "test.parquet", tmp_path / "s.json"
    )
    X, y = make_classification(
        n_samples=1000, n_features=100, n_informative=10, n_redundant=90, random_state=1
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.33, random_state=1)
    train = pd.read_parquet(tmp_path / "train.parquet")
    test = pd.read_parquet(tmp_path / "test.parquet")
    assert (result.n_train, result.n_test, len(result.features)) == (670, 330, 100)
    np.testing.assert_array_equal(train.drop(columns="label").to_numpy(), X_train)
    np.testing.assert_array_equal(test.drop(columns="label").to_numpy(), X_test)
    np.testing.assert_array_equal(train["label"].to_numpy(), y_train)
    np.testing.assert_array_equal(test["label"].to_numpy(), y_test)


def test_ingest_reads_a_users_csv_and_stratifies(tmp_path):
    from aefx.config import DataConfig

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["kind"] = ["x"] * 40 + ["y"] * 20
    frame.to_csv(tmp_path / "mine.csv", index=False)
    cfg = DataConfig(
        source="file", path=tmp_path / "mine.csv", label="kind", stratify=True, test_size=0.25
    )
    result = ingest(cfg, tmp_path / "tr.parquet", tmp_path / "te.parquet", tmp_path / "s.json")
    test = pd.read_parquet(tmp_path / "te.parquet")
    assert result.features == ("a", "b", "c") and result.classes == ("x", "y")
    assert (test["kind"] == "y").sum() == 5  # a quarter of each class


@pytest.mark.parametrize(
    ("frame", "label", "needle"),
    [
        (pd.DataFrame({"a": range(20), "b": range(20)}), "label", "label column 'label' not found"),
        (
            pd.DataFrame({"a": ["1", "x"] * 10, "label": [0, 1] * 10}),
            "label",
            "column 'a' is not numeric (value 'x')",
        ),
        (
            pd.DataFrame({"a": [1.0, np.nan] * 10, "b": [np.inf, 1] * 10, "label": [0, 1] * 10}),
            "label",
            "column 'a' has 10 missing and 0 infinite",
        ),
        (pd.DataFrame({"a": range(20), "label": [1] * 20}), "label", "single class"),
        (pd.DataFrame({"a": range(4), "label": [0, 1] * 2}), "label", "too few to split"),
    ],
)
def test_ingest_rejects_bad_data_and_writes_nothing(tmp_path, frame, label, needle):
    from aefx.config import DataConfig

    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    cfg = DataConfig(source="file", path=source, label=label)
    with pytest.raises(AefxError) as err:
        out = tmp_path / "out"
        ingest(cfg, out / "train.parquet", out / "test.parquet", out / "schema.json")
    assert needle in str(err.value) and str(source) in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_class_the_split_puts_wholly_in_test_is_refused_unless_stratified(tmp_path):
    """Every classifier cell failed after the autoencoders trained (ROC AUC of a class the
    model never saw); stratifying gives the class a training row."""
    from aefx.config import DataConfig

    source = tmp_path / "rare.csv"
    pd.DataFrame({"a": np.arange(40.0), "label": [0, 1] * 19 + [2, 2]}).to_csv(source, index=False)
    out = tmp_path / "out"
    paths = (out / "train.parquet", out / "test.parquet", out / "schema.json")
    with pytest.raises(AefxError) as err:
        ingest(DataConfig(source="file", path=source, split_seed=8), *paths)
    assert "class(es) 2 in 'label' have all their rows (2) in the test split" in str(err.value)
    assert not out.exists()
    ingest(DataConfig(source="file", path=source, split_seed=8, stratify=True), *paths)
    assert 2 in set(pd.read_parquet(paths[0])["label"])


def test_ingest_missing_and_unreadable_files(tmp_path):
    from aefx.config import DataConfig

    with pytest.raises(AefxError, match="data file not found"):
        ingest(
            DataConfig(source="file", path=tmp_path / "none.csv"),
            tmp_path / "a",
            tmp_path / "b",
            tmp_path / "c",
        )
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 but then garbage")
    with pytest.raises(AefxError, match="cannot be read as Parquet"):
        ingest(
            DataConfig(source="file", path=broken), tmp_path / "a", tmp_path / "b", tmp_path / "c"
        )


def test_scaler_is_fit_on_train_only_and_round_trips(project):
    params = load_params()
    run_until(params, "scale")
    p = params.paths
    train = pd.read_parquet(p.train_scaled).drop(columns="label")
    test = pd.read_parquet(p.test_scaled).drop(columns="label")
    assert np.allclose(train.min(), 0) and np.allclose(train.max(), 1)
    assert not (np.allclose(test.min(), 0) and np.allclose(test.max(), 1))
    scaler, features = load_scaler(p.scaler)
    raw_test = pd.read_parquet(p.test).drop(columns="label")
    assert features == list(raw_test.columns)
    np.testing.assert_allclose(scaler.transform(raw_test), test.to_numpy())


def test_columns_of_categories_are_one_hot_from_the_training_rows_alone(project):
    """A column of categories becomes, where it stood, one 0/1 column per category of the
    training split (ingest records them in the schema); a category only test rows have sets
    none of them. The saved scaler maps raw rows to the scaled ones (as `aefx encode` does) and
    back (as `aefx reconstruct` does)."""
    from sklearn.model_selection import train_test_split

    from aefx.scaling import Preprocessing

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "colour": ["red", "green", "blue"] * 20,
            "b": rng.normal(size=60),
            "label": [0, 1] * 30,
        }
    )
    _, test_rows = train_test_split(np.arange(60), test_size=0.33, random_state=1)
    table.loc[test_rows[0], "colour"] = "violet"  # the split ingest makes puts it in test
    table.to_csv(project / "data" / "raw" / "paint.csv", index=False)
    params = load_params(
        overrides=["data.source=file", "data.path=data/raw/paint.csv", "data.categorical=[colour]"]
    )
    run_until(params, "scale")
    p = params.paths
    assert read_json(p.data_schema)["categories"] == {"colour": ["blue", "green", "red"]}

    columns = ["a", "colour=blue", "colour=green", "colour=red", "b"]
    scaled_train, scaled_test = (pd.read_parquet(path) for path in (p.train_scaled, p.test_scaled))
    assert list(scaled_train.columns) == [*columns, "label"]
    block = ["colour=blue", "colour=green", "colour=red"]
    raw_test = pd.read_parquet(p.test).drop(columns="label")
    violet = (raw_test["colour"] == "violet").to_numpy()
    assert violet.sum() == 1 and (scaled_test.loc[violet, block] == 0).all(axis=None)
    assert (scaled_test.loc[~violet, block].sum(axis=1) == 1).all()
    assert (scaled_train[block].sum(axis=1) == 1).all()
    saved = read_json(p.scaler)
    assert saved["columns"] == ["a", "colour", "b"] and saved["features"] == columns
    assert saved["categories"] == {"colour": ["blue", "green", "red"]}

    prep = Preprocessing.from_dict(saved)
    np.testing.assert_allclose(prep.transform(raw_test), scaled_test[columns].to_numpy())
    back = prep.inverse_transform(scaled_train[columns].to_numpy())
    raw_train = pd.read_parquet(p.train)
    assert list(back.columns) == ["a", "colour", "b"]
    assert list(back["colour"]) == list(raw_train["colour"])
    np.testing.assert_allclose(back[["a", "b"]].to_numpy(dtype=float), raw_train[["a", "b"]])
    # A scaler saved before columns of categories reads as one without them.
    old = {k: v for k, v in saved.items() if k not in ("columns", "categories")}
    assert Preprocessing.from_dict(old).columns == columns


def test_codes_read_as_floats_are_the_same_categories_as_codes_read_as_whole_numbers(project):
    """A column of codes with a gap reads as floats, so its categories were '1.0' and '2.0' and
    new rows without a gap ('1', '2') matched none of them: every one was encoded as no
    category at all. A code is now the same category however the file or request stores it,
    the MLflow model's request too (its signature refused codes sent as numbers)."""
    import mlflow

    from aefx.scaling import Preprocessing, unseen_categories
    from aefx.tracking import using_store

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {"a": rng.normal(size=60), "plan": 1 + np.arange(60) % 2, "label": [0, 1, 1, 0] * 15}
    )
    table.loc[[3, 50], "plan"] = np.nan
    table.to_csv(project / "data" / "raw" / "plans.csv", index=False)
    params = load_params(
        overrides=[
            "data.source=file",
            "data.path=data/raw/plans.csv",
            "data.categorical=[plan]",
            "data.impute=median",
            "seeds=[1]",
            "classifiers.use=[logreg]",
        ]
    )
    run_until(params, "log_run")
    p = params.paths
    assert read_json(p.data_schema)["categories"] == {"plan": ["1", "2"]}
    assert list(pd.read_parquet(p.train_scaled).columns) == ["a", "plan=1", "plan=2", "label"]
    prep = Preprocessing.from_dict(read_json(p.scaler))
    expected = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    for plans in (
        [1, 2, 2],
        [1.0, 2.0, 2.0],
        ["1", "2", "2"],
        [1, "2", 2.0],
        pd.Categorical([1.0, 2.0, 2.0]),  # a pandas Categorical of codes read as floats
    ):
        rows = pd.DataFrame({"a": [0.0, 0.5, 1.0], "plan": plans})
        np.testing.assert_array_equal(prep.transform(rows)[:, 1:], expected)
        assert unseen_categories(rows, prep.categories) == {}
    assert unseen_categories(pd.DataFrame({"plan": [1.5, 3, None]}), prep.categories) == {"plan": 2}
    record = read_json(p.run_record)
    with using_store(record["tracking_uri"]):
        model = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/encoder")
    rows = pd.DataFrame({"a": [0.0, 0.5, 1.0], "plan": [1, 2, 2]})
    as_text = model.predict(rows.astype({"plan": str})).to_numpy()
    np.testing.assert_array_equal(model.predict(rows).to_numpy(), as_text)
    np.testing.assert_array_equal(model.predict(rows.astype({"plan": float})).to_numpy(), as_text)
    # Numbers of any dtype: whole numbers read as int64, float32 from Parquet or an array. The
    # signature took only float64 for the float column "a" and refused the others.
    whole = rows.assign(a=[0, 1, 2])
    np.testing.assert_allclose(
        model.predict(whole).to_numpy(), model.predict(whole.astype({"a": float})).to_numpy()
    )
    single = rows.astype({"a": "float32"})
    np.testing.assert_allclose(model.predict(single).to_numpy(), as_text, atol=1e-6)
    with pytest.raises(Exception, match="plan"):  # the columns are still required
        model.predict(rows.drop(columns="plan"))


def test_rare_categories_share_a_column_and_a_missing_category_has_its_own(project):
    """data.min_category_rows: the categories of fewer training rows share one 0/1 column,
    '(other)', and so do new rows' categories training did not have (without it they set
    none). data.missing_category: a missing value of a column of categories sets its
    '(missing)' column, in training rows, new rows and MLflow model requests alike, while
    data.impute fills the numeric columns alone; a reconstruction gives it back as missing."""
    import mlflow

    from aefx.scaling import Preprocessing
    from aefx.tracking import using_store

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=90),
            "city": np.array(["lyon", "paris"], dtype=object)[np.arange(90) % 2],
            "plan": (1 + np.arange(90) % 2).astype(float),
            "label": [0, 1, 1] * 30,
        }
    )
    table.loc[[3, 6, 40, 43, 50, 53], "city"] = ["nice"] * 4 + ["brest"] * 2
    table.loc[::3, "plan"] = np.nan
    table.loc[[5, 7], "a"] = np.nan
    table.to_csv(project / "data" / "raw" / "towns.csv", index=False)
    params = load_params(
        overrides=[
            "data.source=file",
            "data.path=data/raw/towns.csv",
            "data.categorical=[city, plan]",
            "data.min_category_rows=5",
            "data.missing_category=true",
            "data.impute=median",
            "seeds=[1]",
            "classifiers.use=[logreg]",
        ]
    )
    run_until(params, "log_run")
    p = params.paths
    city = ["city=lyon", "city=paris", "city=(other)"]
    plan = ["plan=(missing)", "plan=1", "plan=2"]
    for raw_path, scaled_path in ((p.train, p.train_scaled), (p.test, p.test_scaled)):
        raw, scaled = pd.read_parquet(raw_path), pd.read_parquet(scaled_path)
        assert list(scaled.columns) == ["a", *city, *plan, "label"]
        assert (scaled[city].sum(axis=1) == 1).all() and (scaled[plan].sum(axis=1) == 1).all()
        rare = raw["city"].isin(["nice", "brest"]).to_numpy()
        assert rare.any() and (scaled.loc[rare, "city=(other)"] == 1).all()
        assert (scaled["plan=(missing)"].to_numpy() == raw["plan"].isna().to_numpy()).all()
        assert scaled["a"].notna().all()
    saved = read_json(p.scaler)
    assert saved["missing_category"] is True and set(saved["fill"]) == {"a"}

    prep = Preprocessing.from_dict(saved)
    rows = pd.DataFrame(
        {"a": [0.1, 0.2, 0.3], "city": ["marseille", "lyon", "brest"], "plan": [None, 2, 1]}
    )
    X = pd.DataFrame(prep.transform(rows), columns=prep.features)
    assert X[city].to_numpy().tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert X[plan].to_numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert prep.unseen(rows) == {"city": 2}  # marseille, and brest (rare in training)
    back = prep.inverse_transform(X.to_numpy())
    assert back["plan"].isna().tolist() == [True, False, False]
    assert back["plan"].tolist()[1:] == ["2", "1"]
    assert back["city"].tolist() == ["(other)", "lyon", "(other)"]

    record = read_json(p.run_record)
    with using_store(record["tracking_uri"]):
        model = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/encoder")
    served = model.predict(rows).to_numpy()
    from aefx.serving import EncoderModel

    encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    np.testing.assert_allclose(served, encoder.encode(X.to_numpy()).to_numpy(), rtol=1e-6)

    # `aefx score` counts per row the values filled as in training: a missing number, not a
    # missing category (that is one of its own).
    holed = rows.assign(a=[None, 0.2, None])
    holed.to_csv(project / "holed.csv", index=False)
    done = subprocess.run(
        [sys.executable, "-m", "aefx", "score", "-m", str(p.encoder_meta), "-i", "holed.csv",
         "-o", "scores.csv"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(project / "scores.csv")["filled"].tolist() == [1, 0, 1]


def test_ignored_columns_reach_the_encoded_splits_beside_their_rows(project):
    """The columns data.ignore names (ids) were dropped at ingest, so the encoded splits, split
    and shuffled, could not be joined back to the user's rows. They now stay in the ingested
    splits and reach the encoded ones, row for row, and no model: the scaled splits, the
    autoencoder's width and every classifier see the features alone."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "customer": [f"c{i:03d}" for i in range(60)],
            "a": rng.normal(size=60),
            "key": rng.permutation(60) * 7,
            "b": rng.normal(size=60),
            "label": [0, 1] * 30,
        }
    )
    table.to_csv(project / "data" / "raw" / "people.csv", index=False)
    params = load_params(
        overrides=[
            "data.source=file",
            "data.path=data/raw/people.csv",
            "data.ignore=[key,customer]",
            "seeds=[1]",
            "classifiers.use=[logreg]",
            "tracking.registered_model=null",  # and the model logged, not registered
        ]
    )
    run_until(params, "log_run")
    p = params.paths
    train, test = (pd.read_parquet(path) for path in (p.train, p.test))
    assert list(train.columns) == ["key", "customer", "a", "b", "label"]
    assert len(train) + len(test) == 60
    # Each ingested row is the user's row with that id, whole.
    by_id = table.set_index("customer")
    for split in (train, test):
        np.testing.assert_array_equal(
            split[["key", "a", "b", "label"]].to_numpy(),
            by_id.loc[split["customer"], ["key", "a", "b", "label"]].to_numpy(),
        )
    assert list(pd.read_parquet(p.train_scaled).columns) == ["a", "b", "label"]
    encoder = load_model(p.encoders / "seed-1.keras")
    assert encoder.input_shape[-1] == 2
    for split, ingested in (("train", train), ("test", test)):
        encoded = pd.read_parquet(p.encoded / f"{split}-seed-1.parquet")
        assert list(encoded.columns[:2]) == ["key", "customer"]
        assert list(encoded.columns[-1:]) == ["label"]
        pd.testing.assert_frame_equal(
            encoded[["key", "customer", "label"]], ingested[["key", "customer", "label"]]
        )
        scaled = pd.read_parquet(p.train_scaled if split == "train" else p.test_scaled)
        codes = encoder.predict(scaled[["a", "b"]].to_numpy("float32"), verbose=0)
        np.testing.assert_allclose(
            encoded.drop(columns=["key", "customer", "label"]), codes, atol=1e-5
        )
    records = pd.read_json(p.comparison)
    assert set(records.features) == {"raw", "pca", "encoded", "raw_encoded"}
    assert records["accuracy"].between(0, 1).all()
    # The MLflow model asks for the features alone, and takes rows with their ids as well.
    import mlflow

    from aefx.tracking import client, using_store

    record = read_json(p.run_record)
    with using_store(record["tracking_uri"]):
        model = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/encoder")
    assert model.metadata.signature.inputs.input_names() == ["a", "b"]
    assert record["model_version"] is None
    assert client(record["tracking_uri"]).search_registered_models() == []
    assert model.predict(test.drop(columns="label")).shape == (len(test), encoder.output_shape[-1])


def test_a_column_of_numbers_then_text_is_read_as_text(tmp_path):
    """pandas read a large CSV in chunks: an id column of numbers whose text ids start late in
    the file came as ints and strings in one column, which Parquet cannot hold (ingest failed
    in pyarrow's traceback once ignored columns were written with the splits), and a label
    so read split each class in two (1 and '1')."""
    from aefx.config import DataConfig

    n = 270_000  # more rows than pandas' first chunk (2**18)
    ids = np.arange(n).astype(object)
    ids[-5:] = [f"x{i}" for i in range(5)]
    labels = np.array([0, 1] * (n // 2), dtype=object)
    labels[-20:] = "maybe"
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"id": ids, "a": rng.normal(size=n), "label": labels})
    table.to_csv(tmp_path / "big.csv", index=False)
    with pytest.warns(pd.errors.DtypeWarning):  # as pandas reads it by default
        assert {type(v) for v in pd.read_csv(tmp_path / "big.csv")["id"]} == {int, str}
    cfg = DataConfig(source="file", path=tmp_path / "big.csv", ignore=("id",), stratify=True)
    result = ingest(cfg, tmp_path / "train.parquet", tmp_path / "test.parquet", tmp_path / "s.json")
    written = pd.concat(pd.read_parquet(tmp_path / f"{s}.parquet") for s in ("train", "test"))
    assert sorted(written["id"]) == sorted(str(v) for v in ids)
    assert result.classes == ("0", "1", "maybe")


def test_data_impute_fills_both_splits_from_the_training_rows_alone(project):
    """With data.impute a missing value is the training split's median (or mean) of its column,
    a missing category the training split's most frequent one, in test rows as in train."""
    from aefx.scaling import Imputation, Preprocessing

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "colour": ["red", "green", "red"] * 20,
            "b": rng.normal(size=60) * 10,
            "label": [0, 1] * 30,
        }
    )
    table.loc[rng.choice(60, 12, replace=False), "a"] = np.nan
    table.loc[rng.choice(60, 6, replace=False), "colour"] = None
    table.to_csv(project / "data" / "raw" / "gaps.csv", index=False)
    for strategy in ("median", "mean"):
        params = load_params(
            overrides=[
                "data.source=file",
                "data.path=data/raw/gaps.csv",
                "data.categorical=[colour]",
                f"data.impute={strategy}",
            ]
        )
        run_until(params, "scale")
        p = params.paths
        raw_train, raw_test = (pd.read_parquet(path) for path in (p.train, p.test))
        assert raw_train["a"].isna().any() and raw_test["a"].isna().any()  # both splits have gaps
        fill = read_json(p.scaler)["fill"]
        assert read_json(p.scaler)["impute"] == strategy
        assert fill["a"] == pytest.approx(getattr(raw_train["a"].dropna(), strategy)())
        assert fill["b"] == pytest.approx(getattr(raw_train["b"], strategy)())
        assert fill["colour"] == "red"
        scaled_test = pd.read_parquet(p.test_scaled)
        assert not scaled_test.isna().any(axis=None)
        prep = Preprocessing.from_dict(read_json(p.scaler))
        expected = raw_test.drop(columns="label").fillna({"a": fill["a"], "colour": "red"})
        np.testing.assert_allclose(
            prep.transform(raw_test), prep.transform(expected), rtol=0, atol=0
        )
        np.testing.assert_allclose(
            prep.transform(raw_test), scaled_test.drop(columns="label").to_numpy()
        )
    with pytest.raises(AefxError, match=r"^t: column 'a' has no values in the training split"):
        Imputation.fit(raw_train.assign(a=np.nan), "median", ["colour"], "t")


def test_scale_names_features_constant_in_training_alone(tmp_path):
    """Scale warned of every feature constant in the training split: again each constant
    column ingest had named already, and the border pixels of every image run (the digits:
    px00, px24, ...). It names those that vary in the test split alone, which nothing else
    names, and asks no images."""
    from aefx.config import DataConfig, ScaleConfig
    from tasks.scale import scale

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=20), "b": 1.0, "c": 0.0, "label": [0, 1] * 10})
    test = pd.DataFrame({"a": rng.normal(size=6), "b": 1.0, "c": [0.0, 2.0] * 3})
    test["label"] = [0, 1] * 3
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)

    def constant_features(cfg: DataConfig) -> tuple[str, ...]:
        out = tmp_path / cfg.source
        paths = (out / "train.parquet", out / "test.parquet", out / "schema.json")
        ingest(cfg, *paths)
        scaled = (out / "train_s.parquet", out / "test_s.parquet", out / "scaler.json")
        return scale(ScaleConfig(), "label", paths[2], *paths[:2], *scaled).constant_features

    files = {"path": tmp_path / "train.csv", "test_path": tmp_path / "test.csv"}
    assert constant_features(DataConfig(source="file", **files)) == ("c",)
    assert constant_features(DataConfig(source="digits")) == ()  # px00 is 0 in every image


def test_standard_scaler_round_trips(tmp_path):
    from aefx.scaling import make_scaler, scaler_from_dict, scaler_to_dict

    X = pd.DataFrame(np.random.default_rng(1).normal(3, 2, size=(30, 4)), columns=list("abcd"))
    fitted = make_scaler("standard").fit(X)
    rebuilt = scaler_from_dict(scaler_to_dict(fitted, "standard", list(X.columns), len(X)))
    np.testing.assert_allclose(rebuilt.transform(X), fitted.transform(X))


def test_training_lowers_the_loss_and_the_encoder_loads_safely(project):
    params = load_params(
        overrides=["autoencoder.epochs=8", "autoencoder.validation_every=2", "seeds=[7]"]
    )
    run_until(params, "extract_encoder")
    p = params.paths
    curve = pd.read_csv(p.learning_curves / "seed-7.csv")
    # Trained in blocks of two epochs, validated after each block.
    assert list(curve.columns) == ["epoch", "loss", "val_loss"]
    assert list(curve["epoch"]) == [2, 4, 6, 8] and curve["val_loss"].notna().all()
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    assert p.learning_curve_plot.stat().st_size > 10_000
    assert read_json(p.train_metrics)["per_seed"]["seed_7"]["epochs"] == 8
    encoder = load_model(p.encoder)
    assert encoder.name == "encoder" and encoder.output.shape[-1] == 6  # round(12 / 2)
    meta = pd.read_json(p.encoder_meta, typ="series")
    assert meta["seed"] == 7 and len(meta["features"]) == 12


def test_steps_per_compiled_call_change_speed_not_results():
    """88 training rows at batch 16 are 6 steps an epoch, 18 a block of 3 epochs. The rows
    repeat without end, so Keras ran every compiled call to its full length: 7 steps per call
    trained 21 steps a block, and 1,000 trained 1,000. A number that does not divide the block
    runs as its largest divisor below it (7 as 6; 1,000 as the whole block, as auto is for
    a block this small).
    (Not 81 or 82 rows: a last batch of one or two rows, fewer than a quarter of the batch, is
    left out on this stack, small_last_batch.)"""
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    X = np.random.default_rng(0).random((98, 10), dtype="float32")  # 10 held out for validation
    curves = []
    for steps in ("auto", 1, 7, 1000):
        cfg = AutoencoderConfig(
            epochs=6, batch_size=16, validation_every=3, steps_per_execution=steps
        )
        model, curve, _ = fit_one(X, cfg, seed=4)
        assert int(model.optimizer.iterations) == 2 * 18, steps
        curves.append(curve)
    for curve in curves[1:]:
        pd.testing.assert_frame_equal(curve, curves[0])
    assert list(curves[0]["epoch"]) == [3, 6]


def test_a_block_too_large_for_one_call_is_split_and_every_step_is_still_taken():
    """Python sees Ctrl-C and SIGTERM only between compiled calls, so auto gives a call at most
    CALL_FLOPS of arithmetic. 1,100 rows of 100 features: 990 training rows are 16 steps a pass
    at batch 64 and 160 a block of ten passes, about 34 GFLOP on the default's widths; the
    bound is 137 steps, so the block runs as two calls of 80 (the largest divisor up to 137),
    and trains as one step per call does. On 20,000 28x28 images a block was one call of 78 s,
    and `aefx run` took 74 s to stop after a SIGTERM sent 8 s into it."""
    from aefx.autoencoders import Architecture, steps_per_call_cap
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import execution_steps, fit_one

    X = np.random.default_rng(0).random((1100, 100), dtype="float32")
    runs = {}
    for steps in ("auto", 1):
        cfg = AutoencoderConfig(epochs=10, steps_per_execution=steps)
        model, curve, _ = fit_one(X, cfg, seed=1)
        assert int(model.optimizer.iterations) == 160
        runs[steps] = model.steps_per_execution, curve
    assert runs["auto"][0] == 80
    pd.testing.assert_frame_equal(runs["auto"][1], runs[1][1])
    # The reference task's block, 9 steps a pass of its 543 training rows, stays one call.
    default = Architecture.from_config(AutoencoderConfig(), 100, None)
    assert steps_per_call_cap(default, 64) == 137
    assert execution_steps("auto", 90, steps_per_call_cap(default, 64)) == 90


@pytest.mark.parametrize(
    ("settings", "features", "image_shape"),
    [
        ({}, 100, None),  # the default: denoising on the deep-bn stack
        ({"kind": "variational"}, 37, None),  # a mean and a log-variance head
        ({"kind": "dense", "hidden": (7, 5), "bottleneck": 3}, 11, None),
        ({"kind": "conv"}, 784, (28, 28, 1)),
        ({"kind": "conv", "conv_filters": (8, 4, 2)}, 15 * 13 * 3, (15, 13, 3)),  # odd sides
    ],
)
def test_the_arithmetic_counted_per_row_is_the_built_models(settings, features, image_shape):
    """multiply_adds_per_row, from the architecture alone, against the built autoencoder: each
    Dense kernel once a row, each Conv2D kernel at every position of its output."""
    import keras

    from aefx.autoencoders import Architecture, build_autoencoder, multiply_adds_per_row
    from aefx.config import AutoencoderConfig

    arch = Architecture.from_config(AutoencoderConfig(**settings), features, image_shape)
    model = build_autoencoder(arch, 1e-3)
    counted = 0
    for part in (model.get_layer("encoder"), model.get_layer("decoder")):
        for layer in part.layers:
            if isinstance(layer, keras.layers.Dense):
                counted += math.prod(layer.kernel.shape)
            elif isinstance(layer, keras.layers.Conv2D):
                counted += math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:3])
    assert multiply_adds_per_row(arch) == counted > 0


def test_a_weight_average_changes_where_training_ends_not_the_training():
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    X = np.random.default_rng(0).random((90, 10), dtype="float32")
    runs = {}
    for ema in (None, 1e-6, 0.9):
        cfg = AutoencoderConfig(epochs=6, batch_size=16, validation_every=3, weight_ema=ema)
        model, curve, _ = fit_one(X, cfg, seed=4)
        runs[ema] = model.get_weights(), curve
    last, last_curve = runs[None]
    for ema in (1e-6, 0.9):  # the same steps were taken: the curves are the last weights'
        pd.testing.assert_frame_equal(runs[ema][1], last_curve)
    # An average that forgets at once ends on the last weights; one over ~10 steps does not.
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(runs[1e-6][0], last, strict=True))
    assert not all(np.allclose(a, b, atol=1e-3) for a, b in zip(runs[0.9][0], last, strict=True))


def test_recalibrated_batchnorm_changes_the_codes_not_the_training():
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    X = np.random.default_rng(0).random((90, 10), dtype="float32")
    runs = {}
    for recalibrate in (False, True):
        cfg = AutoencoderConfig(
            epochs=6, batch_size=16, validation_every=3, recalibrate_bn=recalibrate
        )
        model, curve, _ = fit_one(X, cfg, seed=4)
        codes = np.asarray(model.get_layer("encoder")(X, training=False))
        runs[recalibrate] = [np.array(w) for w in model.trainable_weights], curve, codes
    pd.testing.assert_frame_equal(runs[True][1], runs[False][1])
    assert all(np.array_equal(a, b) for a, b in zip(runs[True][0], runs[False][0], strict=True))
    assert not np.allclose(runs[True][2], runs[False][2], atol=1e-3)


def test_an_autoencoder_over_the_budget_is_refused_before_the_rows_are_read(project):
    """The size check needs only the schema's feature count: the training split (within the
    data budget, but maybe large) is not read for a model that will not be trained."""
    from tasks.train_autoencoder import train_autoencoder

    params = load_params(overrides=["seeds=[1]"])
    run_until(params, "scale")
    p = params.paths
    p.train_scaled.unlink()
    with pytest.raises(AefxError, match=r"over data\.memory_budget_mb=0\.001"):
        train_autoencoder(
            params.autoencoder, params.seeds, params.data.label, p.data_schema, p.train_scaled,
            p.autoencoders, p.learning_curves, p.train_metrics, p.learning_curve_plot,
            memory_budget_mb=0.001,
        )  # fmt: skip
    assert not p.autoencoders.exists()


def test_a_diverged_autoencoder_is_one_line_and_leaves_no_model(project):
    """Too high a learning rate: the loss went to NaN, every row was encoded as NaN, and the run
    ended after all the training in scikit-learn's "Input X contains NaN" traceback."""
    from tasks.train_autoencoder import train_autoencoder

    params = load_params(
        overrides=["seeds=[1]", "autoencoder.epochs=3", "autoencoder.learning_rate=1e12"]
    )
    run_until(params, "scale")
    p = params.paths
    with pytest.raises(AefxError) as raised:
        train_autoencoder(
            params.autoencoder, params.seeds, params.data.label, p.data_schema, p.train_scaled,
            p.autoencoders, p.learning_curves, p.train_metrics, p.learning_curve_plot,
        )  # fmt: skip
    assert re.fullmatch(
        r"autoencoder seed 1 diverged: its loss was (nan|inf|-inf) by epoch [123] at "
        r"autoencoder\.learning_rate 1e\+12; lower the learning rate",
        str(raised.value),
    ), raised.value
    assert not p.autoencoders.exists() and not p.train_metrics.exists()


def test_a_run_diverged_by_a_penalty_names_it_beside_the_learning_rate():
    """autoencoder.l2: 1e23 (or a variational kl_weight of 1e23) made the loss NaN at the
    default learning rate, and the line said only to lower the learning rate."""
    from aefx.autoencoders import raised_penalties
    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import fit_one

    X = np.random.default_rng(0).random((90, 10), dtype="float32")
    cfg = AutoencoderConfig(kind="deep-bn", epochs=2, batch_size=16, l2=1e23)
    with pytest.raises(AefxError) as raised:
        fit_one(X, cfg, seed=1)
    assert re.fullmatch(
        r"autoencoder seed 1 diverged: its loss was (nan|inf) by epoch [12] at "
        r"autoencoder\.learning_rate 0\.002; lower the learning rate, or the loss's penalty "
        r"autoencoder\.l2 \(1e\+23\)",
        str(raised.value),
    ), raised.value
    # Each kind's own penalties, and only those raised: lowering one cannot diverge a run.
    vae = AutoencoderConfig(kind="variational", kl_weight=1e23, sparsity=1.0, l2=1e-5)
    assert raised_penalties(vae, "variational") == [
        "autoencoder.l2 (1e-05)",
        "autoencoder.kl_weight (1e+23)",
    ]
    assert raised_penalties(vae.model_copy(update={"kind": "sparse"}), "sparse") == [
        "autoencoder.l2 (1e-05)",
        "autoencoder.sparsity (1)",
    ]
    assert raised_penalties(AutoencoderConfig(kl_weight=0.5, sparsity=1e-6), "variational") == []


@pytest.mark.parametrize(
    ("epochs", "every", "block"), [(50, 10, 10), (3, 10, 3), (25, 10, 5), (13, 10, 1), (8, 1, 1)]
)
def test_blocks_are_whole_divisors_of_the_epochs(epochs, every, block):
    from aefx.config import AutoencoderConfig

    assert AutoencoderConfig(epochs=epochs, validation_every=every).block() == block


@pytest.mark.parametrize(
    ("epochs", "every", "steps_per_pass", "trained"),
    [
        ("auto", 10, 10, 50),  # the reference: 603 rows at batch 64
        ("auto", 10, 100, 50),  # more steps never means fewer than 50 passes
        ("auto", 10, 2, 250),
        ("auto", 10, 3, 170),  # 167 passes make 500 steps: whole blocks of 10 are 170
        ("auto", 1, 3, 167),
        (7, 10, 1, 7),  # a number is trained as given
    ],
)
def test_auto_epochs_train_small_tables_as_many_steps_as_the_reference(
    epochs, every, steps_per_pass, trained
):
    from aefx.config import AutoencoderConfig

    cfg = AutoencoderConfig(epochs=epochs, validation_every=every).for_steps(steps_per_pass)
    assert cfg.epochs == trained and trained % cfg.block() == 0
    with pytest.raises(ValueError, match="auto"):
        AutoencoderConfig(epochs="auto").block()


def test_a_small_table_trains_enough_passes_under_auto_epochs(project):
    """50 passes of a small table are few steps: 72 training rows at batch 24 make 3 a pass,
    150 in 50 passes. With epochs auto they train 170 passes (510 steps) in blocks of 10, and
    the MLflow run says so beside its param `auto`."""
    from aefx.tracking import client, tracking_uri

    overrides = ["autoencoder.epochs=auto", "autoencoder.batch_size=24", "seeds=[7]"]
    params = load_params(overrides=[*overrides, "classifiers.use=[logreg]"])
    run_until(params, "log_run")
    curve = pd.read_csv(params.paths.learning_curves / "seed-7.csv")
    assert list(curve["epoch"]) == list(range(10, 171, 10))
    assert read_json(params.paths.train_metrics)["per_seed"]["seed_7"]["epochs"] == 170
    mlflow_client = client(tracking_uri(params.tracking.uri))
    exp_id = mlflow_client.get_experiment_by_name(params.tracking.experiment).experiment_id
    [run] = mlflow_client.search_runs([exp_id], filter_string="tags.`aefx.kind` = 'pipeline'")
    assert run.data.params["autoencoder.epochs"] == "auto"
    assert run.data.metrics["ae_epochs"] == 170


def test_validation_rows_come_from_train_only():
    from tasks.train_autoencoder import carve_validation

    X = np.arange(100).reshape(50, 2)
    fit, val = carve_validation(X, 0.2, seed=3)
    assert len(fit) == 40 and len(val) == 10
    assert sorted(np.concatenate([fit, val])[:, 0].tolist()) == X[:, 0].tolist()


def test_a_code_as_wide_as_the_input_leaves_pca_no_reduction_and_the_report_says_so(project):
    """PCA has the code's width, at most the input's: under a code of 18 for 12 features it keeps
    all 12 dimensions, raw rotated and centred, on which logistic regression and k-NN (blind to
    rotation) score as on raw. The tables say so, lest PCA be read as a reduction that lost
    nothing."""
    import io

    from rich.console import Console

    from aefx.report import comparison_table, plot_comparison

    overrides = ["autoencoder.bottleneck=18", "seeds=[1]", "classifiers.use=[logreg, knn]"]
    params = load_params(overrides=overrides)
    run_until(params, "compare_classifiers")
    records = pd.read_json(params.paths.comparison)
    widths = dict(zip(records.features, records.width, strict=False))
    assert widths == {"raw": 12, "pca": 12, "encoded": 18, "raw_encoded": 30}
    accuracy = records.set_index(["classifier", "features"])["accuracy"]
    for clf in ("logreg", "knn"):
        assert accuracy[clf, "pca"] == pytest.approx(accuracy[clf, "raw"])
    note = "PCA keeps all 12 dimensions of raw, as the code is at least as wide"
    assert note in params.paths.comparison_table.read_text()
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(comparison_table(records.to_dict("records")))
    assert note in console.export_text()
    # The plot's legend names the feature sets as the tables' headings do.
    drawn = plot_comparison(read_json(params.paths.comparison), project / "comparison.png")
    assert drawn == ["raw (12)", "pca (12)", "encoded (18)", "raw+encoded (30)"]


def test_encode_and_compare_produce_every_record(project):
    params = load_params()
    run_until(params, "compare_classifiers")
    p = params.paths
    for split in ("train", "test"):
        for seed in params.seeds:
            codes = pd.read_parquet(p.encoded / f"{split}-seed-{seed}.parquet")
            assert codes.shape[1] == 6 + 1 and codes.notna().all().all()
    records = pd.read_json(p.comparison)
    classifiers = ("logreg", "svm_rbf", "random_forest", "gboost", "knn", "mlp")
    features = ("raw", "pca", "encoded", "raw_encoded")
    assert set(zip(records.classifier, records.features, strict=True)) == {
        (c, f) for c in classifiers for f in features
    }
    # The raw features are the same for every seed: a deterministic classifier cannot vary.
    raw_logreg = records[(records.classifier == "logreg") & (records.features == "raw")]
    assert raw_logreg["accuracy_std"].item() == 0.0
    assert (records["accuracy_ci_low"] <= records["accuracy"]).all()
    assert (records["accuracy"] <= records["accuracy_ci_high"]).all()
    assert records["accuracy"].between(0, 1).all() and records["f1_macro"].between(0, 1).all()
    assert (records["n_seeds"] == 2).all() and records["roc_auc"].notna().all()
    rows = [
        line
        for line in p.comparison_table.read_text().split("## Paired")[0].splitlines()
        if line.startswith(tuple(f"| {c} |" for c in classifiers))
    ]
    assert len(rows) == 6 and all("**" in row for row in rows)  # a winner marked per row
    # Each column says its feature set's width; a PCA narrower than raw is a reduction.
    widths = dict(zip(records.features, records.width, strict=False))
    assert widths == {"raw": 12, "pca": 6, "encoded": 6, "raw_encoded": 18}
    report = p.comparison_table.read_text()
    assert "| classifier | raw (12) | pca (6) | encoded (6) | raw+encoded (18) |" in report
    assert "not a reduction" not in report
    diffs = pd.read_json(p.differences)
    assert set(diffs["contrast"]) == {"encoded - raw", "encoded - pca", "raw_encoded - raw"}
    assert set(diffs["verdict"]) <= {"better", "worse", "no clear difference"}
    assert len(diffs) == 6 * 3 * 2  # classifiers x contrasts x (accuracy, macro F1)
    # Centred on the per-seed scores' mean difference; wider than the seeds alone allow, as the
    # interval also counts the draw of test rows.
    scores = pd.read_csv(p.comparison_rows).pivot_table(
        index=["classifier", "seed"], columns="features", values=["accuracy", "f1_macro"]
    )
    widened = []
    for d in diffs.itertuples():
        learned, baseline = d.contrast.split(" - ")
        per_seed = (
            scores.loc[d.classifier, (d.metric, learned)]
            - scores.loc[d.classifier, (d.metric, baseline)]
        )
        assert d.mean == pytest.approx(per_seed.mean())
        seeds_only = paired_difference(per_seed.tolist(), [0.0] * len(per_seed))
        assert d.ci_low <= seeds_only.low + 1e-12 and seeds_only.high - 1e-12 <= d.ci_high
        widened.append(d.ci_high - d.ci_low > seeds_only.high - seeds_only.low + 1e-9)
    assert any(widened)
    for plot in (p.comparison_plot, p.confusion_plot):
        assert plot.stat().st_size > 10_000
    assert "CI n/a" not in p.comparison_table.read_text()  # two seeds: every verdict has one


def test_one_seed_says_why_no_verdict_is_called(project):
    """With one seed a difference has no interval, so its verdict can only be "no clear
    difference", which read as if tested: the report says why, and what to set."""
    params = load_params(overrides=["seeds=[1]", "classifiers.use=[logreg]"])
    run_until(params, "compare_classifiers")
    diffs = pd.read_json(params.paths.differences)
    assert diffs["ci_low"].isna().all() and set(diffs["verdict"]) == {"no clear difference"}
    assert (
        "**CI n/a: one seed gives no interval, so no verdict can be called: set two or more "
        "seeds (the default is 5).**"
    ) in params.paths.comparison_table.read_text()


def test_an_output_that_cannot_be_made_is_one_line_naming_it(tmp_path):
    """A file where the output's folder should be: a traceback (FileExistsError) from `aefx
    encode -o notes.txt/codes.csv`; now one line, and nothing is written."""
    from aefx.io import atomic_dir, atomic_path

    (tmp_path / "notes.txt").write_text("keep me")
    for atomic in (atomic_path, atomic_dir):
        target = tmp_path / "notes.txt" / "sub" / "codes.csv"
        with pytest.raises(AefxError) as caught, atomic(target):
            pytest.fail("the block must not run")
        assert str(caught.value) == (
            f"{target}: cannot write there ({tmp_path / 'notes.txt'} is a file, not a folder)"
        )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    from aefx.io import atomic_path

    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_outputs_are_created_under_the_users_umask(tmp_path, umask, file_mode, dir_mode):
    from aefx.io import atomic_dir, write_json

    previous = os.umask(umask)
    try:
        write_json(tmp_path / "metrics.json", {"accuracy": 0.9})
        with atomic_dir(tmp_path / "models") as tmp:
            write_json(tmp / "encoder.json", {})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "models").stat().st_mode) == dir_mode
    assert stat.S_IMODE((tmp_path / "models" / "encoder.json").stat().st_mode) == file_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "models"]


def test_a_grid_written_with_exponents_tunes_over_those_numbers(tmp_path):
    """YAML reads ``1e-2`` as text: the search passed the text to scikit-learn, whose fits of
    it failed and were scored NaN and passed over, so the grid searched was not the one
    written. Each value is now read as its setting reads it."""
    import warnings

    from aefx.classifiers import make_classifier

    (tmp_path / "params.yaml").write_text(
        "classifiers:\n  tune: true\n  logreg:\n    grid: {C: [1e-2, 1e2]}\n"
    )
    params = load_params(tmp_path / "params.yaml")
    model = make_classifier("logreg", params.classifiers, seed=1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed fit warns (FitFailedWarning)
        model.fit(X, y)
    assert list(model.cv_results_["param_C"]) == [0.01, 100.0]
    assert np.isfinite(model.cv_results_["mean_test_score"]).all()


def test_logreg_on_raw_features_reproduces_the_reference(project):
    """The reference task's published baseline: 0.8939 test accuracy, deterministic."""
    from aefx.classifiers import make_classifier, score
    from aefx.config import ClassifiersConfig, Params

    params = Params()  # the defaults are the reference task
    run_until(params, "scale")
    train = pd.read_parquet(params.paths.train_scaled)
    test = pd.read_parquet(params.paths.test_scaled)
    model = make_classifier("logreg", ClassifiersConfig(), seed=1)
    model.fit(train.drop(columns="label"), train["label"])
    result = score(model, test.drop(columns="label"), test["label"])
    assert round(result["accuracy"], 4) == 0.8939


def test_ingest_reads_parquet(tmp_path):
    from aefx.config import DataConfig

    frame = pd.DataFrame({"x": np.arange(30.0), "y": np.arange(30.0) ** 2, "t": [0, 1, 2] * 10})
    frame.to_parquet(tmp_path / "in.parquet")
    cfg = DataConfig(source="file", path=tmp_path / "in.parquet", label="t", stratify=True)
    result = ingest(cfg, tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "s.json")
    assert result.classes == ("0", "1", "2") and result.n_train + result.n_test == 30


def test_decimal_columns_are_numbers_to_ingest_encode_and_train_stream(tmp_path):
    """Spark writes amounts and prices as DecimalType, which pandas reads as Python Decimal
    objects: ingest refused the column (`is not numeric (its type is object; store it as
    numbers)`) and train-stream did too (`decimal128(10, 2)`). All three readers take it as
    the floats it holds, a missing one as a missing value."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from aefx.config import DataConfig
    from aefx.encode import read_chunks
    from aefx.streaming import survey
    from tasks.ingest import read_table

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]).assign(
        label=[0, 1] * 30
    )
    prices = np.round(rng.uniform(1, 500, 60), 2)
    frame["price"] = prices
    table = pa.Table.from_pandas(frame, preserve_index=False)
    exact = pa.array([decimal.Decimal(f"{v:.2f}") for v in prices], pa.decimal128(10, 2))
    source = tmp_path / "sales.parquet"
    pq.write_table(table.set_column(4, "price", exact), source)
    floats = tmp_path / "floats.parquet"
    frame.to_parquet(floats, index=False)

    pd.testing.assert_frame_equal(read_table(source), frame)
    pd.testing.assert_frame_equal(pd.concat(read_chunks(source, 25), ignore_index=True), frame)
    plans = [survey(p, "label", "minmax", 0.2, 100, 25, seed=1) for p in (source, floats)]
    assert plans[0].features == ["a", "b", "c", "price"]
    np.testing.assert_array_equal(plans[0].X_val, plans[1].X_val)
    cfg = DataConfig(source="file", path=source)
    outputs = [tmp_path / name for name in ("train.parquet", "test.parquet", "schema.json")]
    result = ingest(cfg, *outputs)
    assert result.n_train + result.n_test == 60
    assert pd.read_parquet(outputs[0])["price"].dtype == "float64"

    gap = tmp_path / "gap.parquet"
    pq.write_table(table.set_column(4, "price", pa.array([None, *exact[1:]], exact.type)), gap)
    assert read_table(gap)["price"].isna().tolist() == [True] + [False] * 59


def test_a_part_file_changed_after_a_runs_check_is_read_again(tmp_path):
    """A folder's own modification time does not move when a file in it is rewritten: the
    check's splits are kept for ingest only while every Parquet file in it is unchanged."""
    from aefx.config import DataConfig
    from tasks import ingest as ingest_module

    folder = tmp_path / "table.parquet"
    folder.mkdir()
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    frame = frame.assign(label=[0, 1] * 20)
    frame.head(20).to_parquet(folder / "part-0.parquet", index=False)
    frame.tail(20).to_parquet(folder / "part-1.parquet", index=False)
    cfg = DataConfig(source="file", path=folder)
    outputs = [tmp_path / name for name in ("train.parquet", "test.parquet", "schema.json")]

    train, test, *_ = ingest_module.check_data(cfg)
    assert len(train) + len(test) == 40
    frame.tail(10).to_parquet(folder / "part-1.parquet", index=False)  # changed since
    result = ingest(cfg, *outputs)
    assert result.n_train + result.n_test == 30


def test_ingest_after_a_runs_check_reads_the_data_once_unless_it_changed(
    tmp_path, monkeypatch, caplog
):
    """`aefx run` reads and checks the data before Prefect starts; the flow's ingest then takes
    those splits instead of reading the file again, once, and only if the file is unchanged.
    The data's warnings are logged by ingest, in the flow's log, not by the check."""
    import logging

    from aefx.config import DataConfig
    from tasks import ingest as ingest_module

    reads = []
    real_read_csv = ingest_module.read_csv

    def read_csv(path, *args, **kwargs):
        reads.append(path)
        return real_read_csv(path, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "read_csv", read_csv)
    source = tmp_path / "mine.csv"
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    frame.assign(d=1.0, label=[0, 1] * 20).to_csv(source, index=False)
    cfg = DataConfig(source="file", path=source)
    outputs = [tmp_path / name for name in ("train.parquet", "test.parquet", "schema.json")]

    with caplog.at_level(logging.WARNING):
        train, test, *_ = ingest_module.check_data(cfg)
        assert caplog.messages == []
        result = ingest(cfg, *outputs)
    assert caplog.messages == [f"{source}: 1 constant column(s) carry no information: d"]
    assert len(reads) == 1 and (result.n_train, result.n_test) == (len(train), len(test))
    assert pd.read_parquet(outputs[0]).equals(train.reset_index(drop=True))
    ingest(cfg, *outputs)  # the checked splits serve one ingest
    assert len(reads) == 2
    ingest_module.check_data(cfg, keep=False)  # a sweep's check keeps nothing
    ingest(cfg, *outputs)
    assert len(reads) == 4

    ingest_module.check_data(cfg)
    frame.head(30).assign(label=[0, 1] * 15).to_csv(source, index=False)  # changed since
    result = ingest(cfg, *outputs)
    assert len(reads) == 6 and result.n_train + result.n_test == 30


def test_cv_mode_and_tuning_use_the_training_split_only(project, monkeypatch):
    """In cv mode the verdicts rest on k-fold scores of the training split; tuning grid-searches
    inside whatever rows it is fitted on. The test split only feeds the reported test scores."""
    from sklearn.model_selection import GridSearchCV

    import tasks.compare_classifiers as compare
    from aefx.config import ClassifiersConfig

    params = load_params(
        overrides=[
            "evaluation.mode=cv",
            "evaluation.folds=3",
            "classifiers.use=[logreg, knn]",
            "classifiers.tune=true",
            "seeds=[1, 2]",
        ]
    )
    assert isinstance(compare.make_classifier("logreg", params.classifiers, 1), GridSearchCV)
    assert not isinstance(compare.make_classifier("logreg", ClassifiersConfig(), 1), GridSearchCV)

    fitted_rows: list[int] = []
    original = compare.evaluate

    def spy(name, cfg, evaluation, seed, data, image_shape=None):
        fitted_rows.append(len(data[0]))
        return original(name, cfg, evaluation, seed, data, image_shape)

    monkeypatch.setattr(compare, "evaluate", spy)
    run_until(params, "compare_classifiers")
    n_train = len(pd.read_parquet(params.paths.train))
    assert set(fitted_rows) == {n_train}

    rows = pd.read_csv(params.paths.comparison_rows)
    assert set(rows["split"]) == {"cv0", "cv1", "cv2", "test"}
    diffs = pd.read_json(params.paths.differences)
    assert (diffs["basis"] == "cv").all() and (diffs["n"] == 2 * 3).all()
    # Each interval is the corrected one over that classifier's 2 seeds x 3 folds of scores.
    scores = rows[rows["split"] != "test"].pivot_table(
        index=["classifier", "seed", "split"], columns="features", values=["accuracy", "f1_macro"]
    )
    for d in diffs.itertuples():
        learned, baseline = d.contrast.split(" - ")
        cells = scores.loc[d.classifier]
        expected = cv_interval((cells[d.metric, learned] - cells[d.metric, baseline]).tolist(), 3)
        assert (d.mean, d.ci_low, d.ci_high) == pytest.approx(
            (expected.mean, expected.low, expected.high)
        )
    records = pd.read_json(params.paths.comparison)
    assert records["cv_accuracy"].between(0, 1).all() and records["accuracy"].notna().all()
    for r in records.itertuples():
        cell = scores.loc[r.classifier]["accuracy", r.features].tolist()
        assert r.cv_accuracy_ci_high == pytest.approx(cv_interval(cell, 3).high)
    assert "k-fold CV on the training split" in params.paths.comparison_table.read_text()


def test_macro_f1_as_the_metric_ranks_tunes_and_reports_by_it(project):
    """evaluation.metric: f1_macro (for imbalanced classes): grid search scores by it, the
    report's first table is of it with its winners marked, and a sweep shows it."""
    import tasks.compare_classifiers as compare
    from flows.sweep import headline_metric

    params = load_params(
        overrides=[
            "evaluation.metric=f1_macro",
            "classifiers.use=[logreg, knn]",
            "classifiers.tune=true",
            "seeds=[1, 2]",
        ]
    )
    assert compare.make_classifier("logreg", params.classifiers, 1, None, "f1_macro").scoring == (
        "f1_macro"
    )
    assert headline_metric(params) == "test_f1_macro.logreg.encoded"
    run_until(params, "compare_classifiers")
    records = pd.read_json(params.paths.comparison)
    report = params.paths.comparison_table.read_text()
    assert report.split("\n")[2].startswith("**f1_macro on the test split: mean")
    first_table = report.split("**accuracy on the test split")[0]
    header = next(line for line in first_table.splitlines() if line.startswith("| classifier"))
    # Headings are feature sets with their widths: "raw+encoded (18)".
    headings = [f.strip().split(" (")[0] for f in header.split("|")[2:-1]]
    features = [f.replace("raw+encoded", "raw_encoded") for f in headings]
    for clf in ("logreg", "knn"):
        row = next(line for line in first_table.splitlines() if line.startswith(f"| {clf} |"))
        marked = {f for f, cell in zip(features, row.split("|")[2:-1], strict=True) if "**" in cell}
        mine = records[records.classifier == clf]
        assert marked == set(mine[mine.f1_macro == mine.f1_macro.max()].features)


def test_same_params_and_seed_give_identical_weights_and_scores(project):
    """Op determinism on: a rerun reproduces the encoder bit for bit, and every score."""
    params = load_params(overrides=["seeds=[3]", "classifiers.use=[logreg, gboost]"])
    run_until(params, "compare_classifiers")
    first = load_model(params.paths.encoder).get_weights()
    first_scores = pd.read_json(params.paths.comparison)
    run_until(params, "compare_classifiers")
    second = load_model(params.paths.encoder).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    pd.testing.assert_frame_equal(first_scores, pd.read_json(params.paths.comparison))


def test_a_model_with_code_in_it_is_refused_without_running_it(tmp_path):
    """safe_mode: a Lambda layer's code never runs at load time; the user gets one clear line."""
    import keras

    marker = tmp_path / "pwned"
    # Serialized as bytecode; it would leave a file behind if it were ever executed.
    payload = lambda x, p=str(marker): (__import__("pathlib").Path(p).touch(), x)[1]  # noqa: E731
    inputs = keras.Input((3,))
    crafted = keras.Model(inputs, keras.layers.Lambda(payload)(inputs))
    crafted.save(tmp_path / "crafted.keras")
    marker.unlink(missing_ok=True)
    with pytest.raises(AefxError, match="refused") as caught:
        load_model(tmp_path / "crafted.keras")
    assert not marker.exists()
    # Keras' long reason is cut after a whole word (it was cut mid-word).
    with pytest.raises(ValueError) as keras_said:
        keras.saving.load_model(tmp_path / "crafted.keras", safe_mode=True, compile=False)
    reason = str(caught.value).split("model (", 1)[1].removesuffix(")")
    assert reason.endswith("...") and len(reason) <= 160
    assert str(keras_said.value).startswith(reason.removesuffix("...") + " ")
    # A config naming an arbitrary class is refused the same way.
    import json
    import zipfile

    with zipfile.ZipFile(tmp_path / "crafted.keras") as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["layers"][1]["module"] = "os"
    config["config"]["layers"][1]["class_name"] = "system"
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "evil.keras", "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(AefxError, match="refused"):
        load_model(tmp_path / "evil.keras")


def test_a_tampered_encoder_is_refused(project):
    from aefx.serving import EncoderModel

    params = load_params(overrides=["seeds=[1]", "autoencoder.epochs=1"])
    run_until(params, "extract_encoder")
    p = params.paths
    raw = pd.read_parquet(p.test).drop(columns="label").head(4)
    assert EncoderModel.from_files(str(p.encoder), str(p.encoder_meta)).predict(
        None, raw
    ).shape == (4, 6)
    with open(p.encoder, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(AefxError, match="refusing a modified encoder"):
        EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))


def test_the_comparison_does_not_depend_on_how_many_cells_run_at_once(project):
    """Each cell gets one BLAS/OpenMP thread wherever it runs, so compute.threads (which no
    DVC stage lists as a param) changes the time, never a score."""
    from aefx.pipeline import stage

    run_until(load_params(), "encode_splits")
    records = [
        stage("compare_classifiers").run(load_params(overrides=[f"compute.threads={n}"])).records
        for n in (1, 2)
    ]
    assert records[0] == records[1]


def test_a_cell_keeps_one_blas_thread_while_the_cell_beside_it_ends():
    """OpenBLAS has one thread count per process: a cell that ends must not hand the cell still
    fitting beside it the machine's count, and the count comes back once no cell runs. Seen
    through a dot product long enough that OpenBLAS splits it between threads, so that its last
    bits tell how many threads summed it (OpenBLAS's own count reads wrong from a thread)."""
    import threading

    from threadpoolctl import threadpool_limits

    from aefx.threads import one_thread_each
    from tasks.compare_classifiers import Cell, CellResult, thread_mapper

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(100_000), rng.standard_normal(100_000)
    with threadpool_limits(limits=1, user_api="blas"):
        by_one = float(x @ y)
    first_ended, second_started = threading.Event(), threading.Event()

    def score(cell: Cell) -> CellResult:
        # Cells score as score_cell does; the second sums only after the first has ended.
        with one_thread_each():
            if cell.seed == 1:
                assert second_started.wait(30)
            else:
                second_started.set()
                assert first_ended.wait(30)
            rows = [{"sum": float(x @ y)}]
        if cell.seed == 1:
            first_ended.set()
        return CellResult(cell, rows, np.zeros(0))

    with threadpool_limits(limits=2, user_api="blas"):
        by_two = float(x @ y)
        if by_two == by_one:
            pytest.skip("this BLAS sums the same on one thread as on two: nothing to see")
        cells = [Cell(1, "logreg", "raw"), Cell(2, "logreg", "raw")]
        summed = [r.rows[0]["sum"] for r in thread_mapper(2)(score, cells)]
        assert summed == [by_one, by_one]
        assert float(x @ y) == by_two


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the float mode is set on Linux on x86-64 only",
)
def test_a_cell_computes_subnormal_floats_as_zero_and_only_while_it_runs():
    """An MLP whose idle weights go subnormal (below 2.2e-308) took 7x as long an epoch on the
    CPU's slow path for them; in a cell they are zero. The mode is the cell's thread's: the
    thread beside it and the same thread after the cell compute them as before."""
    import threading

    from aefx.threads import one_thread_each
    from tasks.compare_classifiers import Cell, CellResult, thread_mapper

    tiny, subnormal = np.float64(1e-300), np.array([5e-324, 1e-310])
    outside = (float(tiny * 1e-10), (subnormal * 1.0).tolist())
    assert outside == (1e-310, [5e-324, 1e-310])
    in_cell, beside = threading.Event(), threading.Event()

    def score(cell: Cell) -> CellResult:
        if cell.seed == 1:  # a cell
            with one_thread_each():
                in_cell.set()
                assert beside.wait(30)
                rows = [{"in": (float(tiny * 1e-10), (subnormal * 1.0).tolist())}]
        else:  # a thread beside it, computing while the cell runs
            assert in_cell.wait(30)
            rows = [{"in": (float(tiny * 1e-10), (subnormal * 1.0).tolist())}]
            beside.set()
        rows.append({"after": (float(tiny * 1e-10), (subnormal * 1.0).tolist())})
        return CellResult(cell, rows, np.zeros(0))

    cells = [Cell(1, "mlp", "raw"), Cell(2, "mlp", "raw")]
    first, second = (r.rows for r in thread_mapper(2)(score, cells))
    assert first == [{"in": (0.0, [0.0, 0.0])}, {"after": outside}]
    assert second == [{"in": outside}, {"after": outside}]
    assert (float(tiny * 1e-10), (subnormal * 1.0).tolist()) == outside


CPUINFO = {
    "avx2": (
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4\n"
        "flags\t\t: fpu sse4_2 avx avx2 fma\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4\nflags\t\t: fpu\n"
    ),
    "avx512f": "model name\t: AMD EPYC\nflags\t\t: sse4_2 avx avx2 avx512f avx512bw\n",
    "asimd": "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\nCPU implementer\t: 0x41\n",
}


@pytest.mark.parametrize("simd", list(CPUINFO))
def test_runs_are_tagged_with_the_cpu_whose_kernels_made_them(tmp_path, monkeypatch, simd):
    from aefx.provenance import machine_tags

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO[simd])
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    tags = machine_tags(cpuinfo)
    assert tags["host.simd"] == simd  # the first CPU's widest, never a later CPU's line
    assert tags["host.cpu"] and tags["host.cpu"] != "fp asimd evtstrm aes"
    if simd == "avx2":
        assert tags["host.cpu"] == "Intel(R) Xeon(R) CPU E5-2680 v4"
    assert tags["host.onednn_max_cpu_isa"] == "AVX2"
    assert machine_tags(tmp_path / "absent")["host.simd"] == "unknown"


@pytest.mark.parametrize(
    ("y", "classifier", "mode", "folds", "tune", "refusal"),
    [
        ([0, 1] * 5, "knn", "holdout", 5, False, "k-NN fits on 10 training rows, fewer than"),
        ([0, 1] * 10, "knn", "holdout", 5, False, None),
        ([0, 1], "logreg", "holdout", 5, False, None),
        ([0] * 17 + [1] * 3, "logreg", "cv", 5, False, "class 1 has 3 row(s) to split into "),
        ([0, 1] * 50, "knn", "cv", 5, True, None),  # 100 -> 80 -> 53 rows to fit on
        ([0, 1] * 10, "knn", "cv", 5, True, "k-NN fits on 10 training rows"),  # 20 -> 16 -> 10
        # Class 1's 4 rows: 2 evaluation folds leave 2 to fit on, too few for 3 tuning folds.
        ([0] * 15 + [1] * 4, "logreg", "cv", 2, True, "class 1 has 2 row(s) to split into cl"),
        ([0] * 15 + [1] * 4, "logreg", "cv", 2, False, None),
    ],
)
def test_a_training_split_too_small_for_the_settings_is_named(
    y, classifier, mode, folds, tune, refusal
):
    """scikit-learn's own errors came from inside a fit, as a traceback at the last stage."""
    import re

    from aefx.classifiers import check_training_split
    from aefx.config import ClassifiersConfig, EvaluationConfig

    cfg, evaluation = ClassifiersConfig(tune=tune), EvaluationConfig(mode=mode, folds=folds)
    args = (np.asarray(y), classifier, cfg, evaluation, "train.parquet")  # k-NN: 15 neighbours
    if refusal is None:
        check_training_split(*args)
    else:
        with pytest.raises(AefxError, match=f"^train.parquet: {re.escape(refusal)}"):
            check_training_split(*args)


def test_a_promote_metric_no_run_logs_on_these_labels_is_refused_before_training():
    """tracking.promote_metric `test_roc_auc.svm_rbf.encoded` is a name runs log, but the RBF
    SVM has no class probabilities, so it has no ROC AUC on three classes: the run's promote
    step failed after all the training (every scheduled run's too). The classifiers' own scores
    decide which are refused."""
    from sklearn.datasets import make_classification

    from aefx.classifiers import check_every_classifier, make_classifier, score
    from aefx.config import NO_PROBABILITIES, ClassifierName, ClassifiersConfig, Params

    for classes in (2, 3):
        X, y = make_classification(90, 6, n_informative=4, n_classes=classes, random_state=0)
        for name in get_args(ClassifierName):
            if name == "cnn":
                continue  # it is raw images' only (cannot fit on these rows); it has probabilities
            model = make_classifier(name, ClassifiersConfig(), seed=1).fit(X, y)
            metric = f"test_roc_auc.{name}.raw"
            promoting = Params(tracking={"promote_alias": "champion", "promote_metric": metric})
            logged = score(model, X, y)["roc_auc"] is not None
            assert logged == (classes == 2 or name not in NO_PROBABILITIES), name
            if logged:
                check_every_classifier(y, y, promoting, "train.parquet", "test.parquet")
            else:
                with pytest.raises(AefxError) as caught:
                    check_every_classifier(y, y, promoting, "train.parquet", "test.parquet")
                assert str(caught.value) == (
                    f"tracking.promote_metric {metric!r}: {name} gives no class probabilities, "
                    "so runs log its ROC AUC for two classes only, and train.parquet has 3 "
                    "classes; promote by its test_accuracy or test_f1_macro, or by another "
                    "classifier's ROC AUC"
                )
                # Only a run that promotes needs it: `aefx promote` says so itself.
                unpromoted = Params(tracking={"promote_metric": metric})
                check_every_classifier(y, y, unpromoted, "train.parquet", "test.parquet")
    from aefx.cnn import CnnClassifier

    assert hasattr(CnnClassifier, "predict_proba")


def test_a_promote_metric_the_test_split_cannot_give_is_refused_before_training(project):
    """A test split without rows of a class that training has gives no ROC AUC: promoting by
    test_roc_auc.logreg.encoded failed at the run's last step, with the encoder trained and
    registered (checked by hand on e227f76). The classifier's own scores decide; the check of
    `dvc repro` and of the flow after scale reads the scale stage's test split."""
    from sklearn.datasets import make_classification

    from aefx.classifiers import check_every_classifier, make_classifier, score
    from aefx.config import ClassifiersConfig, Params
    from aefx.pipeline import check_comparison

    metric = "test_roc_auc.logreg.encoded"
    promoting = Params(tracking={"promote_alias": "champion", "promote_metric": metric})
    by_accuracy = Params(
        tracking={"promote_alias": "champion", "promote_metric": "test_accuracy.logreg.encoded"}
    )
    refusal = (
        f"tracking.promote_metric {metric!r}: test.parquet has no rows of class(es) 1 that "
        "training has, so runs log no test ROC AUC (it needs every class); promote by a "
        "test_accuracy or test_f1_macro"
    )
    for classes in (2, 3):
        X, y = make_classification(90, 6, n_informative=4, n_classes=classes, random_state=0)
        model = make_classifier("logreg", ClassifiersConfig(), seed=1).fit(X, y)
        kept = y != 1
        assert score(model, X, y)["roc_auc"] is not None
        assert score(model, X[kept], y[kept])["roc_auc"] is None
        check_every_classifier(y, y, promoting, "train.parquet", "test.parquet")
        with pytest.raises(AefxError) as caught:
            check_every_classifier(y, y[kept], promoting, "train.parquet", "test.parquet")
        assert str(caught.value) == refusal
        check_every_classifier(y, y[kept], by_accuracy, "train.parquet", "test.parquet")

    paths = promoting.paths
    paths.train_scaled.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"label": [0, 1, 2] * 20}).to_parquet(paths.train_scaled)
    assert check_comparison(promoting) is None  # no test split: nothing to check it against
    pd.DataFrame({"label": [0, 2] * 5}).to_parquet(paths.test_scaled)
    with pytest.raises(AefxError) as caught:
        check_comparison(promoting)
    assert str(caught.value) == refusal.replace("test.parquet", str(paths.test_scaled))
    assert check_comparison(by_accuracy) is None


def test_a_comparison_whose_rbf_svm_will_take_hours_is_warned_of_before_training(project):
    """An RBF SVM's time grows with the square of the training rows: on 134,000 of them its
    cells took hours, without a word before. The warning comes as the autoencoders are about
    to train, for `aefx run` and `dvc repro` alike, with the rows, the cells and a rough
    time; not without the SVM, nor below 100,000 rows."""
    from aefx.classifiers import slow_classifiers
    from aefx.config import ClassifiersConfig, EvaluationConfig
    from aefx.pipeline import check_comparison

    params = load_params()  # the test project's: 2 seeds x 4 feature sets
    assert len(params.seeds) * len(params.classifiers.features) == 8
    params.paths.train_scaled.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"label": [0, 1] * 67_000}).to_parquet(params.paths.train_scaled)
    assert check_comparison(params) == (
        "svm_rbf fits on 134,000 training rows in each of its 8 cells: an RBF SVM's time grows "
        "with the square of the rows (29 s to fit 40,000 rows of 30 columns and predict half as "
        "many, on the machine of the README's figures: about 5 min a cell here); "
        "classifiers.use without svm_rbf leaves it out"
    )
    cfg, holdout = ClassifiersConfig(), EvaluationConfig()
    assert slow_classifiers(99_999, cfg, holdout, (1, 2, 3, 4, 5)) is None
    without = ClassifiersConfig(use=["logreg", "mlp"])
    assert slow_classifiers(1_000_000, without, holdout, (1, 2, 3, 4, 5)) is None
    tuned, cv = ClassifiersConfig(tune=True), EvaluationConfig(mode="cv")
    slow = slow_classifiers(400_000, tuned, cv, (1, 2))
    assert slow is not None and slow.startswith(
        "svm_rbf fits on 400,000 training rows in each of its 8 cells (more with "
        "evaluation.mode: cv) (more with classifiers.tune): "
    )
    assert "about 48 min a cell here" in slow


def test_a_stage_said_not_to_import_tensorflow_does_not(project):
    """`aefx stage` imports TensorFlow first, with its start-up lines dropped, for the stages
    whose Stage.tensorflow says they use it; a stage that imported it unannounced would print
    those lines again (and the light ones would stop being light)."""
    params = load_params()
    for stage in STAGES[:-1]:  # all but log_run, which loads the encoder
        if not stage.tensorflow(params):
            probe = (
                "import sys\n"
                "from aefx.config import load_params\n"
                "from aefx.pipeline import stage\n"
                f"stage({stage.name!r}).run(load_params())\n"
                "print('TENSORFLOW', 'tensorflow' in sys.modules)\n"
            )
            done = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr[-2000:]
            assert "TENSORFLOW False" in done.stdout, stage.name
        else:
            stage.run(params)  # in this process, for the inputs of the stages after it
    assert STAGES[-1].name == "log_run" and STAGES[-1].tensorflow(params)
    light = {s.name for s in STAGES if not s.tensorflow(params)}
    assert light == {"ingest", "scale", "compare_classifiers"}
    with_cnn = params.classifiers.model_copy(update={"use": ("cnn",)})
    cnn = params.model_copy(update={"classifiers": with_cnn})
    assert {s.name for s in STAGES if not s.tensorflow(cnn)} == {"ingest", "scale"}


def test_a_stages_code_dependencies_are_the_project_modules_it_imports():
    """Read from the source, through other modules and inside functions, so dvc.yaml cannot
    miss one (it had missed aefx/validation.py, where ingest's data rules live)."""
    from aefx.pipeline import stage

    ingest = stage("ingest").code_files
    assert ingest[0] == "tasks/ingest.py" and "aefx/validation.py" in ingest
    compare = stage("compare_classifiers").code_files
    assert {"aefx/classifiers.py", "aefx/cnn.py", "aefx/models.py"} <= set(compare)
    assert not any(path.startswith("flows/") for path in compare)
