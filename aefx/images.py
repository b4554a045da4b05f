"""Image data sets as arrays in [0, 1]: the embedded digits, Keras-layout ``.npz`` files, user
arrays and folders of image files. Everything a user supplies is read without pickle."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aefx.errors import AefxError, first_line

if TYPE_CHECKING:
    import pandas as pd

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The first bytes of each format, so a file that is not what its name says is caught early.
_MAGIC = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"BM": "BMP",
    b"GIF8": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class ImageSet:
    """Images as float32 in [0, 1] with shape (n, height, width, channels), and their labels.

    ``test_images`` is set when the source comes already split (Keras' mnist layout)."""

    images: np.ndarray
    labels: np.ndarray
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    def resized(
        self, size: tuple[int, int] | None, budget_mb: float | None = None, origin: str = ""
    ) -> ImageSet:
        """These images at ``size`` (height, width; see :func:`resize_images`). With
        ``budget_mb``, resized images that would not fit beside these are refused before any is
        made (``data.image_size: [100000, 100000]`` on the digits was killed for memory)."""
        if size is None:
            return self
        if budget_mb is not None:
            from aefx.validation import check_budget

            count = len(self.images) + (0 if self.test_images is None else len(self.test_images))
            held = self.images.nbytes + (0 if self.test_images is None else self.test_images.nbytes)
            made = count * size[0] * size[1] * self.images.shape[-1] * 4  # float32
            advice = f"data.image_size: {list(size)} is too large for them, or raise the budget"
            check_budget(Path(origin), held + made, budget_mb, advice)
        test = None if self.test_images is None else resize_images(self.test_images, size)
        return ImageSet(resize_images(self.images, size), self.labels, test, self.test_labels)


def pixel_columns(n_pixels: int) -> list[str]:
    width = len(str(max(n_pixels - 1, 0)))
    return [f"px{i:0{width}d}" for i in range(n_pixels)]


def to_unit_range(array: np.ndarray, origin: str) -> np.ndarray:
    """Pixels as float32 in [0, 1], with shape (n, h, w, c)."""
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[0] == 0:
        raise _not_images(origin, array)
    if array.dtype == np.uint8:
        return array.astype("float32") / 255.0
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max())
        if int(array.min()) < 0 or top > 255:
            raise AefxError(f"{origin}: integer pixels must lie in 0..255 (found {top})")
        return array.astype("float32") / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise AefxError(f"{origin}: pixels must be numbers, not {array.dtype}")
    if not np.isfinite(array).all():
        raise AefxError(f"{origin}: images contain NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise AefxError(f"{origin}: float pixels must lie in [0, 1] (found {low:g}..{high:g})")
    return array.astype("float32")


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One image's pixels in [0, 1], shaped (h, w) or (h, w, c), at ``size`` (height, width):
    each channel resized with Pillow's bilinear filter, which averages over every pixel it
    shrinks (no aliasing), as Keras' image loaders resize by default; the aspect ratio is not
    kept."""
    from PIL import Image

    height, width = size
    if pixels.shape[:2] == (height, width):
        return pixels
    planes = pixels[..., np.newaxis] if pixels.ndim == 2 else pixels
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32)).resize(
                    (width, height), Image.Resampling.BILINEAR
                )
            )
            for c in range(planes.shape[-1])
        ],
        axis=-1,
    )
    # The filter's weights are not negative, so only rounding can step outside [0, 1].
    resized = np.clip(resized, 0.0, 1.0)
    return resized[..., 0] if pixels.ndim == 2 else resized


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Images shaped (n, h, w, c) in [0, 1] at ``size`` (:func:`resize_pixels`)."""
    if images.shape[1:3] == tuple(size):
        return images
    return np.stack([resize_pixels(image, size) for image in images])


def _not_images(origin: str, array: np.ndarray) -> AefxError:
    return AefxError(
        f"{origin}: expected images shaped (n, height, width) or (n, height, width, channels), "
        f"got {tuple(array.shape)}"
    )


def sniff(path: Path) -> str | None:
    """The format a file's first bytes announce: PNG, JPEG, ..., NPY, NPZ, or None."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":  # RIFF, the file's size, WEBP
        return "WebP"
    if head.startswith(NPY_MAGIC):
        return "NPY"
    if head.startswith(ZIP_MAGIC):
        return "NPZ"
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def load_digits_set() -> ImageSet:
    """scikit-learn's embedded 8x8 digits; pixel values 0..16 mapped to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    return ImageSet(images, digits.target.astype("int64"))


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise AefxError(f"{path}: file not found")
    if sniff(path) != "NPZ":
        raise AefxError(f"{path}: not a .npz archive (its first bytes say otherwise)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as exc:
        reason = first_line(exc, 120)
        raise AefxError(f"{path}: cannot be read as .npz without pickle ({reason})") from None


def _labels(values: np.ndarray, n: int, origin: str) -> np.ndarray:
    """``values`` as one label per image, every one given (an empty one was a traceback from
    sorting the classes, or for numbers taken for a continuous target)."""
    import pandas as pd

    values = np.asarray(values).reshape(-1)
    if len(values) != n:
        raise AefxError(f"{origin}: {n} images but {len(values)} labels")
    if (missing := pd.isna(values)).any():
        first = int(np.argmax(missing)) + 1
        raise AefxError(
            f"{origin}: {int(missing.sum())} of {n} labels are missing (the first is label "
            f"{first}); give every image a label"
        )
    return values


def load_keras_npz(path: Path) -> ImageSet:
    """mnist / fashion_mnist in Keras' layout: x_train, y_train, x_test, y_test."""
    return _keras_layout(_open_npz(path), path)


def _keras_layout(arrays: dict[str, np.ndarray], path: Path) -> ImageSet:
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise AefxError(f"{path}: missing array(s) {', '.join(missing)} (Keras layout expected)")
    train = to_unit_range(arrays["x_train"], f"{path}: x_train")
    test = to_unit_range(arrays["x_test"], f"{path}: x_test")
    if train.shape[1:] != test.shape[1:]:
        raise AefxError(
            f"{path}: x_train images are {train.shape[1:]}, x_test images {test.shape[1:]}"
        )
    return ImageSet(
        train,
        _labels(arrays["y_train"], len(train), f"{path}: y_train"),
        test,
        _labels(arrays["y_test"], len(test), f"{path}: y_test"),
    )


def load_array(path: Path, labels_path: Path | None) -> ImageSet:
    """A user's ``.npz`` (arrays x and y, or Keras' split layout) or ``.npy`` plus labels."""
    if path.suffix.lower() == ".npz":
        if labels_path is not None:
            raise AefxError(
                f"{path}: a .npz holds its own labels (array y); data.labels_path is for a .npy "
                "or a folder of images"
            )
        arrays = _open_npz(path)
        if "x_train" in arrays:
            return _keras_layout(arrays, path)
        if "x" not in arrays or "y" not in arrays:
            raise AefxError(f"{path}: expected arrays 'x' and 'y' (found {', '.join(arrays)})")
        images = to_unit_range(arrays["x"], f"{path}: x")
        return ImageSet(images, _labels(arrays["y"], len(images), f"{path}: y"))
    if not path.is_file():
        raise AefxError(f"{path}: file not found")
    if sniff(path) != "NPY":
        raise AefxError(f"{path}: not a .npy array (its first bytes say otherwise)")
    if labels_path is None:
        raise AefxError(
            f"{path}: a .npy of images needs data.labels_path (a .npy, or a CSV, TSV or "
            "Parquet file)"
        )
    from aefx.io import table_file

    images = to_unit_range(_load_npy(path), str(path))
    if table_file(labels_path) is not None:  # a CSV, TSV or Parquet file
        labels = _csv_labels(labels_path, len(images))
    else:
        labels = _load_npy(labels_path)
    return ImageSet(images, _labels(labels, len(images), str(labels_path)))


def _labels_table(path: Path, ids: bool = False) -> pd.DataFrame:
    """A labels file whole: a CSV or TSV (plain or compressed) with a header line, or a
    Parquet file, as its name says. With ``ids``, every column of a text file must have a
    name, and its first column (each image's name) is read as text, so ids keep their leading
    zeros (``007``)."""
    import pandas as pd

    from aefx.io import read_csv, table_file, unsupported_type
    from aefx.validation import READ_ERRORS, check_content, unreadable

    if not path.is_file():
        raise AefxError(f"{path}: labels file not found")
    table = table_file(path)
    if table is None:
        raise unsupported_type(path, "labels")
    check_content(path, header=ids)
    try:
        if table.kind == "parquet":
            return pd.read_parquet(path)
        names = {0: str} if ids else None  # a label is a class: 'None' is one, not missing
        return read_csv(path, table.codec, delimiter=table.delimiter, dtype=names, text=True)
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None


def _csv_labels(path: Path, n: int) -> np.ndarray:
    """The last column of a labels table (:func:`_labels_table`), one row per image."""
    from aefx.io import table_file

    frame = _labels_table(path)  # only the last column is read: a saved index may stay
    table = table_file(path)
    plain = table is not None and table.kind == "csv" and table.codec is None
    if len(frame) != n and plain and (blank := _blank_lines(path)):
        raise AefxError(
            f"{path}: {n} images but {len(frame)} labels; line {blank[0]} is blank, and a blank "
            f"line is skipped, not read as a missing label ({len(blank)} blank line(s))"
        )
    header = str(frame.columns[0])
    if len(frame) == n - 1 and frame.shape[1] == 1 and header in set(frame.iloc[:, 0].astype(str)):
        # A bare column of labels: pandas took the first one as the column's name.
        raise AefxError(
            f"{path}: {n} images but {n - 1} labels after the header line {header!r}; "
            "start the file with a line naming the column (e.g. label)"
        )
    return frame.iloc[:, -1].to_numpy()


def _blank_lines(path: Path) -> list[int]:
    """Line numbers (from 1) of the blank lines before a file's last line with text."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [i for i, line in enumerate(lines, start=1) if not line.strip()]


def _load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    if not path.is_file():
        raise AefxError(f"{path}: file not found")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as exc:
        reason = first_line(exc, 120)
        raise AefxError(f"{path}: cannot be read as .npy without pickle ({reason})") from None


# A folder's image files with their classes, as (training, test): what folder_files gives.
FolderFiles = tuple[list[tuple[Any, Path]], list[tuple[Any, Path]]]


# What file managers leave among photos, beside names starting with '.' (.DS_Store,
# .thumbnails/): Windows' thumbnail caches and folder settings, and the __MACOSX/ folder of a
# zip made on a Mac. None is an image, and none is a class; matched without regard to case.
SYSTEM_NAMES = frozenset(
    {"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "__macosx"}
)


def _skipped(path: Path, under: Path) -> bool:
    """Whether ``path``, a file or folder below ``under``, is a file manager's and no image's:
    it, or a folder between, is hidden (its name starts with '.') or in SYSTEM_NAMES."""
    return any(
        part.startswith(".") or part.lower() in SYSTEM_NAMES
        for part in path.relative_to(under).parts
    )


# The sub-folders that split a folder of images into its own parts, each a folder of class
# folders, as many image data sets come (train/cat/..., test/cat/...); a validation part joins
# training, where aefx takes its own validation slice. Matched without regard to case.
TRAIN_PARTS = ("train", "training")
TEST_PARTS = ("test", "testing")
VALIDATION_PARTS = ("val", "valid", "validation")


def _split_parts(path: Path) -> tuple[list[Path], Path] | None:
    """The training parts (train, and a validation part if there is one) and the test part of
    a folder that holds both a train and a test folder; None for a folder of class folders."""
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not _skipped(p, path))
    train = [p for p in folders if p.name.lower() in TRAIN_PARTS]
    test = [p for p in folders if p.name.lower() in TEST_PARTS]
    if not train or not test:
        return None
    validation = [p for p in folders if p.name.lower() in VALIDATION_PARTS]
    others = [p.name for p in folders if p not in (*train, *test, *validation)]
    if others or len(train) > 1 or len(test) > 1:
        extra = others or [p.name for p in (train[1:] or test[1:])]
        raise AefxError(
            f"{path}: holds {train[0].name}/ and {test[0].name}/ folders, and also "
            f"{', '.join(f'{name}/' for name in extra)}; a folder of images holds either one "
            "sub-folder per class, or train/ and test/ (and val/) folders of such"
        )
    return [*train, *validation], test[0]


def folder_files(path: Path, labels_path: Path | None = None, label: str = "label") -> FolderFiles:
    """Each image file of a folder of images with its class, as (training, test): a folder of
    class folders is all training (the pipeline splits it); a folder split in its own parts
    (:func:`_split_parts`) gives its test part's apart. With ``labels_path`` the classes come
    from that file instead (:func:`_listed_files`)."""
    if labels_path is not None:
        return _listed_files(path, labels_path, label), []
    parts = _split_parts(path)
    if parts is None:
        return _class_files(path), []
    _no_loose_images(path, "the train/ and test/ folders")
    train, test = parts
    return [f for part in train for f in _class_files(part)], _class_files(test, min_classes=1)


def _listed_files(path: Path, labels_path: Path, label: str) -> list[tuple[Any, Path]]:
    """The image files of a folder (at any depth) with the labels a CSV gives them, as many data
    sets come (a folder of images and a train.csv of id,label). The CSV's first column names
    each image by its path under the folder (``/`` or ``\\`` between folders), with or without
    its suffix (the ids such files list); its label is in the column named like ``label``, else
    in the last column. Every image must be listed once, and every name must be an image; in
    path order."""
    from pathlib import PurePosixPath

    import pandas as pd

    from aefx.validation import show_value

    frame = _labels_table(labels_path, ids=True)
    if frame.shape[1] < 2:
        raise AefxError(
            f"{labels_path}: a folder's labels need two columns, each image's file name and its "
            f"label (found {', '.join(map(repr, map(str, frame.columns))) or 'none'})"
        )
    named, labels = (
        frame.iloc[:, 0],
        frame[label if label in frame.columns[1:] else frame.columns[-1]],
    )
    images = {  # the files encode reads of a folder, those of image types
        f.relative_to(path).as_posix(): f
        for f in _image_files(path)
        if f.suffix.lower() in IMAGE_SUFFIXES
    }
    by_stem: dict[str, list[str]] = {}
    for name in images:
        by_stem.setdefault(str(PurePosixPath(name).with_suffix("")), []).append(name)
    listed: dict[str, tuple[int, Any]] = {}  # image name -> (row of the CSV, label)
    unknown: list[str] = []
    for row, (value, given) in enumerate(zip(named, labels, strict=True), start=1):
        key = "" if pd.isna(value) else str(value).strip().replace("\\", "/")
        key = PurePosixPath(key).as_posix() if key else key  # ./a.png and a//b.png too
        matches = [key] if key in images else by_stem.get(key, [])
        if len(matches) > 1:
            raise AefxError(
                f"{labels_path}: row {row} names {key!r}, which is {' and '.join(matches)}; "
                "name it with its suffix"
            )
        if not matches:
            unknown.append(key)
            continue
        if matches[0] in listed:
            raise AefxError(
                f"{labels_path}: rows {listed[matches[0]][0]} and {row} both name {matches[0]}"
            )
        if pd.isna(given):
            raise AefxError(f"{labels_path}: row {row} ({key}) has no label")
        listed[matches[0]] = (row, given)
    if unknown:
        named = _first_and_more([show_value(u) for u in unknown], "names", "name")
        raise AefxError(
            f"{labels_path}: {named} no image file in {path} (the first column names each "
            "image by its path under the folder)"
        )
    unlisted = [name for name in images if name not in listed]
    if unlisted:
        raise AefxError(
            f"{path}: {_first_and_more(unlisted)} not in {labels_path}; give each image a label "
            "there, or move it out of the folder"
        )
    if not images:
        raise AefxError(f"{path}: no image files in this folder")
    return [(listed[name][1], file) for name, file in images.items()]


def _no_loose_images(path: Path, where: str) -> None:
    """A folder whose images belong in sub-folders holds none of its own: one would have no
    class, and was left out without a word."""
    loose = sorted(
        f
        for f in path.iterdir()
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not _skipped(f, path)
    )
    if loose:
        raise AefxError(
            f"{path}: {_first_and_more([f.name for f in loose], 'lies', 'lie')} outside {where}; "
            "move each image into its class's folder, or out of this folder"
        )


def _first_and_more(names: list[str], verb: str = "", plural_verb: str = "") -> str:
    """'a.png lies', or 'a.png and 2 more lie' (without verbs: 'a.png and 2 more')."""
    if len(names) == 1:
        return f"{names[0]} {verb}".rstrip()
    return f"{names[0]} and {len(names) - 1} more {plural_verb}".rstrip()


def _class_files(path: Path, min_classes: int = 2) -> list[tuple[str, Path]]:
    """Each image file of a folder of class folders, with its class."""
    _no_loose_images(path, "the class folders")
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not _skipped(p, path))
    if len(classes) < min_classes:
        raise AefxError(f"{path}: expected one sub-folder per class (found {len(classes)})")
    # A class folder's images at any depth (cats/2019/a.png is a cat), as `aefx encode` reads
    # a folder; a file manager's files (_skipped) are no images.
    files = [
        (cls.name, f)
        for cls in classes
        for f in sorted(cls.rglob("*"))
        if f.is_file() and not _skipped(f, cls)
    ]
    if not files:
        raise AefxError(f"{path}: no image files in the class folders")
    empty = sorted({c.name for c in classes} - {name for name, _ in files})
    if empty:
        # The class was left out without a word: the run trained on the others alone.
        raise AefxError(
            f"{path}: class folder {_first_and_more(empty, 'holds', 'hold')} no image; put the "
            f"images in, or move {'it' if len(empty) == 1 else 'them'} out of this folder"
        )
    return files


def folder_bytes(
    path: Path,
    size: tuple[int, int] | None = None,
    labels_path: Path | None = None,
    label: str = "label",
    files: FolderFiles | None = None,
) -> int:
    """Estimated float32 size of a folder of class folders' images once read (at ``size``,
    height and width, where set): the first image's shape and colour (from its header) times
    the number of files, as all must be of that shape without ``size``. ``files``: the
    folder's, from :func:`folder_files`, if the caller has them already."""
    train, test = files or folder_files(path, labels_path, label)
    every = train + test
    first = every[0][1]
    if sniff(first) is None:
        return 0  # load_folder names the file that is not an image

    with _opened(first) as picture:
        width, height = picture.size if size is None else size[::-1]
        grey = picture.mode in _GREY_MODES or picture.mode.startswith("I;16")
    return len(every) * height * width * (1 if grey else 3) * 4


def load_folder(
    path: Path,
    size: tuple[int, int] | None = None,
    labels_path: Path | None = None,
    label: str = "label",
    files: FolderFiles | None = None,
) -> ImageSet:
    """One sub-folder per class, holding image files (at any depth below it) of one shape, or
    of any shapes where each is resized to ``size`` (height, width); or train/ and test/ folders
    of such, whose split is kept; or images named in ``labels_path`` (:func:`folder_files`,
    unless the caller gives its ``files``)."""
    train, test = files or folder_files(path, labels_path, label)
    images = _read_files(path, train + test, size)
    if not test:
        return images
    n = len(train)
    x, y = images.images, images.labels
    return ImageSet(x[:n], y[:n], x[n:], y[n:])


def _read_files(
    path: Path, files: list[tuple[Any, Path]], size: tuple[int, int] | None
) -> ImageSet:
    """The image ``files`` of the folder ``path`` with their classes, read as one set: one
    shape (or resized to ``size``), and colour if any of them holds colour."""
    labels = np.asarray([label for label, _ in files])
    if size is not None:
        # Each photo is resized as it is read, so memory holds one at full size at a time: as
        # colour, of which the first channel is the grey a folder of no colour is read as.
        colour, resized = False, []
        for _, file in files:
            picture = _open_image(file)
            colour = colour or _colour(picture)
            resized.append(_sized(picture, 3, file, size))
        stacked = np.stack(resized) if colour else np.stack([r[..., 0] for r in resized])
        return ImageSet(to_unit_range(stacked, str(path)), labels)
    pictures, first = [], None
    for _, file in files:
        pictures.append(_open_image(file))
        if first is None:
            first = (file, pictures[-1].size)
        elif pictures[-1].size != first[1]:
            raise AefxError(
                f"{file}: image is {pictures[-1].size[0]}x{pictures[-1].size[1]} but "
                f"{first[0]} is {first[1][0]}x{first[1][1]}; all images need one shape "
                "(data.image_size: [height, width] resizes each)"
            )
    channels = 3 if any(_colour(p) for p in pictures) else 1
    stacked = np.stack(
        [_unit_pixels(p, channels, f) for p, (_, f) in zip(pictures, files, strict=True)]
    )
    return ImageSet(to_unit_range(stacked, str(path)), labels)


# Pillow modes that hold one grey channel (with or without alpha); "I;16*" are 16-bit.
_GREY_MODES = ("1", "L", "LA", "La", "I", "F")


def _colour(picture: Any) -> bool:
    """Whether an image holds colour. A palette image (GIF, optimised PNG) does only when a
    colour it uses is not grey."""
    if picture.mode in ("P", "PA"):
        rgb = np.asarray(picture.convert("RGB"))
        return bool((rgb != rgb[..., :1]).any())
    return not (picture.mode in _GREY_MODES or picture.mode.startswith("I;16"))


def _unit_pixels(picture: Any, channels: int, origin: Path) -> np.ndarray:
    """One image as float32 in [0, 1], shape (h, w) for grey or (h, w, 3). 16-bit grey keeps
    its levels (Pillow's convert would clip them at 255); a 32-bit integer or float image is
    held to to_unit_range's rules (0..255, or [0, 1])."""
    if picture.mode.startswith("I;16"):
        grey = np.asarray(picture).astype("float32") / 65535.0
    elif picture.mode in ("I", "F"):
        grey = to_unit_range(np.asarray(picture)[np.newaxis], str(origin))[0, ..., 0]
    else:
        rgb_or_grey = picture.convert("L" if channels == 1 else "RGB")
        return np.asarray(rgb_or_grey, dtype=np.uint8).astype("float32") / 255.0
    return grey if channels == 1 else np.repeat(grey[..., np.newaxis], 3, axis=-1)


def _sized(picture: Any, channels: int, origin: Path, size: tuple[int, int]) -> np.ndarray:
    """:func:`_unit_pixels` at ``size``, for a picture of any size."""
    return resize_pixels(_unit_pixels(picture, channels, origin), size)


def _open_image(file: Path) -> Any:
    """One image file, loaded (a PIL image), or one line saying why it cannot be."""
    from PIL import ImageOps

    if file.suffix.lower() not in IMAGE_SUFFIXES:
        raise AefxError(f"{file}: not an image file type ({', '.join(IMAGE_SUFFIXES)})")
    if sniff(file) is None:
        raise AefxError(f"{file}: not an image (its first bytes match no image format)")
    with _opened(file) as img:
        img.load()
        # A camera stores a portrait photo sideways and says so in its EXIF orientation;
        # viewers turn it upright, and so does this (else it is learnt sideways, or refused
        # for a shape that does not match its upright neighbours).
        return ImageOps.exif_transpose(img)


@contextlib.contextmanager
def _opened(file: Path) -> Iterator[Any]:
    """``file`` opened by PIL, or one line saying why it cannot be: past PIL's guard against
    decompression bombs (twice ``Image.MAX_IMAGE_PIXELS``, 179 million pixels by default) PIL
    raises an error of its own, which is no OSError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            yield img
    except Image.DecompressionBombError as exc:
        raise AefxError(
            f"{file}: too many pixels to open ({exc}); shrink it or leave it out"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise AefxError(f"{file}: cannot be read as an image ({exc})") from None


IMAGE_FILE_COLUMN = "file"


def is_image_input(path: Path) -> bool:
    """What encode, score and reconstruct read as images rather than a table: a folder of image
    files, one image file, or a .npy / .npz array."""
    return path.is_dir() or path.suffix.lower() in (".npy", ".npz", *IMAGE_SUFFIXES)


def image_rows(
    path: Path, shape: Sequence[int], rows: int, label: str | None = None, resize: bool = False
) -> Iterator[pd.DataFrame]:
    """New images for a model trained on images of ``shape`` (height, width, channels), as rows
    of pixel columns in [0, 1] the way ingest wrote its own, at most ``rows`` images at a time.

    From image files (a folder, searched to any depth in name order, or one file) each row has
    a ``file`` column, the image's path under the folder; colour is converted to the model's
    (grey or RGB), as ingest does. From a .npy, or the array ``x`` of a .npz, rows keep the
    array's order; a .npy is read a chunk at a time. A .npz's labels ``y``, if it has them,
    come as a column named ``label`` (the model's label column), as ingest would read them.
    With ``resize`` (a model trained with ``data.image_size``), images of another height and
    width are resized to the model's, as ingest resized the training images."""
    import pandas as pd

    height, width, channels = (int(d) for d in shape)
    columns = pixel_columns(height * width * channels)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        files = _image_files(path)
        for start in range(0, len(files), rows):
            batch = files[start : start + rows]
            pixels = np.stack([_pixels(f, (height, width, channels), resize) for f in batch])
            block = to_unit_range(pixels, str(path))
            frame = pd.DataFrame(block.reshape(len(batch), -1), columns=columns)
            names = [f.relative_to(path).as_posix() if path.is_dir() else f.name for f in batch]
            frame[IMAGE_FILE_COLUMN] = names
            yield frame
        return
    array, labels = _new_image_array(path)
    found = tuple(int(d) for d in array.shape[1:]) + ((1,) if array.ndim == 3 else ())
    if found != (height, width, channels) and not (resize and found[2] == channels):
        raise AefxError(
            f"{path}: images are {'x'.join(map(str, found))} but the model was trained on "
            f"{height}x{width}x{channels}"
        )
    if label is not None and labels is not None:
        labels = _labels(labels, len(array), f"{path}: y")
    for start in range(0, len(array), rows):
        block = to_unit_range(np.asarray(array[start : start + rows]), str(path))
        block = resize_images(block, (height, width)) if resize else block
        frame = pd.DataFrame(block.reshape(len(block), -1), columns=columns)
        if label is not None and labels is not None:
            frame[label] = labels[start : start + rows]
        yield frame


def _image_files(path: Path) -> list[Path]:
    if not path.exists():
        raise AefxError(f"{path}: input not found")
    if path.is_file():
        return [path]
    files = sorted(f for f in path.rglob("*") if f.is_file() and not _skipped(f, path))
    if not files:
        raise AefxError(f"{path}: no image files in this folder")
    return files


def _pixels(file: Path, shape: tuple[int, int, int], resize: bool = False) -> np.ndarray:
    """One image file as pixels in [0, 1] in the model's size and colour (resized to it, with
    ``resize``)."""
    image = _open_image(file)
    height, width, channels = shape
    if resize:
        return _sized(image, channels, file, (height, width))
    if image.size != (width, height):
        raise AefxError(
            f"{file}: image is {image.size[0]}x{image.size[1]} but the model was trained on "
            f"{width}x{height} images"
        )
    return _unit_pixels(image, channels, file)


def _new_image_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The images of a .npy or .npz, and the .npz's labels ``y`` if it has them."""
    labels = None
    if path.suffix.lower() == ".npz":
        arrays = _open_npz(path)
        if "x" not in arrays:
            raise AefxError(f"{path}: expected an array 'x' of images (found {', '.join(arrays)})")
        array, labels = arrays["x"], arrays.get("y")
    else:
        if path.is_file() and sniff(path) != "NPY":
            raise AefxError(f"{path}: not a .npy array (its first bytes say otherwise)")
        array = _load_npy(path, mmap=True)
    if array.ndim not in (3, 4):
        raise _not_images(str(path), array)
    return array, labels


def check_image_path(source: str, path: Path | None) -> None:
    """The file or folder ``source`` reads is there and of a kind it reads; no pixel is read."""
    if source == "digits":
        return
    assert path is not None  # DataConfig.file_path() gives one for every other image source
    if source in ("mnist", "fashion_mnist"):
        if not path.is_file():
            raise AefxError(
                f"{path}: file not found; put the {source} .npz (Keras layout: x_train, "
                "y_train, x_test, y_test) there"
            )
    elif not path.exists():
        raise AefxError(f"{path}: image data not found (a folder, a .npz or a .npy)")
    elif not path.is_dir() and path.suffix.lower() not in (".npz", ".npy"):
        raise AefxError(f"{path}: images come as a folder, a .npz or a .npy (got {path.suffix!r})")


def load_image_source(
    source: str,
    path: Path | None,
    labels_path: Path | None,
    size: tuple[int, int] | None = None,
    label: str = "label",
    budget_mb: float | None = None,
) -> ImageSet:
    """The images ``source`` names, each resized to ``size`` (height, width) where one is set
    (and refused if the resized images would exceed ``budget_mb``); a folder's labels file
    gives its ``label`` column's labels."""
    check_image_path(source, path)
    if source == "digits":
        return load_digits_set().resized(size, budget_mb, source)
    assert path is not None
    if source in ("mnist", "fashion_mnist"):
        return load_keras_npz(path).resized(size, budget_mb, str(path))
    if path.is_dir():
        return load_folder(path, size, labels_path, label)
    return load_array(path, labels_path).resized(size, budget_mb, str(path))


def array_bytes(path: Path) -> int:
    """Estimated float32 size of the images in a .npy or .npz, read from headers only."""
    import zipfile

    if sniff(path) == "NPY":
        with open(path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, _, _ = read_header(handle)
        return int(np.prod(shape)) * 4
    if sniff(path) == "NPZ":
        with zipfile.ZipFile(path) as archive:
            # Uncompressed member sizes; uint8 pixels grow four-fold as float32.
            return sum(info.file_size for info in archive.infolist()) * 4
    return 0
