"""What `aefx run` shows a person: quiet failures for user mistakes, a summary at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from aefx.errors import RESOURCE_WORDS, AefxError, resource_problem


class _UserErrorFilter(logging.Filter):
    """Keep Prefect's console from printing tracebacks for mistakes the CLI reports itself, and
    for a full disk or a locked store, which it reports in one line too.

    The records still reach Prefect's API handler, so the UI shows the full failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, AefxError) or (exc is not None and resource_problem(exc)):
            return False
        message = record.getMessage()
        return not any(words in message for words in ("AefxError", *RESOURCE_WORDS))


# What every aefx process sets before Prefect, MLflow or TensorFlow is imported (prefect.yaml's
# deployment gives its flow runs the same, and a test holds the two together).
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # MLflow's INFO lines came among Prefect's in another format: "Creating initial MLflow
    # database tables..." and "Updating database tables" for a new store, "Validating input
    # example against model signature" as the encoder is logged. Its warnings still show.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "aefx,tasks,flows",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}

# What `aefx ui` adds for the MLflow server it starts (a user's own setting wins).
UI_ENV = {
    # MLflow's job runner serves GenAI features aefx does not use (online scoring of traces,
    # trace archival): with it the UI was 15 processes (8 huey consumers) holding about 3.1 GB
    # of resident memory summed over them, without it 7 and 1.3 GB; and at Ctrl-C it printed a
    # KeyboardInterrupt traceback from its shutdown.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    # MLflow 3.17's server imports a Starlette module deprecated for MLflow's developers: two
    # lines from each of its four workers at every start.
    "PYTHONWARNINGS": "ignore:starlette.middleware.wsgi is deprecated",
}


def quiet_environment(tensorflow: bool = False) -> None:
    """Telemetry off, C++ and library chatter down; our own stage logs at INFO. A process that
    will use ``tensorflow`` imports it here, quietly (see import_tensorflow_quietly)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("aefx", "tasks", "flows"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if tensorflow:
        import_tensorflow_quietly()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up lines dropped, unless TF_CPP_MIN_LOG_LEVEL below 2
    asks for them. TensorFlow 2.21 logs through absl before absl is set up, so the level does
    not hold back "oneDNN custom operations are on" (four lines on CPUs where oneDNN is on by
    default) and they would come before aefx's own one-line messages. The process's stderr is
    pointed at /dev/null for the import alone; call it from the main thread before any other
    thread starts, so that nothing else is written meanwhile."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "2":
        return
    sys.stderr.flush()
    kept = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(kept, 2)
        os.close(kept)


@contextlib.contextmanager
def hide_user_error_tracebacks() -> Iterator[None]:
    from prefect.logging.configuration import setup_logging

    setup_logging()
    filt = _UserErrorFilter()
    names = ["", "prefect", "prefect.flow_runs", "prefect.task_runs"]
    handlers = {
        h
        for n in names
        for h in logging.getLogger(n).handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    }
    for handler in handlers:
        handler.addFilter(filt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(filt)


OWN_AEFX = Path(".venv") / "bin" / "aefx"  # where `make` installs aefx in its checkout

# Columns for output that goes to a log or a pipe rather than a terminal. Rich assumes 80
# there and wraps every "mean ± half-width" cell of the comparison over two lines; its tables
# take only the width they need, so a wide limit costs nothing.
LOG_WIDTH = 200


def rich_console() -> Any:
    """A rich Console as wide as the terminal, or LOG_WIDTH for a log (COLUMNS still rules)."""
    import os

    from rich.console import Console

    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=LOG_WIDTH)


def print_summary(
    params: Any, result: Any, params_file: Path, overrides: Sequence[str] | None = None
) -> None:
    """The end of `aefx run` (``params`` read from ``params_file`` with ``overrides``, its
    --set): the tables, the MLflow run and how to open it, the files."""
    from rich.markup import escape

    from aefx.report import comparison_table, verdict_table

    console = rich_console()
    evaluation = params.evaluation
    console.print(comparison_table(result.records, evaluation.confidence, evaluation.metric))
    console.print(verdict_table(result.differences, evaluation.metric))
    console.print(
        f"MLflow run [bold]{result.run_id}[/] in experiment "
        f"'{escape(params.tracking.experiment)}' ({escape(result.tracking_uri)})",
        soft_wrap=True,
    )
    if result.model_version:
        console.print(registered_as(f"[bold]{escape(result.model_version)}[/]"), soft_wrap=True)
    console.print(
        ui_line(params_file, params.tracking.uri, overrides), soft_wrap=True, markup=False
    )
    print_outputs(console, params.paths)
    if result.dvc_recorded:
        console.print("Recorded in dvc.lock: `dvc status` shows nothing to re-run.")
    else:
        console.print(f"Not recorded in dvc.lock: {why_not_recorded(params.paths)}.", markup=False)


def registered_as(version: str) -> str:
    """The closing line that names the encoder's registered version, ``models:/NAME/N``."""
    return f"Encoder registered as {version} (for aefx encode, score and reconstruct -m)"


