"""`dvc repro` in a temporary Git repository: the stages, their caching, and the flow's record."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from aefx.io import file_md5
from aefx.pipeline import STAGE_NAMES
from tests.conftest import dvc, mlflow_runs, ran_stages, sh

pytestmark = pytest.mark.slow


def test_flow_run_is_versioned_and_repro_reruns_only_what_changed(repo: Path):
    # `aefx run` records what it produced in dvc.lock, and leaves cached outputs to DVC.
    sh(sys.executable, "-m", "aefx", "run", cwd=repo)
    assert json.loads(dvc("status", "--json", cwd=repo).strip().splitlines()[-1]) == {}
    untracked = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=repo)
    leaked = [
        line
        for line in untracked.splitlines()
        if line.startswith(("?? models", "?? data")) and not line.endswith(".gitignore")
    ]
    assert "?? models/.gitignore" in untracked.splitlines() and not leaked
    runs = mlflow_runs(repo)
    assert len(runs) == 1 and runs[0].data.tags["aefx.entry_point"] == "aefx run"

    # Nothing changed: nothing runs, nothing is logged.
    assert ran_stages(dvc("repro", cwd=repo)) == set()
    assert len(mlflow_runs(repo)) == 1

    # A classifier-only param re-runs the comparison (and its record), never the autoencoder.
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "results", cwd=repo)
    model = repo / "models" / "autoencoders" / "seed-1.keras"
    before = (file_md5(model), model.stat().st_mtime_ns)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["classifiers"]["logreg"]["C"] = 0.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    repro = dvc("repro", cwd=repo)
    assert ran_stages(repro) == {"compare_classifiers", "log_run"}
    assert (file_md5(model), model.stat().st_mtime_ns) == before
    runs = mlflow_runs(repo)
    assert len(runs) == 2 and runs[0].data.tags["aefx.entry_point"] == "dvc repro"
    # The stage names the version it registered, the run's own, as `aefx run` does.
    [named] = re.findall(r"Encoder registered as (models:/\S+/\d+)", repro)
    assert registered_run(repo, named) == runs[0].info.run_id
    assert runs[0].data.params["classifiers.logreg.C"] == "0.5"

    # DVC compares the two experiments: metrics and plots against the last commit.
    changed = json.loads(dvc("metrics", "diff", "--json", cwd=repo).strip().splitlines()[-1])
    scores = changed["metrics/scores.json"]
    assert any(key.startswith("logreg.") for key in scores)
    assert not any(key.startswith("svm_rbf.") for key in scores)  # untouched classifier
    dvc("plots", "diff", "--json", cwd=repo)

    # A DVC experiment in a temporary workspace logs to the project's store, not a stray one,
    # and its MLflow run names the experiment that `dvc exp show` lists.
    exp = ("exp", "run", "--temp", "--name", "c-quarter")
    dvc(*exp, "--set-param", "classifiers.logreg.C=0.25", cwd=repo)
    assert len(mlflow_runs(repo)) == 3
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))
    run = mlflow_runs(repo)[0]
    tags = run.data.tags
    assert tags["aefx.entry_point"] == "dvc exp run" and tags["dvc.exp_name"] == "c-quarter"
    assert run.info.run_name == "c-quarter"
    head = sh("git", "rev-parse", "HEAD", cwd=repo).strip()
    assert tags["dvc.exp_baseline_rev"] == head

    # The code a stage imports is a dependency too: a changed data rule re-runs ingest.
    with open(repo / "aefx" / "validation.py", "a") as module:
        module.write("\n# a rule changed\n")
    status = json.loads(dvc("status", "--json", cwd=repo).strip().splitlines()[-1])
    assert {"changed deps": {"aefx/validation.py": "modified"}} in status["ingest"]


def registered_run(repo: Path, uri: str) -> str:
    """The id of the run that the registered version ``models:/NAME/N`` came from."""
    from mlflow.tracking import MlflowClient

    name, version = uri.removeprefix("models:/").rsplit("/", 1)
    client = MlflowClient(f"sqlite:///{repo / 'mlruns' / 'mlflow.db'}")
    return client.get_model_version(name, version).run_id


def test_repro_from_scratch_and_push_pull_through_a_local_remote(repo: Path, tmp_path: Path):
    assert ran_stages(dvc("repro", cwd=repo)) == set(STAGE_NAMES)
    (run,) = mlflow_runs(repo)
    assert run.info.status == "FINISHED" and run.data.tags["aefx.entry_point"] == "dvc repro"
    assert run.data.tags["git.commit"] != "none"
    assert "test_accuracy.logreg.encoded" in run.data.metrics
    # The run's datasets are the splits as dvc.lock versions them: the same MD5s.
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    locked = {out["path"]: out["md5"] for out in lock["stages"]["ingest"]["outs"]}
    assert {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs} == {
        "synthetic-train": locked["data/processed/train.parquet"],
        "synthetic-test": locked["data/processed/test.parquet"],
    }

    remote = tmp_path / "remote"
    dvc("remote", "add", "-d", "local", str(remote), cwd=repo)
    dvc("push", cwd=repo)
    encoder = repo / "models" / "encoder.keras"
    digest = file_md5(encoder)
    for out in ("models", "data/processed", "data/scaled", "data/encoded", ".dvc/cache"):
        shutil.rmtree(repo / out)
    dvc("pull", cwd=repo)
    assert file_md5(encoder) == digest
    assert (repo / "data" / "processed" / "train.parquet").is_file()
    assert json.loads(dvc("status", "--json", cwd=repo).strip().splitlines()[-1]) == {}


def test_the_comparison_plot_draws_the_metric_the_run_is_judged_by(repo: Path):
    """`dvc plots show` drew accuracy whatever evaluation.metric said; dvc.yaml now takes the
    metric from params.yaml. (The rows are the shape compare_classifiers writes; DVC reads the
    file, it need not be produced for this.)"""
    rows = [
        {"classifier": "logreg", "features": name, "accuracy": 0.97, "f1_macro": score}
        for name, score in (("raw", 0.49), ("encoded", 0.77))
    ]
    (repo / "metrics").mkdir()
    (repo / "metrics" / "comparison.json").write_text(json.dumps(rows))
    for metric in ("accuracy", "f1_macro"):
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["evaluation"]["metric"] = metric
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        output = dvc("plots", "show", "--json", cwd=repo)  # with a line on the plots not there
        shown = json.loads(next(ln for ln in output.splitlines() if ln.startswith("{")))
        [plot] = shown["data"]["metrics/comparison.json"]
        spec = plot["content"]
        assert spec["title"]["text"] == f"test {metric} by feature set"
        assert spec["encoding"]["x"]["field"] == metric
        drawn = {v["features"]: float(v[metric]) for v in spec["data"]["values"]}
        assert drawn == {row["features"]: row[metric] for row in rows}


def test_a_data_file_outside_raw_dir_is_warned_of_and_seen_once_raw_dir_holds_it(
    repo: Path, tmp_path: Path
):
    """dvc.yaml's ingest stage depends on paths.raw_dir: a data.path outside it was read, but
    an edit of the file left `dvc status` up to date. Ingest says so (under `dvc repro`), and
    with paths.raw_dir set to the file's folder an edit is seen and re-runs ingest."""
    import numpy as np
    import pandas as pd

    outside = tmp_path / "elsewhere" / "table.csv"
    outside.parent.mkdir()
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"])
    table["label"] = [0, 1] * 30
    table.to_csv(outside, index=False)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"].update(source="file", path=str(outside))
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    def status() -> dict:
        return json.loads(dvc("status", "ingest", "--json", cwd=repo).strip().splitlines()[-1])

    warning = "data.path is outside paths.raw_dir (data/raw)"
    assert warning in dvc("repro", "ingest", cwd=repo)
    table.iloc[:50].to_csv(outside, index=False)
    assert status() == {}  # what the warning is about: DVC does not see the file

    params["paths"]["raw_dir"] = str(outside.parent)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    output = dvc("repro", "ingest", cwd=repo)
    assert ran_stages(output) == {"ingest"} and warning not in output
    assert status() == {}
    table.iloc[:40].to_csv(outside, index=False)
    assert "ingest" in status()
    assert ran_stages(dvc("repro", "ingest", cwd=repo)) == {"ingest"}
    assert len(pd.read_parquet(repo / "data" / "processed" / "train.parquet")) == 26

    # Images in a .npy take their labels from data.labels_path, which is read too.
    from aefx.config import load_params
    from aefx.pipeline import untracked_source

    images = ["data.source=images", "data.path=data/raw/x.npy"]
    inside = load_params(overrides=[*images, "data.labels_path=data/raw/y.npy"])
    assert untracked_source(inside) is None
    elsewhere = load_params(overrides=[*images, f"data.labels_path={tmp_path / 'y.npy'}"])
    assert "data.labels_path is outside paths.raw_dir" in untracked_source(elsewhere)


