"""The Prefect flow end to end on tiny data: real engine (test harness), real MLflow store."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aefx.config import load_params
from aefx.errors import AefxError
from aefx.io import file_md5, read_json
from aefx.pipeline import STAGE_NAMES
from aefx.provenance import SIMD_LEVELS
from aefx.tracking import tracking_uri, using_store
from tests.conftest import REPO, run_command


def _task_names_in_order(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    runs.sort(key=lambda r: r.start_time)
    return [r.name.rsplit("-", 1)[0] for r in runs]


def _artifacts(flow_run_id: str) -> list:
    """The Prefect artifacts of one flow run (not of its sub-flows)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _artifact_keys(flow_run_id: str) -> set[str]:
    return {a.key for a in _artifacts(flow_run_id)}


def test_flow_runs_every_stage_and_records_one_mlflow_run(project, prefect_harness, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    params = load_params()
    result = pipeline(params, record_dvc=False)

    # The default store is under mlruns/ in the project, as an absolute path.
    assert result.tracking_uri == f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(result.tracking_uri)
    exp_id = client.get_experiment_by_name("aefx").experiment_id
    runs = client.search_runs([exp_id], filter_string="tags.`aefx.kind` = 'pipeline'")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id == result.run_id and run.info.status == "FINISHED"
    assert run.data.params["autoencoder.epochs"] == "3"
    assert run.data.metrics["ae_epochs"] == 3  # the passes trained, what auto would resolve
    # Its encoder is registered as a version of its own, which the run's record names.
    [version] = client.search_model_versions(f"run_id = '{result.run_id}'")
    assert version.name == "aefx-encoder"
    assert result.model_version == f"models:/aefx-encoder/{version.version}"
    assert read_json(params.paths.run_record)["model_version"] == result.model_version
    # The shipped model's anomaly threshold, which `aefx score` flags rows by.
    shipped = read_json(params.paths.encoder_meta)
    assert run.data.metrics["anomaly_threshold"] == pytest.approx(shipped["anomaly"]["threshold"])
    assert run.data.tags["aefx.entry_point"] == "aefx run"
    assert len(run.data.tags["data.version"]) == 32
    # The splits are the run's datasets, each digest the MD5 that dvc.lock records for it.
    inputs = run.inputs.dataset_inputs
    datasets = {d.dataset.name: (d.dataset.digest, [t.value for t in d.tags]) for d in inputs}
    assert datasets == {
        "synthetic-train": (file_md5(params.paths.train), ["train"]),
        "synthetic-test": (file_md5(params.paths.test), ["test"]),
    }
    assert run.data.tags["host.simd"] in (*SIMD_LEVELS, "unknown")
    for clf in ("logreg", "svm_rbf", "gboost"):
        for feats in ("raw", "pca", "encoded"):
            assert 0 <= run.data.metrics[f"test_accuracy.{clf}.{feats}"] <= 1
            assert f"test_f1_macro.{clf}.{feats}" in run.data.metrics
    history = client.get_metric_history(result.run_id, "ae_val_loss")
    assert [m.step for m in history] == [3]  # 3 epochs: one block, validated at its end
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert "plots/learning_curves.png" in artifacts

    # Child runs, one per classifier x feature set, are searchable by tag.
    with using_store(result.tracking_uri):
        children = mlflow.search_runs(
            [exp_id],
            filter_string="tags.`aefx.kind` = 'comparison' and tags.`aefx.classifier` = 'logreg'",
            output_format="list",
        )
    assert {c.data.tags["aefx.features"] for c in children} == {
        "raw",
        "pca",
        "encoded",
        "raw_encoded",
    }
    assert all(c.data.tags["mlflow.parentRunId"] == result.run_id for c in children)
    seed_scores = client.get_metric_history(children[0].info.run_id, "seed_accuracy")
    assert sorted(m.step for m in seed_scores) == [1, 2]
    assert "diff_accuracy.logreg.encoded_vs_raw" in run.data.metrics

    # Named as its Prefect flow run, so the MLflow and Prefect UIs list it under one name.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as prefect_client:
        flow_run = prefect_client.read_flow_run(run.data.tags["prefect.flow_run_id"])
    assert run.info.run_name == flow_run.name == run.data.tags["prefect.flow_run_name"]

    # The same table is a Prefect artifact on the flow run.
    assert _artifact_keys(run.data.tags["prefect.flow_run_id"]) >= {
        "aefx-comparison",
        "aefx-comparison-report",
    }

    # `aefx compare-runs` lists the run.
    from typer.testing import CliRunner

    from aefx.cli import app

    listed = CliRunner().invoke(app, ["compare-runs", "-n", "3"], env={"COLUMNS": "240"})
    assert listed.exit_code == 0 and result.run_id[:8] in listed.output

    # What `aefx run` prints, read from a log (not a terminal): every cell of the table whole on
    # its line, every path list on one line (rich alone would wrap them at 80 columns).
    from aefx.console import print_summary

    monkeypatch.delenv("COLUMNS", raising=False)
    # Not capsys: Prefect's log handlers may bind to its stream and outlive it.
    with contextlib.redirect_stdout(io.StringIO()) as log_file:
        print_summary(params, result, Path("params.yaml"))
    shown = log_file.getvalue()
    # No Makefile here, as in a project of the user's own: `aefx ui` opens its store.
    assert "Open the MLflow UI:  aefx ui" in shown.splitlines()
    cells = re.findall(r"\d\.\d{4} ± \d\.\d{4}", shown)
    assert len(cells) == len(params.classifiers.use) * len(params.classifiers.features)
    assert re.findall(r"Encoder registered as (\S+)", shown) == [result.model_version]
    assert any(
        line.startswith("Data: ") and line.endswith(str(params.paths.encoded))
        for line in shown.splitlines()
    )
    listed = [
        Path(path)
        for line in shown.splitlines()
        if line.split(": ")[0] in ("Data", "Models", "Reports", "Plots")
        for path in line.split(": ", 1)[1].split(", ")
    ]
    assert len(listed) == 19 and all(path.exists() for path in listed), listed

    # The Prefect flow ran one task per stage, in the order dvc.yaml declares them, and one
    # mapped task per classifier x seed (all feature sets) between encode_splits and the summary.
    names = _task_names_in_order(run.data.tags["prefect.flow_run_id"])
    assert [n for n in names if ", seed " not in n] == list(STAGE_NAMES)
    cells = {n for n in names if ", seed " in n}
    assert len(cells) == 2 * 6 and "gboost, seed 2" in cells
    first, last = names.index("encode_splits"), names.index("compare_classifiers")
    assert all(first < names.index(n) < last for n in cells)

    # The logged encoder (with its scaler) encodes raw rows exactly as the pipeline did.
    with using_store(result.tracking_uri):
        model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/encoder")
    raw = pd.read_parquet(params.paths.test).drop(columns="label")
    codes = model.predict(raw)
    seed = pd.read_json(params.paths.encoder_meta, typ="series")["seed"]
    expected = pd.read_parquet(params.paths.encoded / f"test-seed-{seed}.parquet")
    np.testing.assert_allclose(codes.to_numpy(), expected.drop(columns="label"), atol=1e-5)
    assert model.metadata.signature.inputs.input_names() == list(raw.columns)
    # A value `aefx encode` refuses is refused here too, by column and row, as MLflow's
    # invalid-input error (its scoring server answers 400 with the message): a missing value
    # came out as a row of NaN codes, text as `could not convert string to float`.
    from mlflow.exceptions import MlflowException

    for bad, shown in ((np.nan, "nan"), ("n/a", "'n/a'")):
        rows = raw.head(6).astype({raw.columns[1]: object})
        rows.iloc[3, 1] = bad
        with pytest.raises(MlflowException) as caught:
            model.predict(rows)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
        assert caught.value.message == (
            f"input: column {raw.columns[1]!r} row 3 is not a finite number ({shown})"
        )
    when = raw.head(6).assign(**{raw.columns[2]: pd.Timestamp("2026-12-04")})  # a time
    with pytest.raises(MlflowException) as caught:
        model.predict(when)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert caught.value.message == (
        f"input: column {raw.columns[2]!r} is not numeric (its type is "
        f"{when[raw.columns[2]].dtype}; store it as numbers)"
    )

    # It loads and encodes the same in a Python where aefx is not installed: it carries aefx.
    raw.to_parquet(project / "raw.parquet")
    without_aefx = (
        "import importlib.util, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        f"sys.path[:] = [p for p in sys.path if p not in ('', {str(REPO)!r})]\n"
        "assert importlib.util.find_spec('aefx') is None, 'aefx is importable here'\n"
        "import mlflow, pandas\n"
        f"mlflow.set_tracking_uri({result.tracking_uri!r})\n"
        f"model = mlflow.pyfunc.load_model('runs:/{result.run_id}/encoder')\n"
        "model.predict(pandas.read_parquet('raw.parquet')).to_parquet('codes.parquet')\n"
    )
    done = run_command(sys.executable, "-c", without_aefx, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_parquet(project / "codes.parquet"), codes)


def test_a_scheduled_run_bears_its_deployment_runs_name_and_report(project, prefect_harness):
    """A deployment runs aefx-scheduled, which runs the pipeline as a subflow. The Prefect UI
    lists the deployment's run by its own name, so the subflow and the MLflow run bear it too;
    and the deployment's run, the one a user opens, shows the comparison report."""
    from mlflow.tracking import MlflowClient
    from prefect.client.orchestration import get_client

    from flows.pipeline import scheduled

    # A name of the user's (`prefect deployment run --flow-run-name`), braces and all.
    named = scheduled.with_options(flow_run_name=lambda: "nightly {entry_point}")
    state = named(overrides=["seeds=[1]", "classifiers.use=[logreg]"], return_state=True)
    run = MlflowClient(tracking_uri()).get_run(state.result())
    with get_client(sync_client=True) as client:
        outer = client.read_flow_run(state.state_details.flow_run_id)
        inner = client.read_flow_run(run.data.tags["prefect.flow_run_id"])
    assert inner.id != outer.id and inner.parent_task_run_id is not None
    assert run.info.run_name == run.data.tags["prefect.flow_run_name"] == outer.name
    assert inner.name == outer.name == "nightly {entry_point}"
    assert run.data.tags["aefx.entry_point"] == "aefx-scheduled"

    found = _artifacts(str(outer.id))
    report = project / run.data.tags["aefx.outputs"] / "reports" / "comparison.md"
    assert [(a.type, a.key, a.data) for a in found] == [("markdown", None, report.read_text())]
    assert "logreg" in report.read_text()


def test_a_failing_flow_ends_its_mlflow_run_failed(project, prefect_harness):
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    params = load_params(overrides=["data.source=file", "data.path=data/raw/missing.csv"])
    with pytest.raises(AefxError, match="data file not found"):
        pipeline(params, record_dvc=False)
    client = MlflowClient(tracking_uri())
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    # The failed run still shows what it was asked to do.
    assert runs[0].data.params["data.path"] == "data/raw/missing.csv"
    assert runs[0].data.params["autoencoder.epochs"] == "3"
    assert not (project / "data" / "processed").exists()


def test_a_run_on_a_folder_of_parquet_files_is_tagged_with_their_md5(project, prefect_harness):
    """A run on a file is tagged with its MD5 when it starts, so that even a failed run says
    which data it was given; a run on a folder of Parquet files had no such tag."""
    from mlflow.tracking import MlflowClient

    from aefx.io import folder_md5
    from flows.pipeline import pipeline

    folder = project / "data" / "raw" / "sales.parquet"
    folder.mkdir(parents=True)
    pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]}).to_parquet(folder / "part-0.parquet")
    (folder / "part-1.parquet").write_bytes(b"PAR1 and then cut off")
    (folder / "_SUCCESS").write_bytes(b"")
    params = load_params(overrides=["data.source=file", "data.path=data/raw/sales.parquet"])
    with pytest.raises(AefxError, match=r"sales\.parquet: cannot be read as Parquet"):
        pipeline(params, record_dvc=False)
    client = MlflowClient(tracking_uri())
    [run] = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert run.info.status == "FAILED" and "data.file_md5" not in run.data.tags
    parts = [folder / "part-0.parquet", folder / "part-1.parquet"]
    assert run.data.tags["data.folder_md5"] == folder_md5(folder, parts)


