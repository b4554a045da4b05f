"""Crashes and concurrency with real processes: kill -9 mid-training, then the next run and
`dvc repro` complete; three runs at once all finish in separate places."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aefx.errors import AefxError
from aefx.workspace import LOCK_NAME, params_digest, plan_run, workspace_lock
from tests.conftest import (
    TINY_PARAMS,
    dvc,
    mlflow_runs,
    run_command,
    sh,
    signal_when,
    start_command,
    subprocess_env,
    write_params,
)

AEFX = (sys.executable, "-m", "aefx")
SLOW_TRAINING = {
    **TINY_PARAMS,
    "autoencoder": {"epochs": 5000, "batch_size": 8, "bottleneck_ratio": 0.5},
}


def start(*args: str, cwd: Path) -> subprocess.Popen:
    """A process in a session of its own, its output in a file (not a pipe: a child that
    outlives it would hold a pipe open)."""
    log = open(cwd / f".{args[2]}-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def kill_during_training(
    proc: subprocess.Popen, project: Path, orphans: list[int], group: bool = False
) -> None:
    """SIGKILL once the autoencoder is training: no handler runs, nothing is cleaned up.

    The process alone (``kill -9 PID``): its children, such as Prefect's temporary server, live
    on as orphans. Or its whole process group (an OOM-killed container, systemd's stop): with
    `dvc repro` that takes the stage process too, which would otherwise train on and hold the
    workspace lock."""
    deadline = time.monotonic() + 240
    try:
        while not (project / "data" / "scaled" / "train.parquet").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        time.sleep(8)
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        orphans.append(proc.pid)  # its process group, cleaned up when the test ends
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def orphans():
    groups: list[int] = []
    yield groups
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_then_dvc_repro_and_aefx_run_complete(repo: Path, orphans: list[int]):
    # 1. `aefx run` killed with SIGKILL while training: its MLflow run is left RUNNING.
    write_params(repo, SLOW_TRAINING)
    kill_during_training(start(*AEFX, "run", cwd=repo), repo, orphans)
    (killed,) = mlflow_runs(repo)
    assert killed.info.status == "RUNNING"
    assert not (repo / "models" / "autoencoders").exists()  # no half-written output

    # 2. `dvc repro` then completes, and closes the dead run as KILLED.
    write_params(repo)
    dvc("repro", cwd=repo)
    runs = {r.info.run_id: r for r in mlflow_runs(repo)}
    assert runs[killed.info.run_id].info.status == "KILLED"
    assert runs[killed.info.run_id].data.tags["aefx.closed_by"] == "stale-run check"
    assert [r.info.status for r in runs.values()].count("FINISHED") == 1

    # 3. A `dvc repro` killed mid-training; the next `aefx run` completes and DVC is clean.
    write_params(repo, SLOW_TRAINING)
    kill_during_training(
        start(sys.executable, "-m", "dvc", "repro", cwd=repo), repo, orphans, group=True
    )
    write_params(repo)
    done = subprocess.run(
        [*AEFX, "run"], cwd=repo, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "database is locked" not in done.stderr
    assert dvc("status", cwd=repo).strip().endswith("Data and pipelines are up to date.")
    statuses = sorted(r.info.status for r in mlflow_runs(repo))
    assert statuses == ["FINISHED", "FINISHED", "KILLED"]


@pytest.mark.slow
def test_three_runs_at_once_complete_in_separate_places(project):
    """A scheduled run of params.yaml and two experiments with --set, started together."""
    from aefx.config import load_params

    variants = [[], ["--set", "seeds=[3]"], ["--set", "autoencoder.epochs=2"]]
    procs = [
        subprocess.Popen(
            [*AEFX, "run", *args],
            cwd=project,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in variants
    ]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in out + err

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    exp_id = client.get_experiment_by_name("aefx").experiment_id
    runs = client.search_runs([exp_id], filter_string="tags.`aefx.kind` = 'pipeline'")
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3
    places = {r.data.tags["aefx.outputs"] for r in runs}
    digests = [params_digest(load_params(overrides=a[1::2])) for a in variants[1:]]
    assert places == {".", *(f"workspaces/{d}" for d in digests)}
    # Each place holds its own run's encoder: the seeds differ, nothing was overwritten.
    meta = yaml.safe_load((project / "models" / "encoder.json").read_text())
    assert meta["seed"] in (1, 2)
    assert (
        yaml.safe_load(
            (project / "workspaces" / digests[0] / "models" / "encoder.json").read_text()
        )["seed"]
        == 3
    )
    curve = project / "workspaces" / digests[1] / "metrics" / "learning_curves" / "seed-1.csv"
    # Header + one row: the 2 epochs asked for make one block, validated after epoch 2.
    lines = curve.read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("2,")


# A process that starts Prefect's temporary server as `aefx run` does, once told to on stdin,
# prints its API URL, and keeps it until stdin says so again. Python's random numbers are
# seeded alike in each: Prefect picks a random port from 8000-8999, so each would pick the same.
SERVER_AT_ONCE = (
    "import random, sys\n"
    "from aefx.console import quiet_environment\n"
    "quiet_environment()\n"
    "from flows.server import temporary_prefect_server, _own_session_server_class\n"
    "_own_session_server_class()\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "random.seed(0)\n"
    "print(temporary_prefect_server(), flush=True)\n"
    "sys.stdin.readline()\n"
)


@contextlib.contextmanager
def servers_at_once(
    count: int, logs: Path, **env: str
) -> Iterator[tuple[list[subprocess.Popen], list[str]]]:
    """``count`` processes of SERVER_AT_ONCE, told to start their servers at the same moment;
    each one's stderr in ``logs``/server-N.log. Yields them and their servers' API URLs."""
    procs = []
    for number in range(count):
        with open(logs / f"server-{number}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", SERVER_AT_ONCE],
                    env={**subprocess_env(), **env},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
    try:
        assert [p.stdout.readline() for p in procs] == ["ready\n"] * count
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        yield procs, [p.stdout.readline().strip() for p in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _health(api_url: str) -> int | None:
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=10).status_code
    except httpx.TransportError:
        return None


def test_temporary_prefect_servers_started_at_once_each_serve_their_own_run(tmp_path):
    """Three runs started together (the test above, in CI): Prefect picked each a random free
    port for its server, which bound it seconds later, so two could take the same. The second
    server failed, the second run talked to the first one's server all along, and lost it
    when that run ended: `Connection refused` and a traceback, after all its training."""
    with servers_at_once(2, tmp_path) as (procs, urls):
        assert urls[0] != urls[1]
        assert [_health(url) for url in urls] == [200, 200]
        procs[0].communicate("done\n", timeout=60)  # the first run ends, and its server
        assert [_health(url) for url in urls] == [None, 200]
        procs[1].communicate("done\n", timeout=60)
        assert _health(urls[1]) is None  # it was the second run's own


def test_the_first_runs_on_a_machine_started_at_once_start_their_servers_cleanly(tmp_path):
    """Each temporary server brings Prefect's database up to date as it starts: on a new
    PREFECT_HOME, servers started at once collided over it, and the runs' output showed their
    tracebacks (`UNIQUE constraint failed: block_type.slug`) while Prefect started them again."""
    home = tmp_path / "prefect-home"  # as on a machine where Prefect never ran
    with servers_at_once(4, tmp_path, PREFECT_HOME=str(home)) as (procs, urls):
        assert [_health(url) for url in urls] == [200] * 4
        for proc in procs:
            proc.communicate("done\n", timeout=60)
            assert proc.returncode == 0
    for number in range(4):
        output = (tmp_path / f"server-{number}.log").read_text()
        assert "Traceback" not in output, output


def test_a_stage_stopped_by_sigterm_leaves_no_temporary_output(tmp_path, monkeypatch):
    """What `dvc repro` runs: stopped by SIGTERM (a CI timeout, a scheduler), it exits 130 and
    leaves neither half-written outputs nor their hidden temporary folders behind."""
    from aefx.config import load_params
    from aefx.pipeline import stage

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, SLOW_TRAINING)
    params = load_params()
    for name in ("ingest", "scale"):
        stage(name).run(params)
    proc = start_command(*AEFX, "stage", "train_autoencoder", cwd=tmp_path)
    models, metrics = tmp_path / "models", tmp_path / "metrics"
    # 2 s into training, which writes aside.
    stderr = signal_when(proc, lambda: bool(list(models.glob(".autoencoders.*.tmp"))), settle=2)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("aefx: error: interrupted; ")
    assert list(models.iterdir()) == [models / "scaler.json"]  # what scale wrote, nothing else
    assert not metrics.exists() or not list(metrics.iterdir())


def test_a_workspace_takes_one_run_at_a_time(tmp_path):
    entered = threading.Event()

    def second() -> None:
        with workspace_lock(tmp_path):
            entered.set()

    with workspace_lock(tmp_path):
        assert (tmp_path / ".aefx-run.lock").read_text().strip().isdigit()
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        assert not entered.is_set()  # the second run waits while the first writes
    waiter.join(timeout=10)
    assert entered.is_set()


def test_a_workspace_left_holding_only_its_lock_is_removed(tmp_path):
    """A run that fails before writing leaves no trace; one that wrote something, or a place that
    was there before, is kept."""
    failed = tmp_path / "workspaces" / "failed"
    with pytest.raises(RuntimeError), workspace_lock(failed):
        assert (failed / LOCK_NAME).exists()
        raise RuntimeError("refused before writing")
    assert not (tmp_path / "workspaces").exists()

    wrote = tmp_path / "workspaces" / "wrote"
    with workspace_lock(wrote):
        (wrote / "metrics").mkdir()
    assert (wrote / "metrics").is_dir()

    there_before = tmp_path / "there-before"
    there_before.mkdir()
    with workspace_lock(there_before):
        pass
    assert (there_before / LOCK_NAME).exists()


def test_a_run_refuses_a_folder_whose_outputs_it_would_replace(tmp_path, monkeypatch):
    """`--workspace DIR`: a run swaps its output folders (models/autoencoders, ...) whole, so a
    folder no run wrote may not already hold one; a new, empty or unrelated folder, or one an
    earlier run wrote (its lock file is there), is fine."""
    monkeypatch.chdir(tmp_path)
    params_file = write_params(tmp_path, TINY_PARAMS)
    theirs = tmp_path / "theirs"
    (theirs / "models" / "autoencoders").mkdir(parents=True)
    (theirs / "models" / "autoencoders" / "notes.txt").write_text("mine")
    with pytest.raises(AefxError, match=r"^theirs: models/autoencoders is already there"):
        plan_run(params_file, workspace=Path("theirs"))
    assert (theirs / "models" / "autoencoders" / "notes.txt").read_text() == "mine"

    (tmp_path / "new" / "unrelated").mkdir(parents=True)
    for fine in ("new", "never-made", "new/unrelated"):
        assert plan_run(params_file, workspace=Path(fine)).params.paths.encoder.is_relative_to(fine)

    (theirs / LOCK_NAME).touch()  # what a run leaves in a folder it wrote
    assert plan_run(params_file, workspace=Path("theirs")).workspace == Path("theirs")


def test_the_project_folder_as_a_workspace_is_for_params_yaml_as_it_stands(tmp_path, monkeypatch):
    """`--workspace .` with `--set` wrote the run's outputs over the project's own and left
    dvc.lock describing files that were gone. Now it is refused before anything is written;
    params.yaml as it stands may name it, and is then the run the project records."""
    write_params(tmp_path, TINY_PARAMS)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "encoder.keras").write_text("the project's encoder")
    for workspace in (".", str(tmp_path), "models/.."):
        done = run_command(*AEFX, "run", "--workspace", workspace, "-s", "seeds=[2]", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr == (
            f"aefx: error: --workspace {workspace}: the project folder itself, where runs of "
            "params.yaml as it stands write the outputs dvc.lock records, and a run of other "
            "params would write over them: leave --workspace out (the run then writes to "
            "workspaces/<params digest>/) or give a folder of its own\n"
        )
    assert (tmp_path / "models" / "encoder.keras").read_text() == "the project's encoder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "params.yaml"]

    monkeypatch.chdir(tmp_path)
    other = write_params(tmp_path / "models", TINY_PARAMS)
    with pytest.raises(AefxError, match=r"^--workspace \.: the project folder itself"):
        plan_run(other, workspace=Path("."))
    plan = plan_run(Path("params.yaml"), workspace=Path("."))
    assert (plan.workspace, plan.record_dvc) == (None, True)
    assert plan.params.paths.encoder == Path("models/encoder.keras")


@pytest.mark.parametrize(
    ("workspace", "problem"),
    [
        ("models/autoencoders", "inside paths.autoencoders (models/autoencoders), an output of"),
        ("data/encoded/mine", "inside paths.encoded (data/encoded), an output of the project's"),
        (".git/mine", "inside .git/, Git's repository: put it elsewhere"),
        (".dvc", "inside .dvc/, DVC's folder: put it elsewhere"),
        ("mlruns/mine", "inside mlruns/, the MLflow store: put it elsewhere"),
    ],
)
def test_a_workspace_lies_apart_from_the_projects_outputs_and_stores(
    tmp_path, monkeypatch, workspace, problem
):
    """The project's next run replaces its output folders whole, so a workspace inside one was
    lost with it (and DVC saw the output changed); one in .git/, .dvc/ or mlruns/ wrote among
    what they keep. A folder that holds project outputs, without lying inside one, is fine."""
    monkeypatch.chdir(tmp_path)
    params_file = write_params(tmp_path, TINY_PARAMS)
    with pytest.raises(AefxError) as caught:
        plan_run(params_file, ["seeds=[2]"], workspace=Path(workspace))
    assert str(caught.value).startswith(f"--workspace {workspace}: {problem}")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / workspace).exists()
    for fine in ("workspaces/mine", "models", "data/mine"):
        plan = plan_run(params_file, ["seeds=[2]"], workspace=Path(fine))
        assert plan.params.paths.encoder == Path(fine) / "models" / "encoder.keras"


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        ({"encoded": "tasks"}, "paths.encoded (tasks) would replace tasks/ingest.py, which Git "),
        ({"comparison_table": "README.md"}, "paths.comparison_table (README.md) would replace "),
        ({"learning_curves": "mlruns/curves"}, "paths.learning_curves (mlruns/curves) overlaps "),
        ({"encoders": ".git/objects"}, "paths.encoders (.git/objects) overlaps .git/, Git's "),
        ({"autoencoders": "workspaces"}, "paths.autoencoders (workspaces) overlaps workspaces/"),
    ],
)
def test_a_project_run_writes_no_output_over_what_the_project_keeps(
    tmp_path, monkeypatch, paths, problem
):
    """A run replaces its outputs whole, and in the project itself nothing checked what was
    there: `paths.encoded: tasks` deleted the pipeline's code, an output in mlruns/ the MLflow
    store's records. The same params in a workspace of their own write there, apart."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, {**TINY_PARAMS, "paths": paths})
    params_file = Path("params.yaml")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "ingest.py").write_text("code")
    (tmp_path / "README.md").write_text("words")
    sh("git", "init", "-q", cwd=tmp_path)
    sh("git", "add", "tasks", "README.md", cwd=tmp_path)
    with pytest.raises(AefxError) as caught:
        plan_run(params_file)
    assert str(caught.value).startswith(f"params.yaml: {problem}")
    assert "\n" not in str(caught.value)
    assert plan_run(params_file, workspace=Path("try")).workspace == Path("try")

    # What `dvc repro` calls checks it too, before it writes anything.
    done = run_command(*AEFX, "stage", "ingest", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == f"aefx: error: {caught.value}\n"
    assert not (tmp_path / "data" / "processed").exists()
    assert (tmp_path / "tasks" / "ingest.py").read_text() == "code"
    assert (tmp_path / "README.md").read_text() == "words"


def test_outputs_committed_to_git_as_dvc_lock_lists_them_are_a_runs_own(tmp_path, monkeypatch):
    """Metrics, plots and reports are uncached DVC outputs, committed to Git with dvc.lock: a
    run writes them again. A tracked file at an output that dvc.lock does not list is not."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, {**TINY_PARAMS, "paths": {"comparison_table": "NOTES.md"}})
    (tmp_path / "NOTES.md").write_text("mine")
    (tmp_path / "metrics" / "learning_curves").mkdir(parents=True)
    (tmp_path / "metrics" / "learning_curves" / "seed-1.csv").write_text("epoch\n")
    sh("git", "init", "-q", cwd=tmp_path)
    sh("git", "add", "NOTES.md", "metrics", cwd=tmp_path)
    with pytest.raises(AefxError, match=r"would replace metrics/learning_curves/seed-1.csv, wh"):
        plan_run(Path("params.yaml"))  # no dvc.lock yet: no run wrote it
    lock = {"stages": {"train_autoencoder": {"outs": [{"path": "metrics/learning_curves"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    with pytest.raises(AefxError, match=r"would replace NOTES.md, which Git tracks and no run"):
        plan_run(Path("params.yaml"))
    write_params(tmp_path, TINY_PARAMS)
    assert plan_run(Path("params.yaml")).record_dvc


def test_a_workspace_among_the_data_is_one_line(tmp_path, monkeypatch):
    """A workspace inside paths.raw_dir failed in pydantic's traceback (its outputs overlapped
    the raw data's folder); one inside an image folder read as the data would have put its
    outputs among the images."""
    monkeypatch.chdir(tmp_path)
    params_file = write_params(tmp_path, TINY_PARAMS)
    with pytest.raises(AefxError) as caught:
        plan_run(params_file, workspace=Path("data/raw/try"))
    assert str(caught.value) == (
        "--workspace data/raw/try: inside paths.raw_dir (data/raw), the raw data's folder; put "
        "it elsewhere (such as workspaces/NAME)"
    )
    images = ["data.source=images", "data.path=photos"]
    with pytest.raises(AefxError) as caught:
        plan_run(params_file, images, workspace=Path("photos/try"))
    assert str(caught.value) == (
        "--workspace photos/try: data.path (photos) and paths.train "
        "(photos/try/data/processed/train.parquet) overlap: a run would write over or into the "
        "data; keep the data apart, under paths.raw_dir (data/raw)"
    )
    assert not (tmp_path / "data" / "raw" / "try").exists() and not (tmp_path / "photos").exists()
    assert plan_run(params_file, images, workspace=Path("tries/1")).workspace == Path("tries/1")


def test_a_run_waiting_on_a_workspace_that_is_removed_locks_a_new_one(tmp_path):
    workspace = tmp_path / "workspaces" / "w"
    holding, release = threading.Event(), threading.Event()

    def waiter() -> None:
        with workspace_lock(workspace):
            assert (workspace / LOCK_NAME).exists()
            holding.set()
            release.wait(10)

    with workspace_lock(workspace):
        first = threading.Thread(target=waiter)
        first.start()
        time.sleep(0.5)  # the waiter has opened the lock file this run is about to remove
    assert holding.wait(10), "the waiting run never got the lock"
    # It holds the lock file that now exists, so a third run still has to wait for it.
    third_entered = threading.Event()

    def third() -> None:
        with workspace_lock(workspace):
            third_entered.set()

    late = threading.Thread(target=third)
    late.start()
    time.sleep(0.5)
    assert not third_entered.is_set()
    release.set()
    first.join(10)
    late.join(10)
    assert third_entered.is_set()
    assert not (tmp_path / "workspaces").exists()  # none of the three wrote anything


def _first_contact(uri: str, start: object) -> str:
    from aefx.tracking import client, experiment_id

    start.wait(60)  # type: ignore[attr-defined]
    mlflow_client = client(uri)
    return mlflow_client.create_run(experiment_id(mlflow_client, "race")).info.run_id


def test_processes_creating_the_store_at_once_do_not_collide(tmp_path):
    """MLflow builds its SQLite tables on first use; four processes at once must all succeed
    (without the lock this fails with "table ... already exists")."""
    import multiprocessing

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with context.Pool(4) as pool:
        pending = [pool.apply_async(_first_contact, (uri, start)) for _ in range(4)]
        time.sleep(3)  # let every worker import MLflow before the race starts
        start.set()
        run_ids = [p.get(timeout=120) for p in pending]
    assert len(set(run_ids)) == 4


def test_two_runs_logging_one_new_dataset_at_once_both_record_it(tmp_path):
    """Sweep members on Dask workers share their splits, and log them to MLflow at about the
    same moment; one member failed on `UNIQUE constraint failed: datasets.experiment_id, ...`:
    MLflow looked for the dataset, found none, and both added it. Here the other member adds it
    in exactly that gap, from its own connection to the real store, as the insert is sent."""
    import pandas as pd
    from sqlalchemy import event

    from aefx.tracking import client, log_dataset

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = client(uri)
    experiment = store.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    first, second = (store.create_run(experiment).info.run_id for _ in range(2))
    split = tmp_path / "train.parquet"
    frame = pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]})
    frame.to_parquet(split)
    inserts = []

    def the_other_member_first(conn, cursor, statement, *args) -> None:
        if statement.startswith("INSERT INTO datasets") and not inserts:
            inserts.append(statement)
            log_dataset(uri, second, "synthetic-train", "train", split, "d1", frame, "label")

    engine = store._tracking_client.store.engine
    event.listen(engine, "before_cursor_execute", the_other_member_first)
    try:
        log_dataset(uri, first, "synthetic-train", "train", split, "d1", frame, "label")
    finally:
        event.remove(engine, "before_cursor_execute", the_other_member_first)
    assert inserts  # the gap was met
    for run_id in (first, second):
        [logged] = store.get_run(run_id).inputs.dataset_inputs
        assert (logged.dataset.name, logged.dataset.digest) == ("synthetic-train", "d1")


def test_a_dead_run_is_closed_however_many_live_runs_are_newer(tmp_path):
    """MLflow answers a run search a page at a time; the stale-run check read one page, the
    1,000 newest RUNNING runs, so behind as many live ones a dead process's run stayed RUNNING.
    The store is MLflow's own; the 1,000 live runs are copied in by SQL for speed."""
    import sqlite3
    from uuid import uuid4

    from aefx.tracking import client, close_stale_runs, experiment_id, process_tags

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = client(uri)
    exp = experiment_id(mlflow_client, "aefx")
    live = process_tags()  # this process: alive
    dead = mlflow_client.create_run(exp, tags={**live, "aefx.pid_start": "0"}, start_time=1)
    later = mlflow_client.create_run(exp, tags=live, start_time=2).info.run_id
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
        row = db.execute("SELECT * FROM runs WHERE run_uuid = ?", (later,)).fetchone()
        tags = db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (later,)).fetchall()
        uuid, start = columns.index("run_uuid"), columns.index("start_time")
        for n in range(3, 1002):
            copy = list(row)
            # Fresh ids: later's own, its last four digits replaced by n, was later itself
            # whenever those digits were a number from 3 to 1001 (about one run in 65).
            copy[uuid], copy[start] = uuid4().hex, n
            db.execute(f"INSERT INTO runs VALUES ({','.join('?' * len(columns))})", copy)
            db.executemany(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                [(key, value, copy[uuid]) for key, value in tags],
            )
        db.commit()
    running = mlflow_client.search_runs(
        [exp], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    assert dead.info.run_id not in {r.info.run_id for r in running}  # not on the first page

    assert close_stale_runs(mlflow_client, exp) == [dead.info.run_id]
    assert mlflow_client.get_run(dead.info.run_id).info.status == "KILLED"
    assert mlflow_client.get_run(later).info.status == "RUNNING"


def test_a_deleted_experiment_is_named_with_how_to_restore_it(tmp_path):
    """An experiment deleted in the MLflow UI takes no new run: `aefx run` ended in MLflow's
    traceback as it started, and `aefx compare-runs` said there were no runs in it."""
    from mlflow.entities import ViewType

    from aefx.runs import recent_runs
    from aefx.tracking import client, experiment_id, start_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = client(uri)
    exp = experiment_id(mlflow_client, "aefx")
    first = start_run(uri, "aefx", {"aefx.kind": "pipeline"})
    mlflow_client.delete_experiment(exp)
    for attempt in (lambda: start_run(uri, "aefx", {}), lambda: recent_runs(uri, "aefx", 5)):
        with pytest.raises(AefxError) as caught:
            attempt()
        assert str(caught.value) == (
            f"MLflow experiment 'aefx' in {uri} is deleted: restore it (MLFLOW_TRACKING_URI="
            f"{uri} mlflow experiments restore -x {exp}), or set tracking.experiment to another "
            "name"
        )
    assert len(mlflow_client.search_runs([exp], run_view_type=ViewType.ALL)) == 1  # none started

    mlflow_client.restore_experiment(exp)  # what the command it names does
    assert [r.info.run_id for r in recent_runs(uri, "aefx", 5)] == [first]


def test_a_store_copied_from_another_project_keeps_no_new_artifacts_there(tmp_path, monkeypatch):
    """MLflow keeps an experiment's artifact folder as an absolute path: in a copy of a project
    (or one moved), new runs were recorded in the copy's store and their artifacts written into
    the first project's mlruns/ (or a folder made again at the old path)."""
    import shutil

    from aefx.tracking import STORE_DIR, client, experiment_id, start_run, tracking_uri

    first, copy = tmp_path / "first", tmp_path / "copy"
    (first / STORE_DIR).mkdir(parents=True)
    monkeypatch.chdir(first)
    start_run(tracking_uri(), "aefx", {})
    shutil.copytree(first, copy)
    monkeypatch.chdir(copy)
    uri = tracking_uri()
    with pytest.raises(AefxError) as caught:
        start_run(uri, "aefx", {})
    assert str(caught.value).startswith(
        f"MLflow experiment 'aefx' keeps its artifacts in {first / STORE_DIR / 'artifacts'}, "
        f"outside this project's store {copy / STORE_DIR}: the store came from another folder"
    )
    run_id = start_run(uri, "aefx-copy", {})  # what the message suggests
    mlflow_client = client(uri)
    kept = mlflow_client.get_run(run_id).info.artifact_uri
    assert kept.startswith((copy / STORE_DIR).as_uri())
    # A store named in tracking.uri is the user's choice of place (shared, say): not refused.
    shared = f"sqlite:///{first / STORE_DIR / 'mlflow.db'}"
    assert experiment_id(client(shared), "aefx") == "1"


@pytest.mark.parametrize("problem", ["deleted", "copied", "schema"])
def test_a_store_that_cannot_take_the_run_is_one_line_before_prefect_starts(
    tmp_path, monkeypatch, problem
):
    """A deleted experiment, a store copied from another project or one of another MLflow's
    schema was refused once Prefect had begun the flow run: the line came among Prefect's, with
    a failed flow run behind it. It is found with the data checks, before Prefect starts; `aefx
    serve` finds it before serving a schedule whose every run would fail on it."""
    import shutil
    import sqlite3

    from aefx.tracking import STORE_DIR, client, experiment_id, tracking_uri

    project, first = tmp_path / "project", tmp_path / "first"
    project.mkdir()
    write_params(project, TINY_PARAMS)
    store = project / STORE_DIR / "mlflow.db"
    uri = f"sqlite:///{store}"
    if problem == "copied":
        (first / STORE_DIR).mkdir(parents=True)
        monkeypatch.chdir(first)
        experiment_id(client(tracking_uri()), "aefx")
        shutil.copytree(first / STORE_DIR, project / STORE_DIR)
        expected = "MLflow experiment 'aefx' keeps its artifacts in "
    else:
        monkeypatch.chdir(project)
        mlflow_client = client(uri)
        exp = experiment_id(mlflow_client, "aefx")
        mlflow_client.delete_experiment(exp)
        expected = f"MLflow experiment 'aefx' in {uri} is deleted: restore it"
    if problem == "schema":
        with contextlib.closing(sqlite3.connect(store)) as db:
            db.execute("UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'")
            db.commit()
        expected = f"{store}: its tables are MLflow schema a1b2c3d4e5f6, and MLflow "
    for command in (("run",), ("serve", "--cron", "0 3 * * *")):
        done = run_command(*AEFX, *command, cwd=project)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr.startswith(f"aefx: error: {expected}")
        assert done.stderr.count("\n") == 1, done.stderr
    assert sorted(p.name for p in project.iterdir()) == [STORE_DIR, "params.yaml"]
    if problem != "schema":
        assert client(uri).search_runs(["0", "1"]) == []


def test_a_store_of_another_mlflow_schema_is_one_line(tmp_path):
    """A store whose tables another MLflow made (after an upgrade of aefx, say) ended the run
    in MLflow's traceback as it started; it is one line naming the store and the way on."""
    import sqlite3

    import mlflow

    from aefx.tracking import client

    database = tmp_path / "mlruns" / "mlflow.db"
    uri = f"sqlite:///{database}"
    client(uri).create_experiment("aefx")
    with contextlib.closing(sqlite3.connect(database)) as db:
        (expected,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        db.execute("UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'")
        db.commit()
    write_params(tmp_path, TINY_PARAMS)
    done = run_command(*AEFX, "compare-runs", cwd=tmp_path)  # a new process: MLflow checks
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: {database}: its tables are MLflow schema a1b2c3d4e5f6, and MLflow "
        f"{mlflow.__version__} uses {expected}: a store from an older MLflow is migrated by "
        f"`mlflow db upgrade {uri}` (back it up first); one from a newer MLflow needs that "
        "MLflow\n"
    )


def test_a_signal_during_a_held_block_is_raised_once_the_block_ends():
    """What keeps Ctrl-C from unwinding pandas' threaded CSV read (a segmentation fault)."""
    from aefx.io import signals_held

    def stop(signum, frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, stop)
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler would run here, were the signal not held
            finished.append(True)
        assert finished == [True]
        assert signal.getsignal(signal.SIGTERM) is stop  # the handler is back
        with signals_held():  # nothing came: nothing is raised
            finished.append(True)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert finished == [True, True]


STOPPED_INSIDE_STRING_CODE = """
import os, signal, sys
import typer
from aefx.cli.common import interruptible

if sys.argv[1] == "SIGINT":  # as a terminal's foreground job has it
    signal.signal(signal.SIGINT, signal.default_int_handler)
elif sys.argv[1] == "ignored":  # as a shell's background job has it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
sent = signal.SIGTERM if sys.argv[1] == "SIGTERM" else signal.SIGINT
try:
    with interruptible("nothing is kept"):
        # Code made from a string, as dataclasses and namedtuple make their methods, is
        # running when the signal lands.
        exec("os.kill(os.getpid(), sent)", {"os": os, "sent": sent})
except typer.Exit as stop:
    sys.exit(stop.exit_code)
"""


@pytest.mark.parametrize(("case", "code", "err"), [
    ("SIGTERM", 130, "aefx: error: interrupted; nothing is kept\n"),
    ("SIGINT", 130, "aefx: error: interrupted; nothing is kept\n"),
    ("ignored", 0, ""),  # a background job's Ctrl-C is not for it
])  # fmt: skip
def test_a_stop_under_python_m_exits_130_wherever_it_lands(tmp_path, case, code, err):
    """`python -m aefx` (as these tests run it) printed the stop's line and then died of SIGINT,
    exit -2, not 130 (once in a fresh clone's tests): CPython marks a KeyboardInterrupt that
    ends code made from a string as unhandled even when it is caught later, and `-m` exits by
    that mark."""
    (tmp_path / "stopped_module.py").write_text(STOPPED_INSIDE_STRING_CODE)
    done = subprocess.run(
        [sys.executable, "-m", "stopped_module", case],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (code, err)


def test_a_stop_gives_back_the_signal_handlers_it_found(capsys):
    """A second SIGTERM while Python exits after the stop (a scheduler's or `timeout -k`'s)
    raised the interrupt again in the exit handlers, a traceback after the one line."""
    import typer

    from aefx.cli.common import interruptible

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    with pytest.raises(typer.Exit), interruptible("nothing is kept"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the interrupt is raised here
    assert {signum: signal.getsignal(signum) for signum in before} == before
    assert capsys.readouterr().err == "aefx: error: interrupted; nothing is kept\n"


def _stopped_in_native_code() -> None:
    """SIGTERM lands in Python code that native code called; the native code swallows the
    interrupt, whatever its class, and fails with an error of its own."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the interrupt is raised here
    except BaseException:
        pass  # as native code returns NULL without looking at what was raised
    raise SystemError("Objects/listobject.c:338: bad argument to internal function")


def test_a_stop_that_native_code_turns_into_another_error_is_still_a_stop(capsys):
    """SIGTERM in a Keras training step came out of TensorFlow's native code as `SystemError:
    Objects/listobject.c:338: bad argument to internal function`, a traceback and exit 1
    instead of one line and 130 (a fresh clone's run of this file). Staged here: the
    interrupt is caught where native code would swallow it and another error raised."""
    import typer

    from aefx.cli.common import interruptible

    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(typer.Exit) as stopped, interruptible("nothing is kept"):
            _stopped_in_native_code()
        assert stopped.value.exit_code == 130
        assert capsys.readouterr().err == "aefx: error: interrupted; nothing is kept\n"
        # An error with no stop behind it is the error; one led to by Ctrl-C is the stop.
        with pytest.raises(SystemError), interruptible("nothing is kept"):
            raise SystemError("a bug")
        with pytest.raises(typer.Exit), interruptible("nothing is kept"):
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise SystemError("after Ctrl-C") from None
        assert capsys.readouterr().err == "aefx: error: interrupted; nothing is kept\n"
    finally:
        signal.signal(signal.SIGTERM, before)


# How `_stopped_with_one_line` ends for a stop.
STOPPED = (130, "aefx: error: interrupted; it is KILLED")


def _start(command: str, project: Path, step, monkeypatch) -> None:
    """`aefx run`'s flow, a two-member sweep, or train-stream's MLflow run, with ``step`` staged
    where the first stage (for train-stream, the training) would run."""
    import pandas as pd

    from aefx.config import load_params

    if command == "run":
        import flows.pipeline

        monkeypatch.setattr(flows.pipeline, "ingest", lambda params: step())
        flows.pipeline.pipeline(load_params(), record_dvc=False)
    elif command == "sweep":
        import flows.sweep

        class Staged:
            def run(self, params, **kwargs) -> None:
                step()

        monkeypatch.setattr(flows.sweep, "stage", lambda name: Staged())
        flows.sweep.run_sweep(load_params(overrides=["sweep.grid.autoencoder.bottleneck=[2, 3]"]))
    else:
        from aefx.streaming import record_stream_run

        params = load_params()
        source = project / "rows.parquet"
        pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]}).to_parquet(source)
        with record_stream_run(params, params.autoencoder, source, project / "models" / "s"):
            step()


@pytest.mark.parametrize("command", ["run", "sweep", "train-stream"])
def test_a_run_stopped_by_a_signal_that_native_code_turned_into_an_error_ends_killed(
    project, prefect_harness, monkeypatch, capsys, command
):
    """train-stream said "interrupted; the MLflow run is marked KILLED" and exited 130, but its
    run was ended FAILED (once in a fresh clone's tests): the code that ends runs took any
    Exception for a failure, where the CLI took it for the stop. In a Prefect flow the signal
    is Prefect's TerminationSignal, which native code may swallow as well. A stopped sweep
    member stops the sweep. Without a signal the same error ends the runs FAILED, also after a
    stop earlier in this process."""
    assert (
        _stopped_with_one_line(command, project, _stopped_in_native_code, monkeypatch, capsys)
        == STOPPED
    )
    # A sweep's parent and its first member; the second member never started.
    assert _statuses(project) == ["KILLED"] * (2 if command == "sweep" else 1)

    def bug() -> None:
        raise SystemError("a bug")

    with pytest.raises((SystemError, AefxError)):
        _start(command, project, bug, monkeypatch)
    failed = ["FAILED"] * (3 if command == "sweep" else 1)
    assert _statuses(project) == sorted(failed + ["KILLED"] * (2 if command == "sweep" else 1))


def _dropped_by_python() -> None:
    """SIGTERM lands in a callback of the garbage collector, where Python drops what the
    handler raised ("Exception ignored in ..."), and the work goes on."""

    class Collected:
        pass

    def on_collected(ref: weakref.ref) -> None:
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside the callback

    thing = Collected()
    _kept = weakref.ref(thing, on_collected)  # a weakref's callback runs while the ref lives
    del thing
    for _ in range(300):  # three seconds of work, which the stop must end
        time.sleep(0.01)


def test_a_stop_that_python_drops_in_a_collector_callback_still_stops_a_command(capsys):
    """Not only a run's: any command's block for stops (`aefx encode`'s, a run's data check)
    is stopped by a stop that Python dropped, and says it in one line."""
    import typer

    from aefx.cli.common import interruptible

    finished = []
    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(typer.Exit) as stopped, interruptible("nothing is kept"):
            _dropped_by_python()
            finished.append(True)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert (stopped.value.exit_code, finished) == (130, [])
    assert capsys.readouterr().err == "aefx: error: interrupted; nothing is kept\n"


@pytest.mark.parametrize("command", ["run", "sweep", "train-stream"])
def test_a_stop_that_python_drops_in_a_collector_callback_still_ends_the_run_killed(
    project, prefect_harness, monkeypatch, capsys, command
):
    """A served run cancelled in Prefect trained on until its runner's SIGKILL, its MLflow run
    left RUNNING (once in a fresh clone's test_serve): Prefect's SIGTERM handler raised inside
    SQLAlchemy's `_collection_gced`, a garbage-collection callback, where Python drops the
    exception. Staged with a weakref callback: the work after it must not finish, and the runs
    end KILLED with the stop's one line."""
    finished = []

    def step() -> None:
        _dropped_by_python()
        finished.append(True)

    assert _stopped_with_one_line(command, project, step, monkeypatch, capsys) == STOPPED
    assert finished == []
    assert _statuses(project) == ["KILLED"] * (2 if command == "sweep" else 1)


def _stopped_with_one_line(command: str, project: Path, step, monkeypatch, capsys) -> tuple:
    """``command`` with ``step`` staged, in the CLI's block for stops: its exit code and the last
    line it wrote on stderr."""
    import typer

    from aefx.cli.common import interruptible

    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(typer.Exit) as stopped, interruptible("it is KILLED"):
            _start(command, project, step, monkeypatch)
    finally:
        signal.signal(signal.SIGTERM, before)
    return stopped.value.exit_code, capsys.readouterr().err.splitlines()[-1]


def _statuses(project: Path) -> list[str]:
    """The statuses of the project's MLflow runs, sorted."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    return sorted(r.info.status for r in runs)