def test_the_warning_of_a_data_file_outside_raw_dir_is_for_dvc_projects_alone(tmp_path: Path):
    """Outside a DVC project (no dvc.yaml) there is nothing for DVC to miss: `aefx stage ingest`
    of a file elsewhere says nothing of it; with a dvc.yaml it warns."""
    import pandas as pd

    from tests.conftest import run_command, write_params

    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "table.csv"
    pd.DataFrame({"a": range(40), "b": [0.5, 1.5] * 20, "label": [0, 1] * 20}).to_csv(
        outside, index=False
    )
    write_params(project, {"data": {"source": "file", "path": str(outside)}})
    warning = "data.path is outside paths.raw_dir"
    done = run_command(sys.executable, "-m", "aefx", "stage", "ingest", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "data" / "processed" / "train.parquet").is_file()
    assert warning not in done.stderr
    shutil.copy(Path(__file__).parents[1] / "dvc.yaml", project / "dvc.yaml")
    done = run_command(sys.executable, "-m", "aefx", "stage", "ingest", cwd=project)
    assert done.returncode == 0 and warning in done.stderr, done.stderr


def test_a_project_without_git_runs_without_recording_in_dvc_lock(repo: Path):
    """A project from an archive has .dvc/ and dvc.yaml but no .git, and DVC works inside a Git
    repository: `aefx run` wrote and logged every output, then failed in DVC's SCMError
    traceback recording them. It says why it cannot record, and the run stands."""
    from flows.pipeline import record_in_dvc

    shutil.rmtree(repo / ".git")
    assert record_in_dvc(repo) is False
    assert not (repo / "dvc.lock").exists()
