"""The aefx pipeline as a Prefect flow: one task per stage, same names as dvc.yaml."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from aefx.config import ComputeConfig, Params, params_to_flat_dict
from aefx.errors import AefxError, first_line
from aefx.pipeline import check_comparison, compare_inputs, compare_outputs, is_dvc_project, stage
from aefx.threads import usable_cpus
from aefx.tracking import (
    client,
    ended_on_error,
    git_tags,
    project_root,
    require_usable_experiment,
    start_run,
    tracking_uri,
)
from flows.server import temporary_prefect_server

if TYPE_CHECKING:
    from tasks.compare_classifiers import Cell

log = logging.getLogger(__name__)


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O hiccups, never a user's mistake (bad data stays bad on the second read)."""
    try:
        state.result()
    except AefxError:
        return False
    except Exception:
        return True
    return False


def _stage_task(name: str, **options: Any) -> Any:
    # Caching is DVC's job (`dvc repro`); Prefect re-runs what it is asked to run.
    return task(stage(name).run, name=name, cache_policy=NO_CACHE, **options)


ingest = _stage_task(
    "ingest", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_transient
)
scale = _stage_task("scale")
train_autoencoder = _stage_task("train_autoencoder")  # training is never blindly retried
inspect_autoencoder = _stage_task("inspect_autoencoder")
extract_encoder = _stage_task("extract_encoder")
encode_splits = _stage_task("encode_splits")


@task(name="score_cells", cache_policy=NO_CACHE, task_run_name="{classifier}, seed {seed}")
def score_cells(seed: int, classifier: str, features: list[str], params: Params) -> list[Any]:
    """One classifier on each feature set for one seed; a mapped task, so it may run on a Dask
    worker. A task per cell cost a tenth more time: Prefect's bookkeeping of 120 small tasks."""
    from aefx.console import quiet_environment
    from tasks.compare_classifiers import Cell, score_cell

    quiet_environment(tensorflow=classifier == "cnn")  # as run_member does on a worker

    inputs = compare_inputs(params)
    return [
        score_cell(
            Cell(seed, classifier, f),
            params.classifiers,
            params.evaluation,
            params.data.label,
            inputs,
        )
        for f in features
    ]


@task(name="compare_classifiers", cache_policy=NO_CACHE)
def summarise_comparison(params: Params, results: list[Any]) -> Any:
    from tasks.compare_classifiers import write_comparison

    return write_comparison(
        results,
        params.classifiers,
        params.evaluation,
        params.seeds,
        params.data.label,
        compare_inputs(params),
        compare_outputs(params),
    )


def comparison_groups(params: Params) -> dict[tuple[int, str], list[Cell]]:
    """The comparison's cells by seed and classifier: one mapped task each."""
    from tasks.compare_classifiers import cells

    groups: dict[tuple[int, str], list[Cell]] = {}
    for cell in cells(params.classifiers, params.seeds):
        groups.setdefault((cell.seed, cell.classifier), []).append(cell)
    return groups


def compare_classifiers(params: Params) -> Any:
    """Map the cells over the flow's task runner (threads, or Dask worker processes), one task
    per classifier and seed, then summarise. Keras cells stay in this process unless workers
    are processes of their own."""
    from aefx.threads import one_blas_thread

    groups = comparison_groups(params)
    on_processes = params.compute.dask_address or params.compute.dask_workers
    mapped: list[list[Cell]] = []
    inline: list[list[Cell]] = []
    for group in groups.values():
        (mapped if group[0].thread_safe or on_processes else inline).append(group)
    shipped = absolute_paths(params)  # a worker may not share this process's directory
    with one_blas_thread():  # here, before the cells start: see aefx.threads
        futures = score_cells.map(
            [g[0].seed for g in mapped],
            [g[0].classifier for g in mapped],
            [[c.features for c in g] for g in mapped],
            params=unmapped(shipped),
        )
        results = [r for f in futures for r in f.result()]
        for g in inline:
            results += score_cells(g[0].seed, g[0].classifier, [c.features for c in g], shipped)
    return summarise_comparison(params, results)


