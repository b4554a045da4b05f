"""Mapped tasks on a real local Dask cluster (two worker processes): the classifier cells of
the comparison, and a sweep whose members each log their own MLflow run from a worker."""

from __future__ import annotations

import io
import json
import logging
import os
import sys

import pandas as pd
import pytest

from aefx.config import load_params
from aefx.errors import AefxError
from aefx.pipeline import STAGES
from aefx.sweep import members
from aefx.threads import usable_cpus
from tests.conftest import (
    TINY_PARAMS,
    copy_project,
    running_runs,
    signal_when,
    start_command,
    write_params,
)

pytestmark = pytest.mark.slow


def _until(params, last: str) -> None:
    for stage in STAGES:
        stage.run(params)
        if stage.name == last:
            return


def test_comparison_cells_on_dask_workers_score_as_threads_do(project, prefect_harness):
    from prefect import flow

    from flows.pipeline import compare_classifiers, comparison_groups, task_runner

    params = load_params(overrides=["classifiers.use=[logreg, knn, random_forest]"])
    _until(params, "compare_classifiers")  # the DVC stage's way: a thread pool
    on_threads = pd.read_csv(params.paths.comparison_rows)
    params.paths.comparison_rows.unlink()

    dask = load_params(overrides=["classifiers.use=[logreg, knn, random_forest]"])
    dask = dask.model_copy(update={"compute": type(dask.compute)(dask_workers=2)})

    @flow
    def compare_only() -> None:
        compare_classifiers(dask)

    runner = task_runner(dask.compute, len(comparison_groups(dask)))
    compare_only.with_options(task_runner=runner)()
    pd.testing.assert_frame_equal(pd.read_csv(params.paths.comparison_rows), on_threads)


def test_a_cnn_on_a_dask_worker_prints_none_of_tensorflows_lines(project, prefect_harness, capfd):
    """The CNN classifier is the one comparison cell that needs TensorFlow; a worker, which the
    aefx command does not start, printed TensorFlow's start-up lines as it imported it (on CPUs
    where oneDNN is on by default)."""
    from prefect import flow

    from flows.pipeline import compare_classifiers, task_runner

    images = ["data.source=digits", "data.max_rows=200", "autoencoder.kind=conv", "seeds=[1]"]
    cnn = ["classifiers.use=[cnn]", "classifiers.cnn.epochs=1", "compute.dask_workers=1"]
    params = load_params(overrides=[*images, "autoencoder.epochs=1", *cnn])
    _until(params, "encode_splits")
    capfd.readouterr()

    @flow
    def compare_only() -> None:
        compare_classifiers(params)

    compare_only.with_options(task_runner=task_runner(params.compute, 1))()
    assert set(pd.read_csv(params.paths.comparison_rows)["classifier"]) == {"cnn"}
    assert "oneDNN" not in "".join(capfd.readouterr())


