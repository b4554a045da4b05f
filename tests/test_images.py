"""Image sources: the embedded digits, Keras-layout .npz files, user arrays and image folders."""

from __future__ import annotations

import sys
from pathlib import Path

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


def test_a_files_own_split_with_a_test_class_its_training_part_lacks_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    write_keras_npz(path)
    with np.load(path) as arrays:
        parts = dict(arrays)
    parts["y_test"] = parts["y_test"].copy()
    parts["y_test"][:3] = 9  # a class only the test part has
    np.savez(path, **parts)
    with pytest.raises(AefxError) as err:
        run_ingest(DataConfig(source="mnist", path=path), tmp_path / "out")
    assert str(err.value) == (
        f"{path}: class(es) 9 in 'label' have all their rows (3) in the test split and none to "
        "train on; the file's own split: give its training part rows of them"
    )


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
    (tmp_path / "imgs" / "notes.txt").write_text("not an image, and not in a class folder")
    cfg = DataConfig(source="images", path=tmp_path / "imgs")
    result, _, _, schema = run_ingest(cfg, tmp_path / "out")
    assert schema["image_shape"] == [5, 7, 3] and result.classes == ("cat", "dog")
    assert len(schema["features"]) == 5 * 7 * 3
    assert result.n_train + result.n_test == 16
    # An image beside the class folders has no class: it was left out without a word.
    for name in ("b.jpg", "a.png"):
        Image.fromarray(pixels).save(tmp_path / "imgs" / name)
    with pytest.raises(AefxError) as err:
        run_ingest(cfg, tmp_path / "loose")
    assert str(err.value) == (
        f"{tmp_path / 'imgs'}: a.png and 1 more lie outside the class folders; move each image "
        "into its class's folder, or out of this folder"
    )
    # A class folder with no image in it (here one empty, one holding only .DS_Store): the
    # class was left out without a word, and the run trained on cat and dog alone.
    for name in ("b.jpg", "a.png"):
        (tmp_path / "imgs" / name).unlink()
    (tmp_path / "imgs" / "bird").mkdir()
    (tmp_path / "imgs" / "fox").mkdir()
    (tmp_path / "imgs" / "fox" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    with pytest.raises(AefxError) as err:
        run_ingest(cfg, tmp_path / "empty")
    assert str(err.value) == (
        f"{tmp_path / 'imgs'}: class folder bird and 1 more hold no image; put the images in, "
        "or move them out of this folder"
    )
    assert not (tmp_path / "empty").exists()


def test_webp_images_are_read_as_the_other_formats(tmp_path):
    """WebP, as photos saved from the web often are, was 'not an image file type'."""
    from PIL import Image

    rng = np.random.default_rng(3)
    pixels = {c: rng.integers(0, 256, size=(5, 4, 6, 3), dtype=np.uint8) for c in ("a", "b")}
    for cls, images in pixels.items():
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / "imgs" / cls / f"{i}.webp", lossless=True)
    result, train, test, schema = run_ingest(
        DataConfig(source="images", path=tmp_path / "imgs"), tmp_path / "out"
    )
    assert schema["image_shape"] == [4, 6, 3] and result.n_train + result.n_test == 10
    got = np.round(pd.concat([train, test]).drop(columns="label").to_numpy() * 255)
    expected = np.concatenate([pixels["a"], pixels["b"]]).reshape(10, -1)
    assert sorted(map(tuple, got)) == sorted(map(tuple, expected))  # lossless: the same levels
    (tmp_path / "imgs" / "a" / "3.webp").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(AefxError, match=r"3.webp: not an image \(its first bytes"):
        run_ingest(DataConfig(source="images", path=tmp_path / "imgs"), tmp_path / "bad")


