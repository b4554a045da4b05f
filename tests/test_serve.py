"""Scheduled runs against a real Prefect server on a free loopback port: `aefx serve` with a
short interval, a run completing and one failing on bad data, and prefect.yaml deploying to a
work pool whose worker runs it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from aefx.console import QUIET_ENV
from aefx.io import file_md5
from tests.conftest import (
    REPO,
    TINY_PARAMS,
    background,
    copy_project,
    free_port,
    healthy,
    running_runs,
    subprocess_env,
    wait_for,
    write_params,
)

pytestmark = pytest.mark.slow


def _flow_runs(api: str, state: str) -> list[dict]:
    body = {
        "flows": {"name": {"any_": ["aefx-scheduled"]}},
        "flow_runs": {"state": {"type": {"any_": [state]}}},
    }
    try:
        return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    except httpx.HTTPError:
        return []


def _task_runs(api: str, name: str) -> list[dict]:
    """The running task runs whose name holds ``name``."""
    body = {"task_runs": {"name": {"like_": name}, "state": {"type": {"any_": ["RUNNING"]}}}}
    try:
        return httpx.post(f"{api}/task_runs/filter", json=body, timeout=10).json()
    except httpx.HTTPError:
        return []


def _runs(project: Path) -> list:
    from mlflow.tracking import MlflowClient

    store = project / "mlruns" / "mlflow.db"
    if not store.is_file():
        return []
    client = MlflowClient(f"sqlite:///{store}")
    exp = client.get_experiment_by_name("aefx")
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], "tags.`aefx.kind` = 'pipeline'")


@contextlib.contextmanager
def _prefect_server(tmp_path: Path, project: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Prefect server on a free port for the block, answering; its API address, and the
    environment for its clients (a home of its own, schedules and runners polling each
    second). Its log is server.log in ``tmp_path``."""
    port = free_port()
    env = subprocess_env()
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="1",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_UI_ENABLED="false",
    )
    api, log = f"http://127.0.0.1:{port}/api", tmp_path / "server.log"
    server = ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with background(server, project, env, log):
        wait_for(lambda: healthy(f"{api}/health"), 180, "the Prefect server", log)
        yield api, {**env, "PREFECT_API_URL": api}