def test_settings_too_large_for_the_training_split_fail_before_any_training(
    project, prefect_harness
):
    """k-NN asked for more neighbours than the training split has rows: the flow says so after
    scaling, in seconds, instead of after every autoencoder has trained."""
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    params = load_params(overrides=["classifiers.knn.n_neighbors=5000"])
    with pytest.raises(AefxError, match=r"k-NN fits on \d+ training rows, fewer than "):
        pipeline(params, record_dvc=False)
    assert params.paths.train_scaled.is_file()
    assert not params.paths.autoencoders.exists()
    client = MlflowClient(tracking_uri())
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_compare_runs_lines_up_failed_runs_in_a_narrow_terminal(project, prefect_harness):
    """Two runs that differ in one long param: `aefx compare-runs` on 80 columns shows both,
    with that param alone (the others are the same in both runs). A run that logged no params
    (as runs that failed early did before params were logged at the start) is listed but does
    not make every param differ."""
    from mlflow.tracking import MlflowClient
    from typer.testing import CliRunner

    from aefx.cli import app
    from aefx.tracking import experiment_id
    from flows.pipeline import pipeline

    client = MlflowClient(tracking_uri())
    bare = client.create_run(experiment_id(client, "aefx"), tags={"aefx.kind": "pipeline"})
    client.set_terminated(bare.info.run_id, status="FAILED")
    folder = "data/raw/" + "a-folder-with-a-long-name/" * 3
    for name in ("first.csv", "second.csv"):
        params = load_params(overrides=["data.source=file", f"data.path={folder}{name}"])
        with pytest.raises(AefxError, match="data file not found"):
            pipeline(params, record_dvc=False)
    listed = CliRunner().invoke(app, ["compare-runs"], env={"COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert sum(line.count("FAILED") for line in lines) == 3
    assert bare.info.run_id[:8] in listed.output
    assert any(line.lstrip("│ ").startswith("data.path") for line in lines)
    assert "autoencoder.epochs" not in listed.output


def test_compare_runs_shows_train_cv_scores_of_cv_runs_before_test_scores(tmp_path):
    """A run in cv mode logged cv_accuracy.*: its training-split scores come first, labelled
    as such; the test split's follow for every run."""
    from mlflow.tracking import MlflowClient
    from rich.console import Console

    from aefx.runs import recent_runs, runs_table
    from aefx.tracking import experiment_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = MlflowClient(uri)
    scores = {
        "holdout": {"test_accuracy.logreg.encoded": 0.9394, "test_accuracy.logreg.raw": 0.8939},
        "cv": {"test_accuracy.logreg.encoded": 0.9412, "cv_accuracy.logreg.encoded": 0.9415},
    }
    for mode, metrics in scores.items():
        run = store.create_run(experiment_id(store, "aefx"), tags={"aefx.kind": "pipeline"})
        store.log_param(run.info.run_id, "evaluation.mode", mode)
        for name, value in metrics.items():
            store.log_metric(run.info.run_id, name, value)
        store.set_terminated(run.info.run_id)
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(runs_table(recent_runs(uri, "aefx", 5)))
    rows = [line.strip("│ ") for line in console.export_text().splitlines()]
    labels = [r.split("│")[0].strip() for r in rows if "accuracy:" in r]
    assert labels == [
        "cv accuracy: logreg on encoded",
        "test accuracy: logreg on encoded",
        "test accuracy: logreg on raw",
    ]
    cv_row = next(r for r in rows if r.startswith("cv accuracy"))
    assert "0.9415" in cv_row and "0.9394" not in cv_row


def _runs_table_cells(uri: str, limit: int = 5) -> list[list[str]]:
    """`aefx compare-runs`' table of the last ``limit`` runs as printed 120 columns wide, one
    list of stripped cells per line (the key first)."""
    from rich.console import Console

    from aefx.runs import recent_runs, runs_table

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(runs_table(recent_runs(uri, "aefx", limit)))
    lines = console.export_text().splitlines()
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]


def test_compare_runs_shows_the_passes_trained_where_they_differ(tmp_path):
    """Under epochs `auto` the param reads "auto" whatever ran; the table shows each run's
    ae_epochs, the passes it trained, once they or the param differ (an older run, which
    logged none, leaves its cell empty), and leaves the row out when every run trained alike."""
    from mlflow.tracking import MlflowClient

    from aefx.tracking import experiment_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = MlflowClient(uri)

    def table() -> list[list[str]]:
        return _runs_table_cells(uri, 3)

    def logged(epochs: str, passes: int | None, path: str, start: int) -> None:
        run = store.create_run(
            experiment_id(store, "aefx"), tags={"aefx.kind": "pipeline"}, start_time=start
        )
        store.log_param(run.info.run_id, "autoencoder.epochs", epochs)
        store.log_param(run.info.run_id, "data.path", path)
        if passes is not None:
            store.log_metric(run.info.run_id, "ae_epochs", passes)
        store.set_terminated(run.info.run_id)

    logged("50", None, "reference", 1000)  # before ae_epochs was logged
    logged("auto", 50, "reference", 2000)
    logged("auto", 50, "reference", 3000)
    assert [row for row in table() if row[:1] == ["epochs trained"]] == [
        ["epochs trained", "50", "50", ""]  # newest first; the param differs
    ]
    logged("auto", 50, "reference", 4000)  # the last three alike: nothing differs
    assert not [row for row in table() if row[:1] == ["epochs trained"]]
    logged("auto", 250, "wine.csv", 5000)  # the param alike, the passes not
    assert [row for row in table() if row[:1] == ["epochs trained"]] == [
        ["epochs trained", "250", "50", "50"]
    ]


def test_compare_runs_names_the_dvc_experiment_of_a_run(tmp_path):
    """A run made by `dvc exp run` carries the experiment's name; the table shows it (to find
    the run's row in `dvc exp show`) once a listed run has one, and not otherwise, nor where
    the run is named after it (as `dvc exp run`'s runs now are: the row repeated the name)."""
    from mlflow.tracking import MlflowClient

    from aefx.tracking import experiment_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = MlflowClient(uri)

    def table() -> list[list[str]]:
        return _runs_table_cells(uri)

    for tags in ({"aefx.entry_point": "dvc repro"}, {"aefx.entry_point": "dvc exp run"}):
        run = store.create_run(experiment_id(store, "aefx"), tags={"aefx.kind": "pipeline", **tags})
        store.set_terminated(run.info.run_id)
        if tags["aefx.entry_point"] == "dvc repro":
            assert not [row for row in table() if row[:1] == ["dvc experiment"]]
    store.set_tag(run.info.run_id, "dvc.exp_name", "c-quarter")
    [row] = [row for row in table() if row[:1] == ["dvc experiment"]]
    assert row == ["dvc experiment", "c-quarter", ""]  # newest first
    # A run named after its experiment, as `dvc exp run`'s runs are: the name row says it.
    store.update_run(run.info.run_id, name="c-quarter")
    assert not [row for row in table() if row[:1] == ["dvc experiment"]]
    assert [row[1] for row in table() if row[:1] == ["name"]] == ["c-quarter"]


def test_compare_runs_names_each_run_as_the_mlflow_and_prefect_uis_do(tmp_path):
    """A column's heading is the run id's start; its name, which a flow's run shares with its
    Prefect flow run, is what the two UIs list."""
    from mlflow.tracking import MlflowClient

    from aefx.tracking import experiment_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = MlflowClient(uri)
    for name in ("brave-lynx", "fervent-oxpecker"):
        run = store.create_run(
            experiment_id(store, "aefx"), tags={"aefx.kind": "pipeline"}, run_name=name
        )
        store.set_terminated(run.info.run_id)
    rows = _runs_table_cells(uri)
    [at] = [i for i, row in enumerate(rows) if row[:1] == ["name"]]
    # Newest first; a name too long for its cell breaks after a hyphen, not mid-word.
    assert rows[at : at + 2] == [["name", "fervent-", "brave-lynx"], ["", "oxpecker", ""]]


def test_compare_runs_shows_macro_f1_first_once_a_run_was_judged_by_it(tmp_path):
    """Every run logs test_f1_macro.*; it is a headline only when a run's evaluation.metric
    was f1_macro, and then it comes before accuracy."""
    from mlflow.tracking import MlflowClient

    from aefx.runs import headline_metrics, recent_runs
    from aefx.tracking import experiment_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = MlflowClient(uri)
    metrics = {"test_accuracy.logreg.encoded": 0.97, "test_f1_macro.logreg.encoded": 0.49}

    def log(metric: str) -> None:
        run = store.create_run(experiment_id(store, "aefx"), tags={"aefx.kind": "pipeline"})
        store.log_param(run.info.run_id, "evaluation.metric", metric)
        for name, value in metrics.items():
            store.log_metric(run.info.run_id, name, value)
        store.set_terminated(run.info.run_id)

    log("accuracy")
    assert headline_metrics(recent_runs(uri, "aefx", 5)) == ["test_accuracy.logreg.encoded"]
    log("f1_macro")
    assert headline_metrics(recent_runs(uri, "aefx", 5)) == [
        "test_f1_macro.logreg.encoded",
        "test_accuracy.logreg.encoded",
    ]


def test_digits_with_a_conv_autoencoder_and_a_cnn_classifier(project, prefect_harness):
    """Images end to end: embedded digits, conv autoencoder, the CNN on raw pixels beside
    cheap classifiers on codes, and the pictures logged to MLflow."""
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    params = load_params(
        overrides=[
            "data.source=digits",
            "data.max_rows=240",
            "data.stratify=true",
            "autoencoder.kind=conv",
            "classifiers.use=[logreg, cnn]",
            "classifiers.cnn.epochs=3",
        ]
    )
    result = pipeline(params, record_dvc=False)
    p = params.paths
    encoded = pd.read_parquet(p.encoded / "train-seed-1.parquet")
    assert encoded.shape[1] - 1 == 2 * 2 * 8  # 8x8 pooled twice to 2x2, 8 code channels
    rows = {(r["classifier"], r["features"]) for r in result.records}
    assert ("cnn", "raw") in rows and ("cnn", "encoded") not in rows
    assert {("logreg", f) for f in ("raw", "pca", "encoded", "raw_encoded")} <= rows
    table = p.comparison_table.read_text()
    assert "| cnn |" in table and "n/a" in table

    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["data.source"] == "digits"
    assert 0 < run.data.metrics["ae_test_mse"] < 0.25
    assert 0 <= run.data.metrics["test_accuracy.cnn.raw"] <= 1
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert {"plots/reconstructions.png", "plots/codes_2d.png"} <= plots
    metrics = read_json(p.autoencoder_metrics)
    assert set(metrics["per_seed"]) == {"seed_1", "seed_2"}
    assert metrics["test_bce_mean"] > 0 and metrics["mean_code_activation_mean"] > 0