def absolute_paths(params: Params) -> Params:
    """``params`` with every path made absolute against this process's directory."""
    from aefx.config import PathsConfig

    paths = {k: Path(v).absolute() for k, v in params.paths.model_dump().items()}
    return params.model_copy(update={"paths": PathsConfig(**paths)})


def worker_env(workers: int) -> dict[str, str]:
    """Environment for each local Dask worker process.

    Its share of the cores for BLAS and TensorFlow: otherwise every worker sizes its pools to
    the whole machine. And this process's Prefect API: a worker that finds no PREFECT_API_URL
    starts a temporary Prefect server of its own (measured: one per worker, each costing CPU for
    the whole run), so with none configured the temporary server is started here, once, and
    shared with the flow and the workers."""
    share = str(max(1, usable_cpus() // workers))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = dict.fromkeys(names, share)
    env.update(TF_NUM_INTRAOP_THREADS=share, TF_NUM_INTEROP_THREADS="1")
    from prefect.settings import PREFECT_API_URL

    env["PREFECT_API_URL"] = PREFECT_API_URL.value() or temporary_prefect_server()
    return env


def task_runner(compute: ComputeConfig, tasks: int) -> Any:
    """Dask for a named or local cluster, else a thread pool capped at ``compute.threads``.

    A local cluster starts at most ``tasks`` workers, the most tasks the flow maps: one more
    would start, import the flow's modules (190 MB each, measured) and wait for nothing."""
    if compute.dask_address or compute.dask_workers:
        from prefect_dask import DaskTaskRunner

        if compute.dask_address:
            return DaskTaskRunner(address=compute.dask_address)
        import dask

        # Dask starts local workers with MALLOC_TRIM_THRESHOLD_=65536, so glibc hands memory back
        # to the kernel all the time: measured here, Keras training in such a worker took twice
        # as long (35 s against 18 s, 18 s of it in the kernel). Leave glibc's default.
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        workers = min(compute.dask_workers, max(1, tasks))
        if workers < compute.dask_workers:
            log.info(
                "compute.dask_workers=%d: starting %d, one per task this run maps",
                compute.dask_workers,
                workers,
            )
        cpus = usable_cpus()
        if workers > cpus:
            # Said nowhere before: --workers 6 on 2 CPUs ran the wine table in 38 s, against
            # 28 s on the default thread pool.
            log.warning(
                "compute.dask_workers=%d starts %d worker processes on %d CPU(s): they take "
                "turns on them, each holding its own TensorFlow in memory; %d keep every CPU busy",
                compute.dask_workers,
                workers,
                cpus,
                cpus,
            )
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,  # one model per process: TensorFlow seeds are global
                "processes": True,
                "dashboard_address": None,
                "env": worker_env(workers),
            }
        )
    return ThreadPoolTaskRunner(max_workers=compute.threads)


log_run = _stage_task(
    "log_run", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_transient
)


@dataclass(frozen=True)
class PipelineResult:
    run_id: str
    tracking_uri: str
    records: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    dvc_recorded: bool
    report: str  # reports/comparison.md's Markdown
    model_version: str | None = None  # models:/NAME/VERSION the run registered, if any


def record_in_dvc(root: Path) -> bool:
    """Commit the outputs to dvc.lock, so `dvc status` sees the flow's run as up to date.

    Like `dvc repro`, also list the cached outputs in .gitignore so Git leaves them to DVC."""
    if not is_dvc_project(root):
        return False
    from dvc.repo import Repo
    from dvc.scm import SCMError

    try:
        opened = Repo(str(root))
    except SCMError as exc:
        # A project from an archive (no .git): DVC works inside a Git repository. This failed
        # the flow in a traceback after every output had been written and logged.
        log.warning(
            "outputs not recorded in dvc.lock: %s (DVC needs one: `git init`, or clone the "
            "project)",
            first_line(exc),
        )
        return False
    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)  # its "Updating lock file" lines would print twice
    try:
        with opened as repo, repo.scm_context:
            for committed in repo.commit(None, force=True):
                for out in committed.outs:
                    if out.use_cache:
                        out.ignore()
    finally:
        dvc_logger.setLevel(level)
    log.info("outputs recorded in dvc.lock")
    return True


