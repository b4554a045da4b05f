"""What data.min_category_rows saves on a table whose column of categories has a long tail.

    python benchmarks/rare_categories.py [--rows 3000] [--categories 400] [--min-rows 10]
                                         [--seeds 1 2 3]

Writes a table of 20 numeric columns and a column `city` of --categories categories with
Zipf-like frequencies (a few large ones, a long tail of one or two rows each; each city moves
the label's odds by an effect of its own) into a temporary project, then runs the stages from
ingest to compare_classifiers (logistic regression only) in this process twice, interleaved by
seed: with data.min_category_rows 1 (every category a column) and with --min-rows. Prints, for
each, the autoencoder's input width and weight count, the fit seconds per seed (median, min,
max), logistic regression's test accuracy on raw, PCA and the codes (mean and SD over the seeds),
and the ratios of the second to the first. The test split is only reported: nothing is chosen
by it, and nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SKIPPED = ("inspect_autoencoder", "log_run")  # plots and MLflow: not what is measured


def write_table(path: Path, rows: int, categories: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 20))
    weights = rng.normal(scale=0.5, size=20)
    frequency = 1 / np.arange(1, categories + 1) ** 1.2  # Zipf-like: a few large, a long tail
    city = rng.choice(categories, size=rows, p=frequency / frequency.sum())
    effect = rng.normal(size=categories)
    odds = X @ weights + effect[city]
    table = pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(20)])
    table.insert(3, "city", [f"town{c:03d}" for c in city])
    table["label"] = (rng.random(rows) < 1 / (1 + np.exp(-odds))).astype(int)
    table.to_csv(path, index=False)


def run_once(min_rows: int, seed: int) -> dict:
    """Every stage but the skipped ones, for one seed, in a folder of its own (the working
    directory); the input width, weights, fit seconds and logistic regression's scores."""
    from aefx.config import load_params
    from aefx.pipeline import STAGES

    params = load_params(
        REPO / "params.yaml",
        [
            "data.source=file",
            "data.path=table.csv",
            "data.categorical=[city]",
            f"data.min_category_rows={min_rows}",
            f"seeds=[{seed}]",
            "classifiers.use=[logreg]",
        ],
    )
    for stage in STAGES:
        if stage.name not in SKIPPED:
            stage.run(params)
    train = json.loads(params.paths.train_metrics.read_text())
    scaler = json.loads(params.paths.scaler.read_text())
    scores = json.loads(params.paths.comparison.read_text())
    return {
        "width": len(scaler["features"]),
        "weights": train["n_params"],
        "fit": next(iter(train["per_seed"].values()))["fit_seconds"],
        **{row["features"]: row["accuracy"] for row in scores},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--categories", type=int, default=400)
    parser.add_argument("--min-rows", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    settings = (1, args.min_rows)
    results: dict[int, list[dict]] = {m: [] for m in settings}
    with tempfile.TemporaryDirectory() as tmp:
        write_table(Path(tmp) / "table.csv", args.rows, args.categories)
        for seed in args.seeds:
            for min_rows in settings:
                folder = Path(tmp) / f"min-{min_rows}-seed-{seed}"
                folder.mkdir()
                (folder / "table.csv").symlink_to(Path(tmp) / "table.csv")
                os.chdir(folder)
                results[min_rows].append(run_once(min_rows, seed))
        os.chdir(REPO)
    print(f"{args.rows} rows, 20 numeric columns and city ({args.categories} categories, Zipf)")
    print(f"seeds {args.seeds}; logistic regression's test accuracy, mean (SD over seeds)")
    medians = {}
    for min_rows in settings:
        runs = results[min_rows]
        fits = [r["fit"] for r in runs]
        medians[min_rows] = statistics.median(fits)
        accuracy = "  ".join(
            f"{name} {statistics.mean(r[name] for r in runs):.4f} "
            f"({statistics.stdev([r[name] for r in runs]) if len(runs) > 1 else 0:.4f})"
            for name in ("raw", "pca", "encoded")
        )
        print(
            f"min_category_rows {min_rows:3d}: width {runs[0]['width']:4d}, "
            f"{runs[0]['weights']:8d} weights, fit {medians[min_rows]:5.2f} s (min "
            f"{min(fits):.2f}, max {max(fits):.2f})  {accuracy}"
        )
    first, second = (results[m][0] for m in settings)
    print(
        f"min_category_rows {args.min_rows} / 1: width {second['width'] / first['width']:.2f}x, "
        f"weights {second['weights'] / first['weights']:.2f}x, fit time "
        f"{medians[args.min_rows] / medians[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
