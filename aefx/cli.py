"""The ``aefx`` command. Heavy libraries are imported inside the commands, so --help is fast."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from aefx.console import quiet_environment
from aefx.errors import AefxError

app = typer.Typer(
    help="Autoencoder feature extraction: train, encode, and compare classifiers honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="Params file (YAML).", dir_okay=False)
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Start a local Dask cluster of N worker processes for mapped tasks.",
        min=1,
    ),
]
DaskOption = Annotated[
    str | None,
    typer.Option("--dask-address", help="Run mapped tasks on this Dask cluster (tcp://...)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a param: dotted.key=value (repeatable)."),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="models:/NAME@ALIAS, models:/NAME/VERSION, a run id, or a local encoder "
        "(.json, .keras or folder).",
    ),
]
RowsInOption = Annotated[
    Path,
    typer.Option(
        "--input",
        "-i",
        help="CSV or Parquet of raw rows; for a model trained on images, also a folder of image "
        "files, one image, or a .npy / .npz (array x) of images.",
    ),
]
ChunkOption = Annotated[
    int, typer.Option("--rows", help="Rows per chunk (memory is bounded by it).", min=1)
]


# Said when Ctrl-C comes while the data is checked, before Prefect or MLflow start.
NOTHING_STARTED = "nothing was started or written"


def _err(message: str) -> None:
    typer.echo(f"aefx: error: {message}", err=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an AefxError into one line on stderr and exit code 2, with no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AefxError as exc:
            _err(str(exc))
            raise typer.Exit(exc.exit_code) from None

    return wrapper


@app.command()
@user_errors
def run(
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Write outputs under this folder. Default: the project for params.yaml as it "
            "stands, workspaces/<params digest>/ for any other params.",
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
    from tasks.ingest import check_source

    check_source(plan.params.data)
    quiet_environment(tensorflow=True)
    from aefx.console import hide_user_error_tracebacks, print_summary
    from flows.pipeline import preflight, run_pipeline, warm_start

    with _interruptible(NOTHING_STARTED):
        preflight(plan.params)
    with (
        _interruptible("the MLflow run is marked KILLED and finished outputs are kept"),
        hide_user_error_tracebacks(),
        workspace_lock(plan.workspace),
    ):
        warm_start(plan.params)
        result = run_pipeline(plan.params, record_dvc=plan.record_dvc)
    print_summary(plan.params, result)


def with_compute(params: Any, workers: int | None, dask_address: str | None) -> Any:
    """Command-line choices of where tasks run. They change no output, so unlike --set they
    keep a run of params.yaml in the project (its dvc.lock stays true)."""
    from pydantic import ValidationError

    from aefx.config import ComputeConfig

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
        raise AefxError(f"compute: {exc.errors()[0]['msg']}") from None
    return params.model_copy(update={"compute": compute})


@contextlib.contextmanager
def _interruptible(outcome: str) -> Iterator[None]:
    """Ctrl-C, or SIGTERM (a scheduler, a timeout, `kill`), stops the block as one line saying
    ``outcome`` and exit code 130. Being an exception, it lets the block clean up on its way out
    (temporary outputs removed, MLflow runs ended KILLED); SIGTERM's default would not."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    except KeyboardInterrupt:
        _err(f"interrupted; {outcome}")
        raise typer.Exit(130) from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


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
    from tasks.ingest import check_source

    check_source(params.data)
    on_dask = bool(params.compute.dask_workers or params.compute.dask_address)
    quiet_environment(tensorflow=not on_dask)  # members train here unless Dask's workers do
    from aefx.console import hide_user_error_tracebacks, rich_console
    from flows.sweep import check_sweep, run_sweep, sweep_table

    with _interruptible(NOTHING_STARTED):
        check_sweep(params)
    with _interruptible("the sweep's MLflow runs are marked KILLED"), hide_user_error_tracebacks():
        result = run_sweep(params)
    rich_console().print(sweep_table(result))


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
    # Refuse a broken params file or schedule now, not at 3 am.
    load_params(params_file, overrides or [])
    quiet_environment()  # before Prefect is imported
    schedule = _schedule(cron, interval, timezone)
    if not os.environ.get("PREFECT_API_URL"):
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


def _schedule(cron: str | None, interval: int | None, timezone: str) -> Any:
    """The Prefect schedule asked for. A bad cron string or an unknown time zone is the user's
    error (Prefect's Cron takes any zone name as it is)."""
    import zoneinfo

    from prefect.schedules import Cron, Interval

    if interval is not None:
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
        raise AefxError(f"--cron {cron!r}: {str(exc).splitlines()[0]}") from None