def publish_comparison(compared: Any) -> None:
    """The comparison as Prefect artifacts on the flow run: a table and the Markdown report."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    # Artifacts take plain Python values; the records are JSON-ready already.
    create_table_artifact(
        key="aefx-comparison",
        table=compared.records,
        description="Classifier x feature set scores over seeds",
    )
    create_markdown_artifact(
        key="aefx-comparison-report",
        markdown=compared.markdown,
        description="Comparison with paired verdicts",
    )


@flow(name="aefx-pipeline", task_runner=ThreadPoolTaskRunner(max_workers=2))
def pipeline(
    params: Params, record_dvc: bool = True, entry_point: str = "aefx run"
) -> PipelineResult:
    """ingest -> scale -> train_autoencoder -> inspect_autoencoder -> extract_encoder ->
    encode_splits -> compare_classifiers -> log_run, as one MLflow run, named as the flow run
    is, so the MLflow and Prefect UIs list it under one name."""
    uri = tracking_uri(params.tracking.uri)
    name = str(flow_run.get_name())
    run_id = start_run(
        uri,
        params.tracking.experiment,
        {
            **git_tags(project_root()),
            **source_tags(params),
            "aefx.entry_point": entry_point,
            "aefx.kind": "pipeline",
            "prefect.flow_run_id": str(flow_run.get_id()),
            "prefect.flow_run_name": name,
        },
        params_to_flat_dict(params),
        name=name,
    )
    with ended_on_error(uri, run_id):
        ingest(params)
        scale(params)
        check_comparison(params)
        train_autoencoder(params)
        inspect_autoencoder(params)
        extract_encoder(params)
        encode_splits(params)
        compared = compare_classifiers(params)
        publish_comparison(compared)
        logged = log_run(params, run_id=run_id, entry_point=entry_point)
    recorded = record_dvc and record_in_dvc(project_root())
    return PipelineResult(
        run_id,
        uri,
        compared.records,
        compared.differences,
        recorded,
        compared.markdown,
        logged.model_version,
    )


def preflight(params: Params, keep: bool = True, members: Sequence[Params] = ()) -> None:
    """Read and check the data, the autoencoder's size against the memory budget, every
    classifier's settings against its training split, and that the MLflow store can take the
    run, before Prefect or MLflow starts: bad data, a setting too large for it or a deleted
    experiment is then one line, with no failed flow run or MLflow run behind it. With
    ``keep`` the flow's ingest takes the splits read here instead of reading the data again. A
    sweep passes its members, whose settings may differ from those of ``params`` (of the data
    settings, only those that do not change the rows or their split: each different one is
    checked)."""
    from aefx.autoencoders import Architecture, check_pipeline_model
    from aefx.classifiers import check_every_classifier
    from aefx.scaling import fit_categories, one_hot_width
    from tasks.ingest import check_data

    checked: dict[Any, tuple[Any, int, Any]] = {}  # data settings -> labels, width, splits
    for each in members or [params]:
        if each.data not in checked:
            cfg = each.data
            splits = check_data(cfg, keep=keep)
            features = splits.train.drop(columns=[cfg.label])
            # The categories as ingest records them: the scale stage makes a column of each.
            categories = fit_categories(
                features, cfg.categorical, cfg.min_category_rows, cfg.missing_category
            )
            width = one_hot_width(list(features.columns), categories)
            checked[cfg] = (splits.train[cfg.label].to_numpy(), width, splits)
        labels, width, splits = checked[each.data]
        arch = Architecture.from_config(each.autoencoder, width, splits.shape)
        carried = 1 + len(each.data.ignore)  # the label, the ignored columns
        check_pipeline_model(arch, each.autoencoder.batch_size, each.data.memory_budget_mb, carried)
        test_origin = each.data.test_path or f"the test split of {splits.origin}"
        test_labels = splits.test[each.data.label].to_numpy()
        check_every_classifier(labels, test_labels, each, splits.origin, test_origin)
    require_usable_experiment(tracking_uri(params.tracking.uri), params.tracking.experiment)


def warm_start(params: Params) -> None:
    """Start Prefect's temporary server (unless a Prefect API is configured) and open the MLflow
    store side by side, before the flow starts.

    The flow would do both itself, one after the other: the server's process takes about 4 s
    to answer, creating the MLflow tables about 3 s. Here the server boots on one core while
    MLflow opens on the other (a store already there was opened by :func:`preflight`, which
    checks it can take the run). The flow's client then finds the same server (Prefect keeps
    one per process). Either failing here is left to the flow, which fails with its message."""
    import threading

    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    def open_store() -> None:
        try:
            client(tracking_uri(params.tracking.uri))
        except Exception as exc:
            log.debug("early MLflow store open failed: %s", exc)

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        open_store()
        return
    import prefect.server.api.server  # noqa: F401  (imported here, not in two threads)

    store = threading.Thread(target=open_store, name="aefx-mlflow-store", daemon=True)
    store.start()
    try:
        temporary_prefect_server()  # from the main thread, which the server's life is tied to
    except Exception as exc:
        log.debug("early Prefect server start failed: %s", exc)
    store.join()


def run_pipeline(
    params: Params,
    record_dvc: bool = True,
    entry_point: str = "aefx run",
    name: str | None = None,
) -> PipelineResult:
    """The pipeline flow on the task runner that ``params.compute`` asks for; its flow run, and
    so its MLflow run, named ``name`` if given (else Prefect makes one up)."""
    runner = task_runner(params.compute, len(comparison_groups(params)))
    # As a callable, not a string: Prefect would fill a string's {braces} from the parameters.
    flow = pipeline.with_options(task_runner=runner, flow_run_name=name and (lambda: name))
    return flow(params, record_dvc, entry_point)


def source_tags(params: Params) -> dict[str, str]:
    """Which data a run was given, recorded when it starts, so a run that fails on bad data
    still says what it read: the source, and for a file the file's MD5 (DVC's hash); for a
    folder of table files, an MD5 of its files' paths and MD5s (as `aefx train-stream`
    records it); likewise for a table's own test rows (``data.test_path``)."""
    from aefx.io import table_digest

    path = params.data.file_path()
    if path is None:
        return {"data.source": params.data.source}
    tags = {"data.source": f"{params.data.source}:{path}"}
    # A folder of images is no table: of image sources only a file (.npz, .npy) is hashed.
    table = params.data.source == "file" or Path(path).is_file()
    if table and (found := table_digest(Path(path))):
        tags[f"data.{found[0]}"] = found[1]
    test = params.data.test_path  # a table's own test rows: the same, as data.test_*
    if test is not None and (found := table_digest(Path(test))):
        tags[f"data.test_{found[0]}"] = found[1]
    return tags


