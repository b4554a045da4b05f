"""Training from a Parquet file chunk by chunk: one-pass scaling statistics, the held-out
validation rows, and `aefx train-stream` end to end (MLflow run, then `aefx encode`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aefx.io import file_md5
from aefx.scaling import make_scaler, scaler_from_dict, scaler_to_dict
from aefx.streaming import RunningStats, StreamPlan, survey, training_dataset
from tests.conftest import run_command

AEFX = (sys.executable, "-m", "aefx")


def _table(rows: int, columns: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.normal(size=(rows, columns)) * np.arange(1, columns + 1) + 3.0,
        columns=[f"f{i}" for i in range(columns)],
    )
    frame["label"] = rng.integers(0, 2, rows)
    return frame


def _write(frame: pd.DataFrame, path: Path, row_group: int = 400) -> Path:
    frame.to_parquet(path, row_group_size=row_group)
    return path


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_chunked_statistics_equal_scikit_learn_on_all_rows(kind):
    X = _table(1000).drop(columns="label").to_numpy(copy=True)
    X[:, 2] = 7.0  # a constant column takes scikit-learn's zero-range rule
    stats = RunningStats()
    for block in np.array_split(X, [1, 250, 251, 700]):  # uneven, one of a single row
        stats.update(block)
    features = [f"f{i}" for i in range(X.shape[1])]
    streamed = scaler_from_dict(stats.scaler_payload(kind, features))
    X = pd.DataFrame(X, columns=features)
    reference = make_scaler(kind).fit(X)
    assert stats.n == len(X)
    np.testing.assert_allclose(streamed.transform(X), reference.transform(X), rtol=1e-9, atol=1e-9)
    expected = scaler_to_dict(reference, kind, features, len(X))["state"]
    for name, values in stats.scaler_payload(kind, features)["state"].items():
        np.testing.assert_allclose(values, expected[name], rtol=1e-9, atol=1e-12)


def test_validation_rows_are_held_out_of_training_and_of_the_scaler(tmp_path):
    frame = _table(3000)
    path = _write(frame, tmp_path / "rows.parquet")
    plan = survey(path, "label", "minmax", 0.1, 10_000, 512, seed=3)
    assert isinstance(plan, StreamPlan) and plan.rows == 3000 and len(plan.validation) == 300
    train_rows = frame.drop(index=plan.validation).drop(columns="label")
    # The scaler saw exactly the training rows.
    np.testing.assert_allclose(plan.scaler["state"]["data_min_"], train_rows.min().to_numpy())
    np.testing.assert_allclose(plan.scaler["state"]["data_max_"], train_rows.max().to_numpy())
    # One epoch of the pipeline yields every training row once, scaled, and no validation row.
    dataset = training_dataset(path, plan, 64, 512, seed=3)
    batches = [x.numpy() for x, _ in dataset]
    seen = np.vstack(batches)
    assert max(len(b) for b in batches) == 64 and len(seen) == 2700
    expected = scaler_from_dict(plan.scaler).transform(train_rows)
    np.testing.assert_allclose(
        np.sort(seen, axis=0), np.sort(expected, axis=0).astype("float32"), rtol=1e-5, atol=1e-6
    )
    # The next epoch shuffles differently; a new pipeline with the same seed repeats the first.
    again = np.vstack([x.numpy() for x, _ in dataset])
    assert not np.array_equal(again[:64], seen[:64])
    repeat = np.vstack([x.numpy() for x, _ in training_dataset(path, plan, 64, 512, seed=3)])
    np.testing.assert_array_equal(repeat, seen)


def test_an_epoch_can_leave_out_its_last_partial_batch(tmp_path):
    """What train-stream does for a small last batch on the deep-bn stack
    (:func:`aefx.autoencoders.small_last_batch`): the epoch's whole batches only, a count Keras
    is told, and another row left out each epoch."""
    path = _write(_table(100), tmp_path / "rows.parquet")
    plan = survey(path, "label", "minmax", 0.1, 10_000, 32, seed=3)
    assert plan.training_rows == 90
    dataset = training_dataset(path, plan, 89, 32, seed=3, drop_last=True)
    epochs = [[x.numpy() for x, _ in dataset] for _ in range(6)]
    assert [[len(b) for b in epoch] for epoch in epochs] == [[89]] * 6
    assert plan.batches(89, drop_last=True) == 1 and plan.batches(89) == 2
    kept = [{tuple(row) for row in epoch[0]} for epoch in epochs]
    assert len({frozenset(k) for k in kept}) > 1
    assert [len(b) for b, _ in training_dataset(path, plan, 89, 32, seed=3)] == [89, 1]


def test_the_training_pipelines_leave_tf_data_nothing_to_autotune(tmp_path):
    """tf.data's autotuning had nothing to tune in aefx's pipelines, yet letting one of their
    iterators go sometimes waited for its thread with the CPU idle: 3 of 6 pipeline trainings
    of 8 s ended 5 s late, and 4 of 18 epochs of train-stream took 10 s instead of 5
    (benchmarks/dataset_teardown.py). Unset, the option is on."""
    from tasks.train_autoencoder import shuffled_batches

    path = _write(_table(100), tmp_path / "rows.parquet")
    plan = survey(path, "label", "minmax", 0.1, 10_000, 32, seed=3)
    pipelines = {
        "pipeline": shuffled_batches(np.zeros((10, 3), dtype="float32"), 4, seed=1)[0],
        "train-stream": training_dataset(path, plan, 8, 32, seed=3),
    }
    assert {name: d.options().autotune.enabled for name, d in pipelines.items()} == {
        "pipeline": False,
        "train-stream": False,
    }


def test_a_call_of_steps_that_do_not_divide_an_epoch_ends_with_the_epochs_rows(tmp_path):
    """What train-stream's steps per call rest on: an epoch's rows run out, and Keras ends the
    last call of the epoch there. 90 training rows are 12 batches of 8 (the last of 2), run as
    calls of 5, 5 and 2: every batch of both epochs is one step, none more."""
    from aefx.autoencoders import Architecture, build_autoencoder
    from aefx.config import AutoencoderConfig

    path = _write(_table(100), tmp_path / "rows.parquet")
    plan = survey(path, "label", "minmax", 0.1, 10_000, 32, seed=3)
    arch = Architecture.from_config(AutoencoderConfig(kind="dense"), 6, None)
    model = build_autoencoder(arch, 1e-3, seed=3, steps_per_execution=5)
    model.fit(training_dataset(path, plan, 8, 32, seed=3), epochs=2, shuffle=False, verbose=0)
    assert plan.batches(8) == 12 and int(model.optimizer.iterations) == 2 * 12


def test_train_stream_splits_an_epoch_too_large_for_one_call(tmp_path):
    """With steps_per_execution auto, a call gets at most CALL_FLOPS of arithmetic, so a stop
    signal is seen within seconds (:func:`aefx.autoencoders.steps_per_call_cap`): 150 features
    at batch 32 allow 121 steps a call, and 4,700 training rows are 147 steps an epoch."""
    from aefx.config import AutoencoderConfig
    from aefx.streaming import train_stream

    source = _write(_table(5000, columns=150), tmp_path / "rows.parquet", row_group=1000)
    cfg = AutoencoderConfig(epochs=2, batch_size=32)
    out = tmp_path / "encoder"
    result = train_stream(source, out, cfg, "minmax", "label", 0.01, chunk=1000, validation_cap=300)
    assert result.steps_per_call == 121
    curve = pd.read_csv(out / "learning_curve.csv")
    assert len(curve) == 2 and np.isfinite(curve[["loss", "val_loss"]]).all().all()


def test_each_epoch_reads_the_row_groups_of_a_sorted_file_in_a_new_order(tmp_path):
    # Sorted by f0, in ten row groups of 400 rows: in file order every epoch would start with
    # the smallest values. Chunks of 200 rows: two per row group.
    frame = _table(4000).sort_values("f0", ignore_index=True)
    path = _write(frame, tmp_path / "sorted.parquet")
    plan = survey(path, "label", "minmax", 0.1, 10_000, 200, seed=5)
    dataset = training_dataset(path, plan, 400, 200, seed=5)
    group_of = {}  # scaled f0 value -> the row group it is stored in
    scaled = scaler_from_dict(plan.scaler).transform(frame.drop(columns="label"))
    for row, value in enumerate(scaled[:, 0].astype("float32")):
        group_of[float(value)] = row // 400
    orders = []
    for _ in range(3):
        rows = np.vstack([x.numpy() for x, _ in dataset])
        assert len(rows) == 4000 - len(plan.validation)
        groups = [group_of[float(v)] for v in rows[:, 0]]
        # A row group is read whole before the next: its rows are contiguous in the epoch.
        order = [g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
        assert sorted(order) == list(range(10))
        orders.append(order)
    assert orders[0] != list(range(10)) and len({tuple(o) for o in orders}) == 3


def _parts(frame: pd.DataFrame, folder: Path, parts: int, row_group: int) -> Path:
    """``frame`` as Spark writes a table: part files in a folder, and a _SUCCESS marker."""
    folder.mkdir()
    for number, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        _write(frame.iloc[rows], folder / f"part-{number:05d}.parquet", row_group)
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def _stream_alike(
    whole: Path, folder: Path, ignore: tuple[str, ...] | list[str] = ()
) -> tuple[list[StreamPlan], list[np.ndarray]]:
    """The survey and one epoch's rows of a file and of a folder holding its table, which must
    be the same: held-out rows, scaler, and every row of the epoch in its order."""
    paths = (whole, folder)
    plans = [survey(p, "label", "minmax", 0.1, 10_000, 256, seed=3, ignore=ignore) for p in paths]
    np.testing.assert_array_equal(plans[0].X_val, plans[1].X_val)
    for name, values in plans[0].scaler["state"].items():
        np.testing.assert_array_equal(values, plans[1].scaler["state"][name])
    epochs = [
        np.vstack([x.numpy() for x, _ in training_dataset(path, plan, 64, 256, seed=3)])
        for path, plan in zip(paths, plans, strict=True)
    ]
    np.testing.assert_array_equal(epochs[0], epochs[1])
    return plans, epochs


def test_a_folder_of_parquet_files_streams_as_the_one_file_it_splits(tmp_path):
    """Larger-than-memory data is what Spark writes as a folder of part files; train-stream
    said `input file not found` of the folder. Its row groups are the pieces an epoch shuffles,
    numbered across the files in path order, so the folder trains as the one file would."""
    from aefx.errors import AefxError
    from aefx.streaming import parquet_features

    frame = _table(3000)
    whole = _write(frame, tmp_path / "rows.parquet", row_group=500)
    folder = _parts(frame, tmp_path / "parts.parquet", parts=3, row_group=500)
    plans, epochs = _stream_alike(whole, folder)
    assert plans[0].rows == plans[1].rows == 3000
    np.testing.assert_array_equal(plans[0].validation, plans[1].validation)
    assert len(epochs[0]) == 2700

    # Each file's columns are read by name: a part whose columns come in another order, or whose
    # column of floats holds whole numbers as ints, is the same table (as ingest reads it).
    mixed = tmp_path / "mixed.parquet"
    mixed.mkdir()
    for number, rows in enumerate(np.array_split(np.arange(3000), 3)):
        part = frame.iloc[rows]
        _write(part[part.columns[::-1]] if number == 1 else part, mixed / f"p{number}.parquet", 500)
    plan = survey(mixed, "label", "minmax", 0.1, 10_000, 256, seed=3)
    np.testing.assert_array_equal(plan.X_val, plans[0].X_val)
    rows = np.vstack([x.numpy() for x, _ in training_dataset(mixed, plan, 64, 256, seed=3)])
    np.testing.assert_array_equal(rows, epochs[0])
    typed = tmp_path / "typed"
    typed.mkdir()
    _write(pd.DataFrame({"f0": [1, 2], "f1": [0.5, 1.5], "label": [0, 1]}), typed / "a.parquet")
    _write(pd.DataFrame({"f0": [3.5, 4.0], "f1": [2.5, 0.0], "label": [1, 0]}), typed / "b.parquet")
    assert parquet_features(typed, "label") == (["f0", "f1"], 4)

    text = tmp_path / "text"  # Spark's CSV output: one line, as for a CSV file
    text.mkdir()
    frame.to_csv(text / "part-00000.csv", index=False)
    with pytest.raises(AefxError) as caught:
        parquet_features(text, "label")
    assert str(caught.value) == (
        f"{text}: a folder of CSV or TSV files; train-stream reads Parquet (convert them with "
        "pandas first)"
    )

    odd = folder / "part-00003.parquet"  # a file of other columns: one line naming it
    _write(frame.head(10).rename(columns={"f0": "g0"}), odd)
    with pytest.raises(AefxError) as caught:
        parquet_features(folder, "label")
    assert str(caught.value) == (
        f"{odd}: its columns differ from those of part-00000.parquet (the files of a folder "
        "make one table)"
    )


def _partitioned(frame: pd.DataFrame, folder: Path, by: list[str]) -> Path:
    """``frame`` as pandas, Spark or Hive write a partitioned table: the ``by`` columns'
    values as the folders (``year=2024/``) its files are in, not in the files."""
    frame.to_parquet(folder, partition_cols=by, row_group_size=200)
    return folder


def test_a_folder_streams_its_hive_partition_columns_as_ingest_reads_them(tmp_path):
    """A partition folder's value is a column of every row in it, as ingest and `aefx encode`
    read the folder. train-stream left it out, so its encoder refused that very folder (`extra
    column(s) year`); of whole numbers it is now a feature, of text it must be ignored."""
    from aefx.errors import AefxError
    from aefx.streaming import parquet_features

    frame = _table(1600).assign(year=np.repeat([2023, 2024], 800), region="north")
    frame.loc[frame.index % 2 == 1, "region"] = "south"
    in_order = frame.sort_values(["year", "region"], kind="stable").reset_index(drop=True)
    whole = _write(in_order, tmp_path / "rows.parquet", row_group=200)  # as in each file
    folder = _partitioned(frame, tmp_path / "parts.parquet", ["year", "region"])
    assert sorted(p.name for p in folder.iterdir()) == ["year=2023", "year=2024"]
    kept = ["region"]
    assert parquet_features(folder, "label", kept) == parquet_features(whole, "label", kept)
    assert parquet_features(folder, "label", kept)[0][-1] == "year"
    _, epochs = _stream_alike(whole, folder, ignore=kept)
    assert len(np.unique(epochs[0][:, -1])) == 2  # the year, scaled: 0 and 1

    with pytest.raises(AefxError) as caught:
        parquet_features(folder, "label")
    assert str(caught.value) == (
        f"{folder}: column 'region', of its partition folders such as region=north/, is not "
        "numeric; data.ignore: [region] keeps it out"
    )


def test_the_index_pandas_stores_with_a_frame_is_no_feature(tmp_path):
    """pandas writes a frame's index that is not 0..n-1 (rows filtered, sorted) as a column of
    the file, `__index_level_0__`, and reads it back as the index. train-stream trained on it as
    a feature, and `aefx encode` of that same file then said `missing column(s)
    __index_level_0__`: the features are now the columns the encoder's reader sees."""
    from aefx.encode import read_chunks
    from aefx.streaming import parquet_features

    frame = _table(900)
    kept = frame[frame["f0"] > 3.0]  # about half the rows
    filtered = _write(kept, tmp_path / "filtered.parquet")
    plain = _write(kept.reset_index(drop=True), tmp_path / "plain.parquet")
    named = _write(kept.rename_axis("row"), tmp_path / "named.parquet")
    read = list(next(read_chunks(filtered, 100)).columns)
    for path in (filtered, plain, named):
        assert parquet_features(path, "label") == ([c for c in read if c != "label"], len(kept))
    plans = [survey(p, "label", "minmax", 0.1, 10_000, 256, seed=3) for p in (filtered, plain)]
    np.testing.assert_array_equal(plans[0].X_val, plans[1].X_val)