def test_served_schedule_runs_the_pipeline_and_fails_loudly_on_bad_data(tmp_path):
    from sklearn.datasets import make_classification

    project = copy_project(tmp_path / "project")
    shutil.copy(REPO / "prefect.yaml", project / "prefect.yaml")
    params = write_params(project)
    tree = yaml.safe_load(params.read_text())
    tree["data"].update(source="file", path="data/raw/table.csv")
    tree["classifiers"]["use"] = ["logreg"]
    params.write_text(yaml.safe_dump(tree))
    X, y = make_classification(n_samples=120, n_features=8, random_state=0)
    table = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(label=y)
    data = project / "data" / "raw" / "table.csv"
    table.to_csv(data, index=False)

    serve_log = tmp_path / "serve.log"
    with _prefect_server(tmp_path, project) as (api, env):
        serve = ["aefx", "serve", "--interval", "5", "--name", "test"]
        with background(serve, project, env, serve_log):
            completed = wait_for(
                lambda: _flow_runs(api, "COMPLETED"), 300, "a completed run", serve_log
            )
            # Its MLflow run finished, recorded the data it read and links back to Prefect.
            finished = [r for r in _runs(project) if r.info.status == "FINISHED"]
            assert finished, "no finished MLflow run"
            run = finished[0]
            assert run.data.tags["aefx.entry_point"] == "deployment test"
            assert run.data.tags["data.file_md5"] == file_md5(data)
            assert len(run.data.tags["data.version"]) == 32
            assert run.data.tags["prefect.flow_run_id"]
            assert (project / "reports" / "comparison.md").is_file()
            assert completed[0]["deployment_id"]
            assert "oneDNN" not in serve_log.read_text()  # TensorFlow's start-up lines

            # The next runs read the file as it is then: broken data fails them loudly.
            table.astype({"f3": object}).assign(f3="oops").to_csv(data, index=False)
            wait_for(lambda: _flow_runs(api, "FAILED"), 300, "a failed run", serve_log)
            failed = wait_for(
                lambda: [r for r in _runs(project) if r.info.status == "FAILED"],
                60,
                "a FAILED MLflow run",
                serve_log,
            )
            assert failed[0].data.tags["data.file_md5"] == file_md5(data)

        # prefect.yaml deploys the same flow with a cron schedule for workers.
        deploy_env = {**env, "AEFX_PROJECT_DIR": str(project)}
        for args in (
            ["prefect", "work-pool", "create", "aefx", "--type", "process"],
            ["prefect", "--no-prompt", "deploy", "--name", "aefx-nightly"],
        ):
            done = subprocess.run(
                args, cwd=project, env=deploy_env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
        deployment = httpx.get(f"{api}/deployments/name/aefx-scheduled/aefx-nightly").json()
        assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 3 * * *"]
        assert deployment["parameters"]["params_file"] == "params.yaml"
        assert deployment["work_pool_name"] == "aefx"
        directory = deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert directory["directory"] == str(project)

        # A worker runs it, in the project, with the environment prefect.yaml gives (the test's
        # own is taken away): the stage logs reach the Prefect UI, TensorFlow's lines stay out.
        table.to_csv(data, index=False)
        finished = len([r for r in _runs(project) if r.info.status == "FINISHED"])
        worker_env = {k: v for k, v in env.items() if k not in QUIET_ENV}
        for args in (
            ["prefect", "deployment", "run", "aefx-scheduled/aefx-nightly"],
            ["prefect", "worker", "start", "--pool", "aefx", "--run-once"],
        ):
            done = subprocess.run(
                args, cwd=tmp_path, env=worker_env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
        assert "oneDNN" not in done.stdout + done.stderr
        [flow_run] = [
            r for r in _flow_runs(api, "COMPLETED") if r["deployment_id"] == deployment["id"]
        ]
        runs = [r for r in _runs(project) if r.info.status == "FINISHED"]
        assert len(runs) == finished + 1
        assert runs[0].data.tags["aefx.entry_point"] == "deployment aefx-nightly"
        assert runs[0].info.run_name == flow_run["name"]  # as the deployment lists the run
        body = {"flow_runs": {"parent_flow_run_id": {"any_": [flow_run["id"]]}}}
        [pipeline_run] = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        body = {"logs": {"flow_run_id": {"any_": [pipeline_run["id"]]}}, "limit": 200}
        logs = httpx.post(f"{api}/logs/filter", json=body, timeout=10).json()
        assert {"tasks.ingest", "tasks.train_autoencoder"} <= {log["name"] for log in logs}


def test_a_served_run_cancelled_in_prefect_ends_its_mlflow_run_killed(tmp_path):
    """Cancel on a scheduled run in the Prefect UI (`prefect flow-run cancel` makes the same
    call) stops it in training: the flow run ends Cancelled and its MLflow run KILLED, neither
    left running."""
    project = copy_project(tmp_path / "project")
    slow = {"epochs": 5000, "batch_size": 8, "bottleneck_ratio": 0.5}
    write_params(project, {**TINY_PARAMS, "autoencoder": slow})  # trains until cancelled
    serve_log = tmp_path / "serve.log"
    with _prefect_server(tmp_path, project) as (api, env):
        serve = ["aefx", "serve", "--interval", "86400", "--name", "test"]
        with background(serve, project, env, serve_log):
            started = ["prefect", "deployment", "run", "aefx-scheduled/test"]
            wait_for(
                lambda: subprocess.run(started, cwd=project, env=env, capture_output=True)
                .returncode == 0,
                120, "the served deployment", serve_log,
            )  # fmt: skip
            # Read-only until the run is open: an MLflow client would race the served run
            # creating the store's tables.
            store = project / "mlruns" / "mlflow.db"
            wait_for(lambda: running_runs(store), 300, "a running MLflow run", serve_log)
            wait_for(lambda: _task_runs(api, "train_autoencoder"), 300, "training", serve_log)
            [run] = _runs(project)
            [flow_run] = _flow_runs(api, "RUNNING")
            cancel = ["prefect", "flow-run", "cancel", flow_run["id"]]
            done = subprocess.run(cancel, cwd=project, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            wait_for(lambda: _flow_runs(api, "CANCELLED"), 120, "a cancelled run", serve_log)
            ended = wait_for(
                lambda: [r for r in _runs(project) if r.info.status != "RUNNING"],
                60, "the MLflow run's end", serve_log,
            )  # fmt: skip
            assert [(r.info.run_id, r.info.status) for r in ended] == [(run.info.run_id, "KILLED")]