@flow(name="aefx-scheduled")
def scheduled(params_file: str = "params.yaml", overrides: list[str] | None = None) -> str:
    """What a deployment runs (`aefx serve`, prefect.yaml): read the params file when the run
    starts, so each run picks up the current file and data, then run the pipeline as `aefx run`
    would (same workspace rules, same lock), as a subflow of this flow's name: the Prefect UI
    lists a deployment's runs by it, so the MLflow run bears it too, and this flow run shows the
    comparison report as the sub-flow does. Bad data fails this flow run and its MLflow run.
    Returns the MLflow run id."""
    from prefect.artifacts import create_markdown_artifact

    from aefx.console import quiet_environment
    from aefx.workspace import plan_run, workspace_lock

    # A worker's or a served deployment's flow run did not come through the aefx command, which
    # sets this up for its own runs: TensorFlow's start-up lines and warnings, MLflow's bars.
    quiet_environment(tensorflow=True)
    plan = plan_run(Path(params_file), overrides or [])
    # Which deployment: `aefx serve --name` or prefect.yaml's, run by a worker.
    entry_point = f"deployment {deployment.name}" if deployment.name else "aefx-scheduled"
    with workspace_lock(plan.workspace):
        result = run_pipeline(
            plan.params, plan.record_dvc, entry_point, name=str(flow_run.get_name())
        )
    log.info("MLflow run %s (%s)", result.run_id, result.tracking_uri)
    # The deployment's run is the one a user opens; the sub-flow's keyed artifacts are a click
    # further. Without a key it joins no artifact's history, so the report is not listed twice.
    create_markdown_artifact(
        markdown=result.report, description=f"Comparison of MLflow run {result.run_id}"
    )
    return result.run_id