def test_a_class_folders_images_are_read_at_any_depth(tmp_path):
    """Photos are often kept by date inside a class folder (cat/2019/a.png); ingest read only
    a class folder's own files and left those out without a word (`aefx encode` reads a
    folder at any depth). Hidden files and folders are still no images."""
    from PIL import Image

    for place in ("cat", "cat/2019", "cat/2019/june", "dog", "dog/.thumbnails"):
        (tmp_path / "imgs" / place).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (4, 4), color=40 * i).save(tmp_path / "imgs" / place / f"{i}.png")
    (tmp_path / "imgs" / "dog" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    # What Windows leaves among photos, and the folder a zip made on a Mac unpacks beside them,
    # were refused as "not an image file type" and as a class folder holding no image.
    (tmp_path / "imgs" / "cat" / "2019" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "imgs" / "dog" / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (tmp_path / "imgs" / "__MACOSX" / "dog").mkdir(parents=True)
    (tmp_path / "imgs" / "__MACOSX" / "dog" / "._0.png").write_bytes(b"\x00\x05\x16\x07")
    cfg = DataConfig(source="images", path=tmp_path / "imgs")
    result, train, test, _ = run_ingest(cfg, tmp_path / "out")
    assert result.n_train + result.n_test == 12 and result.classes == ("cat", "dog")
    assert pd.concat([train, test])["label"].value_counts().to_dict() == {"cat": 9, "dog": 3}
    # Any other file is still refused, not left out: it may be a picture of a type aefx lacks.
    (tmp_path / "imgs" / "dog" / "notes.txt").write_text("taken in June")
    with pytest.raises(AefxError, match=r"notes\.txt: not an image file type"):
        run_ingest(cfg, tmp_path / "notes")


def test_an_image_folder_split_in_train_and_test_folders_keeps_its_split(tmp_path):
    """Many image data sets come as train/<class>/... and test/<class>/...: read as class
    folders at any depth, they made the classes "test" and "train". Their split is kept, as a
    .npz's is; a validation part joins training (the pipeline takes its own validation slice);
    one colour image makes them all colour. Other folders beside the parts are refused."""
    from PIL import Image

    from aefx.images import folder_bytes

    root = tmp_path / "imgs"
    levels = {"train": 10, "val": 90, "Test": 170}  # each part's images have levels of their own
    for part, start in levels.items():
        for c, cls in enumerate(("cat", "dog")):
            (root / part / cls).mkdir(parents=True)
            for i in range(3 if part == "val" else 5):
                level = start + 10 * c + i
                Image.new("L", (4, 6), color=level).save(root / part / cls / f"{i}.png")
    cfg = DataConfig(source="images", path=root)
    result, train, test, schema = run_ingest(cfg, tmp_path / "out")
    assert result.classes == ("cat", "dog") and (result.n_train, result.n_test) == (16, 10)
    assert schema["image_shape"] == [6, 4, 1]
    test_levels = set(np.round(test.drop(columns="label").to_numpy() * 255).ravel())
    train_levels = set(np.round(train.drop(columns="label").to_numpy() * 255).ravel())
    assert min(test_levels) >= 170 and max(train_levels) < 170 and min(train_levels) == 10
    assert test["label"].value_counts().to_dict() == {"cat": 5, "dog": 5}
    assert folder_bytes(root) == 26 * 6 * 4 * 4  # the estimate counts every part's images

    Image.new("RGB", (4, 6), color=(200, 0, 0)).save(root / "Test" / "dog" / "red.png")
    result, train, test, schema = run_ingest(cfg, tmp_path / "colour")
    assert schema["image_shape"] == [6, 4, 3] and result.n_test == 11
    Image.new("L", (4, 6)).save(root / "train" / "x.png")  # no class: refused, not left out
    with pytest.raises(AefxError, match=r"train: x.png lies outside the class folders"):
        run_ingest(cfg, tmp_path / "loose")
    (root / "train" / "x.png").unlink()
    (root / "notes").mkdir()
    with pytest.raises(AefxError) as err:
        run_ingest(cfg, tmp_path / "other")
    assert str(err.value) == (
        f"{root}: holds train/ and Test/ folders, and also notes/; a folder of images holds "
        "either one sub-folder per class, or train/ and test/ (and val/) folders of such"
    )
    assert not (tmp_path / "other").exists()


def test_a_flat_image_folder_takes_its_labels_from_a_csv_naming_each_file(tmp_path):
    """A folder of images with a CSV of file name and label (a train.csv of id,label), which
    was refused for having no class folders, with data.labels_path silently unused. Names may
    leave out the suffix; the label column is data.label's if the CSV has one, else the last."""
    from PIL import Image

    root = tmp_path / "imgs"
    (root / "more").mkdir(parents=True)
    names = [f"more/{i}" if i % 3 == 0 else str(i) for i in range(12)]
    for i, name in enumerate(names):
        Image.new("L", (5, 5), color=20 * i).save(root / f"{name}.png")
    (root / ".thumb.png").write_bytes(b"")  # hidden: no image
    listed = [name.replace("more/", "./more\\") for name in names]  # as some tools write them
    labels = pd.DataFrame(
        {"id": listed, "kind": ["cat", "dog"] * 6, "source": ["web"] * 12}  # data.label: kind
    )
    labels.sample(frac=1, random_state=0).to_csv(tmp_path / "labels.csv", index=False)
    cfg = DataConfig(
        source="images",
        path=root,
        labels_path=tmp_path / "labels.csv",
        label="kind",
        test_size=0.25,
    )
    result, train, test, schema = run_ingest(cfg, tmp_path / "out")
    assert result.classes == ("cat", "dog") and (result.n_train, result.n_test) == (9, 3)
    assert schema["image_shape"] == [5, 5, 1]
    rows = pd.concat([train, test])
    level = np.round(rows.drop(columns="kind").to_numpy()[:, 0] * 255 / 20).astype(int)
    assert list(rows["kind"]) == ["cat" if i % 2 == 0 else "dog" for i in level]  # as listed

    def refused(table: pd.DataFrame) -> str:
        table.to_csv(tmp_path / "bad.csv", index=False)
        bad = DataConfig(source="images", path=root, labels_path=tmp_path / "bad.csv")
        with pytest.raises(AefxError) as err:
            run_ingest(bad, tmp_path / "bad")
        assert not (tmp_path / "bad").exists()
        return str(err.value)

    two = labels[["id", "kind"]]
    bad = tmp_path / "bad.csv"
    assert refused(two.iloc[1:]) == (
        f"{root}: more/0.png not in {bad}; give each image a label there, or move it out of "
        "the folder"
    )
    assert refused(two.replace({"id": {"1": "one", "2": "two"}})) == (
        f"{bad}: 'one' and 1 more name no image file in {root} (the first column names each "
        "image by its path under the folder)"
    )
    assert refused(pd.concat([two, two.iloc[[4]]])) == f"{bad}: rows 5 and 13 both name 4.png"
    assert refused(two.assign(kind=["cat", None] * 6)) == f"{bad}: row 2 (1) has no label"
    assert "need two columns" in refused(two[["id"]])
    Image.new("L", (5, 5)).save(root / "1.jpg")
    assert (
        refused(two) == f"{bad}: row 2 names '1', which is 1.jpg and 1.png; name it with its suffix"
    )


@pytest.mark.parametrize(
    "name", ["labels.tsv", "labels.csv.gz", "labels.tsv.zst", "labels.parquet"]
)
def test_labels_come_as_any_table_aefx_reads(tmp_path, name):
    """A labels file was read as a CSV whatever its name: a folder's TSV of id and label was
    "need two columns (found 'id\tlabel')", a Parquet one "not UTF-8"; a .npy's labels were a
    table only when named .csv. A folder's ids keep their leading zeros (``007``) in every
    kind; a .npy's labels are read from each kind too."""
    from PIL import Image

    from aefx.io import create_table, table_file

    root, target = tmp_path / "imgs", tmp_path / name
    root.mkdir()
    ids = [f"{i:03d}" for i in range(12)]
    for i, stem in enumerate(ids):
        Image.new("L", (5, 5), color=20 * i).save(root / f"{stem}.png")
    labels = pd.DataFrame({"id": ids, "label": ["cat", "dog"] * 6})

    def write(frame: pd.DataFrame) -> None:
        table = table_file(target)
        if table.kind == "parquet":
            frame.to_parquet(target, index=False)
            return
        with create_table(target, table.codec) as out:
            out.write(frame.to_csv(sep=table.delimiter, index=False).encode())

    write(labels)
    cfg = DataConfig(source="images", path=root, labels_path=target, test_size=0.25)
    result, train, test, _ = run_ingest(cfg, tmp_path / "out")
    rows = pd.concat([train, test])
    level = np.round(rows.drop(columns="label").to_numpy()[:, 0] * 255 / 20).astype(int)
    assert list(rows["label"]) == ["cat" if i % 2 == 0 else "dog" for i in level]
    assert result.classes == ("cat", "dog")

    np.save(tmp_path / "x.npy", np.random.default_rng(2).uniform(size=(12, 4, 4)))
    write(pd.DataFrame({"label": np.arange(12) % 3}))
    cfg = DataConfig(source="images", path=tmp_path / "x.npy", labels_path=target)
    _, train, test, _ = run_ingest(cfg, tmp_path / "npy")
    labels = pd.concat([train, test])["label"]
    assert labels.dtype.kind == "i" and sorted(set(labels)) == [0, 1, 2]  # numbers, not text


def test_an_image_named_na_keeps_its_place_among_ids_of_numbers(tmp_path):
    """Ids are text as written: an image named 'NA' beside 007, 008, ... is one of them (the
    ids of numbers must not turn to numbers for it, losing their leading zeros)."""
    from PIL import Image

    root = tmp_path / "imgs"
    root.mkdir()
    ids = [*(f"{i:03d}" for i in range(11)), "NA"]
    for i, stem in enumerate(ids):
        Image.new("L", (5, 5), color=20 * i).save(root / f"{stem}.png")
    labels = pd.DataFrame({"id": ids, "label": ["cat", "dog"] * 6})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    cfg = DataConfig(source="images", path=root, labels_path=tmp_path / "labels.csv")
    _, train, test, _ = run_ingest(cfg, tmp_path / "out")
    rows = pd.concat([train, test])
    level = np.round(rows.drop(columns="label").to_numpy()[:, 0] * 255 / 20).astype(int)
    assert list(rows["label"]) == ["cat" if i % 2 == 0 else "dog" for i in level]
    assert sorted(level) == list(range(12))


def test_a_labels_file_of_another_type_is_refused_in_one_line(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.new("L", (5, 5)).save(tmp_path / "imgs" / f"{i}.png")
    (tmp_path / "labels.txt").write_text("id,label\n0,a\n1,b\n2,a\n3,b\n")
    cfg = DataConfig(source="images", path=tmp_path / "imgs", labels_path=tmp_path / "labels.txt")
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    assert str(caught.value).startswith(f"{tmp_path / 'labels.txt'}: unsupported labels file type")
    assert not (tmp_path / "out").exists()


def test_photos_stored_sideways_are_read_upright_as_their_exif_says(tmp_path):
    """A phone stores a portrait photo as landscape pixels plus an EXIF orientation. Read as
    stored, it was refused beside upright photos ('image is 6x4 but ... is 4x6') or, had all
    been stored so, learnt sideways; encode reads it upright too."""
    from PIL import Image

    from aefx.images import image_rows

    upright = np.zeros((6, 4), dtype=np.uint8)
    upright[:, -1] = 255  # the right-hand column white
    for cls in ("a", "b"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(upright).save(tmp_path / "photos" / cls / f"{i}.png")
    sideways = Image.fromarray(np.rot90(upright))  # stored turned a quarter anticlockwise
    exif = sideways.getexif()
    exif[0x0112] = 6  # EXIF orientation 6: turn a quarter clockwise to display
    sideways.save(tmp_path / "photos" / "a" / "phone.png", exif=exif)

    _, train, test, schema = run_ingest(
        DataConfig(source="images", path=tmp_path / "photos"), tmp_path / "out"
    )
    assert schema["image_shape"] == [6, 4, 1]
    pixels = pd.concat([train, test]).drop(columns=["label"]).to_numpy()
    assert len(pixels) == 13
    np.testing.assert_array_equal(pixels, np.tile(upright.ravel() / 255.0, (13, 1)))
    encoded = next(image_rows(tmp_path / "photos" / "a" / "phone.png", (6, 4, 1), rows=10))
    np.testing.assert_array_equal(encoded.filter(like="px").to_numpy()[0], upright.ravel() / 255)


def test_palette_and_16_bit_images_keep_their_colours_and_depth(tmp_path):
    """A GIF-style palette image in colour stays colour; 16-bit grey keeps its levels rather
    than clipping at 255 (Pillow's convert("L") of a 16-bit image does); grey with alpha is
    grey. Ingest and encode read each file the same way."""
    from PIL import Image

    from aefx.images import image_rows

    reds = {"a": (255, 0, 0), "b": (0, 0, 255)}
    levels = [1000 * (i + 1) for i in range(12)]  # 16-bit, all above 255
    for cls in ("a", "b"):
        for kind in ("palette", "deep", "alpha"):
            (tmp_path / kind / cls).mkdir(parents=True)
        for i in range(6):
            rgb = Image.new("RGB", (3, 2), reds[cls])
            rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(
                tmp_path / "palette" / cls / f"{i}.gif"
            )
            level = levels[i + (6 if cls == "b" else 0)]
            deep = Image.fromarray(np.full((2, 3), level, dtype=np.uint16))
            deep.save(tmp_path / "deep" / cls / f"{i}.png")
            Image.new("LA", (3, 2), (40 * i, 255)).save(tmp_path / "alpha" / cls / f"{i}.png")

    _, train, test, schema = run_ingest(
        DataConfig(source="images", path=tmp_path / "palette"), tmp_path / "out-palette"
    )
    assert schema["image_shape"] == [2, 3, 3]
    rows = pd.concat([train, test])
    first_pixel = rows[["px00", "px01", "px02"]].to_numpy()
    expected = np.where((rows["label"] == "a").to_numpy()[:, None], [1.0, 0, 0], [0, 0, 1.0])
    np.testing.assert_array_equal(first_pixel, expected)

    _, train, test, schema = run_ingest(
        DataConfig(source="images", path=tmp_path / "deep"), tmp_path / "out-deep"
    )
    assert schema["image_shape"] == [2, 3, 1]
    found = np.sort(pd.concat([train, test])["px0"].to_numpy())
    np.testing.assert_allclose(found, np.array(levels) / 65535, rtol=1e-6)
    encoded = next(image_rows(tmp_path / "deep", (2, 3, 1), rows=100))
    np.testing.assert_allclose(np.sort(encoded["px0"]), found, rtol=1e-6)

    _, _, _, schema = run_ingest(
        DataConfig(source="images", path=tmp_path / "alpha"), tmp_path / "out-alpha"
    )
    assert schema["image_shape"] == [2, 3, 1]


def test_float_images_keep_their_values_and_wide_integers_are_refused(tmp_path):
    """A float TIFF in [0, 1] is read as it is (Pillow's convert("L") would make it black); a
    32-bit integer image beyond 0..255 is refused with the file named."""
    from PIL import Image

    from aefx.images import load_folder

    for cls in ("a", "b"):
        (tmp_path / "float" / cls).mkdir(parents=True)
        (tmp_path / "wide" / cls).mkdir(parents=True)
        for i in range(3):
            level = np.full((2, 3), 0.1 * (i + 1), dtype=np.float32)
            Image.fromarray(level).save(tmp_path / "float" / cls / f"{i}.tif")
            Image.fromarray(np.full((2, 3), 300 * i, dtype=np.int32)).save(
                tmp_path / "wide" / cls / f"{i}.tif"
            )
    images = load_folder(tmp_path / "float").images
    np.testing.assert_allclose(np.unique(images), [0.1, 0.2, 0.3], rtol=1e-6)
    with pytest.raises(AefxError, match=r"1\.tif: integer pixels must lie in 0\.\.255"):
        load_folder(tmp_path / "wide")


def test_images_of_many_sizes_are_resized_to_data_image_size(tmp_path):
    """Photos come in many sizes, and a folder of them was refused (`all images need one
    shape`). With data.image_size each is resized, as Pillow resizes the picture itself; arrays
    and the embedded digits are resized too."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for cls in ("a", "b"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(5):
            height, width = (int(v) for v in rng.integers(6, 30, 2))
            noise = rng.integers(0, 256, (height, width), dtype=np.uint8)
            Image.fromarray(noise, "L").save(tmp_path / "photos" / cls / f"{i}.png")
    cfg = DataConfig(source="images", path=tmp_path / "photos", image_size=(5, 7), test_size=0.3)
    _, train, test, schema = run_ingest(cfg, tmp_path / "out")
    assert schema["image_shape"] == [5, 7, 1] and schema["image_resize"] is True
    rows = pd.concat([train, test]).drop(columns="label").to_numpy()
    for file in sorted((tmp_path / "photos").rglob("*.png")):
        # Pillow resizes 8-bit levels in fixed point: within a level of the float resize.
        resized = Image.open(file).resize((7, 5), Image.Resampling.BILINEAR)
        expected = np.asarray(resized, dtype=np.float32).ravel() / 255.0
        assert np.abs(rows - expected).max(axis=1).min() <= 1 / 255
    # One colour photo makes the folder colour: the grey ones' three channels are equal.
    colour = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    Image.fromarray(colour, "RGB").save(tmp_path / "photos" / "a" / "colour.png")
    _, train, test, schema = run_ingest(cfg, tmp_path / "colour")
    assert schema["image_shape"] == [5, 7, 3]
    pixels = pd.concat([train, test]).drop(columns="label").to_numpy().reshape(-1, 5, 7, 3)
    grey = (pixels == pixels[..., :1]).all(axis=(1, 2, 3))
    assert grey.sum() == 10 and len(grey) == 11

    np.save(tmp_path / "x.npy", rng.uniform(size=(30, 12, 12)).astype("float32"))
    np.save(tmp_path / "y.npy", np.arange(30) % 3)
    cfg = DataConfig(
        source="images",
        path=tmp_path / "x.npy",
        labels_path=tmp_path / "y.npy",
        image_size=(6, 4),
    )
    assert run_ingest(cfg, tmp_path / "array")[3]["image_shape"] == [6, 4, 1]
    _, train, _, schema = run_ingest(DataConfig(source="digits", image_size=(4, 4)), tmp_path)
    assert schema["image_shape"] == [4, 4, 1] and train.shape[1] == 16 + 1
    assert 0.0 <= train.drop(columns="label").to_numpy().min() <= 1.0


def test_an_image_folder_over_the_memory_budget_is_refused_before_reading(tmp_path):
    """data.memory_budget_mb held for tables and arrays, not for a folder of images: a folder
    of camera photos was read whole, at full size, as far as memory went. Estimated from the
    first image's header; with data.image_size, at that size."""
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (400, 300), color=20 * i).save(tmp_path / "imgs" / cls / f"{i}.png")
    cfg = DataConfig(source="images", path=tmp_path / "imgs", memory_budget_mb=1)
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    assert str(caught.value) == (
        f"{tmp_path / 'imgs'}: needs about 5 MB in memory, over data.memory_budget_mb=1 "
        "(data.image_size: [height, width] reads them smaller, or raise the budget)"
    )  # 10 images x 400 x 300 grey pixels x 4 bytes
    assert not (tmp_path / "out").exists()
    small = cfg.model_copy(update={"image_size": (30, 40)})
    assert run_ingest(small, tmp_path / "out")[3]["image_shape"] == [30, 40, 1]


def test_images_resized_past_the_memory_budget_are_refused_before_resizing(tmp_path):
    """data.image_size was weighed against the budget for a folder only: the embedded digits
    (or an array file) at [100000, 100000] were resized until the process was killed."""
    cfg = DataConfig(source="digits", image_size=(400, 300), memory_budget_mb=100)
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    assert str(caught.value) == (
        "digits: needs about 823 MB in memory, over data.memory_budget_mb=100 "
        "(data.image_size: [400, 300] is too large for them, or raise the budget)"
    )  # 1797 images x 400 x 300 grey pixels x 4 bytes, beside the 8 x 8 ones
    np.save(tmp_path / "x.npy", np.zeros((20, 8, 8, 3), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    array = DataConfig(
        source="images",
        path=tmp_path / "x.npy",
        labels_path=tmp_path / "y.npy",
        image_size=(1000, 1000),
        memory_budget_mb=100,
    )
    with pytest.raises(AefxError, match=r"x.npy: needs about 229 MB in memory, over data.memo"):
        run_ingest(array, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    small = array.model_copy(update={"image_size": (100, 100)})
    assert run_ingest(small, tmp_path / "out")[3]["image_shape"] == [100, 100, 3]


def test_a_missing_image_source_is_named_as_not_found(tmp_path):
    with pytest.raises(AefxError, match=r"nothere: image data not found \(a folder, a .npz or"):
        run_ingest(DataConfig(source="images", path=tmp_path / "nothere"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "problem",
    ["mixed shapes", "not an image", "wrong extension", "too many pixels", "too many pixels first"],
)
def test_bad_image_folders_are_refused_with_the_file_named(tmp_path, monkeypatch, problem):
    """An image past PIL's guard against decompression bombs was PIL's own error, which is no
    OSError, in a traceback; the guard is lowered here so that the image can be small."""
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
    elif problem == "wrong extension":
        bad = bad.with_suffix(".txt")
        bad.write_text("notes")
        needle = "not an image file type"
    else:  # the first file is weighed against the memory budget before any is read
        bad = tmp_path / "imgs" / "a" / "0.png" if problem.endswith("first") else bad
        Image.new("L", (60, 40)).save(bad)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses past 2000 pixels
        needle = r"too many pixels to open \(Image size \(2400 pixels\) exceeds limit"
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
    np.savez(tmp_path / "xy.npz", x=np.load(tmp_path / "x.npy"), y=np.load(tmp_path / "y.npy"))
    both = DataConfig(source="images", path=tmp_path / "xy.npz", labels_path=tmp_path / "y.npy")
    with pytest.raises(AefxError, match=r"xy.npz: a .npz holds its own labels \(array y\)"):
        run_ingest(both, tmp_path / "bad")  # labels_path went unused
    (tmp_path / "fake.npz").write_text("not a zip")
    with pytest.raises(AefxError, match=r"not a \.npz archive"):
        run_ingest(DataConfig(source="images", path=tmp_path / "fake.npz"), tmp_path / "bad")
    # Object arrays would need pickle: refused, never unpickled.
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 30, dtype=object), allow_pickle=True)
    obj = DataConfig(source="images", path=tmp_path / "obj.npy", labels_path=tmp_path / "y.npy")
    with pytest.raises(AefxError, match="without pickle"):
        run_ingest(obj, tmp_path / "bad")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("label\n" + "0\n1\n" * 15, None),
        (pd.Series([0, 1] * 15, name="label").to_csv(), None),  # with its index, unnamed
        ("0\n1\n" * 15, "30 images but 29 labels after the header line '0'; start the file with"),
        ("", "labels.csv: file is empty"),
        ("label\n" + "0\n1\n" * 15 + "1,2\n", "labels.csv: cannot be read as CSV (Error tokeniz"),
        ("label\n" + "0\n1\n" * 10, "30 images but 20 labels"),
        ("label\n" + "0\n1\n" * 15 + "\n\n", None),  # blank lines at the end are harmless
        (
            "label\n" + "0\n1\n" * 7 + "\n1\n" + "0\n1\n" * 7 + "\n",
            "30 images but 29 labels; line 16 is blank, and a blank line is skipped, not read",
        ),
    ],
    ids=[
        "header",
        "saved index",
        "bare column",
        "empty",
        "ragged",
        "too few",
        "ends blank",
        "blank",
    ],
)
def test_a_labels_csv_needs_a_header_and_one_row_per_image(tmp_path, text, needle):
    """The empty and the ragged file were pandas tracebacks; a bare column of 30 labels said
    "30 images but 29 labels", its first label taken for the header."""
    np.save(tmp_path / "x.npy", np.random.default_rng(2).uniform(size=(30, 4, 4)))
    (tmp_path / "labels.csv").write_text(text)
    cfg = DataConfig(source="images", path=tmp_path / "x.npy", labels_path=tmp_path / "labels.csv")
    if needle is None:
        result, *_ = run_ingest(cfg, tmp_path / "ok")
        assert result.n_train + result.n_test == 30
        return
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    assert str(caught.value).startswith(str(tmp_path)) and needle in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_labels_csv_one_label_short_is_not_taken_for_a_bare_column(tmp_path):
    """Its header 'label' is no label value, so the line is the count, not "start the file
    with a line naming the column", which it already does."""
    np.save(tmp_path / "x.npy", np.random.default_rng(2).uniform(size=(30, 4, 4)))
    (tmp_path / "labels.csv").write_text("label\n" + "0\n1\n" * 14 + "0\n")
    cfg = DataConfig(source="images", path=tmp_path / "x.npy", labels_path=tmp_path / "labels.csv")
    with pytest.raises(AefxError) as caught:
        run_ingest(cfg, tmp_path / "out")
    assert str(caught.value) == f"{tmp_path / 'labels.csv'}: 30 images but 29 labels"


def test_a_class_named_none_in_a_labels_csv_is_a_class(tmp_path):
    """pandas reads 'None' and 'NA' as missing values, so a labels file with a class 'None'
    had missing labels; a label is a class as written, and an empty one is refused."""
    np.save(tmp_path / "x.npy", np.random.default_rng(2).uniform(size=(30, 4, 4)))
    (tmp_path / "labels.csv").write_text("label\n" + "None\ncat\nNA\n" * 10)
    cfg = DataConfig(source="images", path=tmp_path / "x.npy", labels_path=tmp_path / "labels.csv")
    result, *_ = run_ingest(cfg, tmp_path / "ok")
    assert result.classes == ("NA", "None", "cat") and result.n_train + result.n_test == 30

    # An empty label was a traceback (`'<' not supported between instances of 'str' and
    # 'float'`), or among numbers `holds continuous values (2 distinct, e.g. nan)`.
    for labels in ('None\ncat\n""\n', '1\n0\n""\n'):
        (tmp_path / "labels.csv").write_text("label\n" + labels * 10)
        with pytest.raises(AefxError) as caught:
            run_ingest(cfg, tmp_path / "out")
        assert str(caught.value) == (
            f"{tmp_path / 'labels.csv'}: 10 of 30 labels are missing (the first is label 3); "
            "give every image a label"
        )
        assert not (tmp_path / "out").exists()


def train_on_digits(*overrides: str):
    """The stages up to a shipped encoder, on the embedded digits with one seed and
    ``overrides``, run in the current project: its params and the shipped model."""
    from aefx.config import load_params
    from aefx.pipeline import stage
    from aefx.serving import EncoderModel

    params = load_params(overrides=["data.source=digits", "seeds=[1]", *overrides])
    for name in ("ingest", "scale", "train_autoencoder", "extract_encoder"):
        stage(name).run(params)
    paths = params.paths
    return params, EncoderModel.from_files(str(paths.encoder), str(paths.encoder_meta))


def test_new_images_encode_score_and_rebuild_like_the_pixel_rows_ingest_wrote(project):
    """A model trained on images reads new ones as image files (a folder, any depth, or one
    file), a .npy or a .npz: each gives exactly the codes of the same pixels given as rows."""
    from PIL import Image

    from aefx.encode import encode_file, read_chunks, reconstruct_file
    from aefx.serving import load_autoencoder
    from tests.conftest import run_command

    params, model = train_on_digits("autoencoder.kind=conv", "autoencoder.epochs=2")
    p = params.paths
    assert model.image_shape == [8, 8, 1]

    rows = pd.read_parquet(p.test).head(12)
    pixels = np.round(rows.drop(columns="label").to_numpy() * 255).astype(np.uint8)
    images = pixels.reshape(-1, 8, 8)
    pd.DataFrame(pixels / 255.0, columns=model.features).to_csv("rows.csv", index=False)
    for i, (image, label) in enumerate(zip(images, rows["label"], strict=True)):
        (project / "new" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(project / "new" / str(label) / f"{i:02d}.png")
    np.save("new.npy", images)
    np.savez("new.npz", x=images)
    Image.fromarray(np.stack([images[3]] * 3, axis=-1), "RGB").save("colour.png")

    def codes(source: str, **chunking) -> pd.DataFrame:
        encode_file(model, project / source, project / "codes.parquet", **chunking)
        return pd.read_parquet(project / "codes.parquet")

    expected = codes("rows.csv")[model.code_columns].to_numpy()
    for source in ("new.npy", "new.npz"):
        got = codes(source, rows=5)  # a .npy is read five images at a time
        np.testing.assert_allclose(got[model.code_columns].to_numpy(), expected, atol=1e-5)
        assert list(got.columns) == model.code_columns  # no labels given, none made up
    # A .npz's labels y are carried through as the label column, as ingest reads them.
    np.savez("labelled.npz", x=images, y=rows["label"].to_numpy())
    got = codes("labelled.npz", rows=5)
    assert list(got.columns) == [*model.code_columns, "label"]
    np.testing.assert_array_equal(got["label"], rows["label"])
    np.testing.assert_allclose(got[model.code_columns].to_numpy(), expected, atol=1e-5)
    (project / "new" / str(rows["label"].iloc[0]) / "Thumbs.db").write_bytes(b"\xd0\xcf\x11")
    from_files = codes("new", rows=5)  # Windows' thumbnail cache is no image
    order = [int(name.split("/")[1][:2]) for name in from_files["file"]]
    assert sorted(order) == list(range(12)) and from_files["file"][0].count("/") == 1
    np.testing.assert_allclose(
        from_files[model.code_columns].to_numpy(), expected[order], atol=1e-5
    )
    colour = codes("colour.png")  # converted to the model's grey
    assert list(colour["file"]) == ["colour.png"]
    np.testing.assert_allclose(colour[model.code_columns].to_numpy(), expected[[3]], atol=1e-5)
    autoencoder = load_autoencoder(str(p.encoder), str(p.encoder_meta))
    for source in ("new.npy", "rows.csv"):
        reconstruct_file(model, autoencoder, project / source, project / f"{source}.parquet")
    rebuilt = [pd.read_parquet(project / f"{s}.parquet") for s in ("new.npy", "rows.csv")]
    assert list(rebuilt[0].columns) == model.features  # pixel rows, in [0, 1] like the input
    np.testing.assert_allclose(rebuilt[0].to_numpy(), rebuilt[1].to_numpy(), atol=1e-5)

    # The command: anomaly scores of a folder of images, one row per file.
    done = run_command(
        sys.executable,
        "-m",
        "aefx",
        "score",
        "-m",
        str(p.encoder_meta),
        "-i",
        "new",
        "-o",
        "scores.csv",
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(project / "scores.csv")
    assert list(scores.columns) == ["decision_score", "anomaly", "file"] and len(scores) == 12
    # A .npz whose y marks known anomalies (0/1) is scored against it with --truth label.
    np.savez("flagged.npz", x=images, y=(rows["label"].to_numpy() == 0).astype(int))
    done = run_command(
        sys.executable, "-m", "aefx", "score", "-m", str(p.encoder_meta), "-i", "flagged.npz",
        "-o", "flagged.csv", "--truth", "label", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "against label: ROC AUC " in done.stdout
    assert list(pd.read_csv(project / "flagged.csv").columns) == [
        "decision_score",
        "anomaly",
        "label",
    ]

    # Images the model cannot take: one line naming the file, and no output.
    (project / "codes.parquet").unlink()
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(project / "new" / "0" / "tall.png")
    np.save("flat.npy", images.reshape(12, 4, 16))
    np.savez("short.npz", x=images, y=rows["label"].to_numpy()[:11])
    for source, message in [
        ("new", "new/0/tall.png: image is 8x9 but the model was trained on 8x8 images"),
        ("flat.npy", "flat.npy: images are 4x16x1 but the model was trained on 8x8x1"),
        ("short.npz", "short.npz: y: 12 images but 11 labels"),
    ]:
        with pytest.raises(AefxError) as caught:
            encode_file(model, project / source, project / "codes.parquet")
        assert str(caught.value) == f"{project}/{message}"
        assert not (project / "codes.parquet").exists()
    with pytest.raises(AefxError, match=r"codes.csv: is inside the input folder"):
        encode_file(model, project / "new", project / "new" / "codes.csv")
    with pytest.raises(AefxError, match="images, but the model was trained on table rows"):
        next(read_chunks(project / "new.npy", 10, image_shape=None))


def test_a_model_trained_on_resized_images_resizes_new_ones(project):
    """New photos come in any size too: a model trained with data.image_size resizes them as
    ingest resized its training images (one trained without refuses another size, above). A
    level grey stays that grey at any size, so it encodes alike from any size."""
    from PIL import Image

    from aefx.encode import encode_file

    _, model = train_on_digits(
        "data.image_size=[6, 6]", "autoencoder.kind=dense", "autoencoder.epochs=1"
    )
    assert model.image_shape == [6, 6, 1] and model.image_resize
    (project / "new").mkdir()
    for height, width in ((6, 6), (13, 9), (30, 41)):
        grey = np.full((height, width), 102, np.uint8)
        Image.fromarray(grey, "L").save(project / "new" / f"{height}x{width}.png")
    np.save(project / "new.npy", np.full((2, 10, 10), 0.4, np.float32))
    codes = {}
    for source in ("new", "new.npy"):
        encode_file(model, project / source, project / f"{source}.csv")
        codes[source] = pd.read_csv(project / f"{source}.csv")[model.code_columns].to_numpy()
    assert len(codes["new"]) == 3 and len(codes["new.npy"]) == 2
    np.testing.assert_allclose(codes["new"], codes["new.npy"][[0, 0, 0]], atol=1e-6)


def test_reconstruct_gives_images_back_as_png_files_in_a_folder(project):
    """`aefx reconstruct` of images into a folder: one PNG per image at the model's size, named
    after the file it came from (numbered in order for an array), whose 8-bit levels are the
    rebuilt pixel rows', listed with the carried columns in reconstructions.csv. A folder it
    wrote before is replaced whole; any other non-empty folder, or two images that would get
    one name, are refused in one line with nothing written."""
    from types import SimpleNamespace

    from PIL import Image

    from aefx.encode import reconstruct_file
    from tests.conftest import run_command

    params, model = train_on_digits("autoencoder.epochs=2")
    rows = pd.read_parquet(params.paths.test).head(6)
    images = np.round(rows.drop(columns="label").to_numpy() * 255).astype(np.uint8)
    images = images.reshape(-1, 8, 8)
    for i, (image, label) in enumerate(zip(images, rows["label"], strict=True)):
        name = f"{i}.bmp" if i == 0 else f"{i}.png"  # any image type comes back as PNG
        (project / "new" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(project / "new" / str(label) / name)
    np.savez("labelled.npz", x=images, y=rows["label"].to_numpy())

    def reconstruct(source: str, output: str):
        meta = str(params.paths.encoder_meta)
        cli = (sys.executable, "-m", "aefx", "reconstruct", "-m", meta, "-i", source, "-o", output)
        return run_command(*cli, cwd=project)

    for output in ("rows.parquet", "rebuilt"):
        done = reconstruct("new", output)
        assert done.returncode == 0, done.stderr
    rebuilt = pd.read_parquet("rows.parquet")
    index = pd.read_csv(project / "rebuilt" / "reconstructions.csv")
    folder = project / "rebuilt"
    pngs = sorted(f.relative_to(folder).as_posix() for f in folder.glob("*/*"))
    names = [Path(f).with_suffix(".png").as_posix() for f in rebuilt["file"]]
    first = str(rows["label"].iloc[0])
    assert sorted(names) == pngs and len(pngs) == 6 and f"{first}/0.bmp" in list(rebuilt["file"])
    assert list(index.columns) == ["image", "file"]
    assert list(index["image"]) == names and list(index["file"]) == list(rebuilt["file"])
    levels = np.clip(rebuilt[model.features].to_numpy(), 0, 1) * 255
    for name, expected in zip(names, levels.reshape(-1, 8, 8), strict=True):
        with Image.open(project / "rebuilt" / name) as png:
            assert png.mode == "L" and png.size == (8, 8)
            np.testing.assert_allclose(np.asarray(png), expected, atol=0.5 + 1e-3)

    # From an array: numbered in its order, its labels carried into the index; a folder that
    # reconstruct wrote before is replaced, not added to.
    done = reconstruct("labelled.npz", "rebuilt")
    assert done.returncode == 0, done.stderr
    files = sorted(f.name for f in (project / "rebuilt").rglob("*") if f.is_file())
    assert files == [f"{i:05d}.png" for i in range(6)] + ["reconstructions.csv"]
    index = pd.read_csv(project / "rebuilt" / "reconstructions.csv")
    assert list(index.columns) == ["image", "label"]
    assert list(index["label"]) == list(rows["label"])
    row_2 = [Path(f).stem for f in rebuilt["file"]].index("2")  # files are read in path order
    with Image.open(project / "rebuilt" / "00002.png") as png:
        expected = levels.reshape(-1, 8, 8)[row_2]
        np.testing.assert_allclose(np.asarray(png), expected, atol=0.5 + 1e-3)

    (project / "notes").write_text("a file, named like a folder")
    before = {f: f.read_bytes() for f in project.rglob("*") if f.is_file()}
    (project / "mine").mkdir()
    (project / "mine" / "notes.txt").write_text("mine")
    before[project / "mine" / "notes.txt"] = b"mine"
    (project / "rebuilt" / "0" / "notes.txt").parent.mkdir(exist_ok=True)
    (project / "rebuilt" / "0" / "notes.txt").write_text("mine, among its PNGs")
    before = {f: f.read_bytes() for f in project.rglob("*") if f.is_file()}
    twin = project / "new" / str(rows["label"].iloc[1]) / "1.jpg"  # beside 1.png
    Image.fromarray(images[0], "L").save(twin)
    refusals = {
        ("new", "mine"): "mine: has files but no reconstructions.csv, and reconstruct replaces "
        "the whole folder; write the images to a new or empty folder",
        ("new", "fresh"): f"would both be written as {twin.parent.name}/1.png; rename one",
        ("new", "new/out"): "new/out: is inside the input folder new; write it elsewhere",
        ("new", "notes"): "notes: is a file; name a new folder for the images",
    }
    for (source, output), message in refusals.items():
        done = reconstruct(source, output)
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    twin.unlink()
    # A folder it wrote, where the user has put a file of their own since: it would go.
    done = reconstruct("new", "rebuilt")
    assert done.returncode == 2 and done.stderr == (
        "aefx: error: rebuilt: holds 0/notes.txt, which reconstruct does not write, and it "
        "replaces the whole folder; write the images to a new or empty folder\n"
    )
    assert {f: f.read_bytes() for f in project.rglob("*") if f.is_file()} == before
    assert not (project / "fresh").exists()
    # A model trained on table rows has no images to give back.
    table_model = SimpleNamespace(image_shape=None)
    with pytest.raises(AefxError, match="a folder takes rebuilt images, but the model was"):
        reconstruct_file(table_model, None, project / "rows.parquet", project / "fresh")
    assert not (project / "fresh").exists()


def test_reconstruction_panels_clip_noisy_colour_pixels_and_show_grey_as_2d():
    """matplotlib ignores vmin/vmax for colour images and logged a warning per noisy image
    it clipped (ten per run on RGB data with the denoising default)."""
    from tasks.inspect_autoencoder import displayed

    noisy = np.random.default_rng(0).normal(0.5, 0.4, size=4 * 5 * 3)  # leaves [0, 1]
    colour = displayed(noisy, (4, 5, 3))
    assert colour.shape == (4, 5, 3) and colour.min() == 0.0 and colour.max() == 1.0
    inside = (noisy >= 0) & (noisy <= 1)
    np.testing.assert_array_equal(colour.ravel()[inside], noisy[inside])
    assert displayed(noisy[:20], (4, 5, 1)).shape == (4, 5)
