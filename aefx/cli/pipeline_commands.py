"""The commands that run the pipeline: run, sweep, serve, stage, ui and dvc-yaml."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aefx.cli.common import (
    NOTHING_STARTED,
    DaskOption,
    ParamsOption,
    SetOption,
    WorkersOption,
    app,
    interruptible,
    user_errors,
)
from aefx.console import UI_ENV, quiet_environment
from aefx.errors import AefxError, first_line


@app.command()
@user_errors
def run(
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Write outputs under this folder, one of their own (the project folder only "
            "for params.yaml as it stands). Default: the project for params.yaml as it stands, "
            "workspaces/<params digest>/ for any other params.",
            file_okay=False,
        ),
    ] = None,
    workers: WorkersOption = None,
    dask_address: DaskOption = None,
) -> None:
    """Run the whole pipeline as a Prefect flow and record it in MLflow (and dvc.lock)."""
    from aefx.config import load_params
    from aefx.workspace import plan_run, workspace_lock

    params = with_compute(load_params(params_file, overrides or []), workers, dask_address)
    plan = plan_run(params_file, overrides or [], workspace, params=params)
    check_places(plan.params)
    quiet_environment(tensorflow=True)
    from aefx.console import hide_user_error_tracebacks, print_summary
    from flows.pipeline import preflight, run_pipeline, warm_start

    with interruptible(NOTHING_STARTED):
        preflight(plan.params)
    with (
        interruptible("the MLflow run is marked KILLED and finished outputs are kept"),
        hide_user_error_tracebacks(),
        workspace_lock(plan.workspace),
    ):
        warm_start(plan.params)
        result = run_pipeline(plan.params, record_dvc=plan.record_dvc)
    print_summary(plan.params, result, params_file, overrides)


def check_places(params: Any) -> None:
    """The data is there, and the MLflow, Prefect and Dask servers named by address answer:
    checked before TensorFlow loads, so a mistyped path or address fails at once."""
    from aefx.servers import (
        require_dask_scheduler,
        require_prefect_api,
        require_tracking_store,
    )
    from aefx.tracking import tracking_uri
    from tasks.ingest import check_source

    check_source(params.data)
    require_tracking_store(tracking_uri(params.tracking.uri))
    # Prefect reads its settings once per process: aefx's (stage logs to the API, telemetry
    # off) must be in the environment before this first read.
    quiet_environment()
    require_prefect_api()
    require_dask_scheduler(params.compute.dask_address)


def with_compute(params: Any, workers: int | None, dask_address: str | None) -> Any:
    """Command-line choices of where tasks run. They change no output, so unlike --set they
    keep a run of params.yaml in the project (its dvc.lock stays true)."""
    from pydantic import ValidationError

    from aefx.config import ComputeConfig, describe_errors

    if workers is None and dask_address is None:
        return params
    settings = params.compute.model_dump()
    if workers is not None:
        settings.update(dask_workers=workers, dask_address=None)
    if dask_address is not None:
        settings.update(dask_address=dask_address, dask_workers=None)
    try:
        compute = ComputeConfig(**settings)
    except ValidationError as exc:
        raise AefxError(describe_errors(exc, "compute")) from None
    return params.model_copy(update={"compute": compute})


@app.command()
@user_errors
def sweep(
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
    workers: WorkersOption = None,
    dask_address: DaskOption = None,
) -> None:
    """Run the pipeline once per combination in sweep.grid, side by side on Dask workers.

    Example: aefx sweep --workers 2 -s 'sweep.grid.autoencoder.bottleneck=[25, 50, 100, 150]'"""
    from aefx.config import load_params

    params = with_compute(load_params(params_file, overrides or []), workers, dask_address)
    check_places(params)
    on_dask = bool(params.compute.dask_workers or params.compute.dask_address)
    quiet_environment(tensorflow=not on_dask)  # members train here unless Dask's workers do
    from aefx.console import hide_user_error_tracebacks, rich_console, ui_line
    from flows.sweep import check_sweep, run_sweep, sweep_table

    with interruptible(NOTHING_STARTED):
        check_sweep(params)
    with interruptible("the sweep's MLflow runs are marked KILLED"), hide_user_error_tracebacks():
        result = run_sweep(params)
    console = rich_console()
    console.print(sweep_table(result))
    line = ui_line(params_file, params.tracking.uri, overrides)
    console.print(line, soft_wrap=True, markup=False)


@app.command()
@user_errors
def serve(
    cron: Annotated[
        str | None, typer.Option(help='Cron schedule, e.g. "0 3 * * *" (03:00 daily).')
    ] = None,
    interval: Annotated[
        int | None, typer.Option(help="Run every this many seconds instead.", min=1)
    ] = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "aefx-scheduled",
    timezone: Annotated[str, typer.Option(help="Time zone of the cron schedule.")] = "UTC",
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
) -> None:
    """Serve the pipeline as a Prefect deployment on a schedule (needs a Prefect server).

    Each scheduled run re-reads the params file and its data when it starts. Runs take turns:
    a run due while another is going waits for it."""
    from aefx.config import load_params

    if (cron is None) == (interval is None):
        raise AefxError("give one schedule: --cron EXPR or --interval SECONDS")
    # Refuse a broken params file, store or schedule now, not at 3 am.
    params = load_params(params_file, overrides or [])
    from aefx.servers import require_prefect_api, require_tracking_store
    from aefx.tracking import require_usable_experiment, tracking_uri

    uri = tracking_uri(params.tracking.uri)
    require_tracking_store(uri)
    require_usable_experiment(uri, params.tracking.experiment)
    quiet_environment()  # before Prefect is imported
    schedule = _schedule(cron, interval, timezone)
    _check_deployment_name(name)
    # Set in the environment or, as `prefect config set` does, in the active Prefect profile.
    if require_prefect_api() is None:
        raise AefxError(
            "schedules need a Prefect server: start one with `prefect server start` and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    from flows.pipeline import scheduled

    typer.echo(f"serving deployment aefx-scheduled/{name}; Ctrl-C stops serving")
    scheduled.serve(
        name=name,
        schedule=schedule,
        parameters={"params_file": str(params_file), "overrides": list(overrides or [])},
        limit=1,
        print_starting_message=False,
    )


def _check_deployment_name(name: str) -> None:
    """Refuse a deployment name Prefect would refuse once the server is reached, in a
    traceback (and for an empty name, as one with "an invalid character")."""
    from prefect.types.names import BANNED_CHARACTERS

    if not name.strip():
        raise AefxError("--name: empty; a deployment needs a name")
    if any(c in name for c in BANNED_CHARACTERS):
        *most, last = BANNED_CHARACTERS
        raise AefxError(
            f"--name {name!r}: a deployment name may not hold {', '.join(most)} or {last}"
        )


def _schedule(cron: str | None, interval: int | None, timezone: str) -> Any:
    """The Prefect schedule asked for. A bad cron string or an unknown time zone is the user's
    error (Prefect's Cron takes any zone name as it is)."""
    import zoneinfo
    from datetime import timedelta

    from prefect.schedules import Cron, Interval

    if interval is not None:
        longest = timedelta.max // timedelta(seconds=1)  # 999,999,999 days
        if interval > longest:  # else an OverflowError making the timedelta
            raise AefxError(f"--interval {interval}: at most {longest} seconds (999,999,999 days)")
        return Interval(interval)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AefxError(
            f"--timezone {timezone!r}: not a known time zone (e.g. Europe/Paris)"
        ) from None
    try:
        return Cron(cron, timezone=timezone)
    except ValueError as exc:
        raise AefxError(f"--cron {cron!r}: {first_line(exc)}") from None


@app.command("stage")
@user_errors
def run_stage(
    name: Annotated[str, typer.Argument(help="Stage name, as in dvc.yaml.")],
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Run one stage without Prefect (this is what `dvc repro` calls)."""
    from aefx.config import load_params
    from aefx.pipeline import STAGE_NAMES, check_before, check_inputs, stage

    if name not in STAGE_NAMES:
        raise AefxError(f"unknown stage {name!r} (stages: {', '.join(STAGE_NAMES)})")
    from aefx.workspace import check_project_outputs, workspace_lock

    params = load_params(params_file)
    check_project_outputs(params, str(params_file))
    if name == "log_run":
        from aefx.servers import require_tracking_store
        from aefx.tracking import tracking_uri

        require_tracking_store(tracking_uri(params.tracking.uri))
    check_inputs(stage(name), params)
    check_before(stage(name), params)
    quiet_environment(tensorflow=stage(name).tensorflow(params))
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    with (
        interruptible("no output is left half-written; `dvc repro` runs the stage again"),
        workspace_lock(None),  # never while an `aefx run` writes the same files
    ):
        result = stage(name).run(params)
    if name == "log_run":
        from aefx.console import registered_as, ui_line

        typer.echo(f"MLflow run {result.run_id}")
        if result.model_version:
            typer.echo(registered_as(result.model_version))
        typer.echo(ui_line(params_file, params.tracking.uri))


@app.command()
@user_errors
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)] = 5000,
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
) -> None:
    """Open the MLflow UI on this project's store (listens on 127.0.0.1 only); for a tracking
    server or a Databricks workspace, say where its own UI is."""
    from aefx.config import load_params
    from aefx.servers import require_tracking_store, served_ui
    from aefx.tracking import tracking_uri

    uri = tracking_uri(load_params(params_file, overrides or []).tracking.uri)
    require_tracking_store(uri)
    if where := served_ui(uri):  # `mlflow ui` cannot take a tracking server as its store
        typer.echo(f"MLflow UI: {where}")
        return
    _require_free_port(port)
    typer.echo(f"MLflow UI for {uri} at http://127.0.0.1:{port} (Ctrl-C to stop)")
    quiet_environment()
    for key, value in UI_ENV.items():
        os.environ.setdefault(key, value)
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
    )


def _require_free_port(port: int) -> None:
    """MLflow's server logs a taken port among its start-up lines and still exits 0."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise AefxError(
                f"port {port} on 127.0.0.1 is not free ({exc.strerror}); choose one with --port"
            ) from None


@app.command("dvc-yaml")
@user_errors
def dvc_yaml(
    check: Annotated[bool, typer.Option(help="Only check dvc.yaml is up to date.")] = False,
    path: Annotated[Path, typer.Option(help="Where dvc.yaml is.")] = Path("dvc.yaml"),
) -> None:
    """Write dvc.yaml from the stage graph in aefx/pipeline.py."""
    from aefx.pipeline import dvc_yaml_text

    text = dvc_yaml_text()
    if check:
        if not path.is_file() or path.read_text() != text:
            raise AefxError(f"{path} is out of date with aefx/pipeline.py: run `aefx dvc-yaml`")
        typer.echo(f"{path} is up to date")
        return
    _keep_other_stages(path)
    from aefx.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)
    typer.echo(f"wrote {path}")


def _keep_other_stages(path: Path) -> None:
    """Refuse to write over stages of the user's: dvc.yaml is aefx's stage graph, written
    whole, and stages added to it by hand (a report, an export) were dropped without a word."""
    import yaml

    from aefx.pipeline import STAGE_NAMES

    try:
        existing = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (yaml.YAMLError, UnicodeDecodeError):
        existing = None  # not DVC's to read either: it is replaced
    stages = existing.get("stages") if isinstance(existing, dict) else None
    others = [name for name in stages or {} if name not in STAGE_NAMES]
    if others:
        raise AefxError(
            f"{path}: has stage(s) {', '.join(others)} that aefx's graph has not, and writing "
            "it would drop them; move them to a dvc.yaml in a folder of their own (DVC reads "
            "every one), then run this again"
        )