@app.command("stage")
@user_errors
def run_stage(
    name: Annotated[str, typer.Argument(help="Stage name, as in dvc.yaml.")],
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Run one stage without Prefect (this is what `dvc repro` calls)."""
    from aefx.config import load_params
    from aefx.pipeline import STAGE_NAMES, check_inputs, stage

    if name not in STAGE_NAMES:
        raise AefxError(f"unknown stage {name!r} (stages: {', '.join(STAGE_NAMES)})")
    from aefx.workspace import workspace_lock

    params = load_params(params_file)
    check_inputs(stage(name), params)
    quiet_environment(tensorflow=stage(name).tensorflow(params))
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    with (
        _interruptible("no output is left half-written; `dvc repro` runs the stage again"),
        workspace_lock(None),  # never while an `aefx run` writes the same files
    ):
        result = stage(name).run(params)
    if name == "log_run":
        typer.echo(f"MLflow run {result.run_id}; open it with: aefx ui")


@app.command()
@user_errors
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)] = 5000,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Open the MLflow UI on this project's store (listens on 127.0.0.1 only)."""
    from aefx.config import load_params
    from aefx.tracking import tracking_uri

    uri = tracking_uri(load_params(params_file).tracking.uri)
    _require_free_port(port)
    typer.echo(f"MLflow UI for {uri} at http://127.0.0.1:{port} (Ctrl-C to stop)")
    quiet_environment()
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


def _shipped_model(
    model: str, input_path: Path, output: Path, params_file: Path
) -> tuple[Any, tuple[str, str]]:
    """The encoder that ``model`` names, with its scaler, and its (encoder, metadata) files,
    for the commands that stream new rows; the output is checked before anything loads."""
    from aefx.encode import output_format, resolve_model

    output_format(input_path, output)
    uri = _tracking_uri_for(params_file)
    quiet_environment()
    from aefx.console import import_tensorflow_quietly
    from aefx.serving import EncoderModel

    encoder_path, meta_path = resolve_model(model, uri)
    import_tensorflow_quietly()
    files = (str(encoder_path), str(meta_path))
    return EncoderModel.from_files(*files), files


NOTHING_WRITTEN = "no output was written"


@app.command()
@user_errors
def encode(
    model: ModelOption,
    input_path: RowsInOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV or Parquet file of codes (by its suffix).")
    ],
    rows: ChunkOption = 50_000,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Encode new data with a trained encoder and its scaler, chunk by chunk."""
    from aefx.encode import encode_file

    encoder, _ = _shipped_model(model, input_path, output, params_file)
    with _interruptible(NOTHING_WRITTEN):
        stats = encode_file(encoder, input_path, output, rows)
    typer.echo(
        f"{stats.rows} rows -> {stats.code_size} codes in {output} ({stats.chunks} chunk(s))"
    )


@app.command()
@user_errors
def score(
    model: ModelOption,
    input_path: RowsInOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV or Parquet file of scores (by its suffix).")
    ],
    truth: Annotated[
        str | None,
        typer.Option(help="A 0/1 column marking known anomalies: report ROC AUC and AP."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Flag above this score instead of the learned threshold_."),
    ] = None,
    rows: ChunkOption = 50_000,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Anomaly scores of new rows, from the shipped autoencoder's reconstruction error.

    Per row: decision_score (the error) and anomaly (1 above PyOD's threshold_, from training)."""
    from aefx.encode import score_file

    encoder, files = _shipped_model(model, input_path, output, params_file)
    from aefx.serving import load_detector

    detector = load_detector(*files, threshold)
    with _interruptible(NOTHING_WRITTEN):
        stats = score_file(encoder, detector, input_path, output, rows, truth)
    share = stats.flagged / stats.rows
    typer.echo(
        f"{stats.rows} rows scored into {output}; threshold_ {stats.threshold:.6g}; "
        f"{stats.flagged} flagged ({share:.2%})"
    )
    if stats.roc_auc is not None:
        typer.echo(
            f"against {truth}: ROC AUC {stats.roc_auc:.4f}, AP {stats.average_precision:.4f}"
        )


@app.command()
@user_errors
def reconstruct(
    model: ModelOption,
    input_path: RowsInOption,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="CSV or Parquet file of rebuilt rows (by its suffix)."),
    ],
    rows: ChunkOption = 50_000,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """New rows as the shipped autoencoder rebuilds them (denoised, for a denoising model).

    Rows come back in the input's units and columns; the label is carried through."""
    from aefx.encode import reconstruct_file

    encoder, files = _shipped_model(model, input_path, output, params_file)
    from aefx.serving import load_autoencoder

    autoencoder = load_autoencoder(*files)
    with _interruptible(NOTHING_WRITTEN):
        stats = reconstruct_file(encoder, autoencoder, input_path, output, rows)
    typer.echo(f"{stats.rows} rows rebuilt into {output} ({stats.chunks} chunk(s))")