def test_a_column_of_booleans_is_a_feature_of_zeros_and_ones_as_ingest_reads_it(tmp_path):
    """Ingest trains on a column of booleans (pandas reads True as 1); train-stream refused it
    (`column 'flag' is not numeric (bool)`). A missing one is a missing value, one line."""
    from aefx.errors import AefxError
    from aefx.streaming import parquet_features

    frame = _table(400)
    flags = frame.assign(flag=frame["f0"] > 3.0)
    source = _write(flags, tmp_path / "flags.parquet")
    assert parquet_features(source, "label")[0] == [f"f{i}" for i in range(6)] + ["flag"]
    plan = survey(source, "label", "minmax", 0.1, 10_000, 256, seed=3)
    stated = survey(
        _write(flags.astype({"flag": "int8"}), tmp_path / "ints.parquet"),
        "label", "minmax", 0.1, 10_000, 256, seed=3,
    )  # fmt: skip
    np.testing.assert_array_equal(plan.X_val, stated.X_val)
    assert set(np.unique(plan.X_val[:, -1])) == {0.0, 1.0}

    gap = _write(
        flags.astype({"flag": "boolean"}).assign(flag=lambda f: f["flag"].where(f.index != 7)),
        tmp_path / "gap.parquet",
    )
    with pytest.raises(AefxError) as caught:
        survey(gap, "label", "minmax", 0.1, 10_000, 256, seed=3)
    assert str(caught.value) == f"{gap}: column 'flag' row 7 is not a finite number"


