"""`aefx encode` on new data (local path, run id, registered alias) and `aefx promote`."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from aefx.config import load_params
from aefx.serving import EncoderModel
from tests.conftest import (
    TINY_PARAMS,
    run_command,
    subprocess_env,
    train_autoencoders,
    write_params,
)

AEFX = (sys.executable, "-m", "aefx")


def test_encode_streams_new_rows_through_any_model_reference(project, prefect_harness):
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    params = load_params()
    first = pipeline(params, record_dvc=False)
    # The default promote metric is a training-split score, which holdout runs do not log.
    done = run_command(*AEFX, "promote", cwd=project)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: no version of 'aefx-encoder' has a run with metric "
        "'cv_accuracy.logreg.encoded' (cv_ metrics are logged only by runs with "
        "evaluation.mode cv; a test_ metric chooses on the test split)"
    )
    # The second run, in cv mode, logs it and promotes by it automatically.
    second = pipeline(
        load_params(overrides=["seeds=[3]", "evaluation.mode=cv", "tracking.promote_alias=auto"]),
        record_dvc=False,
    )
    p = params.paths
    raw = pd.read_parquet(p.test)  # raw (unscaled) rows, label included
    raw.to_csv(project / "new.csv", index=False)
    expected = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta)).predict(None, raw)
    # The alias the README's examples use exists only once `aefx promote` has set it.
    done = run_command(
        *AEFX, "encode", "-m", "models:/aefx-encoder@champion", "-i", "new.csv",
        "-o", "early.parquet", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "alias champion not found" in done.stderr
    assert done.stderr.strip().endswith(
        "; `aefx promote` sets it, or leave out -m for the last run's encoder"
    )
    assert not (project / "early.parquet").exists()

    # A local path, chunked small so the file is read in several pieces.
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "new.csv", "-o", "codes.parquet",
        "--rows", "7", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{len(raw)} rows" in done.stdout and "chunk(s)" in done.stdout
    codes = pd.read_parquet(project / "codes.parquet")
    np.testing.assert_allclose(codes[expected.columns].to_numpy(), expected.to_numpy(), atol=1e-5)
    assert (codes["label"].to_numpy() == raw["label"].to_numpy()).all()

    # The output's suffix picks the format: the same codes as CSV.
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "new.csv", "-o", "codes.csv",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    as_csv = pd.read_csv(project / "codes.csv")
    header = (project / "codes.csv").read_text().splitlines()[0]
    assert header == ",".join(codes.columns)  # unquoted, as pandas writes it
    assert list(as_csv.columns) == list(codes.columns)
    np.testing.assert_allclose(as_csv.to_numpy(), codes.to_numpy(), atol=1e-6)
    # An output type it cannot write: one line, before any model is loaded, and no file.
    done = run_command(
        *AEFX, "encode", "-m", first.run_id, "-i", "new.csv", "-o", "codes.txt", cwd=project
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: codes.txt: unsupported output file type '.txt' "
        "(use .csv, .tsv (plain or compressed: .csv.gz, .tsv.zst, ...) or .parquet)"
    )
    assert not (project / "codes.txt").exists()

    # A run id; then the registry: each run registered a version, promote picks the best.
    done = run_command(
        *AEFX, "encode", "-m", first.run_id, "-i", "new.csv", "-o", "by_run.parquet", cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(project / "by_run.parquet").shape == codes.shape
    # The run's URI alone is its encoder too: MLflow refused `runs:/ID` as "Not a proper
    # runs:/ URI".
    done = run_command(
        *AEFX, "encode", "-m", f"runs:/{first.run_id}", "-i", "new.csv", "-o", "by_uri.parquet",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(project / "by_uri.parquet"), pd.read_parquet(project / "by_run.parquet")
    )
    # A path the run does not hold names the one it does.
    done = run_command(
        *AEFX, "encode", "-m", f"runs:/{first.run_id}/model", "-i", "new.csv",
        "-o", "by_path.parquet", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.endswith(f"; a pipeline run's encoder is runs:/{first.run_id}/encoder\n")
    assert not (project / "by_path.parquet").exists()
    client = MlflowClient(first.tracking_uri)
    versions = client.search_model_versions("name = 'aefx-encoder'")
    assert {v.run_id for v in versions} == {first.run_id, second.run_id}
    by_run = {v.run_id: v.version for v in versions}
    cv_score = client.get_run(second.run_id).data.metrics["cv_accuracy.logreg.encoded"]
    assert "cv_accuracy.logreg.encoded" not in client.get_run(first.run_id).data.metrics
    assert "cv_f1_macro.logreg.encoded" in client.get_run(second.run_id).data.metrics
    assert (
        client.get_model_version_by_alias("aefx-encoder", "auto").version == by_run[second.run_id]
    )
    done = run_command(*AEFX, "promote", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"models:/aefx-encoder@champion -> version {by_run[second.run_id]} "
        f"(cv_accuracy.logreg.encoded = {cv_score:.4f})"
    )
    assert not [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    # Ranking on the test split is still possible, but only when asked for by name.
    test_metric = "test_accuracy.logreg.encoded"
    done = run_command(*AEFX, "promote", "--metric", test_metric, "--alias", "by-test", cwd=project)
    assert done.returncode == 0, done.stderr
    # ... and said at the time: the one chosen is tuned to the test split.
    [warning] = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warning.startswith(f"warning: {test_metric} ranks the versions on the test split")
    best = max(versions, key=lambda v: client.get_run(v.run_id).data.metrics[test_metric])
    assert client.get_model_version_by_alias("aefx-encoder", "by-test").version == best.version
    done = run_command(
        *AEFX, "encode", "-m", "models:/aefx-encoder@champion", "-i", "new.csv",
        "-o", "by_alias.parquet", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    # The store's files moved away (a project moved or renamed: MLflow keeps absolute paths).
    # Fetching said `No such artifact: ''`, or, for a run id, fetched nothing and said no
    # encoder metadata was there, after an INFO line of MLflow's.
    artifacts = project / "mlruns" / "artifacts"
    artifacts.rename(project / "mlruns" / "moved")
    for model, recorded in (
        ("models:/aefx-encoder@champion", artifacts / "models"),
        (first.run_id, artifacts / first.run_id),
    ):
        done = run_command(
            *AEFX, "encode", "-m", model, "-i", "new.csv", "-o", "lost.parquet", cwd=project
        )
        assert done.returncode == 2 and done.stdout == ""
        shown = model if model.startswith("models:/") else f"runs:/{model}/encoder"
        assert done.stderr.startswith(f"aefx: error: {shown}: its files were recorded in ")
        assert f" in {recorded}" in done.stderr and done.stderr.count("\n") == 1
        assert done.stderr.endswith(
            ", which is not there; MLflow keeps absolute paths, so a project moved or renamed "
            "since loses them: move it back, or run the pipeline again here\n"
        )
        assert not (project / "lost.parquet").exists()
    (project / "mlruns" / "moved").rename(artifacts)

    # Wrong columns and bad values: one line naming them, no output file.
    raw.drop(columns=[raw.columns[0]]).assign(extra=1.0).to_csv(project / "bad.csv", index=False)
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "bad.csv", "-o", "bad.parquet",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"missing column(s) {raw.columns[0]}; extra column(s) extra" in done.stderr
    assert not (project / "bad.parquet").exists()
    raw.assign(**{raw.columns[1]: ["oops"] + [0.0] * (len(raw) - 1)}).to_csv(
        project / "text.csv", index=False
    )
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "text.csv", "-o", "t.parquet",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and f"column '{raw.columns[1]}' row 0" in done.stderr
    assert not (project / "t.parquet").exists()
    # A column of times (a Parquet timestamp): pandas' to_numeric leaves it as it is, and the
    # float conversion after it was a TypeError traceback.
    raw.assign(**{raw.columns[2]: pd.Timestamp("2026-01-01")}).to_parquet(project / "when.parquet")
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "when.parquet", "-o", "w.csv",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    dtype = pd.read_parquet(project / "when.parquet")[raw.columns[2]].dtype  # datetime64[..]
    assert done.stderr == (
        f"aefx: error: when.parquet: column '{raw.columns[2]}' is not numeric (its type is "
        f"{dtype}; store it as numbers)\n"
    )
    assert not (project / "w.csv").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        # Other JSON, or not JSON at all: a TypeError, a JSONDecodeError, a KeyError 'encoder'
        # or a UnicodeDecodeError traceback.
        ("other.json", b"[1, 2]", "other.json: not an encoder's metadata (the .json aefx writes"),
        ("other.json", b'{"a": ', "other.json: not an encoder's metadata"),
        ("other.json", '{"a": "café"}'.encode("latin-1"), "other.json: not an encoder's metadata"),
        # A .keras without its metadata, and metadata without its .keras: FileNotFoundError.
        ("alone.keras", b"", "alone.json: not found (an encoder's .keras and the .json aefx"),
        (
            "meta.json",
            b'{"sha256": "0", "code_columns": [], "scaler": {}, "encoder": "gone.keras"}',
            "meta.json: the encoder gone.keras named by its metadata is missing",
        ),
    ],
)
def test_a_local_model_that_is_no_encoder_is_one_line(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    done = run_command(*AEFX, "encode", "-m", name, "-i", "new.csv", "-o", "c.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: {message}") and done.stderr.count("\n") == 1
    assert not (tmp_path / "c.csv").exists()


def test_a_registered_name_without_version_or_alias_says_what_is_missing(tmp_path):
    """MLflow 3 reads `models:/NAME` as the id of a logged model, so a registered name alone was
    `Logged model with ID 'aefx-encoder' not found`, which does not say what to add."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_registered_model("aefx-encoder")
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    done = subprocess.run(
        [*AEFX, "encode", "-m", "models:/aefx-encoder", "-i", "new.csv", "-o", "c.csv"],
        cwd=tmp_path, env={**subprocess_env(), "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        f"aefx: error: models:/aefx-encoder: cannot be fetched from {uri}"
    )
    assert done.stderr.endswith(
        "; a registered model needs a version or alias: models:/aefx-encoder/1 or "
        "models:/aefx-encoder@champion\n"
    )
    assert not (tmp_path / "c.csv").exists()


def test_a_run_that_holds_no_encoder_says_which_run_does(tmp_path):
    """A comparison run's id (the runs the MLflow compare view lines up), a killed run's, or a
    sweep's parent's was `its files were recorded in ..., which is not there; MLflow keeps
    absolute paths, so a project moved ...` (they logged no files), or, for the sweep's parent,
    `Failed to download artifacts from path 'encoder'`."""
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx", (store / "artifacts").as_uri())

    def run(tags: dict[str, str], status: str = "FINISHED", files: bool = False) -> str:
        run_id = client.create_run(experiment, tags=tags).info.run_id
        if files:
            client.log_text(run_id, "{}", "sweep/members.json")
        client.set_terminated(run_id, status)
        return run_id

    pipeline = run({"aefx.kind": "pipeline"}, files=True)
    comparison = run(
        {"aefx.kind": "comparison", "mlflow.parentRunId": pipeline, "mlflow.runName": "knn on pca"}
    )
    killed = run({"aefx.kind": "pipeline"}, status="KILLED")
    sweep = run({"aefx.kind": "sweep"}, files=True)
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    for run_id, problem in (
        (
            comparison,
            "the comparison run 'knn on pca', which holds scores, not the encoder; its pipeline "
            f"run does: -m {pipeline}",
        ),
        (killed, "a run that logged no files (it ended KILLED), so it holds no encoder"),
        (
            sweep,
            "a sweep's parent run, which holds no encoder; each member's run holds its own "
            "(aefx sweep's table lists their ids)",
        ),
    ):
        done = subprocess.run(
            [*AEFX, "encode", "-m", run_id, "-i", "new.csv", "-o", "c.csv"],
            cwd=tmp_path, env={**subprocess_env(), "MLFLOW_TRACKING_URI": uri},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == f"aefx: error: runs:/{run_id}/encoder: {problem}\n"
        assert not (tmp_path / "c.csv").exists()


def test_promote_finds_the_versions_of_a_name_with_an_apostrophe(tmp_path):
    """Versions were looked up by `name = '<name>'`, which a name such as team's-encoder ended
    early: MLflow's `Invalid clause(s) in filter string`, in a traceback."""
    from mlflow.tracking import MlflowClient

    from aefx.encode import promote

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx")
    name = "team's-encoder"
    client.create_registered_model(name)
    for score in (0.91, 0.95, 0.93):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "cv_accuracy.logreg.encoded", score)
        client.create_model_version(name, str(tmp_path / "model"), run.info.run_id)
    assert promote(uri, name, "cv_accuracy.logreg.encoded", "champion") == ("2", 0.95)
    assert str(client.get_model_version_by_alias(name, "champion").version) == "2"


def test_promote_ranks_only_versions_trained_on_the_params_files_data(tmp_path, monkeypatch):
    """Every run registers its encoder under one name, whatever its data: a run of another file
    (`--set data.path=...`) or of other synthetic settings scored other rows, and its encoder
    takes other columns. Promote ranked them all, and made such a version champion on its
    higher score (tried: a 400-row table's version, test accuracy 1.0, over the project's own);
    it now ranks those of the params file's data and says how many it passed over."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    from aefx.config import params_to_flat_dict
    from aefx.encode import data_identity, promote

    write_params(tmp_path, TINY_PARAMS)
    flat = params_to_flat_dict(load_params(tmp_path / "params.yaml"))
    ours = {k: v for k, v in flat.items() if k.startswith("data.")}
    other_file = {**ours, "data.source": "file", "data.path": "data/raw/other.csv"}
    other_settings = {**ours, "data.synthetic.n_features": "20"}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx")
    client.create_registered_model("aefx-encoder")
    for data, score in ((ours, 0.90), (other_file, 0.99), (ours, 0.93), (other_settings, 0.98)):
        run = client.create_run(experiment).info.run_id
        client.log_batch(run, params=[Param(k, v) for k, v in data.items()])
        client.log_metric(run, "cv_accuracy.logreg.encoded", score)
        client.create_model_version("aefx-encoder", str(tmp_path / "model"), run)

    def promoted(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*AEFX, "promote", "--metric", "cv_accuracy.logreg.encoded", *args],
            cwd=tmp_path, env={**subprocess_env(), "MLFLOW_TRACKING_URI": uri},
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    done = promoted()
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "models:/aefx-encoder@champion -> version 3 (cv_accuracy.logreg.encoded = 0.9300)\n"
    )
    assert done.stderr == (
        "note: passed over 2 version(s) of 'aefx-encoder' trained on other data than "
        "params.yaml's (data.path=data/raw/other.csv, data.synthetic.n_features=20)\n"
    )
    assert str(client.get_model_version_by_alias("aefx-encoder", "champion").version) == "3"
    # A params file whose data no version was trained on: one line, and the alias stays.
    tree = yaml.safe_load((tmp_path / "params.yaml").read_text())
    tree["data"]["synthetic"]["n_samples"] = 99
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(tree))
    done = promoted("-p", "mine.yaml")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "aefx: error: no version of 'aefx-encoder' was trained on mine.yaml's data: all 4 had "
        "data.path=data/raw/other.csv, data.synthetic.n_samples=120; `aefx run` registers one\n"
    )
    assert str(client.get_model_version_by_alias("aefx-encoder", "champion").version) == "3"
    # Without a params file's data (the library's default), every version is ranked.
    assert promote(uri, "aefx-encoder", "cv_accuracy.logreg.encoded", "best") == ("2", 0.99)
    # A file named relative to the project and absolute is one file.
    monkeypatch.chdir(tmp_path)
    absolute = {**other_file, "data.path": str(tmp_path / "data/raw/other.csv")}
    assert data_identity(absolute) == data_identity(other_file) != data_identity(ours)


def test_promote_passes_over_versions_whose_run_is_deleted(tmp_path):
    """A run deleted in the MLflow UI was still ranked, so its version could be made champion;
    once `mlflow gc` had removed it for good, promote was MLflow's `Run with id=... not found`
    traceback. A version registered by hand without a run is passed over too."""
    import os

    from mlflow.tracking import MlflowClient

    from aefx.encode import promote
    from aefx.errors import AefxError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx")
    client.create_registered_model("encoder")
    runs = []
    for score in (0.97, 0.96, 0.90):  # versions 1 and 2 are the best, and will be deleted
        run = client.create_run(experiment).info.run_id
        client.log_metric(run, "cv_accuracy.logreg.encoded", score)
        client.create_model_version("encoder", str(tmp_path / "model"), run)
        runs.append(run)
    client.create_model_version("encoder", str(tmp_path / "model"))  # version 4, no run
    client.delete_run(runs[0])  # in the UI: kept, marked deleted
    client.delete_run(runs[1])
    subprocess.run(
        [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", uri, "--run-ids", runs[1]],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        check=True,
        capture_output=True,
    )
    with pytest.raises(Exception, match="not found"):
        client.get_run(runs[1])  # gone for good
    assert promote(uri, "encoder", "cv_accuracy.logreg.encoded", "champion") == ("3", 0.90)
    assert str(client.get_model_version_by_alias("encoder", "champion").version) == "3"

    client.delete_run(runs[2])
    with pytest.raises(AefxError, match="no version of 'encoder' has a run with metric"):
        promote(uri, "encoder", "cv_accuracy.logreg.encoded", "best")


def test_promote_of_a_metric_no_run_logged_names_the_ones_they_did(tmp_path):
    """A mistyped --metric said only that no version's run had it: the names to choose from
    were in the MLflow UI. A near name is offered; else a few of those the runs logged. A cv_
    metric is offered cv_ names only (the nearest is often the test_ one), and where the runs
    log none (holdout runs), the reason."""
    from mlflow.tracking import MlflowClient

    from aefx.encode import promote
    from aefx.errors import AefxError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx")
    client.create_registered_model("encoder")
    run = client.create_run(experiment).info.run_id
    for metric in (
        "test_accuracy.logreg.encoded",
        "test_accuracy.logreg.raw",
        "ae_loss",
        "ae_loss.seed1",
    ):
        client.log_metric(run, metric, 0.9)
    client.create_model_version("encoder", str(tmp_path / "model"), run)
    for metric, hint in [
        ("test_acuracy.logreg.encoded", " (did you mean 'test_accuracy.logreg.encoded'?)"),
        (
            "score",
            " (their runs log test_accuracy.logreg.encoded, test_accuracy.logreg.raw, ae_loss)",
        ),
        ("cv_accuracy.logreg.encoded", " (cv_ metrics are logged only by runs with evaluat"),
        # A test split without rows of some class gives no ROC AUC: offering
        # test_accuracy.logreg.encoded as the name meant hid why.
        (
            "test_roc_auc.logreg.encoded",
            " (their runs log no test ROC AUC: it needs test rows of every class)",
        ),
    ]:
        with pytest.raises(AefxError) as caught:
            promote(uri, "encoder", metric, "champion")
        assert str(caught.value).startswith(
            f"no version of 'encoder' has a run with metric {metric!r}{hint}"
        )
    assert client.get_registered_model("encoder").aliases == {}

    cv_run = client.create_run(experiment).info.run_id  # evaluation.mode cv: cv_ names too
    for metric in ("cv_accuracy.logreg.encoded", "test_accuracy.logreg.encoded"):
        client.log_metric(cv_run, metric, 0.9)
    client.create_model_version("encoder", str(tmp_path / "model"), cv_run)
    with pytest.raises(AefxError) as caught:
        promote(uri, "encoder", "cv_acuracy.logreg.encoded", "champion")
    assert str(caught.value).endswith(" (did you mean 'cv_accuracy.logreg.encoded'?)")
    with pytest.raises(AefxError) as caught:
        promote(uri, "encoder", "cv_score", "champion")
    assert str(caught.value).endswith(" (their runs log cv_accuracy.logreg.encoded)")

    # Runs of three classes or more log no ROC AUC for the RBF SVM (no class probabilities):
    # the nearest name they logged is another classifier's, and the reason is more use.
    roc_run = client.create_run(experiment).info.run_id
    client.log_metric(roc_run, "test_roc_auc.mlp.encoded", 0.9)
    client.create_model_version("encoder", str(tmp_path / "model"), roc_run)
    with pytest.raises(AefxError) as caught:
        promote(uri, "encoder", "test_roc_auc.svm_rbf.encoded", "champion")
    assert str(caught.value).endswith(
        " (svm_rbf gives no class probabilities, so runs log its ROC AUC for two classes only)"
    )


def test_aefx_promote_of_a_test_metric_no_run_logged_is_one_line(tmp_path):
    """The warning that a test_ metric chooses on the test split came before the error that no
    run logged it: two lines, the first about a choice that was never made."""
    from mlflow.tracking import MlflowClient

    write_params(tmp_path, TINY_PARAMS)
    store = tmp_path / "mlruns"
    store.mkdir()
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("aefx")).info.run_id
    client.log_metric(run, "test_accuracy.logreg.encoded", 0.9)
    client.create_registered_model("aefx-encoder")
    client.create_model_version("aefx-encoder", str(tmp_path / "model"), run)
    done = run_command(*AEFX, "promote", "--metric", "test_accuracy.logreg.encode", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "aefx: error: no version of 'aefx-encoder' has a run with metric "
        "'test_accuracy.logreg.encode' (did you mean 'test_accuracy.logreg.encoded'?)\n"
    )
    assert client.get_registered_model("aefx-encoder").aliases == {}


def test_promote_weighs_every_version_not_only_the_first_page(tmp_path):
    """MLflow answers a version search a page at a time, 10,000 versions, newest first; promote
    read only the first page, so past 10,000 versions the best could be passed over silently.
    The store is MLflow's own; the 10,000 later versions are copied in by SQL for speed."""
    import sqlite3

    from mlflow.tracking import MlflowClient

    from aefx.encode import promote

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("aefx")
    client.create_registered_model("encoder")
    for score in (0.95, 0.90):  # version 1 is the best
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "cv_accuracy.logreg.encoded", score)
        client.create_model_version("encoder", str(tmp_path / "model"), run.info.run_id)
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(model_versions)")]
        second = db.execute("SELECT * FROM model_versions WHERE version = 2").fetchone()
        at = columns.index("version")
        copies = [(*second[:at], n, *second[at + 1 :]) for n in range(3, 10_003)]
        db.executemany(
            f"INSERT INTO model_versions VALUES ({','.join('?' * len(columns))})", copies
        )
        db.commit()
    assert len(client.search_model_versions("name = 'encoder'")) == 10_000  # one page
    assert promote(uri, "encoder", "cv_accuracy.logreg.encoded", "champion") == ("1", 0.95)
    assert str(client.get_model_version_by_alias("encoder", "champion").version) == "1"


