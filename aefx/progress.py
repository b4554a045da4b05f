"""Training progress: a live bar in a terminal, a few log lines everywhere else."""

from __future__ import annotations

import logging
import sys
from typing import Any


def interactive() -> bool:
    return sys.stderr.isatty()


def epoch_callback(logger: logging.Logger, label: str, epochs: int, block: int = 1) -> Any:
    """A Keras callback reporting epochs and losses without flooding logs or CI output.
    ``block``: epochs per Keras epoch (training in blocks), so the report counts real epochs."""
    import keras

    every = max(1, epochs // 10)

    class _Report(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self._bar = None
            if interactive():
                from rich.progress import Progress

                self._bar = Progress(transient=True)
                self._bar.start()
                self._task = self._bar.add_task(label, total=epochs)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            text = " ".join(f"{k}={v:.5f}" for k, v in logs.items())
            if self._bar is not None:
                self._bar.update(self._task, advance=block, description=f"{label} {text}")
            done = (epoch + 1) * block
            if done % every < block or done == epochs:
                logger.info("%s epoch %d/%d %s", label, done, epochs, text)

        def on_train_end(self, logs: dict | None = None) -> None:
            if self._bar is not None:
                self._bar.stop()

    return _Report()