def test_a_bad_value_in_a_folder_of_parquet_files_names_its_file_and_row(tmp_path):
    """The survey named the folder and a row counted over every file before (`parts: column
    'f2' row 604`); now the file and its own row, as for a folder of CSV parts."""
    from aefx.errors import AefxError

    frame = _table(900)
    frame.iloc[604, frame.columns.get_loc("f2")] = np.nan  # the third file's row 4
    folder = _parts(frame, tmp_path / "parts.parquet", parts=3, row_group=100)
    with pytest.raises(AefxError) as caught:
        survey(folder, "label", "minmax", 0.1, 10_000, 256, seed=3)
    assert str(caught.value) == (
        f"{folder / 'part-00002.parquet'}: column 'f2' row 4 is not a finite number"
    )


def test_train_stream_on_a_partitioned_folder_writes_an_encoder_that_encodes_it(project):
    from aefx.io import read_json

    frame = _table(1200).assign(year=np.repeat([2023, 2024, 2025], 400), region="north")
    frame.loc[frame.index % 3 == 0, "region"] = "south"
    folder = _partitioned(frame, project / "data" / "sales.parquet", ["year", "region"])
    done = run_command(
        *AEFX, "train-stream", "-i", str(folder), "-o", "models/stream", "--epochs", "1",
        "--set", "data.ignore=[region]", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    meta = read_json(project / "models" / "stream" / "encoder.json")
    assert meta["features"] == [f"f{i}" for i in range(6)] + ["year"]
    # The year the folders were cut by is a feature the user did not name: said, as ingest does.
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {folder}: column 'year' comes from the partition folders (year=...) and is "
        "a numeric feature; data.ignore: [year] keeps it out"
    ]
    done = run_command(
        *AEFX, "encode", "-m", "models/stream", "-i", str(folder), "-o", "codes.parquet",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    codes = pd.read_parquet(project / "codes.parquet")
    assert len(codes) == 1200 and codes.filter(like="z").notna().all().all()
    assert sorted(codes["region"].unique()) == ["north", "south"]  # ignored, carried through


def test_only_a_numeric_partition_column_left_a_feature_is_warned_of(tmp_path):
    from aefx.streaming import partition_warnings

    frame = _table(60).assign(year=np.repeat([2023, 2024], 30), region="north")
    folder = _partitioned(frame, tmp_path / "sales.parquet", ["year", "region"])
    features = [f"f{i}" for i in range(6)]
    assert partition_warnings(folder, [*features, "year"]) == [
        f"{folder}: column 'year' comes from the partition folders (year=...) and is a numeric "
        "feature; data.ignore: [year] keeps it out"
    ]
    assert partition_warnings(folder, features) == []  # year ignored (or the label)
    assert partition_warnings(_write(frame, tmp_path / "one.parquet"), [*features, "year"]) == []


def test_only_a_table_without_its_label_column_is_warned_of(tmp_path):
    from aefx.streaming import label_warnings

    frame = _table(60)
    features = [f"f{i}" for i in range(6)]
    assert label_warnings(_write(frame, tmp_path / "labelled.parquet"), "label", features) == []
    by_label = _partitioned(frame, tmp_path / "by_label.parquet", ["label"])  # label=0/, label=1/
    assert label_warnings(by_label, "label", features) == []
    renamed = frame.rename(columns={"label": "target"})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    for source in (_write(renamed, tmp_path / "renamed.parquet"), tmp_path / "renamed.csv"):
        assert label_warnings(source, "label", [*features, "target"]) == [
            f"{source} has no column 'label' (data.label), so all 7 of its columns are trained "
            "as features; if one of them is the label, name it: -s data.label=NAME"
        ]


def test_train_stream_of_a_table_whose_label_has_another_name_says_it_trains_on_it(project):
    """A label column named other than data.label (target, class) was learnt as a feature
    without a word: the encoder then asked for it in every table it encoded."""
    from aefx.io import read_json

    source = _write(_table(300).rename(columns={"label": "target"}), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--epochs", "1",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {source} has no column 'label' (data.label), so all 7 of its columns are "
        "trained as features; if one of them is the label, name it: -s data.label=NAME"
    ]
    meta = read_json(project / "models" / "stream" / "encoder.json")
    assert meta["features"] == [f"f{i}" for i in range(6)] + ["target"]


def test_train_stream_prints_a_setting_that_changes_nothing_as_a_warning_line(project):
    """Library warnings (here: a setting this autoencoder does not read) went to Python's
    handler of last resort in a command that sets up no logging, and printed bare, unlike the
    `warning:` lines beside them."""
    source = _write(_table(300), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--epochs", "1",
        "--set", "autoencoder.sparsity=0.01", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "sparsity" in line]
    assert said == [
        "warning: the denoising (deep-bn stack) autoencoder does not read autoencoder.sparsity "
        "(read by kind sparse), so changing it does nothing"
    ]


def test_train_stream_records_a_folder_by_the_md5_of_its_files(project):
    from mlflow.tracking import MlflowClient

    from aefx.io import folder_md5

    folder = _parts(_table(1200, columns=8), project / "data" / "big.parquet", 3, row_group=200)
    done = run_command(
        *AEFX, "train-stream", "-i", str(folder), "-o", "models/stream", "--epochs", "1",
        "--rows", "300", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1200 rows x 8 features, 1 epochs" in done.stdout
    files = sorted(folder.glob("part-*.parquet"))
    digest = folder_md5(folder, files)
    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("aefx")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aefx.kind` = 'train-stream'")
    assert run.info.status == "FINISHED" and run.data.tags["data.folder_md5"] == digest
    assert "data.file_md5" not in run.data.tags
    [used] = run.inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.digest) == ("big", digest)
    _write(_table(400, columns=8, seed=4), files[1], row_group=200)  # a part rewritten
    assert folder_md5(folder, files) != digest
    assert folder_md5(folder, files[:2]) != folder_md5(folder, files)


def test_train_stream_writes_an_encoder_that_aefx_encode_reads(project):
    source = _write(_table(4000, columns=12), project / "big.parquet")
    done = run_command(
        *AEFX,
        "train-stream",
        "-i",
        str(source),
        "-o",
        "models/stream",
        "--epochs",
        "2",
        "--batch-size",
        "128",
        "--rows",
        "700",
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert "4000 rows x 12 features, 2 epochs" in done.stdout
    out = project / "models" / "stream"
    curve = pd.read_csv(out / "learning_curve.csv")
    assert list(curve["epoch"]) == [1, 2] and curve["val_loss"].notna().all()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("aefx")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aefx.kind` = 'train-stream'")
    assert run.info.status == "FINISHED"
    assert run.data.params["data.rows"] == "4000" and run.data.params["autoencoder.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2]
    [used] = run.inputs.dataset_inputs  # the file, named but not read into memory
    assert (used.dataset.name, used.dataset.digest) == (source.stem, file_md5(source))
    assert [(t.key, t.value) for t in used.tags] == [("mlflow.data.context", "train")]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "encoder")}
    assert {"encoder/encoder.keras", "encoder/encoder.json"} <= artifacts

    new_rows = _table(50, columns=12, seed=9)
    new_rows.to_csv(project / "new.csv", index=False)
    done = run_command(
        *AEFX, "encode", "-m", str(out), "-i", "new.csv", "-o", "codes.parquet", cwd=project
    )
    assert done.returncode == 0, done.stderr
    codes = pd.read_parquet(project / "codes.parquet")
    assert len(codes) == 50 and codes.filter(like="z").shape[1] == 6  # bottleneck 0.5 x 12


def test_train_stream_leaves_the_ignored_columns_out_of_the_features(project):
    """data.ignore holds for the streamed path as for ingest: an id column is neither trained
    on nor refused as text, and the encoder carries it through `aefx encode`."""
    from aefx.io import read_json

    table = _table(600)
    table.insert(0, "id", [f"r{i}" for i in range(len(table))])
    source = _write(table, project / "rows.parquet")
    command = (*AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--epochs", "1")
    done = run_command(*command, "--set", "data.ignore=[id, nope]", cwd=project)
    assert done.returncode == 2 and not (project / "models").exists()
    assert done.stderr.strip() == (
        f"aefx: error: {source}: data.ignore names column(s) 'nope' that it does not have "
        "(columns: id, f0, f1, f2, f3, f4, f5, label)"
    )
    done = run_command(*command, "--set", "data.ignore=[id]", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "600 rows x 6 features" in done.stdout
    meta = read_json(project / "models" / "stream" / "encoder.json")
    assert meta["ignored"] == ["id"] and "id" not in meta["features"]


@pytest.mark.parametrize("name", ["big.parquet", "big.csv"])
def test_train_stream_stopped_by_sigterm_ends_killed_and_keeps_the_old_encoder(project, name):
    """For a CSV, the Parquet copy beside the output is removed as well."""
    from mlflow.tracking import MlflowClient

    from tests.conftest import running_runs, signal_when, start_command

    source = project / name
    if name.endswith(".csv"):
        _table(4000, columns=12).to_csv(source, index=False)
    else:
        _write(_table(4000, columns=12), source)
    old = project / "models" / "stream"
    old.mkdir(parents=True)
    (old / "encoder.json").write_text("{}")  # an earlier encoder folder, which it may replace
    proc = start_command(
        *AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--epochs", "5000",
        "--batch-size", "16", cwd=project,
    )  # fmt: skip
    store = project / "mlruns" / "mlflow.db"
    stderr = signal_when(proc, lambda: running_runs(store) > 0, settle=3)  # 3 s into training
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "aefx: error: interrupted; the MLflow run is marked KILLED and the output folder is "
        "unchanged"
    )
    assert [p.name for p in old.iterdir()] == ["encoder.json"]
    assert (old / "encoder.json").read_text() == "{}"
    assert sorted(p.name for p in old.parent.iterdir()) == ["stream"]  # no temporary folder
    client = MlflowClient(f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert run.info.status == "KILLED"


def test_train_stream_of_a_csv_trains_as_on_the_parquet_of_its_rows(project):
    """A table larger than memory most often comes as a CSV, which train-stream refused
    ("convert a CSV with pandas first", which needs the memory it lacks). It is now copied to
    Parquet in one pass, in row groups of --rows rows, and trained on as that Parquet file
    would be: the same scaler and, seed for seed, the same losses. The run records the CSV."""
    from mlflow.tracking import MlflowClient

    from aefx.io import read_json

    frame = _table(3000, columns=5).assign(id=[f"c{i}" for i in range(3000)])
    frame["label"] = frame["label"].astype(object)
    frame.loc[frame.index % 7 == 0, "label"] = "odd"  # labels as text too: never read
    text, whole = project / "data" / "rows.csv.gz", project / "data" / "rows.parquet"
    frame.to_csv(text, index=False)
    _write(frame.astype({"label": str}), whole, row_group=500)
    trained = {}
    for source, output in ((text, "models/text"), (whole, "models/whole")):
        done = run_command(
            *AEFX, "train-stream", "-i", str(source), "-o", output, "--epochs", "2",
            "--rows", "500", "--set", "data.ignore=[id]", cwd=project,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "3000 rows x 5 features, 2 epochs" in done.stdout
        trained[source] = project / output
    meta = {source: read_json(folder / "encoder.json") for source, folder in trained.items()}
    assert meta[text]["scaler"] == meta[whole]["scaler"]
    assert meta[text]["ignored"] == ["id"] and meta[text]["trained_on"]["file"] == str(text)
    curves = [pd.read_csv(folder / "learning_curve.csv") for folder in trained.values()]
    np.testing.assert_array_equal(curves[0][["loss", "val_loss"]], curves[1][["loss", "val_loss"]])
    assert sorted(p.name for p in (project / "models").iterdir()) == ["text", "whole"]  # no copy

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("aefx")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    assert runs[0].data.tags["data.file_md5"] == file_md5(text)
    assert runs[0].data.tags["data.source"] == f"file:{text}"
    done = run_command(
        *AEFX, "encode", "-m", "models/text", "-i", str(text), "-o", "codes.parquet", cwd=project
    )
    assert done.returncode == 0, done.stderr
    codes = pd.read_parquet(project / "codes.parquet")
    assert len(codes) == 3000 and list(codes["id"][:2]) == ["c0", "c1"]


def test_train_stream_of_a_folder_of_csv_parts_reads_it_as_ingest_does(project):
    """Spark's CSV output: parts with a header each, Hive partition folders as columns."""
    from mlflow.tracking import MlflowClient

    from aefx.io import folder_md5, read_json, text_files

    frame = _table(900, columns=4)
    folder = project / "data" / "parts"
    for year in (2023, 2024, 2025):
        (folder / f"year={year}").mkdir(parents=True)
        part = frame.iloc[(year - 2023) * 300 : (year - 2022) * 300]
        part[part.columns[::-1]].to_csv(folder / f"year={year}" / "part-0.csv", index=False)
    done = run_command(
        *AEFX, "train-stream", "-i", str(folder), "-o", "models/stream", "--epochs", "1",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "900 rows x 5 features, 1 epochs" in done.stdout
    meta = read_json(project / "models" / "stream" / "encoder.json")
    assert meta["features"] == ["f3", "f2", "f1", "f0", "year"]  # the first part's order
    assert f"warning: {folder}: column 'year' comes from the partition folders" in done.stderr
    assert meta["scaler"]["state"]["data_min_"][-1] == 2023
    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert run.data.tags["data.folder_md5"] == folder_md5(folder, text_files(folder))


def test_a_bad_value_in_a_folder_of_csv_parts_names_its_part_and_row(tmp_path):
    """train-stream's copy of a folder of CSV parts named the folder and the row counted over
    every part before it (`parts: column 'f0' row 11`); now the part and its own row."""
    from aefx.errors import AefxError
    from aefx.streaming import stream_source

    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-0.csv").write_text("f0,f1,label\n" + "1.5,2.5,yes\n" * 8)
    (folder / "part-1.csv").write_text("f0,f1,label\n" + "1.5,2.5,no\n" * 3 + "inf,1,no\n")
    with (
        pytest.raises(AefxError) as caught,
        stream_source(folder, "label", (), 4, tmp_path / "out" / "model"),
    ):
        pass
    assert str(caught.value) == (
        f"{folder / 'part-1.csv'}: column 'f0' row 3 is not a finite number"
    )
    assert not list(tmp_path.glob("**/.aefx-stream-*"))


def test_a_column_of_decimal_points_among_decimal_commas_stops_the_copy(tmp_path):
    """train-stream's copy of a semicolon CSV read with decimal commas (its first numbers'
    mark) took a column written with points as numbers: `1.234`, a thousand and more there,
    trained as 1.234. Refused now, as ingest refuses it, and the copy's folder is removed."""
    from aefx.errors import AefxError
    from aefx.streaming import stream_source

    source = tmp_path / "rows.csv"
    source.write_text("f0;f1;label\n" + "".join(f"{i},5;{i}.{i:03d};yes\n" for i in range(1, 9)))
    with (
        pytest.raises(AefxError) as caught,
        stream_source(source, "label", (), 4, tmp_path / "out" / "model"),
    ):
        pass
    assert str(caught.value) == (
        f"{source}: column 'f1' has numbers with thousands separators ('1.001'): write them without"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (
            lambda f: f.assign(f3=f["f3"].where(f.index != 1234)),
            "column 'f3' row 1234 is not a finite number",
        ),
        (
            lambda f: f.assign(f1=f["f1"].where(f.index != 1500, "oops")),
            "column 'f1' is not numeric (value 'oops')",
        ),
        (
            lambda f: f.assign(f2=[f"c{i}" for i in range(len(f))]),
            "column 'f2' is not numeric (value 'c0'); data.ignore: [f2] keeps it out (an id, a "
            "name?)",
        ),
        (
            lambda f: f.assign(
                f1=[
                    "2,5" if i == 1500 else "1.5" if i == 1501 else v for i, v in enumerate(f["f1"])
                ]
            ),
            "column 'f1' mixes decimal marks ('2,5' with a comma, '1.5' with a point): write "
            "its numbers with one mark",
        ),
        (
            # Refused alone: the warning that no column is data.label came before it.
            lambda f: f.rename(columns={"label": "target"}).assign(
                name=[f"c{i}" for i in range(len(f))]
            ),
            "column 'name' is not numeric (value 'c0'); data.ignore: [name] keeps it out (an "
            "id, a name?)",
        ),
        (lambda f: f.head(1), "1 row(s); need at least 2 to train and validate"),
        (lambda f: f.head(0), "0 row(s); need at least 2 to train and validate"),
    ],
    ids=["missing", "text", "ids", "marks", "ids, no label", "one row", "header only"],
)
def test_bad_csv_rows_stop_train_stream_with_one_line_and_nothing_left(project, spoil, message):
    """Found while the CSV is copied (a value far into the file, after chunks were written):
    the line names the CSV, and neither the output, the copy nor an MLflow run is left."""
    source = project / "data" / "bad.csv"
    spoil(_table(2000)).to_csv(source, index=False)
    done = run_command(
        *AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--epochs", "1",
        "--rows", "500", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"aefx: error: {source}: {message}"]
    assert not [p for p in project.iterdir() if p.name.startswith(".aefx-stream")]  # no copy
    assert sorted(p.name for p in (project / "data").iterdir()) == ["bad.csv", "raw"]
    assert not (project / "models").exists()
    store = project / "mlruns" / "mlflow.db"
    if store.exists():
        from mlflow.tracking import MlflowClient

        assert MlflowClient(f"sqlite:///{store}").search_runs(["0"]) == []


def test_train_stream_stopped_while_it_copies_a_csv_leaves_nothing(project):
    """SIGTERM (or Ctrl-C) during the copy, before any run: one line, exit 130, and neither the
    half-written copy, the output nor an MLflow run is left."""
    from tests.conftest import signal_when, start_command

    source = project / "data" / "rows.csv"
    _table(200_000, columns=10).to_csv(source, index=False)
    proc = start_command(
        *AEFX, "train-stream", "-i", str(source), "-o", "models/stream", "--rows", "250",
        cwd=project,
    )  # fmt: skip
    stderr = signal_when(proc, lambda: any(project.glob(".aefx-stream-*/*.parquet")))
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "aefx: error: interrupted; no output was written"
    assert not list(project.glob(".aefx-stream-*")) and not (project / "models").exists()
    store = project / "mlruns" / "mlflow.db"
    if store.exists():
        from mlflow.tracking import MlflowClient

        assert MlflowClient(f"sqlite:///{store}").search_runs(["0"]) == []


def test_train_stream_of_a_spreadsheet_is_told_how_to_get_a_table(project):
    """It was told "train-stream reads Parquet (convert a CSV with pandas first)"."""
    (project / "rows.xlsx").write_bytes(b"PK\x03\x04")
    done = run_command(*AEFX, "train-stream", "-i", "rows.xlsx", "-o", "out", cwd=project)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "aefx: error: rows.xlsx: unsupported input file type '.xlsx' (a spreadsheet: save it "
        "from its program as CSV (UTF-8); use .csv, .tsv"
    )
    assert not (project / "out").exists()


@pytest.mark.filterwarnings("error:Your input ran out of data")  # epochs end on their count
def test_train_stream_ends_on_the_weight_average_when_asked(tmp_path):
    from aefx.config import AutoencoderConfig
    from aefx.models import load_model
    from aefx.streaming import train_stream

    source = _write(_table(600), tmp_path / "rows.parquet")
    runs = {}
    for ema in (None, 0.9):
        cfg = AutoencoderConfig(epochs=3, batch_size=32, weight_ema=ema)
        out = tmp_path / f"ema-{ema}"
        train_stream(source, out, cfg, "minmax", "label", 0.01, chunk=200, validation_cap=60)
        curve = pd.read_csv(out / "learning_curve.csv")
        runs[ema] = curve[["loss", "val_loss"]], load_model(out / "encoder.keras").get_weights()
    # The same steps were taken; only where training ended differs. (Not compared bit for bit:
    # under CPU contention two streamed trainings can part, see README; twice here the third
    # epoch's loss came out 0.85% apart. Steps taken from the averaged weights, as with
    # ema_overwrite_frequency=1, give losses 40-80% higher, far outside 2%.)
    pd.testing.assert_frame_equal(runs[None][0], runs[0.9][0], check_exact=False, rtol=2e-2)
    assert not all(
        np.allclose(a, b, atol=1e-3) for a, b in zip(runs[None][1], runs[0.9][1], strict=True)
    )


def test_train_stream_recalibrates_batchnorm_from_the_held_out_rows(tmp_path):
    """With `recalibrate_bn` the shipped encoder's BatchNorm statistics are those of the
    held-out rows as they reach each layer; without it they are training's running average.
    (Checked on the shipped encoder itself: two trainings from one seed agree bit for bit on
    an idle machine but not always under CPU contention, see the README.)"""
    import keras

    from aefx.config import AutoencoderConfig
    from aefx.models import load_model
    from aefx.streaming import train_stream

    source = _write(_table(600), tmp_path / "rows.parquet")
    fraction = AutoencoderConfig().validation_fraction
    held_out = survey(source, "label", "minmax", fraction, 60, 200, seed=1).X_val
    for recalibrate in (False, True):
        cfg = AutoencoderConfig(epochs=2, batch_size=32, recalibrate_bn=recalibrate)
        out = tmp_path / f"recalibrate-{recalibrate}"
        train_stream(source, out, cfg, "minmax", "label", 0.01, chunk=200, validation_cap=60)
        encoder = load_model(out / "encoder.keras")
        norms = [la for la in encoder.layers if isinstance(la, keras.layers.BatchNormalization)]
        assert len(norms) == 2
        for layer in norms:
            seen = np.asarray(keras.Model(encoder.input, layer.input)(held_out, training=False))
            stored = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
            matches = np.allclose(stored[0], seen.mean(0), atol=1e-5) and np.allclose(
                stored[1], seen.var(0), atol=1e-5
            )
            assert matches == recalibrate, (layer.name, recalibrate)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: f.assign(f3=f["f3"].where(f.index != 1234)), "column 'f3' row 1234"),
        (lambda f: f.assign(f1=f["f1"].astype(str)), "column 'f1' is not numeric"),
    ],
)
def test_bad_rows_stop_train_stream_with_one_line_and_no_output(project, spoil, message):
    source = _write(spoil(_table(2000)), project / "bad.parquet")
    done = run_command(
        *AEFX,
        "train-stream",
        "-i",
        str(source),
        "-o",
        "models/stream",
        "--epochs",
        "1",
        cwd=project,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("aefx: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in done.stderr
    assert not (project / "models" / "stream").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("mine", "mine: has files but no encoder.json, and train-stream replaces the whole folder"),
        # The pipeline's models folder, whose encoder.json is not train-stream's.
        (
            "models",
            "models: holds autoencoders, which train-stream does not write, and it replaces the "
            "whole folder; write the encoder to a new or empty folder (such as models/stream)",
        ),
        ("data", "data: holds the input data/rows.parquet; write the encoder to another folder"),
        (
            "data/rows.parquet",
            "data/rows.parquet: is a file; train-stream writes an encoder folder",
        ),
    ],
)
def test_train_stream_replaces_no_folder_it_did_not_write(project, output, message):
    """Its output folder is swapped whole for the new one, so a folder of other files, or the
    input's, is refused before any run starts, and every file stays."""
    _write(_table(500), project / "data" / "rows.parquet")
    (project / "mine").mkdir()
    (project / "mine" / "notes.txt").write_text("keep me")
    for name in ("encoder.json", "scaler.json", "autoencoders/seed-1.keras"):
        (project / "models" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "models" / name).write_text(name)
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    done = run_command(
        *AEFX, "train-stream", "-i", "data/rows.parquet", "-o", output, "--epochs", "1",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"aefx: error: {message}")
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
    assert not (project / "mlruns").exists()  # no MLflow run was started


