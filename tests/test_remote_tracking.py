"""A remote MLflow tracking server: `mlflow server` on loopback with a database backend and a
served artifact store; the pipeline logs to it, and `aefx encode` and `mlflow models serve` read
the registered model back."""

from __future__ import annotations

import os
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from aefx.config import load_params
from tests.conftest import (
    background,
    free_port,
    healthy,
    http_answering,
    run_command,
    subprocess_env,
    wait_for,
)

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
        assert {d.dataset.name for d in run.inputs.dataset_inputs} == {
            "synthetic-train",
            "synthetic-test",
        }
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
        codes = pd.read_parquet(project / "codes.parquet")
        assert len(codes) == len(raw)

        # MLflow's own scoring server serves the registered version: raw rows in, codes out.
        port = free_port()
        serve = [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/aefx-encoder/1",
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        log = tmp_path / "models-serve.log"
        with background(serve, project, {**subprocess_env(), "MLFLOW_TRACKING_URI": uri}, log):
            wait_for(lambda: healthy(f"http://127.0.0.1:{port}/ping"), 180, "models serve", log)
            rows = raw.drop(columns="label").head(3)
            answer = httpx.post(
                f"http://127.0.0.1:{port}/invocations",
                json={"dataframe_split": rows.to_dict(orient="split")},
                timeout=60,
            )
            # A row it cannot encode is the client's mistake, named: 400 and the message.
            gap = rows.astype({rows.columns[2]: object})
            gap.iloc[1, 2] = "n/a"
            refused = httpx.post(
                f"http://127.0.0.1:{port}/invocations",
                json={"dataframe_split": gap.to_dict(orient="split")},
                timeout=60,
            )
        assert answer.status_code == 200, answer.text
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].endswith(
            f"input: column {rows.columns[2]!r} row 1 is not a finite number ('n/a')"
        )
        served = pd.DataFrame(answer.json()["predictions"])
        assert list(served.columns) == [c for c in codes.columns if c != "label"]
        np.testing.assert_allclose(served.to_numpy(), codes[served.columns].head(3), atol=1e-5)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, "<html>a web page</html>", "does not answer as an MLflow tracking server"),
        (404, '{"detail": "Not Found"}', "does not answer as an MLflow tracking server"),
        (405, "<html>Method Not Allowed</html>", "does not answer as an MLflow tracking server"),
        (401, "Unauthorized", "refused the request (HTTP 401); set MLFLOW_TRACKING_USERNAME"),
        (403, "Permission denied", "refused the request (HTTP 403); set"),
        (503, "<html>Service Unavailable</html>", "did not answer (HTTP 503)"),
    ],
)
@pytest.mark.usefixtures("direct")
def test_a_server_that_is_not_a_working_mlflow_is_one_line(monkeypatch, status, body, message):
    """The port is open but MLflow's API does not answer there: another service (Prefect's
    404), a login in front, or a proxy whose MLflow is down (503, which MLflow's client retried
    for minutes). The check asks once, with MLflow's client, and leaves its retries as set."""
    from aefx.errors import AefxError
    from aefx.servers import require_tracking_store

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    with http_answering(status, body) as (uri, asked), pytest.raises(AefxError) as raised:
        require_tracking_store(uri)
    assert message in str(raised.value) and len(str(raised.value).splitlines()) == 1
    assert asked == ["/api/2.0/mlflow/experiments/search"]
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def test_behind_a_proxy_only_the_api_question_is_asked_through_it(monkeypatch):
    """Through a proxy only the proxy is reachable from here, so a direct connection proves
    nothing: the TCP check steps aside, and the one API question goes through the proxy, as
    MLflow's own requests will."""
    from aefx.errors import AefxError
    from aefx.servers import require_tracking_store

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AefxError, match="is not reachable"):
        require_tracking_store(uri)
    with http_answering(200, '{"experiments": []}') as (proxy, asked):
        monkeypatch.setenv("http_proxy", proxy)
        require_tracking_store(uri)
    assert asked == [f"{uri}/api/2.0/mlflow/experiments/search"]  # a proxy is asked whole URLs
    require_tracking_store("sqlite:///nowhere/mlflow.db")  # a file store has no server to ask


@pytest.mark.usefixtures("direct")
def test_a_databricks_uri_needs_a_workspace_that_answers(tmp_path, monkeypatch):
    """`tracking.uri: databricks` without a workspace failed in MLflow's traceback once the run
    had started; with a DATABRICKS_HOST that does not answer, the Databricks SDK spent five
    minutes fetching its metadata. The host is found by the SDK's own rules: its environment
    first, then the profile (DEFAULT, or the one the URI names) in its config file."""
    from aefx.errors import AefxError
    from aefx.servers import require_tracking_store

    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    config = tmp_path / "databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    with pytest.raises(AefxError) as raised:
        require_tracking_store("databricks")
    assert str(raised.value) == (
        "MLflow tracking URI 'databricks': no Databricks workspace named for it; set "
        "DATABRICKS_HOST and DATABRICKS_TOKEN, or a profile with its host in ~/.databrickscfg"
    )

    closed = [free_port() for _ in range(3)]  # nothing listens on these
    config.write_text(
        f"[DEFAULT]\nhost = https://127.0.0.1:{closed[0]}\ntoken = t\n"
        f"[team]\ntoken = t\n[other]\nhost = 127.0.0.1:{closed[1]}\n"
    )
    for uri, host in [
        ("databricks", f"https://127.0.0.1:{closed[0]}"),
        ("databricks://other", f"https://127.0.0.1:{closed[1]}"),  # the SDK adds the scheme
    ]:
        with pytest.raises(AefxError) as raised:
            require_tracking_store(uri)
        assert str(raised.value) == (
            f"Databricks workspace {host} (MLflow tracking URI {uri!r}) is not reachable "
            "(Connection refused); check DATABRICKS_HOST or the profile's host"
        )
    # [DEFAULT] is a profile of its own to the SDK, not defaults for the others.
    with pytest.raises(AefxError, match=r"'databricks://team': no Databricks workspace named "):
        require_tracking_store("databricks://team")
    with pytest.raises(AefxError, match=r"'databricks://gone': .* \(resolve: .* no gone profile"):
        require_tracking_store("databricks://gone")

    monkeypatch.setenv("DATABRICKS_HOST", f"https://127.0.0.1:{closed[2]}")
    for uri in ("databricks", "databricks://other"):  # the environment comes first
        with pytest.raises(AefxError, match=f"Databricks workspace https://127.0.0.1:{closed[2]} "):
            require_tracking_store(uri)

    with http_answering(404, "<html>not Databricks</html>") as (url, asked):
        monkeypatch.setenv("DATABRICKS_HOST", url)
        require_tracking_store("databricks")  # it answers: the rest is MLflow's to ask
    assert asked == []  # a TCP connection only, not the SDK's metadata fetch
    monkeypatch.delenv("DATABRICKS_HOST")
    config.unlink()
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    require_tracking_store("databricks")  # a notebook's context holds the credentials


def test_a_tracking_url_with_no_host_is_refused_as_such():
    """`http://` was asked as a host named `api`: `did not answer (... host='api' ...)`."""
    from aefx.errors import AefxError
    from aefx.servers import require_tracking_store

    with pytest.raises(AefxError) as raised:
        require_tracking_store("http://")
    assert str(raised.value) == (
        "MLflow tracking URI 'http://' names no host (e.g. http://127.0.0.1:5000)"
    )
