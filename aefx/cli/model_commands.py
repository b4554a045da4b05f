"""The commands that use a trained model: encode, score, reconstruct, train-stream, promote and
compare-runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aefx.cli.common import (
    ChunkOption,
    KeepOption,
    ModelOption,
    ParamsOption,
    RowsInOption,
    SetOption,
    app,
    interruptible,
    user_errors,
)
from aefx.console import quiet_environment
from aefx.errors import LARGEST_INT, AefxError, first_few

if TYPE_CHECKING:
    from aefx.config import PathsConfig


def _project_encoder(paths: PathsConfig) -> str:
    """The encoder metadata the project's last `aefx run` wrote (``paths.encoder_meta``).
    Without one, the line names the newest a run with other settings left in its workspace:
    a user who ran only with --set was told to run `aefx run`, which they had."""
    if paths.encoder_meta.is_file():
        return str(paths.encoder_meta)
    from aefx.workspace import WORKSPACES

    meta = paths.encoder_meta
    elsewhere = [] if meta.is_absolute() else list(WORKSPACES.glob(f"*/{meta.as_posix()}"))
    newest = max(elsewhere, key=lambda p: p.stat().st_mtime, default=None)
    how = (
        f"`aefx run` with the params file's settings writes it; a run with others wrote "
        f"{newest.as_posix()}"
        if newest
        else "`aefx run` writes it"
    )
    raise AefxError(
        f"{meta}: no encoder yet ({how}); or name one with -m (models:/NAME@ALIAS, a run id, "
        "a path)"
    )


def _shipped_model(
    model: str | None,
    input_path: Path,
    output: Path,
    params_file: Path,
    image_folder: bool = False,
) -> tuple[Any, tuple[str, str]]:
    """The encoder that ``model`` names (by default the project's own), with its scaler, and
    its (encoder, metadata) files, for the commands that stream new rows; the output (a file,
    or with ``image_folder`` also a folder of images) is checked before anything loads."""
    from aefx.config import PathsConfig, load_params, project_above
    from aefx.encode import (
        RUN_ID,
        check_image_folder,
        is_folder_output,
        output_format,
        resolve_model,
    )
    from aefx.tracking import tracking_uri

    if image_folder and is_folder_output(output):
        check_image_folder(input_path, output)
    else:
        output_format(input_path, output)
    # Outside a project (no params file) the defaults stand: models/encoder.json, mlruns/. In
    # a folder inside one, the project's encoder and store are above: load_params says so.
    from_store = model is None or model.startswith(("runs:/", "models:/")) or RUN_ID.match(model)
    in_project = params_file.is_file() or (from_store and project_above() is not None)
    params = load_params(params_file) if in_project else None
    model = model or _project_encoder(params.paths if params else PathsConfig())
    uri = tracking_uri(params.tracking.uri if params else None)
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
    input_path: RowsInOption,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="CSV, compressed CSV or Parquet file of codes (by its suffix)."
        ),
    ],
    model: ModelOption = None,
    rows: ChunkOption = 50_000,
    keep: KeepOption = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Encode new data with a trained encoder and its scaler, chunk by chunk."""
    from aefx.encode import encode_file

    encoder, _ = _shipped_model(model, input_path, output, params_file)
    with interruptible(NOTHING_WRITTEN):
        stats = encode_file(encoder, input_path, output, rows, keep or [])
    typer.echo(
        f"{stats.rows} rows -> {stats.code_size} codes in {output} ({stats.chunks} chunk(s))"
    )
    if stats.far_rows:
        shown = ", ".join(f"{c} ({n})" for c, n in list(stats.far_columns.items())[:5])
        typer.echo(
            f"warning: {stats.far_rows} of {stats.rows} rows lie far outside the training rows "
            f"(beyond their range by more than its width) in {shown}"
            f"{', ...' if len(stats.far_columns) > 5 else ''}: the encoder extrapolates there "
            "(a change of units?); `aefx score` rates each row",
            err=True,
        )
    warn_inputs(stats, encoder)


def fill_note(filled: dict[str, int], strategy: str, categorical: set[str]) -> str:
    """The note on the missing values a model filled, column by column (the first five): with
    the training rows' ``strategy`` for numbers, their most frequent value for categories."""
    if not categorical & set(filled):
        how = strategy
    elif set(filled) <= categorical:
        how = "most frequent category"
    else:
        how = f"{strategy}, for categories the most frequent"
    shown = first_few([f"{c} ({n})" for c, n in filled.items()])
    total = sum(filled.values())
    return (
        f"note: {total} missing value(s) filled as in training (the training rows' {how}), "
        f"in {shown}"
    )


def warn_inputs(stats: Any, encoder: Any) -> None:
    """A line each for missing values the model filled and for rows holding a category that the
    training rows did not have (a note where the column has the rare ones' category, which
    such rows count as: those rare in training count so too)."""
    categories = encoder.preprocessing.categories
    if stats.filled:
        strategy = encoder.preprocessing.impute.strategy
        typer.echo(fill_note(stats.filled, strategy, set(categories)), err=True)
    from aefx.scaling import RARE

    rare = {c: n for c, n in stats.unseen.items() if RARE in categories[c]}
    unknown = {c: n for c, n in stats.unseen.items() if c not in rare}
    if unknown:
        typer.echo(
            f"warning: categories the training rows did not have, in {_rows(unknown)}: such a "
            "row reaches the autoencoder as none of its column's known categories",
            err=True,
        )
    if rare:
        typer.echo(
            f"note: rows whose category is none of the training rows' frequent ones, in "
            f"{_rows(rare)}, count as {RARE} (data.min_category_rows)",
            err=True,
        )


def _rows(counts: dict[str, int]) -> str:
    return ", ".join(f"{c} ({n} row{'s' * (n != 1)})" for c, n in counts.items())


def _a_number(value: float | None) -> float | None:
    """`nan` passes a range check (it compares false with every bound) and flags no row."""
    if value is not None and math.isnan(value):
        raise typer.BadParameter(f"{value} is not a number.")
    return value


@app.command()
@user_errors
def score(
    input_path: RowsInOption,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="CSV, compressed CSV or Parquet file of scores (by its suffix)."
        ),
    ],
    truth: Annotated[
        str | None,
        typer.Option(help="A 0/1 column marking known anomalies: report ROC AUC and AP."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Flag above this score (a mean squared error, 0 or more) instead of the "
            "threshold learned in training.",
            min=0.0,
            callback=_a_number,
        ),
    ] = None,
    model: ModelOption = None,
    rows: ChunkOption = 50_000,
    keep: KeepOption = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Anomaly scores of new rows, from the shipped autoencoder's reconstruction error.

    Per row: decision_score (the error) and anomaly (1 above the threshold learned in training:
    the score that anomaly.contamination of the training rows exceed)."""
    from aefx.encode import score_file

    encoder, files = _shipped_model(model, input_path, output, params_file)
    from aefx.serving import load_detector

    detector = load_detector(*files, threshold)
    with interruptible(NOTHING_WRITTEN):
        stats = score_file(encoder, detector, input_path, output, rows, truth, keep or [])
    share = stats.flagged / stats.rows
    # PyOD's name for it, threshold_, told nobody where the number came from.
    came_from = (
        f"learned: {100 * detector.contamination:g}% of the training rows score above it"
        if threshold is None
        else "--threshold"
    )
    typer.echo(
        f"{stats.rows} rows scored into {output}; threshold {stats.threshold:.6g} ({came_from}); "
        f"{stats.flagged} flagged ({share:.2%})"
    )
    if stats.roc_auc is not None:
        typer.echo(
            f"against {truth}: ROC AUC {stats.roc_auc:.4f}, AP {stats.average_precision:.4f}"
        )
    elif truth:
        marked = "no row" if stats.known_anomalies == 0 else "every row"
        typer.echo(
            f"against {truth}: no ROC AUC or AP, as it marks {marked} an anomaly (they need "
            "rows of 0 and of 1)"
        )
    warn_inputs(stats, encoder)


@app.command()
@user_errors
def reconstruct(
    input_path: RowsInOption,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="CSV, compressed CSV or Parquet file of rebuilt rows (by its suffix); for a "
            "model trained on images, also a folder, for one PNG per image at the model's size "
            "(and reconstructions.csv, which lists them).",
        ),
    ],
    model: ModelOption = None,
    rows: ChunkOption = 50_000,
    keep: KeepOption = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """New rows as the shipped autoencoder rebuilds them (denoised, for a denoising model).

    Rows come back in the input's units and columns; the label is carried through. Images
    may come back as images instead: name a folder as the output."""
    from aefx.encode import IMAGE_INDEX, is_folder_output, reconstruct_file

    encoder, files = _shipped_model(model, input_path, output, params_file, image_folder=True)
    from aefx.serving import load_autoencoder

    autoencoder = load_autoencoder(*files)
    with interruptible(NOTHING_WRITTEN):
        stats = reconstruct_file(encoder, autoencoder, input_path, output, rows, keep or [])
    if is_folder_output(output):
        typer.echo(f"{stats.rows} images rebuilt into {output} as PNG files ({IMAGE_INDEX})")
    else:
        typer.echo(f"{stats.rows} rows rebuilt into {output} ({stats.chunks} chunk(s))")
    warn_inputs(stats, encoder)


@app.command("train-stream")
@user_errors
def train_stream(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Parquet, CSV or TSV file of rows (larger than memory), or a folder of them.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the encoder (aefx encode -m).")
    ],
    epochs: Annotated[int, typer.Option(help="Passes over the file.", min=1, max=LARGEST_INT)] = 10,
    batch_size: Annotated[
        int, typer.Option(help="Rows per training step.", min=1, max=LARGEST_INT)
    ] = 1024,
    rows: Annotated[
        int,
        typer.Option(help="Rows read per chunk (memory is bounded by it).", min=1, max=LARGEST_INT),
    ] = 65_536,
    seed: Annotated[
        int | None,
        typer.Option(help="Default: the first of params' seeds.", min=0, max=2**32 - 1),
    ] = None,
    params_file: ParamsOption = Path("params.yaml"),
    overrides: SetOption = None,
) -> None:
    """Train an autoencoder on a table larger than memory (Parquet, CSV or TSV; a file or a
    folder of them), streaming it per epoch.

    The autoencoder section of the params file (and --set) says which model, but for its
    epochs and batch size (--epochs, --batch-size); the scaler is fitted in one streaming
    pass. A CSV or TSV is first copied to Parquet beside the output (one pass; removed
    afterwards). The run is recorded in MLflow like `aefx run`'s."""
    from aefx.config import load_params, parse_override

    params = load_params(params_file, overrides or [])
    # Its own options set these (the file's values are for in-memory training); a --set of
    # one was overridden by them without a word: `-s autoencoder.epochs=2` trained 10 epochs.
    instead = {"epochs": "give --epochs {}", "batch_size": "give --batch-size {}"}
    instead["validation_every"] = "it validates after every epoch"
    for text in overrides or []:
        keys, value = parse_override(text)
        if keys[0] == "autoencoder" and len(keys) == 2 and keys[1] in instead:
            raise AefxError(
                f"--set {text!r}: aefx train-stream does not read autoencoder.{keys[1]}; "
                + instead[keys[1]].format(value)
            )
    cfg = params.autoencoder.model_copy(
        update={"epochs": epochs, "batch_size": batch_size, "validation_every": 1}
    )
    quiet_environment()
    from aefx.console import import_tensorflow_quietly
    from aefx.io import is_text_table
    from aefx.servers import require_tracking_store
    from aefx.streaming import (
        check_encoder_folder,
        label_warnings,
        parquet_features,
        partition_warnings,
        record_stream_run,
        stream_architecture,
        stream_source,
        text_features,
        train_stream,
    )
    from aefx.tracking import tracking_uri

    # aefx run's preprocessing, which the streamed scaler does not do; then the checks a file's
    # footer, the output folder and the store allow, before any run starts.
    if params.data.categorical:
        raise AefxError(
            "aefx train-stream reads numeric columns only: data.categorical is for `aefx run` "
            "(or one-hot encode the file first)"
        )
    if params.data.impute:
        raise AefxError(
            "aefx train-stream reads complete rows only: data.impute is for `aefx run` (or fill "
            "the file's missing values first)"
        )
    label, ignore = params.data.label, params.data.ignore
    if is_text_table(input_path):
        features = text_features(input_path, label, ignore)
    else:
        features, _ = parquet_features(input_path, label, ignore)
    for warning in [
        *label_warnings(input_path, label, features, ignore),
        *partition_warnings(input_path, features),
    ]:
        typer.echo(f"warning: {warning}", err=True)
    stream_architecture(cfg, len(features), params.data.memory_budget_mb)
    check_encoder_folder(output, input_path)
    require_tracking_store(tracking_uri(params.tracking.uri))
    import_tensorflow_quietly()
    chosen_seed = seed if seed is not None else params.seeds[0]
    with (
        interruptible(NOTHING_WRITTEN),  # while a CSV is copied to Parquet
        stream_source(input_path, label, ignore, rows, output) as source,
        interruptible("the MLflow run is marked KILLED and the output folder is unchanged"),
        record_stream_run(params, cfg, input_path, output) as record,
    ):
        result = train_stream(
            source,
            output,
            cfg,
            params.scale.kind,
            label,
            params.anomaly.contamination,
            chunk=rows,
            seed=chosen_seed,
            ignore=ignore,
            origin=input_path,
        )
        record(result)
    per_epoch = sorted(result.seconds_per_epoch)[len(result.seconds_per_epoch) // 2]
    typer.echo(
        f"{result.rows} rows x {result.features} features, {result.epochs} epochs "
        f"(median {per_epoch:.1f} s each), val_loss {result.val_loss:.5g}; encoder in {output}"
    )


@app.command()
@user_errors
def promote(
    metric: Annotated[
        str | None,
        typer.Option(
            help="Run metric to rank versions by; default: tracking.promote_metric "
            "(auto: cv_<evaluation.metric>.logreg.encoded, logged in evaluation.mode cv)."
        ),
    ] = None,
    alias: Annotated[str, typer.Option(help="Alias to set on the best version.")] = "champion",
    lowest: Annotated[bool, typer.Option(help="Lower is better (a loss).")] = False,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Point an alias (default: champion) at the registered encoder version with the best metric."""
    from aefx.config import alias_problem, load_params, params_to_flat_dict
    from aefx.encode import chosen_on_test, data_identity
    from aefx.encode import promote as set_alias
    from aefx.servers import require_tracking_store
    from aefx.tracking import tracking_uri

    if problem := alias_problem(alias):
        raise AefxError(f"--alias {alias!r}: {problem}")

    params = load_params(params_file)
    name = params.tracking.registered_model
    if not name:
        raise AefxError("tracking.registered_model is null: nothing is registered")
    metric = metric or params.promote_metric
    quiet_environment()
    uri = tracking_uri(params.tracking.uri)
    require_tracking_store(uri, existing=True)
    version, value = set_alias(
        uri,
        name,
        metric,
        alias,
        lowest,
        data=data_identity(params_to_flat_dict(params)),
        whose=f"{params_file}'s",
        note=lambda line: typer.echo(f"note: {line}", err=True),
    )
    # Once a version was chosen by it: a metric no run logged is one line, with no warning.
    if warning := chosen_on_test(metric):
        typer.echo(f"warning: {warning}", err=True)
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
    from aefx.runs import recent_runs, runs_tables
    from aefx.servers import require_tracking_store
    from aefx.tracking import tracking_uri

    params = load_params(params_file)
    quiet_environment()
    uri = tracking_uri(params.tracking.uri)
    require_tracking_store(uri, existing=True)
    runs = recent_runs(uri, params.tracking.experiment, last)
    if not runs:
        raise AefxError(f"no aefx runs in experiment {params.tracking.experiment!r} ({uri})")
    console = rich_console()
    for table in runs_tables(runs, console.width):
        console.print(table)