def test_streamed_csv_reads_back_whole_with_a_header_quoted_only_where_needed(tmp_path):
    from aefx.encode import stream_file

    rows = pd.DataFrame({"a,b": np.arange(5.0), "c": np.arange(5.0) / 4})
    rows.to_parquet(tmp_path / "in.parquet")
    total, chunks = stream_file(
        tmp_path / "in.parquet", tmp_path / "out.csv", 2, ["a,b", "c"], set(), lambda c: c * 2
    )
    assert (total, chunks) == (5, 3)
    text = (tmp_path / "out.csv").read_text()
    assert text.splitlines()[0] == '"a,b",c'
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out.csv"), rows * 2, check_dtype=False)


def test_codes_too_wide_for_a_parquet_output_are_refused_before_it_is_written(tmp_path):
    """A model whose codes, with the columns carried beside them, pass pyarrow's footer limit
    (a train-stream model of a bottleneck of a million, which no pipeline check had seen) was
    encoded into a Parquet file that nothing could read back. It is refused in one line that
    names the output, and the output is not made."""
    from aefx.encode import stream_file
    from aefx.errors import AefxError
    from aefx.io import PARQUET_MAX_COLUMNS

    pd.DataFrame({"f0": [0.5, 1.5], "id": ["a", "b"]}).to_csv(tmp_path / "rows.csv", index=False)
    names = [f"code_{i}" for i in range(PARQUET_MAX_COLUMNS)]

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(np.zeros((len(chunk), len(names)), np.float32), columns=names)

    out = tmp_path / "codes.parquet"
    with pytest.raises(AefxError) as raised:
        stream_file(tmp_path / "rows.csv", out, 10, ["f0"], {"id"}, transform)
    assert str(raised.value) == (
        f"{out}: 1,000,000 columns would make a Parquet file too wide to read back "
        "(999,999 columns at most); name a .csv output instead"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


@pytest.mark.parametrize(
    ("suffix", "codec", "magic"),
    [(".gz", "gzip", b"\x1f\x8b"), (".bz2", "bz2", b"BZh"), (".zst", "zstd", b"\x28\xb5\x2f\xfd")],
)
def test_a_compressed_csv_streams_in_and_out_chunk_by_chunk(tmp_path, suffix, codec, magic):
    """New rows that come as rows.csv.gz were refused, as was an output named codes.csv.gz:
    both are now read and written a chunk at a time, compressed as the name says."""
    import pyarrow as pa

    from aefx.encode import stream_file

    rows = pd.DataFrame({"f0": np.arange(7.0), "f1": np.arange(7.0) / 4, "id": list("abcdefg")})
    with pa.output_stream(str(tmp_path / f"in.csv{suffix}"), compression=codec) as sink:
        sink.write(rows.to_csv(index=False).encode())

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] + chunk["f1"]})

    out = tmp_path / f"out.csv{suffix}"
    total, chunks = stream_file(
        tmp_path / f"in.csv{suffix}", out, 3, ["f0", "f1"], {"id"}, transform
    )
    assert (total, chunks) == (7, 3)
    assert out.read_bytes().startswith(magic)
    with pa.input_stream(str(out), compression=codec) as source:
        written = pd.read_csv(source)
    expected = pd.DataFrame({"code": rows["f0"] + rows["f1"], "id": rows["id"]})
    pd.testing.assert_frame_equal(written, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"in.csv{suffix}", f"out.csv{suffix}"]


