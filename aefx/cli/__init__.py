"""The ``aefx`` command. Heavy libraries are imported inside the commands, so --help is fast."""

from __future__ import annotations

import inspect

# Importing a module registers its commands, and --help lists them in that order.
from aefx.cli import pipeline_commands  # noqa: F401  # isort: skip
from aefx.cli import model_commands  # noqa: F401  # isort: skip
from aefx.cli.common import app

__all__ = ["app", "main"]


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
