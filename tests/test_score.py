"""The shipped autoencoder's other uses: anomaly scores (the detector's PyOD conventions, `aefx
score`) and `aefx reconstruct`, which denoises new rows."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from aefx.anomaly import ReconstructionDetector, reconstructor
from aefx.config import AutoencoderConfig, load_params
from aefx.models import load_model
from tests.conftest import run_command, train_autoencoders, write_params

AEFX = (sys.executable, "-m", "aefx")


def test_detector_follows_pyod_conventions_on_the_training_rows(project):
    params = load_params(overrides=["anomaly.contamination=0.1"])
    train_autoencoders(params)
    X = pd.read_parquet(params.paths.train_scaled).drop(columns="label").to_numpy()
    shipped = load_model(params.paths.autoencoder)
    detector = ReconstructionDetector(shipped, contamination=0.1).fit(X)

    assert detector.decision_scores_.shape == (len(X),)
    assert detector.threshold_ == pytest.approx(np.quantile(detector.decision_scores_, 0.9))
    assert set(np.unique(detector.labels_)) <= {0, 1}
    assert abs(detector.labels_.mean() - 0.1) <= 1 / len(X) + 1e-9
    np.testing.assert_array_equal(detector.predict(X), detector.labels_)
    np.testing.assert_allclose(detector.decision_function(X), detector.decision_scores_)
    # The pipeline learned the same threshold and shipped it beside the encoder.
    meta = pd.read_json(params.paths.encoder_meta, typ="series")
    assert meta["anomaly"]["threshold"] == pytest.approx(detector.threshold_, rel=1e-6)
    assert meta["anomaly"]["contamination"] == 0.1


def test_a_variational_detector_scores_without_sampling(project):
    from aefx.autoencoders import Architecture, build_autoencoder

    cfg = AutoencoderConfig(kind="variational", hidden=(8,), bottleneck=3)
    model = build_autoencoder(Architecture.from_config(cfg, 6, None), 1e-3, seed=1)
    X = np.random.default_rng(0).random((50, 6), dtype="float32")
    detector = ReconstructionDetector(reconstructor(model))
    np.testing.assert_array_equal(detector.decision_function(X), detector.decision_function(X))


def test_score_flags_rows_the_autoencoder_cannot_reconstruct(project, prefect_harness):
    from flows.pipeline import pipeline

    params = load_params()
    result = pipeline(params, record_dvc=False)
    raw = pd.read_parquet(params.paths.test).drop(columns="label")
    rng = np.random.default_rng(0)
    # Anomalies: rows drawn far outside the range the scaler and autoencoder saw.
    spread = raw.max() - raw.min()
    odd = pd.DataFrame(
        rng.uniform(raw.min() - 3 * spread, raw.max() + 3 * spread, size=(20, raw.shape[1])),
        columns=raw.columns,
    )
    rows = pd.concat([raw.assign(is_anomaly=0), odd.assign(is_anomaly=1)], ignore_index=True)
    rows.to_parquet(project / "new.parquet")

    # The registered model (by run id) ships the autoencoder and the learned threshold.
    done = run_command(
        *AEFX, "score", "-m", result.run_id, "-i", "new.parquet", "-o", "scores.parquet",
        "--truth", "is_anomaly", "--rows", "16", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scores = pd.read_parquet(project / "scores.parquet")
    assert list(scores.columns) == ["decision_score", "anomaly", "is_anomaly"]
    assert len(scores) == len(rows)
    threshold = pd.read_json(params.paths.encoder_meta, typ="series")["anomaly"]["threshold"]
    np.testing.assert_array_equal(
        scores["anomaly"], (scores["decision_score"] > threshold).astype(int)
    )
    assert scores.loc[scores["is_anomaly"] == 1, "anomaly"].all()
    auc = float(done.stdout.split("ROC AUC ")[1].split(",")[0])
    assert auc > 0.95 and "AP " in done.stdout
    # The closing line says where the threshold came from (it read `threshold_ 0.00946`).
    contamination = pd.read_json(params.paths.encoder_meta, typ="series")["anomaly"][
        "contamination"
    ]
    assert (
        f"; threshold {threshold:.6g} (learned: {100 * contamination:g}% of the training "
        "rows score above it); " in done.stdout
    )

    # --threshold flags above the score given instead, and says so.
    given = float(np.median(scores["decision_score"]))
    done = run_command(
        *AEFX, "score", "-m", result.run_id, "-i", "new.parquet", "-o", "given.parquet",
        "--threshold", f"{given!r}", "--keep", "is_anomaly", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    flagged = pd.read_parquet(project / "given.parquet")["anomaly"]
    np.testing.assert_array_equal(flagged, (scores["decision_score"] > given).astype(int))
    assert f"; threshold {given:.6g} (--threshold); {flagged.sum()} flagged" in done.stdout

    # A truth column that is not 0/1, or missing: one line, no output.
    rows.assign(is_anomaly="yes").to_csv(project / "bad.csv", index=False)
    done = run_command(
        *AEFX, "score", "-m", str(params.paths.encoder_meta), "-i", "bad.csv",
        "-o", "bad.parquet", "--truth", "is_anomaly", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and "'is_anomaly' must hold only 0 and 1" in done.stderr
    assert not (project / "bad.parquet").exists()
    done = run_command(
        *AEFX, "score", "-m", str(params.paths.encoder_meta), "-i", "new.parquet",
        "-o", "bad.parquet", "--truth", "label", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and "no column 'label'" in done.stderr

    # Scores as CSV, by the output's suffix: the same numbers.
    done = run_command(
        *AEFX, "score", "-m", result.run_id, "-i", "new.parquet", "-o", "scores.csv",
        "--truth", "is_anomaly", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(project / "scores.csv"), scores, check_dtype=False, atol=1e-9
    )

    # A truth column of one value gives no ROC AUC: said so (nothing was printed of it before).
    rows.assign(is_anomaly=0).to_parquet(project / "usual.parquet")
    done = run_command(
        *AEFX, "score", "-m", result.run_id, "-i", "usual.parquet", "-o", "usual_scores.parquet",
        "--truth", "is_anomaly", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "against is_anomaly: no ROC AUC or AP, as it marks no row an anomaly (they need rows of "
        "0 and of 1)"
    )
    assert (project / "usual_scores.parquet").exists()


def test_reconstruct_denoises_new_rows_in_their_own_units(project):
    """The reference task's default (denoising) autoencoder, one seed: test rows with Gaussian
    noise of 0.2 x each feature's training range come back much closer to the clean rows."""
    write_params(project, {})  # the reference task, not the tiny one
    params = load_params(overrides=["seeds=[1]"])
    train_autoencoders(params)
    p = params.paths
    clean = pd.read_parquet(p.test)
    meta = pd.read_json(p.encoder_meta, typ="series")
    features = list(meta["features"])
    scale = np.asarray(meta["scaler"]["state"]["data_range_"])
    noise = np.random.default_rng(0).normal(size=(len(clean), len(features))) * 0.2 * scale
    noisy = clean.copy()
    noisy[features] = clean[features].to_numpy() + noise
    noisy.to_csv(project / "noisy.csv", index=False)

    done = run_command(
        *AEFX, "reconstruct", "-m", str(p.encoder_meta), "-i", "noisy.csv",
        "-o", "rebuilt.parquet", "--rows", "100", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{len(clean)} rows rebuilt into rebuilt.parquet (4 chunk(s))")
    rebuilt = pd.read_parquet(project / "rebuilt.parquet")
    assert list(rebuilt.columns) == list(clean.columns)  # features, then the label
    assert (rebuilt["label"] == clean["label"]).all()

    def scaled_error(frame: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
        gap = (frame[features].to_numpy() - reference[features].to_numpy()) / scale
        return np.mean(gap**2, axis=1)

    # Denoised: far closer to the clean rows than the noisy input was (measured: 4.8 times).
    assert scaled_error(rebuilt, clean).mean() < scaled_error(noisy, clean).mean() / 2
    # The same model as `aefx score`: its anomaly score is the rebuilt row's distance.
    detector = ReconstructionDetector(load_model(p.autoencoder))
    X = (noisy[features].to_numpy() - meta["scaler"]["state"]["data_min_"]) / scale
    np.testing.assert_allclose(
        detector.decision_function(X), scaled_error(rebuilt, noisy), rtol=1e-3, atol=1e-7
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "-1.0 is not in the range x>=0."),
        # nan passed the range check (every comparison with it is false) and flagged no row.
        ("nan", "nan is not a number."),
    ],
)
def test_a_threshold_that_is_no_score_is_refused_before_anything_is_read(tmp_path, value, message):
    """A score is a mean squared error, never below 0: `--threshold -1` flagged every row
    (200 of 200) as if that were a finding. Refused now, as every option out of its range."""
    from typer.testing import CliRunner

    from aefx.cli import app

    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n")
    out = tmp_path / "scores.csv"
    done = CliRunner().invoke(
        app,
        ["score", "--threshold", value, "-i", str(rows), "-o", str(out)],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 2
    assert f"Invalid value for '--threshold': {message}" in done.output
    assert not out.exists()