def test_a_semicolon_csv_with_decimal_commas_streams_as_its_comma_csv(tmp_path):
    """New rows saved by a spreadsheet where a comma marks decimals (';' between columns) are
    read chunk by chunk with that delimiter and decimal mark: the same codes as from the
    comma CSV of the same rows (they were refused: `the header holds ';'`)."""
    from aefx.encode import stream_file

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"f0": rng.normal(size=25), "f1": rng.normal(size=25), "id": range(25)})
    rows.to_csv(tmp_path / "comma.csv", index=False)
    rows.to_csv(tmp_path / "semicolon.csv", sep=";", decimal=",", index=False)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] - 2 * chunk["f1"]})

    for name in ("comma", "semicolon"):
        total, _ = stream_file(
            tmp_path / f"{name}.csv",
            tmp_path / f"{name}.parquet",
            10,
            ["f0", "f1"],
            {"id"},
            transform,
        )
        assert total == 25
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "semicolon.parquet"), pd.read_parquet(tmp_path / "comma.parquet")
    )
    expected = transform(rows).assign(id=rows["id"])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "comma.parquet"), expected)


def test_a_tsv_streams_in_and_out_tab_separated(tmp_path):
    """Tab-separated rows (plain or compressed) are read, and an output named .tsv or .tsv.gz
    is written tab-separated, header and rows (a name with a comma needs no quotes there)."""
    import pyarrow as pa

    from aefx.encode import stream_file

    rows = pd.DataFrame({"f0": np.arange(7.0), "f1": np.arange(7.0) / 4, "id": list("abcdefg")})
    rows.to_csv(tmp_path / "in.tsv", sep="\t", index=False)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] + chunk["f1"], "code, doubled": chunk["f0"] * 2})

    expected = transform(rows).assign(id=rows["id"])
    total, _ = stream_file(
        tmp_path / "in.tsv", tmp_path / "out.tsv", 3, ["f0", "f1"], {"id"}, transform
    )
    assert total == 7
    assert (tmp_path / "out.tsv").read_text().splitlines()[0] == "code\tcode, doubled\tid"
    written = pd.read_csv(tmp_path / "out.tsv", sep="\t")
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    stream_file(
        tmp_path / "out.tsv",
        tmp_path / "again.tsv.gz",
        3,
        ["code"],
        {"code, doubled", "id"},
        lambda c: c[["code"]],
    )
    with pa.input_stream(str(tmp_path / "again.tsv.gz"), compression="gzip") as source:
        pd.testing.assert_frame_equal(pd.read_csv(source, sep="\t"), expected, check_dtype=False)


