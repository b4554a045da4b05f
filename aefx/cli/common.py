"""What every ``aefx`` command shares: the Typer app, its options, and how a user's error or
an interrupt becomes one line."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from aefx import stops
from aefx.errors import LARGEST_INT, AefxError, resource_problem


@contextlib.contextmanager
def _usage_in_one_line(command_path: Callable[[], str]) -> Iterator[None]:
    """A mistake on the command line (an unknown option, a value out of its range, a missing
    one) as one line like every other user error, exit code 2, not click's usage and boxed
    message; the line says where the options are listed: the error's command, or
    ``command_path()`` for an error raised without one (an option missing its value)."""
    try:
        yield
    except typer.TyperException as exc:  # Typer's base of click's usage and file errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # `aefx` alone: the help, as asked
            raise
        message = " ".join(exc.format_message().split())
        context = getattr(exc, "ctx", None)
        stop = "" if message.endswith((".", "?")) else "."
        path = context.command_path if context is not None else command_path()
        _err(f"{message}{stop} See {path} --help.")
        raise typer.Exit(exc.exit_code) from None


class _Commands(typer.core.TyperGroup):
    """The app's group: its own options and every command's are parsed inside its
    ``make_context`` and ``invoke``."""

    def make_context(self, info_name: str | None, *args: Any, **kwargs: Any) -> typer.Context:
        with _usage_in_one_line(lambda: info_name or "aefx"):
            return super().make_context(info_name, *args, **kwargs)

    def invoke(self, ctx: typer.Context) -> Any:
        def command_path() -> str:  # set by the group's invoke before the command's parse
            return " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))

        with _usage_in_one_line(command_path):
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands,
    help="Autoencoder feature extraction: train, encode, and compare classifiers honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _LastResort(logging.Handler):
    """Python's handler of last resort, as aefx's commands print: a record that no handler
    takes (a command that sets up no logging, such as train-stream or encode) prints as
    ``warning: <message>``, like the warnings the commands print themselves, not as the bare
    message. Where logging is set up (a Prefect run, `aefx stage`) it is never used."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{record.levelname.lower()}: {self.format(record)}\n")
        except Exception:  # logging's rule: a handler never raises
            self.handleError(record)


def _print_version(asked: bool) -> None:
    if asked:
        from aefx import __version__

        typer.echo(f"aefx {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print aefx's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """The options before any command."""
    logging.lastResort = _LastResort()


ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="Params file (YAML).", dir_okay=False)
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Start a local Dask cluster of N worker processes for mapped tasks.",
        min=1,
        max=LARGEST_INT,
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
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="models:/NAME@ALIAS, models:/NAME/VERSION, a run id (or runs:/ID), or a local encoder "
        "(.json, .keras or folder). Default: the encoder of the project's last run "
        "(paths.encoder_meta).",
        show_default=False,
    ),
]
RowsInOption = Annotated[
    Path,
    typer.Option(
        "--input",
        "-i",
        help="CSV or TSV (either also .gz, .bz2, .zst) or Parquet, a file or a folder of such "
        "files, of raw rows; for a model trained on images, also a folder of image files, one "
        "image, or a .npy / .npz (array x) of images.",
    ),
]
KeepOption = Annotated[
    list[str] | None,
    typer.Option(
        "--keep",
        "-k",
        help="A column to carry through to the output unchanged, after the model's columns: an "
        "id, a timestamp (repeatable).",
    ),
]
ChunkOption = Annotated[
    int,
    typer.Option(
        "--rows", help="Rows per chunk (memory is bounded by it).", min=1, max=LARGEST_INT
    ),
]


# Said when Ctrl-C comes while the data is checked, before Prefect or MLflow start.
NOTHING_STARTED = "nothing was started or written"


def _err(message: str) -> None:
    typer.echo(f"aefx: error: {message}", err=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an AefxError into one line on stderr and exit code 2, with no traceback; and a full
    disk or a locked store, wherever in the libraries it was met, into one line and exit code
    1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AefxError as exc:
            _err(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            problem = resource_problem(exc)
            if problem is None:
                raise
            _err(problem)
            raise typer.Exit(1) from None

    return wrapper


@contextlib.contextmanager
def interruptible(outcome: str) -> Iterator[None]:
    """Ctrl-C, or SIGTERM (a scheduler, a timeout, `kill`), stops the block as one line saying
    ``outcome`` and exit code 130. Being an exception, it lets the block clean up on its way out
    (temporary outputs removed, MLflow runs ended KILLED); SIGTERM's default would not. Which
    errors are the stop is :func:`aefx.stops.is_stop`'s rule, the same by which the block's
    MLflow runs are ended.

    Ctrl-C is taken the same way, unless it is ignored (a shell's background job) or handled by
    someone else. The handlers found are put back after the block, so a second signal while
    Python exits ends it as the signal would. A stop that Python drops inside a garbage-collection
    callback is sent again (:func:`aefx.stops.dropped_stops_resent`)."""
    stops.forget()
    found = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, stops.interrupt)
    if found[signal.SIGINT] is signal.default_int_handler:
        signal.signal(signal.SIGINT, stops.interrupt)
    try:
        with stops.dropped_stops_resent():
            yield
    except typer.Exit:  # said already, by an inner block
        raise
    except Exception as exc:
        if not stops.is_stop(exc):
            raise
        _err(f"interrupted; {outcome}")
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        _err(f"interrupted; {outcome}")
        raise typer.Exit(130) from None
    finally:
        stops.forget()
        for signum, handler in found.items():
            if handler is not None:  # None: set outside Python, so not ours to restore
                signal.signal(signum, handler)
