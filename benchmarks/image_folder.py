"""What ingest's reading of a folder of photos costs with `data.image_size`, against the same
images already at that size.

    python benchmarks/image_folder.py [--images 120] [--width 1600] [--height 1200]
        [--size 64] [--repeats 3]

Photos come large and in many sizes; `data.image_size` resizes each to one size
(``aefx.images.load_folder``). This writes ``--images`` colour JPEGs of about ``--width`` x
``--height`` (sizes vary by up to 10%) in two class folders, and the same images already
resized to ``--size`` x ``--size``; then reads each folder with ``load_folder(path, (size,
size))`` in a fresh process, interleaved by repeat, and prints seconds and peak RSS (median,
min, max) and the ratios of the large photos to the small ones. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from compressed_csv import read_once, spread  # noqa: E402  (a fresh process's time and memory)

# Reads the folder resized to sys.argv[2] square; prints the seconds and the peak RSS (KiB).
READ = (
    "import resource, sys, time;"
    "from pathlib import Path;"
    "from aefx.images import load_folder;"
    "side = int(sys.argv[2]); start = time.perf_counter();"
    "images = load_folder(Path(sys.argv[1]), (side, side)).images;"
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def write_folders(root: Path, images: int, width: int, height: int, side: int) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folders = {"photos": root / "photos", "small": root / "small"}
    for number in range(images):
        cls = ("a", "b")[number % 2]
        w, h = (int(v * rng.uniform(0.9, 1.0)) for v in (width, height))
        # A smooth picture (JPEG keeps it small on disk) with some noise.
        ramp = np.linspace(0, 255, w)[np.newaxis, :] + np.linspace(0, 64, h)[:, np.newaxis]
        pixels = np.stack([ramp, ramp[::-1], 255 - ramp], axis=-1) / 1.3
        pixels += rng.normal(0, 8, size=(h, w, 1))
        picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        for name, folder in folders.items():
            (folder / cls).mkdir(parents=True, exist_ok=True)
            shown = picture if name == "photos" else picture.resize((side, side))
            shown.save(folder / cls / f"{number:04d}.jpg", quality=90)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_folders(Path(tmp), args.images, args.width, args.height, args.size)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in folders}
        for _ in range(args.repeats):
            for name, folder in folders.items():
                runs[name].append(read_once(READ, str(folder), str(args.size)))
    decoded = args.images * args.width * args.height * 3 / 2**20
    print(
        f"{args.images} JPEGs of about {args.width}x{args.height} (up to {decoded:.0f} MiB as "
        f"8-bit pixels), read at {args.size}x{args.size}; {args.repeats} fresh reads each"
    )
    for name, label in (("photos", "large photos"), ("small", f"already {args.size}px")):
        seconds = [s for s, _ in runs[name]]
        peaks = [m for _, m in runs[name]]
        print(f"  {label:>14}: {spread(seconds, 's', 2)}, peak RSS {spread(peaks, 'MiB', 0)}")
    import statistics

    time_ratio = statistics.median(s for s, _ in runs["photos"]) / statistics.median(
        s for s, _ in runs["small"]
    )
    peak_ratio = statistics.median(m for _, m in runs["photos"]) / statistics.median(
        m for _, m in runs["small"]
    )
    print(f"  large / small: time x{time_ratio:.2f}, peak RSS x{peak_ratio:.2f}")


if __name__ == "__main__":
    main()