def test_a_local_cluster_starts_no_more_workers_than_the_run_has_tasks(project, prefect_harness):
    """`--workers 5000` for six tasks starts six workers, each with its share of the cores;
    a worker beyond the tasks would cost its memory and wait for nothing. More workers than
    CPUs are warned of: they take turns on the CPUs (nothing said so before)."""
    from flows.pipeline import comparison_groups, task_runner

    params = load_params(overrides=["seeds=[1, 2, 3]", "classifiers.use=[logreg, knn]"])
    assert sorted(comparison_groups(params)) == [
        (seed, name) for seed in (1, 2, 3) for name in ("knn", "logreg")
    ]
    cpus = usable_cpus()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # Prefect's logging keeps flows' records from the root's
    logger = logging.getLogger("flows.pipeline")
    logger.addHandler(handler)
    try:
        mapped = len(comparison_groups(params))
        cases = [(5000, 6, mapped), (6, 6, mapped), (2, 2, mapped), (1, 1, mapped)]
        cases += [(cpus + 1, cpus + 1, cpus + 1), (cpus, cpus, cpus + 1)]  # on any machine
        for asked, started, tasks in cases:
            compute = type(params.compute)(dask_workers=asked)
            records.clear()
            cluster = task_runner(compute, tasks).cluster_kwargs
            assert cluster["n_workers"] == started
            share = str(max(1, cpus // started))
            assert cluster["env"]["OMP_NUM_THREADS"] == share
            assert [r.getMessage() for r in records] == (
                [
                    f"compute.dask_workers={asked} starts {started} worker processes on {cpus} "
                    "CPU(s): they take turns on them, each holding its own TensorFlow in "
                    f"memory; {cpus} keep every CPU busy"
                ]
                if started > cpus
                else []
            )
    finally:
        logger.removeHandler(handler)


@pytest.mark.skipif(
    len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
    reason="needs a CPU affinity set of two CPUs or more to narrow",
)
def test_local_workers_count_the_cpus_this_process_may_use(project, prefect_harness):
    """Under `taskset` or a container's cpuset, the CPUs the process may run on are fewer than
    the machine's: the workers' share of threads and the warning count those, not
    ``os.cpu_count()`` (which gave one worker on 1 allowed CPU every CPU of the machine, and
    warned of nothing when the workers were more than the allowed CPUs)."""
    from flows.pipeline import task_runner

    compute = type(load_params().compute)(dask_workers=2)
    one = type(compute)(dask_workers=1)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("flows.pipeline")
    allowed = os.sched_getaffinity(0)
    logger.addHandler(handler)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert usable_cpus() == 1
        cluster = task_runner(compute, 2).cluster_kwargs
        alone = task_runner(one, 2).cluster_kwargs
    finally:
        os.sched_setaffinity(0, allowed)
        logger.removeHandler(handler)
    assert usable_cpus() == len(allowed)
    assert cluster["n_workers"] == 2
    assert cluster["env"]["OMP_NUM_THREADS"] == cluster["env"]["TF_NUM_INTRAOP_THREADS"] == "1"
    assert alone["n_workers"] == 1
    assert alone["env"]["OMP_NUM_THREADS"] == alone["env"]["TF_NUM_INTRAOP_THREADS"] == "1"
    assert [r.getMessage() for r in records] == [
        "compute.dask_workers=2 starts 2 worker processes on 1 CPU(s): they take turns on "
        "them, each holding its own TensorFlow in memory; 1 keep every CPU busy"
    ]


def test_comparison_on_an_existing_dask_cluster_runs_on_its_workers(project, prefect_harness):
    """`--dask-address`: a cluster started elsewhere. Its worker scores every classifier and seed
    and reports each task run to the flow's Prefect API (Prefect ships its settings with each
    task), and the scores match the thread pool's."""
    from distributed import Client, LocalCluster
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.pipeline import compare_classifiers, task_runner

    overrides = ["classifiers.use=[logreg, knn]"]
    params = load_params(overrides=overrides)
    _until(params, "compare_classifiers")
    on_threads = pd.read_csv(params.paths.comparison_rows)
    params.paths.comparison_rows.unlink()

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = load_params(
            overrides=[*overrides, f"compute.dask_address={cluster.scheduler_address}"]
        )

        @flow
        def compare_only() -> None:
            compare_classifiers(remote)

        runner = task_runner(remote.compute, 2 * len(remote.seeds))
        state = compare_only.with_options(task_runner=runner)(return_state=True)
        with Client(cluster) as dask_client:
            executed = dask_client.run(lambda dask_worker: dask_worker.state.executed_count)

    groups = len(params.seeds) * 2  # one task per classifier and seed
    assert sum(executed.values()) == groups
    pd.testing.assert_frame_equal(pd.read_csv(params.paths.comparison_rows), on_threads)
    with get_client(sync_client=True) as prefect_client:
        runs = prefect_client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    scored = [r for r in runs if r.name.startswith(("logreg,", "knn,"))]
    assert len(scored) == groups and all(r.state.is_completed() for r in scored)


def test_a_sweep_on_two_dask_workers_logs_each_member_from_a_worker(
    project, prefect_harness, capfd
):
    from mlflow.tracking import MlflowClient

    from flows.sweep import run_sweep, sweep_table

    params = load_params(
        overrides=[
            "seeds=[1]",
            "classifiers.use=[logreg]",
            "evaluation.mode=cv",
            "sweep.grid.autoencoder.bottleneck=[3, 5]",
            "compute.dask_workers=2",
        ]
    )
    result = run_sweep(params)
    # In CV mode each member is shown by a training-split score, which a user may choose by.
    assert result.metric == "cv_accuracy.logreg.encoded"

    mlflow_client = MlflowClient(result.tracking_uri)
    parent = mlflow_client.get_run(result.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["aefx.kind"] == "sweep"
    # The parent is named as the sweep's flow run, each member by its settings.
    assert parent.info.run_name == parent.data.tags["prefect.flow_run_name"]
    assert [m.label for m in result.members] == [
        "autoencoder.bottleneck=3",
        "autoencoder.bottleneck=5",
    ]
    pids = set()
    for member, width in zip(result.members, (3, 5), strict=True):
        run = mlflow_client.get_run(member.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == result.run_id
        assert run.info.run_name == member.label
        assert run.data.params["autoencoder.bottleneck"] == str(width)
        assert member.headline is not None
        assert run.data.metrics[result.metric] == member.headline
        pids.add(run.data.tags["aefx.pid"])
        # Its outputs sit in its own workspace, with codes of its own width.
        workspace = project / "workspaces" / member.workspace.rsplit("/", 1)[-1]
        codes = pd.read_parquet(workspace / "data" / "encoded" / "test-seed-1.parquet")
        assert codes.shape[1] == width + 1  # the codes and the label
        assert (workspace / "reports" / "comparison.md").is_file()
    # Logged from worker processes, not from this one.
    assert str(os.getpid()) not in pids and len(pids) >= 1
    # The workers, which the aefx command does not start, are as quiet as its own process:
    # they printed TensorFlow's start-up lines (on CPUs where oneDNN is on by default) and its
    # warnings (tf.function retracing), each worker its own.
    printed = "".join(capfd.readouterr())
    assert "oneDNN" not in printed and "| tensorflow -" not in printed

    # As `aefx sweep` prints it on 80 columns: each member's label and run id whole, on one
    # line, and its outputs folder (relative to the project) on the next.
    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(sweep_table(result))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    for member in result.members:
        (row,) = [i for i, line in enumerate(lines) if member.label in line]
        assert member.run_id in lines[row]
        assert f"workspaces/{member.workspace.rsplit('/', 1)[-1]}" in lines[row + 1]


def test_a_sweep_on_dask_workers_stopped_by_sigterm_ends_every_run_killed(tmp_path):
    """The workers go down with the cluster without ending their members' runs: those were
    left RUNNING under "the sweep's MLflow runs are marked KILLED"."""
    from mlflow.tracking import MlflowClient

    project = copy_project(tmp_path / "project")
    slow = {"epochs": 5000, "batch_size": 8, "bottleneck_ratio": 0.5}
    changes = {
        **TINY_PARAMS,
        "seeds": [1],
        "autoencoder": slow,  # trains until stopped
        "compute": {"dask_workers": 2},
        "sweep": {"grid": {"autoencoder.bottleneck": [2, 3]}},
    }
    write_params(project, changes)
    store = project / "mlruns" / "mlflow.db"
    proc = start_command(sys.executable, "-m", "aefx", "sweep", cwd=project)
    stderr = signal_when(proc, lambda: running_runs(store) == 3, settle=5)  # both training
    assert proc.returncode == 130, stderr
    assert (
        "aefx: error: interrupted; the sweep's MLflow runs are marked KILLED" in stderr.splitlines()
    )
    client = MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert sorted((r.data.tags["aefx.kind"], r.info.status) for r in runs) == [
        ("pipeline", "KILLED"),
        ("pipeline", "KILLED"),
        ("sweep", "KILLED"),
    ]


def test_a_sweep_in_holdout_mode_shows_test_scores_for_the_report_only():
    from rich.console import Console

    from flows.sweep import MemberResult, SweepResult, headline_metric, sweep_table

    assert headline_metric(load_params()) == "test_accuracy.logreg.encoded"
    assert headline_metric(load_params(overrides=["evaluation.mode=cv"])) == (
        "cv_accuracy.logreg.encoded"
    )
    member = MemberResult("autoencoder.bottleneck=3", "0" * 32, "workspaces/x", "FINISHED", 0.9)
    result = SweepResult("1" * 32, "sqlite:///x", [member], "test_accuracy.logreg.encoded")
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(sweep_table(result))
    shown = " ".join(console.export_text().split())
    assert "test split, for the report; to choose a member, sweep with evaluation.mode=cv" in shown


def test_sweep_members_are_every_combination_in_workspaces_of_their_own(project):
    params = load_params(
        overrides=[
            "sweep.grid.autoencoder.bottleneck=[3, 5]",
            "sweep.grid.autoencoder.kind=[dense, sparse]",
        ]
    )
    found = members(params)
    assert [m.overrides for m in found] == [
        {"autoencoder.bottleneck": 3, "autoencoder.kind": "dense"},
        {"autoencoder.bottleneck": 3, "autoencoder.kind": "sparse"},
        {"autoencoder.bottleneck": 5, "autoencoder.kind": "dense"},
        {"autoencoder.bottleneck": 5, "autoencoder.kind": "sparse"},
    ]
    workspaces = {m.params.paths.workspace for m in found}
    assert len(workspaces) == 4 and all(w.is_absolute() for w in workspaces)
    assert all(m.params.paths.encoder.is_relative_to(m.params.paths.workspace) for m in found)

    with pytest.raises(AefxError, match=r"sweep\.grid is empty"):
        members(load_params())
    with pytest.raises(AefxError, match=r"autoencoder\.bottleneck"):
        members(load_params(overrides=["sweep.grid.autoencoder.bottleneck=[0]"]))
    with pytest.raises(AefxError, match="not under"):
        load_params(overrides=["sweep.grid.paths.encoder=[a.keras]"])


def test_sweep_members_that_differ_only_in_what_neither_reads_are_refused(project):
    """A grid of autoencoder.bottleneck for images trained the conv stack, which takes its code
    width from conv_filters, once per value: the members came out alike, and each trained for
    nothing. Two members that differ only in settings neither reads are refused, even where
    one value is the default; members that read them are kept."""
    images = ["data.source=digits", "sweep.grid.autoencoder.bottleneck_ratio=[1.5, 0.25]"]
    kinds = "sweep.grid.autoencoder.kind=[dense, denoising]"
    with pytest.raises(AefxError) as err:
        members(load_params(overrides=[*images, kinds]))
    assert str(err.value) == (
        "sweep.grid: members autoencoder.bottleneck_ratio=1.5, autoencoder.kind=denoising and "
        "autoencoder.bottleneck_ratio=0.25, autoencoder.kind=denoising would be one run twice: "
        "neither reads autoencoder.bottleneck_ratio (read by the dense and deep-bn stacks, with "
        "autoencoder.bottleneck null)"
    )
    dense = "sweep.grid.autoencoder.kind=[dense, deep-bn]"
    assert len(members(load_params(overrides=[*images, dense]))) == 4
    # A width given outright leaves its ratio unread, for any stack.
    ratios = ["autoencoder.bottleneck=4", "sweep.grid.autoencoder.bottleneck_ratio=[0.5, 1.0]"]
    with pytest.raises(AefxError, match=r"with autoencoder\.bottleneck null\)$"):
        members(load_params(overrides=ratios))
    # The comparison's settings alike: a classifier's outside classifiers.use.
    use = ["classifiers.use=[logreg]", "sweep.grid.classifiers.knn.n_neighbors=[5, 7]"]
    with pytest.raises(AefxError, match=r"neither reads classifiers\.knn\.n_neighbors \(read with"):
        members(load_params(overrides=use))
    use = [*use, "sweep.grid.classifiers.use=[[logreg, knn]]"]
    assert len(members(load_params(overrides=use))) == 2


def _towns(path, n_cities: int) -> None:
    """A table of 120 rows: two numbers, `city` of n_cities categories (lyon and paris most of
    the rows, the rest one row each) and `plan` with gaps."""
    import numpy as np

    rng = np.random.default_rng(0)
    city = np.array(["lyon", "paris"], dtype=object)[np.arange(120) % 2]
    city[: n_cities - 2] = [f"town{i:03d}" for i in range(n_cities - 2)]
    plan = np.array(["basic", "pro", None], dtype=object)[np.arange(120) % 3]
    frame = pd.DataFrame({"a": rng.normal(size=120), "city": city, "plan": plan})
    frame["b"] = rng.normal(size=120)
    frame["label"] = (frame["a"] + frame["b"] > 0).astype(int)
    frame.to_csv(path, index=False)


TOWNS = [
    "data.source=file",
    "data.path=data/raw/towns.csv",
    "data.categorical=[city, plan]",
    "data.missing_category=true",
    "seeds=[1]",
    "classifiers.use=[logreg]",
]


def test_a_sweep_may_vary_how_categories_count_but_not_the_rows(project, prefect_harness):
    """Of the data settings a sweep may vary those that change how values become features
    (data.min_category_rows, data.missing_category, data.impute): each member ingests with
    its own and is judged on the same split. One that changes the rows or their split is
    refused: the members' scores would not be comparable."""
    from mlflow.tracking import MlflowClient

    from flows.sweep import run_sweep

    _towns(project / "data" / "raw" / "towns.csv", n_cities=30)
    params = load_params(overrides=[*TOWNS, "sweep.grid.data.min_category_rows=[1, 5]"])
    result = run_sweep(params)
    mlflow_client = MlflowClient(result.tracking_uri)
    tests = []
    for member, rows in zip(result.members, (1, 5), strict=True):
        run = mlflow_client.get_run(member.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["data.min_category_rows"] == str(rows)
        workspace = project / "workspaces" / member.workspace.rsplit("/", 1)[-1]
        cities = json.loads((workspace / "data" / "processed" / "schema.json").read_text())
        cities = cities["categories"]["city"]
        if rows == 5:
            assert cities == ["lyon", "paris", "(other)"]
        else:
            assert "(other)" not in cities and len(cities) > 3
        tests.append(pd.read_parquet(workspace / "data" / "processed" / "test.parquet"))
    assert tests[0].equals(tests[1])  # one split for both

    for key in ("data.split_seed", "data.test_size", "data.max_rows", "data.label"):
        with pytest.raises(AefxError, match="would give the members different rows or splits"):
            load_params(overrides=[f"sweep.grid.{key}=[20, 30]"])


def test_the_size_check_before_a_run_counts_categories_as_ingest_will(project):
    """aefx run and aefx sweep check the autoencoder's size against data.memory_budget_mb
    before anything starts. With data.min_category_rows the rare categories make one column,
    as ingest will make them: the check counted one each, and refused a model that fits."""
    from flows.pipeline import preflight

    _towns(project / "data" / "raw" / "towns.csv", n_cities=90)
    small = [*TOWNS, "data.memory_budget_mb=0.5"]
    preflight(load_params(overrides=[*small, "data.min_category_rows=5"]), keep=False)
    with pytest.raises(AefxError, match=r"over data\.memory_budget_mb=0\.5"):
        preflight(load_params(overrides=small), keep=False)
    # A sweep's members are checked each with its own data settings.
    swept = load_params(overrides=[*small, "sweep.grid.data.min_category_rows=[5, 1]"])
    with pytest.raises(AefxError, match=r"over data\.memory_budget_mb=0\.5"):
        preflight(swept, keep=False, members=[m.params for m in members(swept)])
