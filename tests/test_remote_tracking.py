"""A remote MLflow tracking server: `mlflow server` on loopback with a database backend and a
served artifact store; the pipeline logs to it and `aefx encode` reads the model back."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from aefx.config import load_params
from tests.conftest import background, free_port, healthy, run_command, subprocess_env, wait_for

pytestmark = pytest.mark.slow


def test_pipeline_logs_to_a_remote_mlflow_server(project, prefect_harness, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from flows.pipeline import pipeline

    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    server = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{server_dir / 'mlflow.db'}",
        "--artifacts-destination", str(server_dir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = tmp_path / "mlflow-server.log"
    with background(server, server_dir, subprocess_env(), log):
        wait_for(lambda: healthy(f"{uri}/health"), 180, "the MLflow server", log)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        params = load_params(overrides=["classifiers.use=[logreg]"])
        result = pipeline(params, record_dvc=False)

        assert result.tracking_uri == uri
        client = MlflowClient(uri)
        run = client.get_run(result.run_id)
        assert run.info.status == "FINISHED"
        # The server chose where artifacts go, and they landed in its store, not the project.
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        assert {a.path for a in client.list_artifacts(result.run_id, "plots")} >= {
            "plots/learning_curves.png",
            "plots/comparison.png",
        }
        assert list((server_dir / "artifacts").rglob("encoder.keras"))
        assert not (project / "mlruns" / "mlflow.db").exists()
        assert client.get_model_version("aefx-encoder", "1").run_id == result.run_id

        # A user elsewhere encodes with the registered version, fetched over HTTP.
        raw = pd.read_parquet(params.paths.test)
        raw.to_csv(project / "new.csv", index=False)
        done = run_command(
            sys.executable, "-m", "aefx", "encode", "-m", "models:/aefx-encoder/1",
            "-i", "new.csv", "-o", "codes.parquet", cwd=project,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(pd.read_parquet(project / "codes.parquet")) == len(raw)