def ui_line(
    params_file: Path, configured: str | None, overrides: Sequence[str] | None = None
) -> str:
    """How to open the MLflow UI on a run's store (``configured``: the run's tracking.uri), in
    words that work in the folder the run ran in: a tracking server's or Databricks
    workspace's own address; else the command that serves it here. That is `make ui` in a
    checkout of aefx (its Makefile), for params.yaml; else `aefx ui` (the virtual
    environment's, where make set one up here), given the run's params file and, where the
    run's ``overrides`` (its --set) changed it, its tracking.uri. It said `make ui` wherever
    aefx ran."""
    import shlex

    from aefx.config import DEFAULT_PARAMS, parse_override
    from aefx.servers import served_ui
    from aefx.tracking import tracking_uri

    uri = tracking_uri(configured)
    if where := served_ui(uri):
        return f"MLflow UI: {where}"
    args = [] if params_file == DEFAULT_PARAMS else ["--params", str(params_file)]
    changed = [parse_override(text)[0][:2] for text in overrides or ()]
    if ["tracking"] in changed or ["tracking", "uri"] in changed:  # -s tracking.uri=, tracking=
        args += ["--set", f"tracking.uri={'null' if configured is None else configured}"]
    program = str(OWN_AEFX) if OWN_AEFX.is_file() else "aefx"
    command = shlex.join([program, "ui", *args])
    if not args and _makes_ui(Path("Makefile")):
        command = f"make ui  (or: {command})"
    return f"Open the MLflow UI:  {command}"


def _makes_ui(makefile: Path) -> bool:
    """``makefile`` has a `ui` target, as aefx's own has."""
    try:
        text = makefile.read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("ui:") for line in text.splitlines())


def why_not_recorded(paths: Any) -> str:
    """Why a finished run left dvc.lock as it was: its outputs went to a workspace, or there
    is no DVC project, or no Git repository, here. (It listed all three, for the user to find
    theirs.)"""
    from pathlib import Path

    from aefx.pipeline import is_dvc_project

    if paths.workspace != Path("."):
        return (
            f"the outputs went to {paths.workspace}/, and dvc.lock records the project's own "
            "(a run of params.yaml as it stands, without --workspace)"
        )
    if not is_dvc_project(Path(".")):
        return "this folder is no DVC project: it lacks dvc.yaml or .dvc/ (`dvc init` makes .dvc/)"
    return "DVC works inside a Git repository, and this folder is in none (`git init`)"


def print_outputs(console: Any, p: Any) -> None:
    """One line per kind of output listing its paths, never broken (a terminal wraps it; a log
    keeps it whole for copying) and printed as they are, not read as rich markup."""
    data = (p.train, p.test, p.data_schema, p.scaler, p.encoded)
    models = (p.autoencoders, p.encoders, p.encoder, p.encoder_meta, p.autoencoder)
    reports = (p.comparison, p.differences, p.autoencoder_metrics, p.comparison_table)
    plots = (
        p.learning_curve_plot,
        p.reconstruction_plot,
        p.codes_plot,
        p.comparison_plot,
        p.confusion_plot,
    )
    for title, paths in (
        ("Data", data),
        ("Models", models),
        ("Reports", reports),
        ("Plots", plots),
    ):
        line = f"{title}: " + ", ".join(str(x) for x in paths)
        console.print(line, soft_wrap=True, markup=False)