FOLDER_ROWS = pd.DataFrame(
    {"f0": np.arange(14.0), "f1": np.arange(14.0) / 4, "id": list("abcdefghijklmn")}
)


def _stream_folder_of_two(folder: Path, out: Path) -> None:
    """Codes of a folder holding FOLDER_ROWS in two files of 7 rows, in chunks of 3: the rows
    of each file in turn, an id carried through."""
    from aefx.encode import stream_file

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] + chunk["f1"]})

    total, chunks = stream_file(folder, out, 3, ["f0", "f1"], {"id"}, transform)
    assert (total, chunks) == (14, 6)  # 3 + 3 + 1 rows from each file: no chunk spans two
    rows = FOLDER_ROWS
    expected = pd.DataFrame({"code": rows["f0"] + rows["f1"], "id": rows["id"]})
    pd.testing.assert_frame_equal(pd.read_csv(out), expected)


def test_a_folder_of_csv_files_streams_a_file_at_a_time(tmp_path):
    """New rows from Spark's CSV writer: part files, plain or compressed, CSV or TSV; a model of
    table rows read such a folder as images ("images, but the model was trained on table
    rows")."""
    import pyarrow as pa

    rows = FOLDER_ROWS
    folder = tmp_path / "new"
    folder.mkdir()
    rows.head(7).to_csv(folder / "part-0.csv", index=False)
    with pa.output_stream(str(folder / "part-1.tsv.gz"), compression="gzip") as sink:
        sink.write(rows.tail(7)[["id", "f1", "f0"]].to_csv(sep="\t", index=False).encode())
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "part-2.csv").write_bytes(b"")  # Spark's part for an empty partition
    _stream_folder_of_two(folder, tmp_path / "codes.csv")


def test_a_folder_of_csv_files_whose_files_differ_in_columns_is_one_line(tmp_path):
    """`aefx encode` checked the columns of a folder's first file alone: a later file of other
    columns stopped it in a traceback (`KeyError: 'f1'`)."""
    from aefx.encode import stream_file
    from aefx.errors import AefxError

    folder = tmp_path / "new"
    folder.mkdir()
    FOLDER_ROWS.head(7).to_csv(folder / "part-0.csv", index=False)
    FOLDER_ROWS.tail(7).rename(columns={"f1": "g1"}).to_csv(folder / "part-1.csv", index=False)
    with pytest.raises(AefxError) as caught:
        stream_file(folder, tmp_path / "codes.csv", 3, ["f0", "f1"], {"id"}, lambda c: c[["f0"]])
    assert str(caught.value) == (
        f"{folder / 'part-1.csv'}: its columns differ from those of part-0.csv (the files of a "
        "folder make one table)"
    )
    assert list(tmp_path.iterdir()) == [folder]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_bad_value_in_a_folder_of_table_files_names_its_file_and_row(tmp_path, suffix):
    """A value that stops `aefx encode` in a folder's later part was named by the folder and
    the row counted over every part before it (`new: column 'f1' row 12`), leaving the user to
    work out which file that is; now the part and the row within it."""
    import warnings

    import pyarrow.parquet as pq

    from aefx.encode import stream_file
    from aefx.errors import AefxError

    def write(rows: pd.DataFrame, name: str) -> None:
        if suffix == ".csv":
            rows.to_csv(folder / f"{name}{suffix}", index=False)
        else:
            rows.to_parquet(folder / f"{name}{suffix}", index=False)

    folder = tmp_path / "new"
    folder.mkdir()
    write(FOLDER_ROWS.head(7), "part-0")
    later = FOLDER_ROWS.tail(7).copy()
    write(later, "part-1")
    # The mark each chunk carries stays out of the output (pyarrow writes a frame's attrs).
    codes = tmp_path / "codes.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream_file(folder, codes, 3, ["f0", "f1"], {"id"}, lambda c: c[["f0"]])
    assert not pq.read_schema(codes).pandas_metadata.get("attributes")
    codes.unlink()

    later.iloc[5, later.columns.get_loc("f1")] = np.inf
    write(later, "part-1")
    with pytest.raises(AefxError) as caught:
        stream_file(folder, tmp_path / "codes.csv", 3, ["f0", "f1"], {"id"}, lambda c: c[["f0"]])
    assert str(caught.value) == (
        f"{folder / ('part-1' + suffix)}: column 'f1' row 5 is not a finite number (inf)"
    )
    assert list(tmp_path.iterdir()) == [folder]


def test_a_column_renamed_only_in_case_or_spaces_is_pointed_out(tmp_path):
    """An export that capitalises or pads names (`F1 `) made `aefx encode` list the column as
    missing and extra, leaving the user to spot the difference."""
    from aefx.encode import check_columns
    from aefx.errors import AefxError

    chunk = pd.DataFrame({"f0": [1.0], "F1 ": [2.0], "id": ["a"]})
    with pytest.raises(AefxError) as caught:
        check_columns(chunk, ["f0", "f1"], set(), tmp_path / "new.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'new.csv'}: missing column(s) f1; extra column(s) F1 , id (the encoder "
        "was trained on 2; column 'F1 ' differs from 'f1' only in case or spaces)"
    )


def test_new_rows_without_a_header_row_are_told_to_get_one(tmp_path):
    """pandas takes a headerless file's first row for its column names: `aefx encode` listed
    them as missing and extra columns (`missing column(s) f0, f1; extra column(s) 0.5, ...`)."""
    from aefx.encode import stream_file
    from aefx.errors import AefxError

    rows = pd.DataFrame({"f0": [0.5, 1.5, 2.5], "f1": [-0.25, 2.0, 1.0]})
    rows.to_csv(tmp_path / "rows.csv", index=False, header=False)
    with pytest.raises(AefxError) as caught:
        stream_file(tmp_path / "rows.csv", tmp_path / "codes.csv", 3, ["f0", "f1"], set(), len)
    assert str(caught.value) == (
        f"{tmp_path / 'rows.csv'}: its first line holds numbers (0.5, -0.25, ...) where the "
        "column names belong: give the file a header row (the encoder reads f0, f1)"
    )


def test_a_folder_of_csv_files_brings_its_partition_folders_as_columns(tmp_path):
    """Spark's ``partitionBy("year").csv(...)`` keeps the year in the folder names alone; it is
    a column of every row under ``year=2024/``, as for a folder of Parquet files (it was
    dropped: an encoder trained on the year said `missing column(s) year`)."""
    from aefx.encode import read_chunks

    rows = FOLDER_ROWS.assign(year=np.repeat([2023, 2024], 7))
    rows.to_parquet(tmp_path / "new.parquet", partition_cols=["year"], index=False)
    folder = tmp_path / "new.csv.d"
    for year, part in rows.groupby("year"):
        (folder / f"year={year}").mkdir(parents=True)
        part.drop(columns="year").to_csv(folder / f"year={year}" / "part-0.csv", index=False)

    read = pd.concat(read_chunks(folder, 3), ignore_index=True)
    pd.testing.assert_frame_equal(read, rows)
    from_parquet = pd.concat(read_chunks(tmp_path / "new.parquet", 3), ignore_index=True)
    pd.testing.assert_frame_equal(read, from_parquet, check_dtype=False)  # int32 there


def test_a_folder_of_parquet_files_streams_a_file_at_a_time(tmp_path):
    """New rows written by Spark or Dask come as a folder of part files; a model of table rows
    read any folder as images ("images, but the model was trained on table rows")."""
    from aefx.encode import output_format, read_chunks
    from aefx.errors import AefxError

    rows = FOLDER_ROWS
    folder = tmp_path / "new.parquet"
    (folder / "_temporary").mkdir(parents=True)
    rows.head(7).to_parquet(folder / "part-0.parquet", index=False)
    rows.tail(7).to_parquet(folder / "part-1.parquet", index=False)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "_temporary" / "part-9.parquet").write_bytes(b"a job's leftover")
    _stream_folder_of_two(folder, tmp_path / "codes.csv")

    for output, message in (
        (folder / "codes.csv", "is inside the input folder"),
        (tmp_path, "is a folder; name the output file (.csv, .tsv (plain or compressed"),
    ):
        with pytest.raises(AefxError) as caught:
            output_format(folder, output)
        assert str(caught.value).startswith(f"{output}: {message}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        AefxError, match=r"empty: a folder with no \.parquet, \.csv or \.tsv files in it"
    ):
        next(read_chunks(empty, 10))


