"""Where MLflow records runs, and the few calls the pipeline makes to it."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aefx.errors import AefxError
from aefx.provenance import provenance_tags

STORE_DIR = "mlruns"
log = logging.getLogger(__name__)
_READY: set[str] = set()  # SQLite stores this process has already created or checked


def project_root(start: Path | None = None) -> Path:
    """The project directory, even when DVC runs a stage in ``.dvc/tmp/exps/...``."""
    here = Path(start or Path.cwd()).resolve()
    parts = here.parts
    for i in range(len(parts) - 2):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return here


def tracking_uri(configured: str | None = None, root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI``, else params' ``tracking.uri``, else SQLite under mlruns/."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    if configured:
        return configured
    return _own_store_uri(root)


def _own_store_uri(root: Path | None = None) -> str:
    """The project's own store: SQLite under mlruns/."""
    return f"sqlite:///{project_root(root) / STORE_DIR / 'mlflow.db'}"


def artifact_root(root: Path | None = None) -> str:
    return (project_root(root) / STORE_DIR / "artifacts").as_uri()


def sqlite_file(uri: str) -> Path | None:
    """The database file a ``sqlite:///`` tracking URI names, as written; None for any other
    URI, or one that names no file."""
    name = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else ""
    return Path(name) if name else None


def client(uri: str) -> Any:
    """A client bound to ``uri``; it leaves MLflow's process-wide tracking URI alone.

    A SQLite store is created (or migrated) under a file lock: MLflow builds its tables on first
    use, and two processes doing that at once fail with "table ... already exists"."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    database = sqlite_file(uri)
    if database is None or uri in _READY:
        return MlflowClient(tracking_uri=uri)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".init-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            mlflow_client = MlflowClient(tracking_uri=uri)
            mlflow_client.search_experiments(max_results=1)  # tracking tables
            mlflow_client.search_registered_models(max_results=1)  # registry tables
        except MlflowException as exc:
            raise _other_schema(exc, database, uri) or exc from None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _READY.add(uri)
    return mlflow_client


def _other_schema(exc: Exception, database: Path, uri: str) -> AefxError | None:
    """One line for a store whose tables another MLflow made (aefx upgraded, or the store
    used by another install); it was MLflow's traceback as the run started."""
    import re

    import mlflow

    found = re.search(r"found version (\w+), but expected (\w+)", str(exc))
    if found is None:
        return None
    return AefxError(
        f"{database}: its tables are MLflow schema {found[1]}, and MLflow {mlflow.__version__} "
        f"uses {found[2]}: a store from an older MLflow is migrated by `mlflow db upgrade "
        f"{uri}` (back it up first); one from a newer MLflow needs that MLflow"
    )