def test_train_stream_refuses_an_autoencoder_over_the_memory_budget_before_reading(project):
    _write(_table(500), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream",
        "--set", "data.memory_budget_mb=0.01", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "aefx: error: autoencoder: deep-bn 6 -> 12 -> 6 -> code 3 has "
    )
    assert "over data.memory_budget_mb=0.01" in done.stderr
    assert not (project / "models").exists() and not (project / "mlruns").exists()


def test_train_stream_refuses_batches_of_one_row_for_batch_normalisation(project):
    _write(_table(500), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream",
        "--batch-size", "1", "--epochs", "1", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "aefx: error: --batch-size=1: the denoising autoencoder's batch normalisation (its "
        "deep-bn stack) learns nothing from batches of one row"
    )
    assert not (project / "models").exists() and not (project / "mlruns").exists()

    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream",
        "--batch-size", "1", "--epochs", "1", "--set", "autoencoder.kind=dense", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (project / "models" / "stream").is_dir()


def test_a_diverged_train_stream_is_one_line_and_leaves_no_model(project):
    """Too high a learning rate: the loss went to NaN and train-stream shipped an encoder whose
    codes were all NaN, and an anomaly threshold of NaN."""
    _write(_table(500), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream",
        "--set", "autoencoder.learning_rate=1e12", "--epochs", "3", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    [line] = [text for text in done.stderr.splitlines() if "aefx: error:" in text]
    assert line.startswith("aefx: error: train-stream diverged: its loss was ")
    assert line.endswith(" at autoencoder.learning_rate 1e+12; lower the learning rate")
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (project / "models" / "stream").exists()


def test_train_stream_refuses_a_conv_autoencoder_in_one_line(project):
    """An image project's params (conv stack) given to train-stream, which trains on table
    rows: it was an AssertionError traceback and a FAILED MLflow run."""
    _write(_table(500), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream",
        "--set", "data.source=digits", "--set", "autoencoder.kind=conv", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: train-stream trains on table rows, and a conv autoencoder needs images: "
        "set autoencoder.kind (or autoencoder.base) to dense or deep-bn"
    )
    assert not (project / "models").exists() and not (project / "mlruns").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "data.categorical=[f0]",
            "aefx train-stream reads numeric columns only: data.categorical is for `aefx run` "
            "(or one-hot encode the file first)",
        ),
        (
            "data.impute=median",
            "aefx train-stream reads complete rows only: data.impute is for `aefx run` (or fill "
            "the file's missing values first)",
        ),
        # Its own options set these; a --set of one trained by the options' defaults instead.
        (
            "autoencoder.epochs=2",
            "--set 'autoencoder.epochs=2': aefx train-stream does not read autoencoder.epochs; "
            "give --epochs 2",
        ),
        (
            "autoencoder.batch_size=64",
            "--set 'autoencoder.batch_size=64': aefx train-stream does not read "
            "autoencoder.batch_size; give --batch-size 64",
        ),
        (
            "autoencoder.validation_every=5",
            "--set 'autoencoder.validation_every=5': aefx train-stream does not read "
            "autoencoder.validation_every; it validates after every epoch",
        ),
    ],
)
def test_train_stream_refuses_the_preprocessing_of_aefx_run_in_one_line(project, setting, message):
    """Its scaler is fit chunk by chunk on complete numbers; categories are one-hot, and gaps
    filled, by `aefx run`'s scale stage only, so params asking for either are refused before
    any run starts. So is a --set of what its own options set, which it overrode silently."""
    _write(_table(500), project / "rows.parquet")
    done = run_command(
        *AEFX, "train-stream", "-i", "rows.parquet", "-o", "models/stream", "--set", setting,
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"aefx: error: {message}"
    assert not (project / "models").exists() and not (project / "mlruns").exists()


def test_train_stream_names_a_parquet_file_it_cannot_read(tmp_path):
    from aefx.errors import AefxError
    from aefx.streaming import parquet_features

    source = _write(_table(50), tmp_path / "rows.parquet")
    source.write_bytes(source.read_bytes()[:-100])  # the footer cut off
    with pytest.raises(AefxError, match=r"rows.parquet: cannot be read as Parquet \("):
        parquet_features(source, "label")


def test_train_stream_writes_over_an_encoder_folder_it_wrote_before(tmp_path):
    from aefx.streaming import check_encoder_folder

    source = _write(_table(50), tmp_path / "rows.parquet")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "encoder.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    for output in ("old", "empty", "new"):
        check_encoder_folder(tmp_path / output, source)  # no error