def test_carried_columns_keep_the_inputs_order_in_every_run(tmp_path):
    """The columns carried through (a label, a truth column, ids) follow the codes in the order
    the input has them. They came in a set's order, which moves with Python's hash seed, so two
    runs on the same file could write their columns in different orders."""
    from aefx.encode import stream_file

    carried = ["zeta", "id", "label", "batch", "is_anomaly", "alpha", "site", "mid"]
    rows = pd.DataFrame({"f0": np.arange(4.0), **{name: np.arange(4) for name in carried}})
    rows.to_csv(tmp_path / "in.csv", index=False)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] * 2})

    stream_file(tmp_path / "in.csv", tmp_path / "out.csv", 3, ["f0"], set(carried), transform)
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["code", *carried]


def test_an_id_column_that_turns_to_text_in_a_later_chunk_is_written_as_text(tmp_path):
    """pandas infers each CSV chunk's types on its own: ids that are numbers in the first chunks
    and text in a later one came as ints, then strings, and a Parquet output stopped in
    pyarrow's traceback ('Table schema does not match') after the first chunks were encoded.
    A chunk whose ids are all missing still reads back as missing ids, not as text."""
    from aefx.encode import stream_file

    ids = [str(i) for i in range(8)] + ["", "", "A-7", "B-9"]
    rows = pd.DataFrame({"f0": np.arange(12.0), "id": ids})
    rows.to_csv(tmp_path / "in.csv", index=False)

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] * 2})

    for rows_per_chunk in (2, 12):
        out = tmp_path / f"out-{rows_per_chunk}.parquet"
        total, chunks = stream_file(
            tmp_path / "in.csv", out, rows_per_chunk, ["f0"], {"id"}, transform
        )
        assert (total, chunks) == (12, 12 // rows_per_chunk)
        written = pd.read_parquet(out)
        assert written["code"].tolist() == list(np.arange(12.0) * 2)
        expected = [*map(str, range(8)), None, None, "A-7", "B-9"]
        assert [None if pd.isna(v) else v for v in written["id"]] == expected
    # Nothing is left beside the outputs (the copy of the rows written before the text ids).
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.csv",
        "out-12.parquet",
        "out-2.parquet",
    ]


def _spoiled(path, how: str) -> None:
    rows = pd.DataFrame({"f0": np.arange(30.0), "f1": np.arange(30.0) / 2})
    if how == "header only":
        rows.head(0).to_csv(path, index=False)
    elif how == "no bytes":
        path.write_bytes(b"")
    elif how == "ragged":  # a longer row after the first chunks were written aside
        path.write_text(rows.to_csv(index=False) + "1.0,2.0,3.0\n")
    elif how == "repeated name":
        path.write_text(rows.assign(f2=1.0).to_csv(index=False).replace("f2", "f0", 1))
    elif how == "truncated":
        rows.to_parquet(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "cut off":  # a download that stopped half way
        rows.to_csv(path, index=False)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "not compressed":
        path.write_text(rows.to_csv(index=False))
    else:  # "no rows"
        rows.head(0).to_parquet(path)


@pytest.mark.parametrize(
    ("name", "how", "message"),
    [
        ("in.csv", "header only", "no rows to read"),
        ("in.csv", "no bytes", "file is empty"),
        ("in.csv", "ragged", "cannot be read as CSV (Error tokenizing data."),
        ("in.csv", "repeated name", "the header names 'f0' twice (columns 1 and 3)"),
        ("in.parquet", "truncated", "cannot be read as Parquet (Parquet magic bytes not found"),
        ("in.parquet", "no rows", "no rows to read"),
        ("in.csv.gz", "cut off", "cannot be read as gzip-compressed CSV ("),
        ("in.csv.gz", "not compressed", "named .csv.gz but is not gzip-compressed ("),
    ],
)
def test_an_unreadable_or_empty_input_is_one_line_and_writes_nothing(tmp_path, name, how, message):
    """Each of these gave a pandas, pyarrow or scikit-learn traceback from encode, score and
    reconstruct (all three stream through stream_file)."""
    from sklearn.preprocessing import MinMaxScaler

    from aefx.encode import stream_file
    from aefx.errors import AefxError

    source = tmp_path / name
    _spoiled(source, how)
    scaler = MinMaxScaler().fit(
        [[0.0, 0.0], [1.0, 1.0]]
    )  # refuses an empty frame, as the models do

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(scaler.transform(chunk[["f0", "f1"]].to_numpy()), columns=["a", "b"])

    with pytest.raises(AefxError) as caught:
        stream_file(source, tmp_path / "out.csv", 10, ["f0", "f1"], set(), transform)
    assert str(caught.value).startswith(f"{source}: {message}")
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no output, no temporary left


@pytest.mark.parametrize(
    ("name", "sep", "hint"),
    [
        ("new.tsv", ";", "write the TSV tab-separated, or name it .csv"),
        ("new.csv", "\t", "write the CSV comma-separated, or name it .tsv"),
        ("new.tsv", ",", "write the TSV tab-separated, or name it .csv"),
    ],
)
def test_a_csv_written_with_another_separator_is_named_as_such(tmp_path, name, sep, hint):
    """Read as one column, the header was listed as one extra column after ten missing ones
    (ingest already said which separator it holds)."""
    from aefx.encode import check_columns, read_chunks
    from aefx.errors import AefxError

    features = [f"f{i}" for i in range(12)]
    source = tmp_path / name
    pd.DataFrame(np.ones((3, 12)), columns=features).to_csv(source, sep=sep, index=False)
    chunk = next(read_chunks(source, rows=100))
    with pytest.raises(AefxError) as caught:
        check_columns(chunk, features, set(), source)
    assert str(caught.value) == f"{source}: the header holds {sep!r}: {hint}"
    comma = tmp_path / "comma.csv"
    pd.DataFrame(np.ones((3, 12)), columns=features).to_csv(comma, index=False)
    check_columns(next(read_chunks(comma, rows=100)), features, set(), comma)


def test_scores_checked_against_a_truth_column_of_an_empty_file_are_refused(tmp_path):
    from types import SimpleNamespace

    from aefx.encode import score_file
    from aefx.errors import AefxError

    source = tmp_path / "in.parquet"
    _spoiled(source, "no rows")  # --truth looks for its column before the rows stream
    model = SimpleNamespace(label="label", image_shape=None, image_resize=False)  # a table model
    with pytest.raises(AefxError, match=r"in.parquet: no rows to read$"):
        score_file(model, model, source, tmp_path / "out.csv", truth="f1")
    assert [p.name for p in tmp_path.iterdir()] == ["in.parquet"]


@pytest.mark.parametrize("command", ["encode", "score", "reconstruct"])
@pytest.mark.parametrize("read_through_link", [False, True])
def test_an_output_that_is_the_input_is_refused_before_any_model_loads(
    tmp_path, command, read_through_link
):
    """The finished output is renamed over its path: were that the input, its rows would be
    gone. The model named does not exist, so the refusal comes before it is looked for."""
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"f0": [0.1, 0.2], "f1": [1.0, 2.0]}).to_csv(rows, index=False)
    before = rows.read_bytes()
    source = rows
    if read_through_link:
        source = tmp_path / "link.csv"
        source.symlink_to(rows)
    done = run_command(
        *AEFX, command, "-m", "nowhere.json", "-i", source.name, "-o", "rows.csv", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: rows.csv: is the input file; write the output to another path"
    )
    assert rows.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"rows.csv", source.name})


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.nan, "(nan)"),
        (np.inf, "(inf)"),
        ("oops", "('oops')"),
        (np.array([1.0, 2.0]), "([1.0, 2.0])"),  # a Parquet list cell, as pandas holds it
    ],
)
def test_a_bad_value_is_named_as_it_reads(tmp_path, value, shown):
    from aefx.encode import check_values
    from aefx.errors import AefxError

    chunk = pd.DataFrame({"f0": [0.1, 0.2, 0.3], "f1": [1.0, value, 2.0]})
    with pytest.raises(AefxError) as caught:
        check_values(chunk, ["f0", "f1"], first_row=10, origin=tmp_path / "new.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'new.csv'}: column 'f1' row 11 is not a finite number {shown}"
    )


