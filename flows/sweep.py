"""A sweep as a Prefect flow: one mapped task per member of ``sweep.grid``, each a whole
pipeline run in its own workspace and MLflow run, under one parent MLflow run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from aefx.config import Params, params_to_flat_dict
from aefx.pipeline import STAGE_NAMES, stage
from aefx.stops import is_stop
from aefx.sweep import Member, members
from aefx.tracking import (
    client,
    end_run,
    ended_on_error,
    git_tags,
    project_root,
    start_run,
    tracking_uri,
)
from flows.pipeline import preflight, task_runner, warm_start

log = logging.getLogger(__name__)


def headline_metric(params: Params) -> str:
    """The score the sweep shows for each member: logistic regression on the codes, on the
    training split's folds in CV mode. In holdout mode only the test split has a score; it is
    shown for the report, and choosing a member by it would be tuning on the test split."""
    split = "cv" if params.evaluation.mode == "cv" else "test"
    return f"{split}_{params.evaluation.metric}.logreg.encoded"


@dataclass(frozen=True)
class MemberResult:
    label: str
    run_id: str
    workspace: str
    status: str
    headline: float | None
    error: str | None = None

    @property
    def score(self) -> str:
        """The headline as the table and the log show it."""
        return "-" if self.headline is None else f"{self.headline:.4f}"


@task(name="sweep_member", cache_policy=NO_CACHE, task_run_name="member {member.label}")
def run_member(member: Member, parent_run_id: str, uri: str, metric: str) -> MemberResult:
    """Every stage of the pipeline for one member, in this task's process (a Dask worker or
    the flow's own), logged to its own MLflow run under the sweep's; ``metric`` is the score
    the result carries."""
    from aefx.console import quiet_environment
    from aefx.workspace import workspace_lock

    # A Dask worker did not come through the aefx command, which sets this up for its own
    # process: without it each worker printed TensorFlow's start-up lines and its warnings.
    # (The import sets the worker's stderr aside for a second or two, its own lines too.)
    quiet_environment(tensorflow=True)
    params = member.params
    run_id = start_run(
        uri,
        params.tracking.experiment,
        {
            "mlflow.parentRunId": parent_run_id,
            "aefx.entry_point": "aefx sweep",
            "aefx.kind": "pipeline",
            "aefx.sweep.member": member.label,
        },
        params_to_flat_dict(params),
        name=member.label,  # under its parent, which bears the flow run's name
    )
    with ended_on_error(uri, run_id), workspace_lock(params.paths.workspace):
        for name in STAGE_NAMES[:-1]:
            stage(name).run(params)
        stage("log_run").run(params, run_id=run_id, entry_point="aefx sweep")
    headline = client(uri).get_run(run_id).data.metrics.get(metric)
    return MemberResult(member.label, run_id, str(params.paths.workspace), "FINISHED", headline)


@dataclass(frozen=True)
class SweepResult:
    run_id: str
    tracking_uri: str
    members: list[MemberResult]
    metric: str  # each member's headline score (headline_metric)

    @property
    def failed(self) -> list[MemberResult]:
        return [m for m in self.members if m.status != "FINISHED"]


@flow(name="aefx-sweep")
def sweep(params: Params) -> SweepResult:
    """Run every member of ``params.sweep.grid``; mapped, so members run side by side on Dask
    workers, or one after another on the default runner (training is not thread-safe)."""
    from prefect.states import State

    uri = tracking_uri(params.tracking.uri)
    todo = members(params)
    metric = headline_metric(params)
    name = str(flow_run.get_name())
    parent = start_run(
        uri,
        params.tracking.experiment,
        {
            **git_tags(project_root()),
            "aefx.entry_point": "aefx sweep",
            "aefx.kind": "sweep",
            "aefx.sweep.grid": str(params.sweep.grid),
            "prefect.flow_run_id": str(flow_run.get_id()),
            "prefect.flow_run_name": name,
        },
        name=name,
    )
    on_processes = params.compute.dask_address or params.compute.dask_workers
    with ended_on_error(uri, parent):
        if on_processes:
            futures = run_member.map(
                todo, parent_run_id=unmapped(parent), uri=unmapped(uri), metric=unmapped(metric)
            )
            futures.wait()
            states: list[State] = [f.state for f in futures]
            results = [_outcome(m, s) for m, s in zip(todo, states, strict=True)]
        else:  # a stopped member stops the sweep before the next one starts
            results = [
                _outcome(m, run_member(m, parent, uri, metric, return_state=True)) for m in todo
            ]
        _log_summary(uri, parent, results, metric)
    failed = [r for r in results if r.status != "FINISHED"]
    end_run(uri, parent, "FAILED" if failed else "FINISHED")
    if failed:
        from aefx.errors import AefxError

        raise AefxError(
            f"{len(failed)} of {len(results)} sweep member(s) failed: "
            + "; ".join(f"{r.label}: {r.error}" for r in failed)
        )
    return SweepResult(parent, uri, results, metric)


def sweep_table(result: SweepResult) -> Any:
    """The members as `aefx sweep` prints them, fitting 80 columns: each member's run id (whole,
    for `aefx encode -m`) sits above its outputs folder in one cell, and a label wraps between
    its settings, so no label is cut short (two cut labels can read the same)."""
    from rich.table import Table

    def shown(folder: str) -> str:
        path = Path(folder)
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else folder

    caption = (
        "test split, for the report; to choose a member, sweep with evaluation.mode=cv"
        if result.metric.startswith("test_")
        else "cross-validated on the training split"
    )
    table = Table(title=f"Sweep (MLflow run {result.run_id}): {result.metric}", caption=caption)
    table.add_column("member", overflow="fold")
    score_name = result.metric.split(".")[0].removeprefix("cv_").removeprefix("test_")
    table.add_column(score_name, justify="right")  # accuracy or f1_macro
    table.add_column("MLflow run / outputs", no_wrap=True, overflow="fold")
    for m in result.members:
        table.add_row(m.label, m.score, f"{m.run_id or '-'}\n{shown(m.workspace)}")
    return table


def _outcome(member: Member, state: Any) -> MemberResult:
    """A member's result from its task's final state; a member that was stopped (a signal,
    perhaps turned into another error by native code) raises the stop again, to stop the
    sweep."""
    if state.is_completed():
        return state.result()
    try:
        state.result()
        reason = state.message or state.name
    except BaseException as exc:
        if is_stop(exc):
            raise
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return MemberResult(
        member.label, "", str(member.params.paths.workspace), "FAILED", None, reason
    )


def _log_summary(uri: str, parent: str, results: list[MemberResult], metric: str) -> None:
    """The members side by side on the parent run: a table artifact and one metric each."""
    import time

    import pandas as pd
    from mlflow.entities import Metric

    mlflow_client = client(uri)
    rows = [
        {
            "member": r.label,
            "status": r.status,
            metric: r.headline,
            "run_id": r.run_id,
            "workspace": r.workspace,
        }
        for r in results
    ]
    mlflow_client.log_table(parent, data=pd.DataFrame(rows), artifact_file="sweep/members.json")
    now = int(time.time() * 1000)
    metrics = [
        Metric(metric, r.headline, now, i) for i, r in enumerate(results) if r.headline is not None
    ]
    if metrics:
        mlflow_client.log_batch(parent, metrics=metrics)
    for r in results:
        log.info("sweep: %s -> %s (%s)", r.label, r.score, r.status)


def check_sweep(params: Params) -> None:
    """An empty grid, a member's bad params or bad data: one line, before Prefect starts."""
    preflight(params, keep=False, members=[m.params for m in members(params)])


def run_sweep(params: Params) -> SweepResult:
    """The sweep flow on the task runner that ``params.compute`` asks for (`aefx sweep` runs
    `check_sweep` first)."""
    warm_start(params)
    runner = task_runner(params.compute, len(members(params)))
    return sweep.with_options(task_runner=runner)(params)
