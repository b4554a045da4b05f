"""Stops by signal: the handler that turns SIGTERM and Ctrl-C into an exception, the record of the
signals taken, and the one rule for whether an error that ended a block was such a stop.

The CLI's ``interruptible`` installs the handler and says the stop in one line; the code that
ends MLflow runs (the pipeline, a sweep's members, train-stream) records the signals that come
while it runs (:func:`recording`) and asks :func:`run_status` how to end them, so both say the
same thing about the same error."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

# The signals taken in this block: by `interrupt`, or by a handler that `recording` wraps.
_taken: list[int] = []


class Stopped(KeyboardInterrupt):
    """A KeyboardInterrupt made by :func:`interrupt` from a signal. A subclass because CPython
    marks a plain KeyboardInterrupt that ends code made from a string (``exec`` of a string:
    dataclasses and namedtuple make their methods so) as unhandled even when it is caught later,
    and ``python -m aefx`` then dies of SIGINT at exit, code -2 instead of 130; only the exact
    class is marked."""


def interrupt(signum: int, frame: Any) -> None:
    """A signal handler: record the signal and raise :class:`Stopped` where Python code runs."""
    _taken.append(signum)
    raise Stopped(f"signal {signum}")


def forget() -> None:
    """Start a block with no signal taken, so one taken by an earlier block in this process (an
    earlier command run in-process, as the tests do) does not make this block's errors stops."""
    _taken.clear()


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Record SIGTERM and SIGINT while the block runs, whoever handles them: a Prefect flow
    swaps SIGTERM's handler for its own, which raises TerminationSignal, and native code may
    swallow that as it may a KeyboardInterrupt. Each handler set in Python is wrapped to record
    the signal first, and put back after the block; the record is kept for the code that ends
    the block's runs and says the stop. Outside the main thread signals are not Python's to
    handle, and nothing is wrapped."""
    forget()
    found: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            handler = signal.getsignal(signum)
            if callable(handler) and handler is not interrupt:
                signal.signal(signum, _recorded(handler))
                found[signum] = handler
    try:
        yield
    finally:
        for signum, handler in found.items():
            signal.signal(signum, handler)


def _recorded(handler: Any) -> Any:
    def record_then_handle(signum: int, frame: Any) -> Any:
        _taken.append(signum)
        return handler(signum, frame)

    return record_then_handle


def is_stop(exc: BaseException) -> bool:
    """Whether ``exc`` ended a block because it was stopped. The interrupt is raised wherever
    Python code runs, which may be a callback of native code that does not expect it: SIGTERM in
    a Keras training step came out as `SystemError: Objects/listobject.c:338: bad argument to
    internal function`. So any error once a signal was taken is the stop, as is one that a
    KeyboardInterrupt led to, and anything that is not an Exception (Ctrl-C, Prefect's
    TerminationSignal)."""
    return not isinstance(exc, Exception) or bool(_taken) or _after_interrupt(exc)


def run_status(exc: BaseException) -> str:
    """How to end the MLflow run that ``exc`` ended: KILLED if it was stopped, else FAILED."""
    return "KILLED" if is_stop(exc) else "FAILED"


def _after_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the errors that led to ``exc``."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