def test_na_in_a_column_of_categories_streams_as_the_category_it_is(tmp_path):
    """New rows from North America ('NA') and a severity 'None' were missing values to
    pandas: `column 'region' row 1 is missing`, and a carried id 'NA' came out empty. They
    are values now, as ingest reads them and as in the Parquet file of the same rows; a
    number written 'NA' is still a missing one."""
    from aefx.encode import stream_file
    from aefx.errors import AefxError

    rows = pd.DataFrame(
        {
            "f0": np.linspace(0, 1, 12),
            "region": ["EU", "NA", "AS"] * 4,
            "id": ["a1", "NA", *[f"a{i}" for i in range(2, 12)]],
        }
    )
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet")

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": chunk["f0"] + chunk["region"].eq("NA")})

    for name in ("rows.csv", "rows.parquet"):
        total, _ = stream_file(
            tmp_path / name, tmp_path / f"{name}.out.parquet", 5, ["f0", "region"], {"id"},
            transform, categorical=["region"],
        )  # fmt: skip
        assert total == 12
    codes = pd.read_parquet(tmp_path / "rows.csv.out.parquet")
    pd.testing.assert_frame_equal(codes, pd.read_parquet(tmp_path / "rows.parquet.out.parquet"))
    assert codes["id"].tolist() == rows["id"].tolist()
    assert codes["code"].tolist() == (rows["f0"] + rows["region"].eq("NA")).tolist()

    rows.assign(f0=rows["f0"].astype(object).where(rows.index != 3, "NA")).to_csv(
        tmp_path / "gap.csv", index=False
    )
    with pytest.raises(AefxError) as caught:
        stream_file(tmp_path / "gap.csv", tmp_path / "gap.parquet", 5, ["f0", "region"], {"id"},
                    transform, categorical=["region"])  # fmt: skip
    assert str(caught.value) == (
        f"{tmp_path / 'gap.csv'}: column 'f0' row 3 is not a finite number (nan)"
    )


def test_numbers_written_with_both_decimal_marks_are_named_as_such(tmp_path):
    """A chunk of a semicolon CSV whose marks change after the first rows is text: both marks
    are named, where the first value with a comma was named as not a finite number; and so
    are thousands separators."""
    from aefx.encode import check_values
    from aefx.errors import AefxError

    chunk = pd.DataFrame({"f0": [0.1, 0.2, 0.3], "f1": ["1", "-0,25", "2.5"]})
    with pytest.raises(AefxError) as caught:
        check_values(chunk, ["f0", "f1"], first_row=10, origin=tmp_path / "new.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'new.csv'}: column 'f1' mixes decimal marks ('-0,25' with a comma, '2.5' "
        "with a point): write its numbers with one mark"
    )
    chunk["f1"] = ["1", "1,234.5", "2.5"]  # thousands separators
    with pytest.raises(AefxError) as caught:
        check_values(chunk, ["f0", "f1"], first_row=10, origin=tmp_path / "new.csv")
    assert str(caught.value).endswith(
        "column 'f1' has numbers with thousands separators ('1,234.5'): write them without"
    )
    chunk["f1"] = ["1", "-0,25", "2"]  # commas only: no number to pandas, as before
    with pytest.raises(AefxError) as caught:
        check_values(chunk, ["f0", "f1"], first_row=10, origin=tmp_path / "new.csv")
    assert str(caught.value).endswith("column 'f1' row 11 is not a finite number ('-0,25')")


def test_a_column_of_decimal_points_among_decimal_commas_is_refused_not_read(tmp_path):
    """New rows in a semicolon CSV whose first rows have decimal commas: a column written
    with points came as text, which was read as numbers, so `1.234` (a thousand and more,
    where commas mark decimals) was encoded as 1.234 without a word. Refused now, naming the
    column, as ingest refuses it; a Parquet column of the same text is still read."""
    from aefx.encode import stream_file
    from aefx.errors import AefxError

    def transform(chunk: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"code": pd.to_numeric(chunk["f0"]) + pd.to_numeric(chunk["f1"])})

    head = "f0;f1;id\n" + "".join(f"{i},5;{i};r{i}\n" for i in range(12))  # commas decide
    cases = [
        ("0.25", "has decimal points ('0.25') in a file read with decimal commas"),
        ("1.234", "has numbers with thousands separators ('1.234'): write them without"),
    ]
    for value, problem in cases:
        source = tmp_path / "rows.csv"
        source.write_text(head + f"1,5;{value};late\n")  # in the last chunk, after some are written
        with pytest.raises(AefxError) as caught:
            stream_file(source, tmp_path / "codes.csv", 5, ["f0", "f1"], {"id"}, transform)
        assert str(caught.value).startswith(f"{source}: column 'f1' {problem}")
        assert not (tmp_path / "codes.csv").exists()

    rows = pd.DataFrame({"f0": [0.5, 1.5], "f1": ["0.25", "1.234"], "id": ["a", "b"]})
    rows.to_parquet(tmp_path / "rows.parquet")
    stream_file(
        tmp_path / "rows.parquet", tmp_path / "codes.csv", 5, ["f0", "f1"], {"id"}, transform
    )
    assert pd.read_csv(tmp_path / "codes.csv")["code"].tolist() == [0.75, 2.734]


def test_encode_stopped_by_sigterm_leaves_no_output_nor_temporary_file(project):
    """A scheduler's or a timeout's SIGTERM used to kill `aefx encode` outright, leaving its
    hidden temporary file (as large as the output so far) beside the output."""
    from aefx.pipeline import stage
    from tests.conftest import signal_when, start_command

    params = load_params(overrides=["seeds=[1]"])
    for name in ("ingest", "scale", "train_autoencoder", "extract_encoder"):
        stage(name).run(params)
    rows = pd.read_parquet(params.paths.train)
    # Enough chunks that the run is still writing when the signal lands, on a loaded machine too.
    pd.concat([rows] * 2000, ignore_index=True).to_parquet(project / "many.parquet")
    before = sorted(p.name for p in project.iterdir())
    proc = start_command(
        *AEFX, "encode", "-m", str(params.paths.encoder_meta), "-i", "many.parquet",
        "-o", "codes.parquet", "--rows", "500", cwd=project,
    )  # fmt: skip

    # Once the output is being written aside.
    def written_aside() -> bool:
        return bool(list(project.glob(".codes.parquet.*.tmp")))

    stderr = signal_when(proc, written_aside, poll=0.01)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "aefx: error: interrupted; no output was written"
    assert sorted(p.name for p in project.iterdir()) == before


