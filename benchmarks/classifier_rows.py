"""How each classifier of the comparison grows with the training rows.

    python benchmarks/classifier_rows.py [--rows 5000 10000 20000 40000] [--columns 30]
                                         [--repeats 3] [--use logreg svm_rbf ...]

Fits each classifier of `classifiers.use`, with the settings of params.yaml, on N rows of one
`make_classification` table (--columns features, 12 informative, 2 classes, random_state 0;
standardised as the scale stage does) and predicts N/2 others, as a comparison cell fits and
scores it on a table of 1.5 N rows (a third of them the test split): on one thread
(`aefx.threads.one_thread_each`). Each size in turn, the classifiers one after another,
--repeats times over (the sizes interleaved, so a noisy minute touches each alike). Prints the
median seconds per classifier and size, and the growth from each size to the next as a power
of the rows (1: linear; 2: the square). A comparison does this once per classifier, seed and
feature set: 20 times each with the defaults. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 10000, 20000, 40000])
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--use", nargs="+", default=None, help="default: classifiers.use")
    args = parser.parse_args()
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    from aefx.classifiers import make_classifier
    from aefx.config import load_params
    from aefx.threads import one_thread_each

    params = load_params(REPO / "params.yaml")
    use = args.use or list(params.classifiers.use)
    sizes = sorted(args.rows)
    test = sizes[-1] // 2
    X, y = make_classification(sizes[-1] + test, args.columns, n_informative=12, random_state=0)
    X = StandardScaler().fit_transform(X)
    X_test = X[sizes[-1] :]
    seconds: dict[tuple[str, int], list[float]] = {}
    for repeat in range(args.repeats):
        for n in sizes:
            for name in use:
                model = make_classifier(name, params.classifiers, seed=1)
                with one_thread_each():
                    start = time.perf_counter()
                    model.fit(X[:n], y[:n])
                    model.predict(X_test[: n // 2])
                    took = time.perf_counter() - start
                seconds.setdefault((name, n), []).append(took)
                print(f"repeat {repeat + 1} {n:7d} rows {name:13s} {took:8.2f} s", flush=True)
    print(f"\n{args.columns} columns; median seconds of {args.repeats}, fit on N rows and predict")
    print("N/2 (one thread)")
    print("classifier    | " + " | ".join(f"{n:>8d}" for n in sizes) + " | growth (power)")
    for name in use:
        median = [statistics.median(seconds[(name, n)]) for n in sizes]
        powers = [
            math.log(b / a) / math.log(m / n)
            for a, b, n, m in zip(median, median[1:], sizes, sizes[1:], strict=False)
        ]
        print(
            f"{name:13s} | "
            + " | ".join(f"{s:8.2f}" for s in median)
            + " | "
            + ", ".join(f"{p:.2f}" for p in powers)
        )


if __name__ == "__main__":
    main()
