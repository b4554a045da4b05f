"""A small last batch on the deep-bn stack: kept, or left out of each pass?

    python benchmarks/last_batch.py [--cases 43:2 64:2 43:3 16:3 43:5 43:8 16:4 43:11 64:16 64:27]
                                    [--seeds 1 2 3]

For each case BATCH:LEFT, the reference task's training split is cut to the most rows whose
training part (after params.yaml's validation slice) leaves a last batch of LEFT rows, and the
params.yaml autoencoder is trained at that batch size with the last batch kept and left out, the
same rows and seeds, in this process. Printed: the test MSE per seed and its median for each, and
the ratio kept / left out. This is what `aefx.autoencoders.small_last_batch` rests on. Nothing here
is asserted, and no setting is chosen by it on the test split: the rule leaves the default's last
batch (27 of 64) as it was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = ["43:2", "64:2", "43:3", "16:3", "43:5", "43:8", "16:4", "43:11", "64:16", "64:27"]


def mse_on_test(X, X_test, cfg, seed: int, drop_last: bool) -> float:
    import numpy as np

    import tasks.train_autoencoder as stage

    decided = stage.small_last_batch
    stage.small_last_batch = lambda arch, rows, batch_size: drop_last
    try:
        model = stage.fit_one(X, cfg, seed)[0]
    finally:
        stage.small_last_batch = decided
    rebuilt = np.asarray(model.predict(X_test, verbose=0))
    return float(np.mean((rebuilt - X_test) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=CASES, metavar="BATCH:LEFT")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    from plain_keras import reference_data

    from aefx.config import AutoencoderConfig
    from tasks.train_autoencoder import carve_validation

    X_train, X_test, _, _ = reference_data()
    params = yaml.safe_load((HERE.parent / "params.yaml").read_text())["autoencoder"]
    for case in args.cases:
        batch, left = (int(part) for part in case.split(":"))
        cfg = AutoencoderConfig(**{**params, "batch_size": batch})
        rows = next(
            n
            for n in range(len(X_train), 0, -1)
            if len(carve_validation(X_train[:n], cfg.validation_fraction, 1)[0]) % batch == left
        )
        mse = {
            name: [mse_on_test(X_train[:rows], X_test, cfg, seed, drop) for seed in args.seeds]
            for name, drop in (("kept", False), ("left out", True))
        }
        kept, dropped = (statistics.median(mse[name]) for name in ("kept", "left out"))
        print(
            f"batch {batch}, last batch {left} ({rows} rows): test MSE kept "
            f"{[round(v, 4) for v in mse['kept']]} median {kept:.4f}, left out "
            f"{[round(v, 4) for v in mse['left out']]} median {dropped:.4f}; "
            f"ratio {kept / dropped:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