def test_keep_carries_an_id_through_encode_score_and_reconstruct(project):
    """New data comes with ids to join the output back on; without --keep an id column was
    refused as an extra column and had to be dropped, losing the join."""
    params = load_params(overrides=["seeds=[1]"])
    train_autoencoders(params)
    model = str(params.paths.encoder_meta)
    raw = pd.read_parquet(params.paths.test)
    raw["id"] = [f"row-{i}" for i in range(len(raw))]
    raw.to_csv(project / "new.csv", index=False)

    done = run_command(*AEFX, "encode", "-m", model, "-i", "new.csv", "-o", "c.csv", cwd=project)
    assert done.returncode == 2 and not (project / "c.csv").exists()
    assert done.stderr.strip() == (
        "aefx: error: new.csv: extra column(s) id (the encoder was trained on 12; "
        "--keep NAME carries a column such as an id through)"
    )
    for command in ("encode", "score", "reconstruct"):
        done = run_command(
            *AEFX, command, "-m", model, "-i", "new.csv", "-o", f"{command}.csv",
            "--keep", "id", "--rows", "7", cwd=project,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written = pd.read_csv(project / f"{command}.csv")
        assert list(written.columns[-2:]) == ["label", "id"]  # in the input's order
        assert list(written["id"]) == list(raw["id"])

    # A column that is not there, or one that would overwrite an output: one line, no file.
    first = raw.columns[0]
    for command, kept, message in (
        ("encode", "nope", "new.csv: no column 'nope' (named by --keep)"),
        ("reconstruct", first, f"new.csv: column(s) {first} would be carried through over"),
    ):
        done = run_command(
            *AEFX, command, "-m", model, "-i", "new.csv", "-o", "x.csv", "--keep", "id",
            "--keep", kept, cwd=project,
        )  # fmt: skip
        assert done.returncode == 2 and not (project / "x.csv").exists()
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(f"aefx: error: {message}")


def test_columns_ignored_in_training_are_carried_through_new_rows(project):
    """A table with a customer name and a row number trains on its features alone
    (data.ignore); new rows come with the same columns, which encode, score and reconstruct
    carry through without --keep, and which do not change the codes."""
    from aefx.io import read_json
    from tasks.ingest import synthetic_frame

    table = synthetic_frame(load_params().data.synthetic, "label")
    features = [c for c in table.columns if c != "label"]
    table.insert(0, "customer", [f"cust-{i}" for i in range(len(table))])
    table.insert(1, "row", np.arange(len(table)))
    table.to_csv(project / "data" / "raw" / "customers.csv", index=False)
    params = load_params(
        overrides=[
            "seeds=[1]",
            "data.source=file",
            "data.path=data/raw/customers.csv",
            "data.ignore=[customer, row]",
        ]
    )
    train_autoencoders(params)
    schema = read_json(params.paths.data_schema)
    assert schema["features"] == features and schema["ignored"] == ["customer", "row"]
    # The ingested split keeps them (first), for the encoded splits to carry; no model sees them.
    assert list(pd.read_parquet(params.paths.train).columns) == [
        "customer",
        "row",
        *features,
        "label",
    ]
    assert list(pd.read_parquet(params.paths.train_scaled).columns) == [*features, "label"]
    assert read_json(params.paths.encoder_meta)["ignored"] == ["customer", "row"]

    new = table.drop(columns=["label"]).iloc[:30]
    new.to_csv(project / "new.csv", index=False)
    model = str(params.paths.encoder_meta)
    for command in ("encode", "score", "reconstruct"):
        done = run_command(
            *AEFX, command, "-m", model, "-i", "new.csv", "-o", f"{command}.csv", cwd=project
        )
        assert done.returncode == 0, done.stderr
        written = pd.read_csv(project / f"{command}.csv")
        assert list(written.columns[-2:]) == ["customer", "row"]
        assert written[["customer", "row"]].equals(new[["customer", "row"]])
    encoder = EncoderModel.from_files(str(params.paths.encoder), model)
    codes = pd.read_csv(project / "encode.csv")[encoder.code_columns]
    alone = encoder.predict(None, new[features].reset_index(drop=True))
    np.testing.assert_allclose(codes.to_numpy(), alone.to_numpy(), rtol=1e-5, atol=1e-6)


def test_columns_of_categories_train_and_encode_new_rows_alike(project):
    """A table with a text column of categories and one of numeric codes (data.categorical)
    trains an autoencoder on their 0/1 columns; new rows with the raw columns encode as the
    scale stage's rows do, a category training did not see is counted, and reconstruct gives
    each column back as one of its categories."""
    from aefx.io import read_json
    from tasks.ingest import synthetic_frame

    table = synthetic_frame(load_params().data.synthetic, "label")
    features = [c for c in table.columns if c != "label"]
    table.insert(2, "region", np.array(["north", "south", "east"])[np.arange(len(table)) % 3])
    table.insert(5, "plan", 1 + np.arange(len(table)) % 2)
    table.to_csv(project / "data" / "raw" / "customers.csv", index=False)
    params = load_params(
        overrides=[
            "seeds=[1]",
            "data.source=file",
            "data.path=data/raw/customers.csv",
            "data.categorical=[region, plan]",
        ]
    )
    train_autoencoders(params)
    p = params.paths
    raw_columns = [c for c in table.columns if c != "label"]
    categories = {"region": ["east", "north", "south"], "plan": ["1", "2"]}
    assert read_json(p.data_schema)["categories"] == categories
    meta = read_json(p.encoder_meta)
    assert meta["features"] == raw_columns and meta["scaler"]["categories"] == categories
    scaled_test = pd.read_parquet(p.test_scaled).drop(columns="label")
    region, plan = ["region=east", "region=north", "region=south"], ["plan=1", "plan=2"]
    in_place = [*features[:2], *region, *features[2:4], *plan, *features[4:]]
    assert list(scaled_test.columns) == in_place
    encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    assert encoder.encoder.input_shape[-1] == len(features) + 5
    raw_test = pd.read_parquet(p.test).drop(columns="label")
    np.testing.assert_allclose(
        encoder.predict(None, raw_test).to_numpy(),
        encoder.encode(scaled_test.to_numpy()).to_numpy(),
        rtol=1e-5,
        atol=1e-6,
    )

    new = table.drop(columns=["label"]).iloc[:30].copy()
    new.loc[[4, 7], "region"] = "west"
    new.to_csv(project / "new.csv", index=False)
    for command in ("encode", "score", "reconstruct"):
        done = run_command(
            *AEFX,
            command,
            "-m",
            str(p.encoder_meta),
            "-i",
            "new.csv",
            "-o",
            f"{command}.csv",
            cwd=project,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip() == (
            "warning: categories the training rows did not have, in region (2 rows): such a row "
            "reaches the autoencoder as none of its column's known categories"
        )
    assert encoder.scale(new)[[4, 7], 2:5].tolist() == [[0, 0, 0], [0, 0, 0]]
    rebuilt = pd.read_csv(project / "reconstruct.csv")
    assert list(rebuilt.columns) == raw_columns
    assert set(rebuilt["region"]) <= {"east", "north", "south"} and set(rebuilt["plan"]) <= {1, 2}


def test_new_rows_with_a_missing_or_rare_category_encode_as_training_counted_them(project):
    """A model trained with data.missing_category and data.min_category_rows (and no
    data.impute) encodes new rows whose category is missing (refused before), rare or new:
    each command takes them, and the codes are those of the rows as the model counts them
    ('(missing)', '(other)'); a missing number is still refused."""
    table = pd.DataFrame(
        {
            "a": np.linspace(0, 1, 90),
            "city": np.array(["lyon", "paris", "lyon"], dtype=object)[np.arange(90) % 3],
            "plan": np.array(["basic", None, "pro"], dtype=object)[np.arange(90) % 3],
            "b": np.cos(np.arange(90)),
            "label": [0, 1] * 45,
        }
    )
    table.loc[[4, 9], "city"] = "nice"
    table.to_csv(project / "data" / "raw" / "towns.csv", index=False)
    params = load_params(
        overrides=[
            "seeds=[1]",
            "data.source=file",
            "data.path=data/raw/towns.csv",
            "data.categorical=[city, plan]",
            "data.min_category_rows=3",
            "data.missing_category=true",
        ]
    )
    train_autoencoders(params)
    p = params.paths
    encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    assert encoder.categories == {
        "city": ["lyon", "paris", "(other)"],
        "plan": ["(missing)", "basic", "pro"],
    }
    new = pd.DataFrame(
        {
            "a": [0.2, 0.4, 0.6],
            "city": ["nice", "marseille", "paris"],
            "plan": [None, "pro", None],
            "b": [0.0, 0.5, 1.0],
        }
    )
    new.to_csv(project / "new.csv", index=False)
    as_counted = new.assign(
        city=["(other)", "(other)", "paris"], plan=["(missing)", "pro", "(missing)"]
    )
    np.testing.assert_array_equal(encoder.scale(new), encoder.scale(as_counted))
    for command in ("encode", "score", "reconstruct"):
        done = run_command(
            *AEFX,
            command,
            "-m",
            str(p.encoder_meta),
            "-i",
            "new.csv",
            "-o",
            f"{command}.csv",
            cwd=project,
        )
        assert done.returncode == 0, done.stderr
    codes = pd.read_csv(project / "encode.csv")[encoder.code_columns]
    np.testing.assert_allclose(
        codes.to_numpy(), encoder.predict(None, new).to_numpy(), rtol=1e-5, atol=1e-6
    )
    rebuilt = pd.read_csv(project / "reconstruct.csv")
    assert set(rebuilt["city"]) <= {"lyon", "paris", "(other)"}
    assert set(rebuilt["plan"].dropna()) <= {"basic", "pro"}
    new.loc[1, "a"] = np.nan
    new.to_csv(project / "holed.csv", index=False)
    done = run_command(
        *AEFX,
        "encode",
        "-m",
        str(p.encoder_meta),
        "-i",
        "holed.csv",
        "-o",
        "holed_codes.csv",
        cwd=project,
    )
    assert done.returncode == 2 and not (project / "holed_codes.csv").exists()
    assert "column 'a' row 1 is not a finite number (nan)" in done.stderr


def test_na_in_a_column_of_number_codes_is_missing_in_every_chunk_of_new_rows(project):
    """Categories written as numbers with R's 'NA' for a gap are read as numbers with missing
    values, in training and in a chunk of new rows that holds a number; but a chunk in which
    the column held 'NA' alone kept it as text, a category training never had: a warning, and
    codes of none of the known categories where training's rows counted as '(missing)'."""
    table = pd.DataFrame(
        {
            "a": np.linspace(0, 1, 90),
            "grade": np.array([1, 2, 3, None], dtype=object)[np.arange(90) % 4],
            "b": np.cos(np.arange(90)),
            "label": [0, 1, 1] * 30,
        }
    )
    table.to_csv(project / "data" / "raw" / "grades.csv", index=False, na_rep="NA")
    params = load_params(
        overrides=[
            "seeds=[1]",
            "data.source=file",
            "data.path=data/raw/grades.csv",
            "data.categorical=[grade]",
            "data.missing_category=true",
        ]
    )
    train_autoencoders(params)
    p = params.paths
    encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    assert encoder.categories == {"grade": ["(missing)", "1", "2", "3"]}
    new = pd.DataFrame(
        {
            "a": np.linspace(0, 1, 12),
            "grade": [1, 2, 1, 3, 2, *[np.nan] * 5, 3, 1],  # the second chunk of 5: 'NA' alone
            "b": np.sin(np.arange(12)),
        }
    )
    new.to_csv(project / "new.csv", index=False, na_rep="NA")
    for command in ("encode", "score"):
        done = run_command(
            *AEFX, command, "-m", str(p.encoder_meta), "-i", "new.csv", "-o", f"{command}.csv",
            "--rows", "5", cwd=project,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    codes = pd.read_csv(project / "encode.csv")[encoder.code_columns]
    np.testing.assert_allclose(
        codes.to_numpy(), encoder.predict(None, new).to_numpy(), rtol=1e-5, atol=1e-6
    )
    as_counted = new.assign(grade=["1", "2", "1", "3", "2", *["(missing)"] * 5, "3", "1"])
    np.testing.assert_array_equal(encoder.scale(new), encoder.scale(as_counted))


def test_the_fill_note_names_how_each_kind_of_column_was_filled():
    """It said "for categories the most frequent" of a model with no column of categories."""
    from aefx.cli.model_commands import fill_note

    start = "note: 3 missing value(s) filled as in training (the training rows' "
    assert fill_note({"a": 2, "b": 1}, "median", set()) == f"{start}median), in a (2), b (1)"
    assert fill_note({"city": 3}, "median", {"city"}) == (
        f"{start}most frequent category), in city (3)"
    )
    assert fill_note({"a": 1, "city": 2}, "mean", {"city"}) == (
        f"{start}mean, for categories the most frequent), in a (1), city (2)"
    )
    many = {f"c{i}": 1 for i in range(7)}
    assert fill_note(many, "median", set()).endswith(
        "in c0 (1), c1 (1), c2 (1), c3 (1), c4 (1), ..."
    )


def test_missing_values_of_new_rows_are_filled_as_the_training_rows_were(project):
    """A model trained with data.impute fills the gaps of new rows with the training rows'
    medians: their codes are those of the rows so filled, and the command says how many it
    filled; text and infinities are still refused."""
    from aefx.io import read_json

    params = load_params(overrides=["seeds=[1]", "data.impute=median"])
    train_autoencoders(params)
    p = params.paths
    fill = read_json(p.encoder_meta)["scaler"]["fill"]
    new = pd.read_parquet(p.test).drop(columns="label").iloc[:20]
    holed = new.copy()
    holed.iloc[[1, 4, 9], 0] = np.nan
    holed.iloc[4, 3] = np.nan
    holed.to_csv(project / "holed.csv", index=False)
    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "holed.csv", "-o", "codes.csv",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, fourth = new.columns[0], new.columns[3]
    assert done.stderr.strip() == (
        f"note: 4 missing value(s) filled as in training (the training rows' median), in "
        f"{first} (3), {fourth} (1)"
    )
    encoder = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    filled = holed.fillna({first: fill[first], fourth: fill[fourth]})
    np.testing.assert_allclose(
        pd.read_csv(project / "codes.csv").to_numpy(),
        encoder.predict(None, filled).to_numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    # Scores say how many of each row's values were filled: such a row may look more usual.
    done = run_command(
        *AEFX, "score", "-m", str(p.encoder_meta), "-i", "holed.csv", "-o", "scores.csv",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(project / "scores.csv")
    assert list(scores.columns) == ["decision_score", "anomaly", "filled"]
    assert scores["filled"].tolist() == holed.isna().sum(axis=1).tolist()
    assert scores["filled"].sum() == 4
    (project / "scores.csv").unlink()
    holed.iloc[6, 2] = np.inf
    holed.to_csv(project / "holed.csv", index=False)
    done = run_command(
        *AEFX, "score", "-m", str(p.encoder_meta), "-i", "holed.csv", "-o", "scores.csv",
        cwd=project,
    )  # fmt: skip
    assert done.returncode == 2 and not (project / "scores.csv").exists()
    assert done.stderr.strip() == (
        f"aefx: error: holed.csv: column {new.columns[2]!r} row 6 is not a finite number (inf)"
    )


def test_rows_far_outside_the_training_rows_are_counted_and_named(project):
    """New rows in other units (a shifted column) were encoded silently into codes the encoder
    only extrapolated; held-out rows of the same data are not counted, and the codes do not
    change either way."""
    from aefx.encode import encode_file
    from aefx.io import read_json

    params = load_params(overrides=["seeds=[1]"])
    train_autoencoders(params)
    p = params.paths
    span = read_json(p.encoder_meta)["train_range"]  # min-max scaled: 0..1 on training rows
    assert span["low"] == pytest.approx([0.0] * 12) and span["high"] == pytest.approx([1.0] * 12)
    model = EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
    held_out = pd.read_parquet(p.test)
    held_out.to_csv(project / "same.csv", index=False)
    stats = encode_file(model, project / "same.csv", project / "same-codes.parquet", rows=50)
    assert (stats.rows, stats.far_rows, stats.far_columns) == (len(held_out), 0, {})

    moved = held_out.copy()
    column = moved.columns[3]
    moved[column] += 1e6
    moved.loc[:4, moved.columns[5]] -= 1e6
    moved.to_csv(project / "moved.csv", index=False)
    stats = encode_file(model, project / "moved.csv", project / "moved-codes.parquet", rows=50)
    assert stats.far_rows == len(moved)
    assert stats.far_columns == {column: len(moved), moved.columns[5]: 5}
    codes = pd.read_parquet(project / "moved-codes.parquet").drop(columns="label")
    expected = model.predict(None, moved)
    np.testing.assert_array_equal(codes.to_numpy(), expected.to_numpy())

    done = run_command(
        *AEFX, "encode", "-m", str(p.encoder_meta), "-i", "moved.csv", "-o", "m.csv", cwd=project
    )
    assert done.returncode == 0 and (project / "m.csv").exists()
    assert done.stderr.strip() == (
        f"warning: {len(moved)} of {len(moved)} rows lie far outside the training rows (beyond "
        f"their range by more than its width) in {column} ({len(moved)}), {moved.columns[5]} "
        "(5): the encoder extrapolates there (a change of units?); `aefx score` rates each row"
    )


def test_without_a_model_the_projects_own_encoder_is_used(project):
    """`aefx run` leaves the project's encoder at paths.encoder_meta: encode, score and
    reconstruct use it when -m is not given, and say how to get one when there is none."""
    pd.DataFrame({"f0": [0.1, 0.2]}).to_csv(project / "new.csv", index=False)
    other = yaml.safe_load((project / "params.yaml").read_text())
    other["paths"].update(  # the shipped model's three files, in a folder of their own
        encoder="shipped/encoder.keras",
        autoencoder="shipped/autoencoder.keras",
        encoder_meta="shipped/encoder.json",
    )
    (project / "other.yaml").write_text(yaml.safe_dump(other))
    expected = {"params.yaml": "models/encoder.json", "other.yaml": "shipped/encoder.json"}
    for params_file, meta in expected.items():
        done = run_command(
            *AEFX, "encode", "-i", "new.csv", "-o", "c.csv", "-p", params_file, cwd=project
        )
        assert done.returncode == 2 and not (project / "c.csv").exists()
        assert done.stderr.strip() == (
            f"aefx: error: {meta}: no encoder yet (`aefx run` writes it); or name one with -m "
            "(models:/NAME@ALIAS, a run id, a path)"
        )

    params = load_params(overrides=["seeds=[1]"])
    train_autoencoders(params)
    pd.read_parquet(params.paths.test).to_csv(project / "new.csv", index=False)
    named = ("-m", str(params.paths.encoder_meta))
    for command, model in (("encode", ()), ("encode", named), ("score", ())):
        out = f"{command}{len(model)}.csv"
        done = run_command(*AEFX, command, *model, "-i", "new.csv", "-o", out, cwd=project)
        assert done.returncode == 0, done.stderr
    assert (project / "encode0.csv").read_bytes() == (project / "encode2.csv").read_bytes()
    assert len(pd.read_csv(project / "score0.csv")) == len(pd.read_csv(project / "new.csv"))

    # Runs with --set leave their encoders in workspaces/: the line names the newest of them,
    # which -m then takes (it said to run `aefx run`, which such a user had).
    for name in ("0123456789ab", "ba9876543210"):
        shutil.copytree(project / "models", project / "workspaces" / name / "models")
    shutil.rmtree(project / "models")
    older = project / "workspaces" / "ba9876543210" / "models" / "encoder.json"
    os.utime(older, (older.stat().st_atime, older.stat().st_mtime - 3600))
    newest = "workspaces/0123456789ab/models/encoder.json"
    done = run_command(*AEFX, "encode", "-i", "new.csv", "-o", "c.csv", cwd=project)
    assert done.returncode == 2 and not (project / "c.csv").exists()
    assert done.stderr.strip() == (
        "aefx: error: models/encoder.json: no encoder yet (`aefx run` with the params file's "
        f"settings writes it; a run with others wrote {newest}); or name one with -m "
        "(models:/NAME@ALIAS, a run id, a path)"
    )
    done = run_command(*AEFX, "encode", "-m", newest, "-i", "new.csv", "-o", "c.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "c.csv").read_bytes() == (project / "encode0.csv").read_bytes()


def test_a_spreadsheet_or_arrow_input_is_told_how_to_become_a_table():
    """aefx reads no .xlsx or .feather: the line says how to get a file it reads. An output of
    such a type gets no such advice (aefx writes what it names)."""
    from aefx.encode import table_format
    from aefx.errors import AefxError

    for name, hint in (
        ("new.xlsx", "a spreadsheet: save it from its program as CSV (UTF-8)"),
        ("new.feather", "an Arrow file: write it as Parquet (to_parquet)"),
    ):
        with pytest.raises(AefxError) as caught:
            table_format(Path(name), "input")
        suffix = Path(name).suffix
        assert str(caught.value).startswith(
            f"{name}: unsupported input file type '{suffix}' ({hint}; use .csv, .tsv"
        )
    with pytest.raises(AefxError) as caught:
        table_format(Path("codes.xlsx"), "output")
    assert str(caught.value).startswith("codes.xlsx: unsupported output file type '.xlsx' (use ")