@app.command("train-stream")
@user_errors
def train_stream(
    input_path: Annotated[
        Path, typer.Option("--input", "-i", help="Parquet file of rows (larger than memory).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the encoder (aefx encode -m).")
    ],
    epochs: Annotated[int, typer.Option(help="Passes over the file.", min=1)] = 10,
    batch_size: Annotated[int, typer.Option(help="Rows per training step.", min=1)] = 1024,
    rows: Annotated[
        int, typer.Option(help="Rows read per chunk (memory is bounded by it).", min=1)
    ] = 65_536,
    seed: Annotated[int | None, typer.Option(help="Default: the first of params' seeds.")] = None,
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
) -> None:
    """Train an autoencoder on a Parquet file in bounded memory, streaming it per epoch.

    The autoencoder section of the params file (and --set) says which model; the scaler is
    fitted in one streaming pass. The run is recorded in MLflow like `aefx run`'s."""
    from aefx.config import load_params

    params = load_params(params_file, overrides or [])
    cfg = params.autoencoder.model_copy(
        update={"epochs": epochs, "batch_size": batch_size, "validation_every": 1}
    )
    quiet_environment()
    from aefx.console import import_tensorflow_quietly
    from aefx.streaming import (
        check_encoder_folder,
        parquet_features,
        record_stream_run,
        train_stream,
    )

    # The checks a file's footer and the output folder allow, before any run starts.
    parquet_features(input_path, params.data.label)
    check_encoder_folder(output, input_path)
    import_tensorflow_quietly()
    chosen_seed = seed if seed is not None else params.seeds[0]
    with (
        _interruptible("the MLflow run is marked KILLED and the output folder is unchanged"),
        record_stream_run(params, cfg, input_path, output) as record,
    ):
        result = train_stream(
            input_path,
            output,
            cfg,
            params.scale.kind,
            params.data.label,
            params.anomaly.contamination,
            chunk=rows,
            seed=chosen_seed,
        )
        record(result)
    per_epoch = sorted(result.seconds_per_epoch)[len(result.seconds_per_epoch) // 2]
    typer.echo(
        f"{result.rows} rows x {result.features} features, {result.epochs} epochs "
        f"(median {per_epoch:.1f} s each), val_loss {result.val_loss:.5g}; encoder in {output}"
    )


def _tracking_uri_for(params_file: Path) -> str:
    from aefx.config import load_params
    from aefx.tracking import tracking_uri

    if params_file.is_file():
        return tracking_uri(load_params(params_file).tracking.uri)
    return tracking_uri()


@app.command()
@user_errors
def promote(
    metric: Annotated[
        str | None,
        typer.Option(
            help="Run metric to rank versions by; default: tracking.promote_metric "
            "(cv_accuracy.logreg.encoded, logged in evaluation.mode cv)."
        ),
    ] = None,
    alias: Annotated[str, typer.Option(help="Alias to set on the best version.")] = "champion",
    lowest: Annotated[bool, typer.Option(help="Lower is better (a loss).")] = False,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Point an alias (default: champion) at the registered encoder version with the best metric."""
    from aefx.config import load_params
    from aefx.encode import promote as set_alias
    from aefx.tracking import tracking_uri

    params = load_params(params_file)
    name = params.tracking.registered_model
    if not name:
        raise AefxError("tracking.registered_model is null: nothing is registered")
    metric = metric or params.tracking.promote_metric
    quiet_environment()
    version, value = set_alias(tracking_uri(params.tracking.uri), name, metric, alias, lowest)
    typer.echo(f"models:/{name}@{alias} -> version {version} ({metric} = {value:.4f})")


@app.command("compare-runs")
@user_errors
def compare_runs(
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs.", min=1)] = 5,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """The last N pipeline runs side by side: params that differ, headline metrics."""
    from aefx.config import load_params
    from aefx.console import rich_console
    from aefx.runs import recent_runs, runs_table
    from aefx.tracking import tracking_uri

    params = load_params(params_file)
    quiet_environment()
    uri = tracking_uri(params.tracking.uri)
    runs = recent_runs(uri, params.tracking.experiment, last)
    if not runs:
        raise AefxError(f"no aefx runs in experiment {params.tracking.experiment!r} ({uri})")
    rich_console().print(runs_table(runs))


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
    path.write_text(text)
    typer.echo(f"wrote {path}")


def _unwrap_help() -> None:
    """Typer's rich help keeps a docstring's line breaks, so a paragraph wrapped for the source
    broke mid-sentence on the terminal: give each command its docstring one line per paragraph,
    for the terminal to wrap."""
    for info in app.registered_commands:
        doc = inspect.getdoc(info.callback)
        if info.help is None and doc:
            info.help = "\n\n".join(" ".join(part.split()) for part in doc.split("\n\n"))


_unwrap_help()


def main() -> None:  # pragma: no cover - console entry point
    app()
