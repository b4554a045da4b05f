"""Shared fixtures: a tiny project directory, tiny params, one Prefect harness per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from aefx.console import QUIET_ENV

for _key, _value in QUIET_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.pop("MLFLOW_TRACKING_URI", None)

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# A small version of the reference task: fast enough for every test, same code paths.
TINY_PARAMS = {
    "seeds": [1, 2],
    "data": {
        "synthetic": {"n_samples": 120, "n_features": 12, "n_informative": 4, "n_redundant": 8}
    },
    "autoencoder": {
        "epochs": 3,
        "batch_size": 32,
        "bottleneck_ratio": 0.5,
        "hidden_ratios": [2.0, 1.0],
    },
    "classifiers": {"gboost": {"max_iter": 10}},
}


def _merge(base: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def write_params(directory: Path, changes: dict | None = None) -> Path:
    """The repo's params.yaml (dvc.yaml interpolates its paths) with ``changes`` applied."""
    tree = yaml.safe_load((REPO / "params.yaml").read_text())
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(_merge(tree, TINY_PARAMS if changes is None else changes)))
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory with tiny params, as the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    write_params(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness (a temporary database and server), started once: ~9 s."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def copy_project(dest: Path) -> Path:
    """The files a user's clone has that `dvc repro` needs, without data or run state."""
    for name in ("aefx", "tasks", "flows"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "mlruns").mkdir()
    for name in ("dvc.yaml", "pyproject.toml", ".gitignore", "mlruns/.gitignore"):
        shutil.copy(REPO / name, dest / name)
    (dest / "data" / "raw").mkdir(parents=True)
    (dest / "data" / "raw" / ".gitkeep").touch()
    return dest


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command as a user would, with this venv's tools on PATH."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def start_command(*args: str, cwd: Path, new_session: bool = False) -> subprocess.Popen:
    """A command started as a user would, its stderr piped (for :func:`signal_when`); with
    ``new_session``, as a terminal starts a job: the leader of a process group of its own."""
    return subprocess.Popen(
        list(args),
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def signal_when(
    proc: subprocess.Popen,
    ready: Callable[[], bool],
    settle: float = 0.0,
    wait: float = 240,
    signum: int = signal.SIGTERM,
    group: bool = False,
    poll: float = 0.1,
) -> str:
    """Send ``signum`` (SIGTERM: a scheduler's or a timeout's) to ``proc`` once ``ready()``
    holds and ``settle`` seconds more have passed, and return its stderr. With ``group``, to
    its whole process group, as a terminal's Ctrl-C does. Fails if it ends first."""
    try:
        deadline = time.monotonic() + wait
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(poll)
        time.sleep(settle)
        if group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return stderr


def running_runs(store: Path) -> int:
    """How many RUNNING runs the SQLite MLflow store holds. Read-only with sqlite3: an MLflow
    client would race the process creating the store's tables."""
    import sqlite3

    if not store.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            query = "SELECT count(*) FROM runs WHERE status = 'RUNNING'"
            return db.execute(query).fetchone()[0]
    except sqlite3.Error:  # no runs table yet, or locked by the writer: look again
        return 0


def sh(*args: str, cwd: Path) -> str:
    done = run_command(*args, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def dvc(*args: str, cwd: Path) -> str:
    return sh(sys.executable, "-m", "dvc", *args, cwd=cwd)


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def train_autoencoders(params) -> None:
    """The stages up to the shipped encoder, run as plain functions: what `aefx encode`,
    `score` and `reconstruct` need, without the comparison."""
    from aefx.pipeline import STAGES

    for stage in STAGES:
        if stage.name == "compare_classifiers":
            return
        stage.run(params)


def mlflow_runs(repo: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlruns' / 'mlflow.db'}")
    exp_id = client.get_experiment_by_name("aefx").experiment_id
    return client.search_runs([exp_id], filter_string="tags.`aefx.kind` = 'pipeline'")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = copy_project(tmp_path / "project")
    write_params(root)
    for args in (
        ("git", "init", "-q"),
        ("git", "config", "user.email", "t@example.invalid"),
        ("git", "config", "user.name", "t"),
    ):
        sh(*args, cwd=root)
    dvc("init", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "project", cwd=root)
    return root


@pytest.fixture
def direct(monkeypatch):
    """No HTTP proxy: behind one the server checks step aside."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def http_answering(status: int, body: str) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers every request with ``status`` and ``body`` (JSON if it
    parses as such, else HTML); yields its URL and the paths asked for, as they come."""
    import http.server
    import json
    import threading

    asked: list[str] = []
    try:
        json.loads(body)
        kind = "application/json"
    except ValueError:
        kind = "text/html"

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            asked.append(self.path.split("?")[0])
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        do_POST = do_GET

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", asked
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def background(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    """A server process for the block; interrupted (its whole group) when the block ends."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(check, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}; log:\n{log.read_text()[-3000:]}")


def healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
