"""Image sources: the embedded digits, Keras-layout .npz files, user arrays and image folders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aefx.config import DataConfig
from aefx.errors import AefxError
from aefx.io import read_json
from tasks.ingest import ingest


def run_ingest(cfg: DataConfig, out):
    paths = (out / "train.parquet", out / "test.parquet", out / "schema.json")
    result = ingest(cfg, *paths)
    train, test = pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    return result, train, test, read_json(paths[2])


def write_keras_npz(path, n_train=40, n_test=20, size=12):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, size=(n_train, size, size), dtype=np.uint8),
        y_train=np.arange(n_train) % 4,
        x_test=rng.integers(0, 256, size=(n_test, size, size), dtype=np.uint8),
        y_test=np.arange(n_test) % 4,
    )


def test_digits_are_embedded_scaled_and_shaped(tmp_path):
    result, train, test, schema = run_ingest(DataConfig(source="digits"), tmp_path)
    assert result.n_train + result.n_test == 1797 and len(result.classes) == 10
    assert schema["image_shape"] == [8, 8, 1] and len(schema["features"]) == 64
    pixels = pd.concat([train, test]).drop(columns="label").to_numpy()
    assert pixels.min() == 0.0 and pixels.max() == 1.0


def test_mnist_layout_keeps_its_own_split_and_max_rows_shrinks_both(tmp_path):
    write_keras_npz(tmp_path / "mnist.npz")
    cfg = DataConfig(source="mnist", path=tmp_path / "mnist.npz")
    result, train, _, schema = run_ingest(cfg, tmp_path / "full")
    assert (result.n_train, result.n_test) == (40, 20) and schema["image_shape"] == [12, 12, 1]
    assert train.drop(columns="label").to_numpy().max() <= 1.0
    small = DataConfig(source="mnist", path=tmp_path / "mnist.npz", max_rows=30)
    result, *_ = run_ingest(small, tmp_path / "small")
    assert (result.n_train, result.n_test) == (20, 10)


def test_missing_mnist_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AefxError) as err:
        run_ingest(DataConfig(source="fashion_mnist"), tmp_path / "out")
    message = str(err.value)
    assert "data/raw/fashion_mnist.npz: file not found" in message and "put the" in message
    assert "\n" not in message and not (tmp_path / "out").exists()


def test_an_image_folder_with_one_subfolder_per_class(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / cls / f"{i}.png")
    cfg = DataConfig(source="images", path=tmp_path / "imgs")
    result, _, _, schema = run_ingest(cfg, tmp_path / "out")
    assert schema["image_shape"] == [5, 7, 3] and result.classes == ("cat", "dog")
    assert len(schema["features"]) == 5 * 7 * 3


@pytest.mark.parametrize("problem", ["mixed shapes", "not an image", "wrong extension"])
def test_bad_image_folders_are_refused_with_the_file_named(tmp_path, problem):
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (4, 4), color=i * 20).save(tmp_path / "imgs" / cls / f"{i}.png")
    bad = tmp_path / "imgs" / "b" / "9.png"
    if problem == "mixed shapes":
        Image.new("L", (5, 4)).save(bad)
        needle = "all images need one shape"
    elif problem == "not an image":
        bad.write_text("this is text, not a PNG")
        needle = "not an image"
    else:
        bad = bad.with_suffix(".txt")
        bad.write_text("notes")
        needle = "not an image file type"
    with pytest.raises(AefxError, match=needle) as err:
        run_ingest(DataConfig(source="images", path=tmp_path / "imgs"), tmp_path / "out")
    assert str(bad) in str(err.value) and not (tmp_path / "out").exists()


def test_npy_images_with_labels_and_bad_arrays(tmp_path):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "x.npy", rng.uniform(size=(30, 4, 4)).astype("float32"))
    np.save(tmp_path / "y.npy", np.arange(30) % 3)
    cfg = DataConfig(source="images", path=tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    result, *_ = run_ingest(cfg, tmp_path / "ok")
    assert result.n_train + result.n_test == 30

    np.save(tmp_path / "hot.npy", rng.uniform(0, 3, size=(30, 4, 4)))
    hot = DataConfig(source="images", path=tmp_path / "hot.npy", labels_path=tmp_path / "y.npy")
    with pytest.raises(AefxError, match=r"float pixels must lie in \[0, 1\]"):
        run_ingest(hot, tmp_path / "bad")
    (tmp_path / "fake.npz").write_text("not a zip")
    with pytest.raises(AefxError, match=r"not a \.npz archive"):
        run_ingest(DataConfig(source="images", path=tmp_path / "fake.npz"), tmp_path / "bad")
    # Object arrays would need pickle: refused, never unpickled.
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 30, dtype=object), allow_pickle=True)
    obj = DataConfig(source="images", path=tmp_path / "obj.npy", labels_path=tmp_path / "y.npy")
    with pytest.raises(AefxError, match="without pickle"):
        run_ingest(obj, tmp_path / "bad")
