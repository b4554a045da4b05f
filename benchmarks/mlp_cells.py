"""The comparison's MLP on a larger table: subnormal floats flushed to zero, and why it has no
early stopping.

    python benchmarks/mlp_cells.py [--rows 60000] [--columns 30] [--seeds 1 2 3]

Writes a `make_classification` table (--columns features, 12 informative, 2 classes,
random_state 0) into a temporary project and runs the stages from ingest to encode_splits with
every setting at its default (one autoencoder per seed). Then, for each seed and feature set
(read as the comparison reads them), it fits the comparison's MLP (`classifiers.mlp`) three
ways, one after another in this process: on one BLAS thread as cells ran until 2026-12-03
("as before"); as a cell runs now, which also computes subnormal floats as zero
(`aefx.threads.one_thread_each`); and so with scikit-learn's `early_stopping=True` (stop when
accuracy on a tenth of the training rows stops rising). Prints, per feature set, the fit
seconds (median over the seeds) and test accuracy (mean and SD over the seeds) each way, the
ratios of the medians, and whether the first two predicted the same test probabilities bit for
bit. The test split is only reported: nothing is chosen by it, and nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

UNTIL = "encode_splits"  # the stages the feature sets come from


def write_table(path: Path, rows: int, columns: int) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(rows, columns, n_informative=12, random_state=0)
    table = pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(columns)])
    table.assign(label=y).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    import numpy as np
    import pandas as pd

    from aefx.classifiers import make_classifier
    from aefx.config import load_params
    from aefx.pipeline import STAGES, compare_inputs
    from aefx.threads import one_blas_thread, one_thread_each
    from tasks.compare_classifiers import feature_set

    @contextmanager
    def as_before() -> Iterator[None]:  # one_thread_each until 2026-12-03
        from threadpoolctl import threadpool_limits

        with one_blas_thread(), threadpool_limits(limits=1, user_api="openmp"):
            yield

    ways = {"as before": (as_before, False), "now": (one_thread_each, False)}
    ways["early stopping"] = (one_thread_each, True)
    features = ("raw", "pca", "encoded", "raw_encoded")
    seconds: dict[tuple[str, str], list[float]] = {}
    accuracy: dict[tuple[str, str], list[float]] = {}
    same: dict[str, list[bool]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        write_table(Path(tmp) / "table.csv", args.rows, args.columns)
        overrides = ["data.source=file", "data.path=table.csv", f"seeds={args.seeds}"]
        params = load_params(REPO / "params.yaml", overrides)
        for stage in STAGES[: [s.name for s in STAGES].index(UNTIL) + 1]:
            stage.run(params)
        inputs, label = compare_inputs(params), params.data.label
        y_train = pd.read_parquet(inputs.train_scaled, columns=[label])[label].to_numpy()
        y_test = pd.read_parquet(inputs.test_scaled, columns=[label])[label].to_numpy()
        for seed in args.seeds:
            for name in features:
                X_train, X_test = feature_set(name, label, inputs, seed)
                probabilities = {}
                for way, (mode, early) in ways.items():
                    model = make_classifier("mlp", params.classifiers, seed)
                    model.set_params(early_stopping=early)
                    with mode():
                        start = time.perf_counter()
                        model.fit(X_train, y_train)
                        took = time.perf_counter() - start
                        probabilities[way] = model.predict_proba(X_test)
                    score = float(model.score(X_test, y_test))
                    seconds.setdefault((name, way), []).append(took)
                    accuracy.setdefault((name, way), []).append(score)
                    print(
                        f"seed {seed} {name:11s} {way:14s} {took:6.1f} s, "
                        f"{model.n_iter_:4d} epochs, test {score:.4f}",
                        flush=True,
                    )
                same.setdefault(name, []).append(
                    np.array_equal(probabilities["as before"], probabilities["now"])
                )
        os.chdir(REPO)
    print(f"\n{args.rows} rows x {args.columns} columns; the MLP, seeds {args.seeds}")
    print("seconds: median; test accuracy: mean (SD)")
    print(
        "features     | s, as before | s, now | now/before | same | s, early | early/now "
        "| test, now | test, early"
    )
    for name in features:
        median = {way: statistics.median(seconds[(name, way)]) for way in ways}
        shown = {
            way: f"{statistics.mean(accuracy[(name, way)]):.4f} "
            f"({statistics.stdev(accuracy[(name, way)]) if len(args.seeds) > 1 else 0:.4f})"
            for way in ways
        }
        print(
            f"{name:12s} | {median['as before']:12.1f} | {median['now']:6.1f} | "
            f"{median['now'] / median['as before']:10.2f} | {all(same[name])!s:4s} | "
            f"{median['early stopping']:8.1f} | {median['early stopping'] / median['now']:9.2f} "
            f"| {shown['now']} | {shown['early stopping']}"
        )
    totals = {way: sum(sum(seconds[(n, way)]) for n in features) for way in ways}
    print(
        f"all fits: as before {totals['as before']:.0f} s, now {totals['now']:.0f} s "
        f"(x{totals['now'] / totals['as before']:.2f}), early stopping "
        f"{totals['early stopping']:.0f} s (x{totals['early stopping'] / totals['now']:.2f})"
    )


if __name__ == "__main__":
    main()
