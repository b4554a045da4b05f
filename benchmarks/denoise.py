"""How much `aefx reconstruct` denoises: test rows of the reference task with Gaussian noise
added, rebuilt by the shipped autoencoder, against the clean rows, over several seeds.

    python benchmarks/denoise.py [--kinds denoising deep-bn] [--seeds 1 2 3]
                                 [--noise 0.05 0.1 0.2]

Trains each kind with params.yaml's defaults (one seed per training, the pipeline's own stages
in a temporary directory), then adds noise of ``sigma`` x each feature's training range to the
test rows (the same noise for every kind and seed) and rebuilds them with the function behind
`aefx reconstruct`. Errors are mean squared, in the scaled space. Prints one JSON line per kind
and noise level, then a Markdown table (mean ± standard deviation over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def errors(kind: str, seed: int, noise: list[float]) -> dict[float, tuple[float, float]]:
    """{sigma: (noisy rows' error, rebuilt rows' error)} for one trained autoencoder."""
    import numpy as np
    import pandas as pd

    from aefx.config import load_params
    from aefx.encode import reconstruct_file
    from aefx.pipeline import STAGES
    from aefx.serving import EncoderModel, load_autoencoder

    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="aefx-denoise-") as tmp:
        os.chdir(tmp)
        try:
            params = load_params(
                REPO / "params.yaml", [f"autoencoder.kind={kind}", f"seeds=[{seed}]"]
            )
            for stage in STAGES:
                if stage.name == "encode_splits":
                    break
                stage.run(params)
            p = params.paths
            encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
            autoencoder = load_autoencoder(str(p.encoder), str(p.encoder_meta))
            clean = pd.read_parquet(p.test)
            features = encoder.features
            span = encoder.scaler.data_range_
            unit = np.random.default_rng(0).normal(size=(len(clean), len(features)))
            out = {}
            for sigma in noise:
                noisy = clean.copy()
                noisy[features] = clean[features].to_numpy() + unit * sigma * span
                noisy.to_parquet("noisy.parquet")
                reconstruct_file(encoder, autoencoder, Path("noisy.parquet"), Path("out.parquet"))
                rebuilt = pd.read_parquet("out.parquet")

                def error(frame: pd.DataFrame) -> float:
                    gap = (frame[features].to_numpy() - clean[features].to_numpy()) / span
                    return float(np.mean(gap**2))

                out[sigma] = (error(noisy), error(rebuilt))
        finally:
            os.chdir(cwd)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["denoising", "deep-bn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.05, 0.1, 0.2])
    args = parser.parse_args()

    rows = []
    for kind in args.kinds:
        per_seed = [errors(kind, seed, args.noise) for seed in args.seeds]
        for sigma in args.noise:
            noisy = [s[sigma][0] for s in per_seed]
            rebuilt = [s[sigma][1] for s in per_seed]
            ratios = [n / r for n, r in zip(noisy, rebuilt, strict=True)]
            row = {
                "kind": kind,
                "sigma": sigma,
                "noisy_mse": statistics.mean(noisy),
                "rebuilt_mse": statistics.mean(rebuilt),
                "rebuilt_mse_std": statistics.stdev(rebuilt) if len(rebuilt) > 1 else 0.0,
                "ratio_median": statistics.median(ratios),
                "seeds": args.seeds,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    print("\n| kind | noise σ | noisy rows' MSE | rebuilt rows' MSE | noisy / rebuilt (median) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['kind']} | {r['sigma']} | {r['noisy_mse']:.4f} | "
            f"{r['rebuilt_mse']:.4f} ± {r['rebuilt_mse_std']:.4f} | {r['ratio_median']:.1f} |"
        )


if __name__ == "__main__":
    main()
