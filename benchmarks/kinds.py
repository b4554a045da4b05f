"""Reference figures for every autoencoder kind: test reconstruction loss, and logistic
regression on raw features, on PCA of the code's width and on the codes, over several seeds.

    python benchmarks/kinds.py --data digits [--kinds dense conv ...] [--seeds 1 2 3]
    python benchmarks/kinds.py --data table

Runs the pipeline's own stages (ingest ... compare_classifiers, logistic regression only) in a
temporary directory, so the figures are what `aefx run` with the same --set values produces.
Prints one JSON line per kind, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
KINDS = {
    "digits": ["dense", "deep-bn", "conv", "denoising", "sparse", "variational"],
    "table": ["deep-bn", "dense", "denoising", "sparse", "variational"],
}
# Settings per data set; the table uses params.yaml's defaults (the reference task).
SETTINGS = {
    "digits": [
        "data.source=digits",
        "data.stratify=true",
        # One code width for every kind: the conv code is 2 x 2 x 8 = 32 for 8x8 images.
        "autoencoder.bottleneck=32",
        "autoencoder.epochs=100",
        "autoencoder.batch_size=32",
    ],
    "table": [],
}


def run_kind(data: str, kind: str, seeds: list[int]) -> dict:
    from aefx.config import load_params
    from aefx.io import read_json
    from aefx.pipeline import STAGES

    overrides = [
        *SETTINGS[data],
        f"autoencoder.kind={kind}",
        f"seeds=[{', '.join(map(str, seeds))}]",
        "classifiers.use=[logreg]",
        "classifiers.features=[raw, pca, encoded]",
    ]
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="aefx-kinds-") as tmp:
        os.chdir(tmp)
        try:
            params = load_params(REPO / "params.yaml", overrides)
            start = time.perf_counter()
            for stage in STAGES:
                if stage.name == "log_run":
                    break
                stage.run(params)
            seconds = time.perf_counter() - start
            ae = read_json(params.paths.autoencoder_metrics)
            records = {r["features"]: r for r in read_json(params.paths.comparison)}
        finally:
            os.chdir(cwd)
    mse = [m["test_mse"] for m in ae["per_seed"].values()]
    out = {
        "data": data,
        "kind": kind,
        "test_mse": statistics.mean(mse),
        "test_mse_std": statistics.stdev(mse) if len(mse) > 1 else 0.0,
        "mean_code_activation": ae["mean_code_activation_mean"],
        "inactive_code_fraction": ae["inactive_code_fraction_mean"],
        "wall_s": round(seconds, 1),
    }
    for feats in ("raw", "pca", "encoded"):
        out[f"logreg_{feats}"] = records[feats]["accuracy"]
        out[f"logreg_{feats}_std"] = records[feats]["accuracy_std"]
    return out


def markdown(rows: list[dict]) -> str:
    lines = [
        "| data | kind | test recon. MSE | logreg raw | logreg PCA | logreg codes "
        "| mean code activation |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            r["data"],
            r["kind"],
            f"{r['test_mse']:.4f} ± {r['test_mse_std']:.4f}",
            *(
                f"{r[f'logreg_{f}']:.4f} ± {r[f'logreg_{f}_std']:.4f}"
                for f in ("raw", "pca", "encoded")
            ),
            f"{r['mean_code_activation']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=list(KINDS), required=True)
    parser.add_argument("--kinds", nargs="*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    rows = []
    for kind in args.kinds or KINDS[args.data]:
        rows.append(run_kind(args.data, kind, args.seeds))
        print(
            json.dumps(
                {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}
            ),
            flush=True,
        )
    print(markdown(rows))


if __name__ == "__main__":
    main()