@contextlib.contextmanager
def using_store(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for a block, then put things back.

    ``mlflow.set_tracking_uri`` also exports MLFLOW_TRACKING_URI, which would make every later
    pipeline in this process (a served deployment, a test session) log to this store."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # None unsets the variable again


def experiment_id(mlflow_client: Any, name: str, root: Path | None = None) -> str:
    """Get or create the experiment. A local store keeps artifacts beside it (an absolute
    path); a tracking server (http, https, databricks...) decides where they go itself, e.g.
    its --artifacts-destination served as mlflow-artifacts:/."""
    from mlflow.exceptions import MlflowException

    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        _require_takes_runs(found, mlflow_client.tracking_uri, root)
        return found.experiment_id
    local = is_local_store(mlflow_client.tracking_uri)
    try:
        return mlflow_client.create_experiment(
            name, artifact_location=artifact_root(root) if local else None
        )
    except MlflowException:  # another process created it first
        return mlflow_client.get_experiment_by_name(name).experiment_id


def local_artifact_path(location: str) -> Path | None:
    """The folder an artifact location (``file:`` URI or plain path) names on this machine;
    None for any other scheme (s3:, mlflow-artifacts:, ...)."""
    from urllib.parse import unquote, urlsplit

    if location.startswith("file:"):
        return Path(unquote(urlsplit(location).path))
    return None if urlsplit(location).scheme else Path(location)


def is_local_store(uri: str) -> bool:
    """A store on this machine (SQLite, a folder), whose artifacts MLflow records by their
    absolute path; a tracking server decides where its own go."""
    return uri.startswith(("sqlite:", "file:", "/"))


def require_usable_experiment(uri: str, name: str) -> None:
    """Before a run starts: the store at ``uri``, where it is already there, can take a run in
    experiment ``name``, checked as :func:`experiment_id` checks it (its tables are this
    MLflow's; the experiment is not deleted, nor keeps its artifacts in another project). Left
    to the run, the refusal came after Prefect had begun a flow run, among Prefect's lines, and
    left that flow run failed. A store not there yet is made by the run, experiment and all."""
    database = sqlite_file(uri)
    if uri.startswith("sqlite:///") and (database is None or not database.is_file()):
        return
    found = client(uri).get_experiment_by_name(name)
    if found is not None:
        _require_takes_runs(found, uri, None)


def _require_takes_runs(experiment: Any, uri: str, root: Path | None) -> None:
    """An existing experiment can take a new run: not deleted, and keeping its artifacts in
    this project's store."""
    require_active(experiment, uri)
    _require_artifacts_here(experiment, uri, root)


def require_active(experiment: Any, uri: str) -> None:
    """An experiment deleted (in the MLflow UI, say) takes no new run, and its runs are not
    searched: the run ended in MLflow's traceback as it started, and `aefx compare-runs` found
    no runs in it."""
    if experiment.lifecycle_stage == "deleted":
        raise AefxError(
            f"MLflow experiment {experiment.name!r} in {uri} is deleted: restore it "
            f"(MLFLOW_TRACKING_URI={uri} mlflow experiments restore -x "
            f"{experiment.experiment_id}), or set tracking.experiment to another name"
        )


def _require_artifacts_here(experiment: Any, uri: str, root: Path | None) -> None:
    """In the project's own store, an experiment whose artifacts are kept outside the project:
    the store came with the project from another folder (copied, moved), and MLflow writes
    each new run's artifacts where the experiment says, absolute: into the other project's
    mlruns/, or into a folder it makes again at the old path."""
    if uri != _own_store_uri(root):
        return  # a store chosen in tracking.uri (shared, a server) keeps them where it keeps them
    store = project_root(root) / STORE_DIR
    kept = local_artifact_path(experiment.artifact_location)
    if kept is not None and kept.is_absolute() and not kept.is_relative_to(store):
        raise AefxError(
            f"MLflow experiment {experiment.name!r} keeps its artifacts in {kept}, outside this "
            f"project's store {store}: the store came from another folder (copied or moved), "
            "and new runs' artifacts would go there; set tracking.experiment to a new name, "
            f"whose artifacts are kept here, or move {store} aside for a fresh store"
        )


def git_output(root: Path, *args: str) -> str | None:
    """What ``git ARGS`` prints in ``root``; None where Git is missing or refuses (no work
    tree there). Names that are not UTF-8 come through as os.fsdecode gives them."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_tags(root: Path) -> dict[str, str]:
    """The commit the code came from, and whether the work tree had uncommitted changes."""
    commit = (git_output(root, "rev-parse", "HEAD") or "").strip()
    if not commit:
        return {"git.commit": "none"}
    dirty = bool((git_output(root, "status", "--porcelain", "--untracked-files=no") or "").strip())
    return {
        "git.commit": commit,
        "git.dirty": str(dirty).lower(),
        "mlflow.source.git.commit": commit,
    }


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), so a reused pid is not taken for the run."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """Who is running this: host, pid and its start time, to tell a dead run from a live one."""
    import socket

    tags = {"aefx.host": socket.gethostname(), "aefx.pid": str(os.getpid())}
    started = _process_start(os.getpid())
    if started:
        tags["aefx.pid_start"] = started
    return tags


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or _process_start(pid) in (None, started)


def all_pages(
    search: Any, *args: Any, limit: int | None = None, page_size: int | None = None, **kwargs: Any
) -> list[Any]:
    """The results of an MLflow client search, page by page, up to ``limit`` (all by default).
    One call answers one page (10,000 model versions; runs: ``max_results``, which a store
    refuses past 50,000), and what did not fit was silently left out."""
    found: list[Any] = []
    token = None
    while limit is None or len(found) < limit:
        if page_size is not None:
            room = page_size if limit is None else min(page_size, limit - len(found))
            kwargs["max_results"] = room
        page = search(*args, page_token=token, **kwargs)
        found += page
        token = page.token
        if not token:
            break
    return found


def close_stale_runs(mlflow_client: Any, exp_id: str) -> list[str]:
    """End as KILLED the RUNNING runs of this host whose process is gone (``kill -9``, a power
    cut); return their ids. Runs of other hosts are left alone: their processes are not ours to
    see."""
    import socket

    host = socket.gethostname()
    running = all_pages(  # every page read before any run is closed, which would shift them
        mlflow_client.search_runs,
        [exp_id],
        filter_string="attributes.status = 'RUNNING'",
        page_size=1000,
    )
    stale = []
    for run in running:
        tags = run.data.tags
        if tags.get("aefx.host") != host or not tags.get("aefx.pid", "").isdigit():
            continue
        if not _alive(int(tags["aefx.pid"]), tags.get("aefx.pid_start")):
            mlflow_client.set_tag(run.info.run_id, "aefx.closed_by", "stale-run check")
            mlflow_client.set_terminated(run.info.run_id, status="KILLED")
            stale.append(run.info.run_id)
    return stale


def start_run(
    uri: str,
    experiment: str,
    tags: dict[str, str],
    params: dict[str, str] | None = None,
    name: str | None = None,
) -> str:
    """Open a run (RUNNING) without making it the thread's active run; return its id. Runs
    left RUNNING by dead processes of this host are closed as KILLED first. Without ``name``,
    MLflow makes one up.

    ``params`` are logged at once, so a run that fails later still shows what it was asked to
    do (the MLflow UI, `aefx compare-runs`)."""
    from mlflow.entities import Param

    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, experiment)
    for run_id in close_stale_runs(mlflow_client, exp_id):
        log.warning(
            "MLflow run %s was left RUNNING by a process that is gone: marked KILLED", run_id
        )
    run_id = mlflow_client.create_run(
        exp_id, tags={**provenance_tags(), **tags, **process_tags()}, run_name=name
    ).info.run_id
    flat = list((params or {}).items())
    for i in range(0, len(flat), 100):  # MLflow takes at most 100 params per batch
        mlflow_client.log_batch(run_id, params=[Param(k, v) for k, v in flat[i : i + 100]])
    return run_id


def end_run(uri: str, run_id: str, status: str) -> None:
    client(uri).set_terminated(run_id, status=status)


@contextlib.contextmanager
def ended_on_error(uri: str, run_id: str) -> Iterator[None]:
    """Never leave the run RUNNING: an error in the block ends it FAILED, a stop (Ctrl-C, a
    signal, or the error a signal became inside native code: :func:`aefx.stops.is_stop`)
    KILLED. Ending it FINISHED is the block's own business.

    A stop also ends KILLED the run's child runs still RUNNING: a sweep's members on Dask
    workers, which go down with the cluster without ending their own runs (they were left
    RUNNING under "the sweep's MLflow runs are marked KILLED")."""
    from aefx.stops import recording, run_status

    try:
        with recording():
            yield
    except BaseException as exc:
        status = run_status(exc)
        end_run(uri, run_id, status)
        if status == "KILLED":
            _kill_running_children(uri, run_id)
        raise


def _kill_running_children(uri: str, run_id: str) -> None:
    mlflow_client = client(uri)
    exp_id = mlflow_client.get_run(run_id).info.experiment_id
    running = all_pages(
        mlflow_client.search_runs,
        [exp_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'",
        page_size=1000,
    )
    for child in running:
        mlflow_client.set_terminated(child.info.run_id, status="KILLED")


def log_dataset(
    uri: str,
    run_id: str,
    name: str,
    context: str,
    path: Path,
    digest: str,
    frame: Any = None,
    target: str | None = None,
) -> None:
    """Record the data file ``path`` as one of the run's datasets (the MLflow UI lists them
    beside the run), used as ``context`` (train, test). With ``frame``, its rows, the dataset
    also shows their count and schema; without it, only what names it."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-file source twice and warns that a path matches both;
        # its schema hint on integer columns is for model signatures, not datasets.
        warnings.filterwarnings("ignore", message=".*interpreted in multiple ways")
        warnings.filterwarnings("ignore", message=".*schema contains integer column")
        source = resolve_dataset_source(str(Path(path).resolve()))
        if frame is None:
            dataset = MetaDataset(source, name=name, digest=digest)
        else:
            dataset = mlflow.data.from_pandas(
                frame, source=source, targets=target, name=name, digest=digest
            )
        entity = dataset._to_mlflow_entity()  # what mlflow.log_input sends, for a run by id
    tags = [InputTag(key="mlflow.data.context", value=context)]
    logged = [DatasetInput(entity, tags)]
    try:
        client(uri).log_inputs(run_id, datasets=logged)
    except MlflowException as exc:
        # Two runs logging one new dataset at once (sweep members on Dask workers share their
        # splits): MLflow looks for it, finds none, and both add it; the second breaks the
        # store's unique key and its whole insert is rolled back. Again, it finds the first's.
        if not _DUPLICATE_KEY.search(str(exc)):
            raise
        client(uri).log_inputs(run_id, datasets=logged)


# A unique key broken, as SQLite, PostgreSQL and MySQL (through SQLAlchemy) word it.
_DUPLICATE_KEY = re.compile(
    r"IntegrityError|UniqueViolation|UNIQUE constraint|[Dd]uplicate (key|entry)"
)
